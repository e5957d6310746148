//! What a review decision on an idea or a business plan leads to.

use ocop_kit::Result;
use ocop_kit::error::Violations;
use ocop_proto::registry::v1::ReviewDecision;

/// The outcome of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Accepted: the cycle goes on.
    Accepted,
    /// Rejected, with the reason the producer reads.
    Rejected,
}

/// The verdict a decision leads to; a rejection needs a reason (of at most
/// 2,000 characters, as any reason).
pub(crate) fn verdict(decision: ReviewDecision, reason: &str) -> Result<Verdict> {
    let mut v = Violations::default();
    if reason.chars().count() > 2000 {
        v.push("reason", "at most 2,000 characters");
    }
    let verdict = match decision {
        ReviewDecision::Accept => Verdict::Accepted,
        ReviewDecision::Reject if reason.trim().is_empty() => {
            v.push("reason", "required when rejecting: say what to change");
            Verdict::Rejected
        }
        ReviewDecision::Reject => Verdict::Rejected,
        ReviewDecision::Unspecified => {
            v.push("decision", "required: ACCEPT or REJECT");
            Verdict::Rejected
        }
    };
    v.check()?;
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<Verdict>) -> Vec<String> {
        result
            .err()
            .map(|e| e.violations().iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_decision_leads_to_its_verdict() {
        assert_eq!(verdict(ReviewDecision::Accept, "").ok(), Some(Verdict::Accepted));
        assert_eq!(
            verdict(ReviewDecision::Reject, "add the test report").ok(),
            Some(Verdict::Rejected)
        );
    }

    #[test]
    fn a_rejection_without_a_reason_and_a_missing_decision_are_refused() {
        assert_eq!(fields(verdict(ReviewDecision::Reject, "  ")), ["reason"]);
        assert_eq!(fields(verdict(ReviewDecision::Unspecified, "")), ["decision"]);
        assert_eq!(fields(verdict(ReviewDecision::Accept, &"x".repeat(2001))), ["reason"]);
    }
}
