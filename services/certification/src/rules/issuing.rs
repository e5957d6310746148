//! How an issuance reads a published result: at which level it certifies,
//! whether the result can be certified at all, and whether the certificate
//! is new, a renewal or an upgrade of the one in force. Pure functions of the
//! request and the result, so `certificates/issue.rs` is only the steps.

use ocop_kit::regime::Level;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::IssuingLevel;
use ocop_proto::evaluation::v1::{EvaluationResult, RoundLevel};

ocop_kit::text_enum! {
    /// What an issuance is to the certificate in force before it.
    pub enum Kind {
        /// The product has none in force (none ever, or it expired).
        New = "new",
        /// A re-evaluation before expiry, at the same or fewer stars.
        Renewal = "renewal",
        /// A re-evaluation before expiry, at more stars.
        Upgrade = "upgrade",
    }
}

/// The result as a `level` issuance reads it. Decision 26/2026 Điều 7.4,
/// last paragraph: below 90 at the centre, the province's chairman may
/// certify the 3 or 4 stars the central council's result gives
/// (`province_stars`) as on a provincial result of its own.
pub fn as_read_by(level: IssuingLevel, result: EvaluationResult) -> EvaluationResult {
    if level == IssuingLevel::Province && result.level() == RoundLevel::Central && result.province_stars >= 3 {
        EvaluationResult {
            recognised_stars: result.province_stars,
            certifiable: true,
            level: RoundLevel::Province as i32,
            ..result
        }
    } else {
        result
    }
}

/// FAILED_PRECONDITION `NOT_CERTIFIABLE` unless `result` (named `name`)
/// recognises 3 to 5 stars and is certifiable, with the evaluation's reasons.
pub fn require_certifiable(name: &str, result: &EvaluationResult) -> Result<()> {
    if result.certifiable && result.recognised_stars >= 3 {
        return Ok(());
    }
    let why = if result.reasons.is_empty() {
        format!(
            "it recognises {} stars; only 3 to 5 are certified",
            result.recognised_stars
        )
    } else {
        result.reasons.join("; ")
    };
    Err(Error::failed_precondition(
        "NOT_CERTIFIABLE",
        format!("{name} cannot be certified: {why}"),
    ))
}

/// The level that issues: the one asked for, or when none is, the round's
/// (a central round's result is certified centrally, any other provincially).
pub fn level_of(asked: IssuingLevel, round: RoundLevel) -> Level {
    match (asked, round) {
        (IssuingLevel::District, _) => Level::District,
        (IssuingLevel::Province, _) => Level::Province,
        (IssuingLevel::Central, _) | (IssuingLevel::Unspecified, RoundLevel::Central) => Level::Central,
        (IssuingLevel::Unspecified, _) => Level::Province,
    }
}

/// The spelling of a round's level that the authority rules read.
pub fn round_level_str(round: RoundLevel) -> &'static str {
    match round {
        RoundLevel::District => "district",
        RoundLevel::Province => "province",
        RoundLevel::Central => "central",
        _ => "commune_assessment",
    }
}

/// What a `stars` certificate is to the product's current one, given as its
/// state today and its stars: an expired one is simply followed by a new
/// certificate; one in force is upgraded (more stars) or renewed.
pub fn kind_of(current: Option<(&str, i32)>, stars: i32) -> Kind {
    match current {
        Some(("active", old)) if stars > old => Kind::Upgrade,
        Some(("active", _)) => Kind::Renewal,
        _ => Kind::New,
    }
}

/// The decision's reference: `{number}/{year}/QĐ-BNNMT-OCOP` for the
/// ministry, `…/QĐ-UBND-OCOP` for a people's committee.
pub fn decision_reference(number: i32, year: i32, level: Level) -> String {
    let office = if level == Level::Central {
        "QĐ-BNNMT"
    } else {
        "QĐ-UBND"
    };
    format!("{number}/{year}/{office}-OCOP")
}

/// The state the replaced certificate takes, and why, in the history's words.
pub fn replaced(kind: Kind, stars: i32) -> (&'static str, String) {
    match kind {
        Kind::Upgrade => ("superseded", format!("upgraded to {stars} stars")),
        Kind::Renewal => ("superseded", "renewed by a re-evaluation".to_owned()),
        Kind::New => ("expired", "expired before a new certificate was issued".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central(stars: i32, province_stars: i32) -> EvaluationResult {
        EvaluationResult {
            recognised_stars: stars,
            province_stars,
            certifiable: stars >= 3,
            level: RoundLevel::Central as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_province_reads_a_central_result_below_90_as_its_own() {
        let read = as_read_by(IssuingLevel::Province, central(2, 4));
        assert_eq!(
            (read.recognised_stars, read.certifiable, read.level()),
            (4, true, RoundLevel::Province)
        );
        // The ministry reads it as it is; so does a province when the centre gave it under 3.
        assert_eq!(as_read_by(IssuingLevel::Central, central(2, 4)).recognised_stars, 2);
        assert_eq!(
            as_read_by(IssuingLevel::Province, central(2, 2)).level(),
            RoundLevel::Central
        );
    }

    #[test]
    fn under_three_stars_or_not_certifiable_is_refused_with_the_reasons() {
        assert!(require_certifiable("r", &central(3, 0)).is_ok());
        let err = require_certifiable("r", &central(2, 0)).unwrap_err();
        assert_eq!(err.reason(), "NOT_CERTIFIABLE");
        assert!(err.to_string().contains("recognises 2 stars"), "{err}");
        let knocked_out = EvaluationResult {
            reasons: vec!["knock-out A1".into()],
            ..central(4, 0)
        };
        let knocked_out = EvaluationResult {
            certifiable: false,
            ..knocked_out
        };
        let err = require_certifiable("r", &knocked_out).unwrap_err();
        assert!(err.to_string().contains("knock-out A1"), "{err}");
    }

    #[test]
    fn the_level_is_the_one_asked_or_the_rounds() {
        assert_eq!(level_of(IssuingLevel::Unspecified, RoundLevel::Central), Level::Central);
        assert_eq!(
            level_of(IssuingLevel::Unspecified, RoundLevel::Province),
            Level::Province
        );
        assert_eq!(level_of(IssuingLevel::District, RoundLevel::Province), Level::District);
        assert_eq!(level_of(IssuingLevel::Central, RoundLevel::Province), Level::Central);
    }

    #[test]
    fn in_force_more_stars_upgrade_same_renew_expired_is_new() {
        assert_eq!(kind_of(Some(("active", 3)), 4), Kind::Upgrade);
        assert_eq!(kind_of(Some(("active", 4)), 4), Kind::Renewal);
        assert_eq!(kind_of(Some(("active", 4)), 3), Kind::Renewal);
        assert_eq!(kind_of(Some(("expired", 3)), 4), Kind::New);
        assert_eq!(kind_of(None, 4), Kind::New);
        assert_eq!(replaced(Kind::New, 4).0, "expired");
        assert_eq!(replaced(Kind::Upgrade, 5).1, "upgraded to 5 stars");
    }

    #[test]
    fn the_reference_names_the_office() {
        assert_eq!(decision_reference(7, 2026, Level::Central), "7/2026/QĐ-BNNMT-OCOP");
        assert_eq!(decision_reference(12, 2026, Level::Province), "12/2026/QĐ-UBND-OCOP");
    }
}
