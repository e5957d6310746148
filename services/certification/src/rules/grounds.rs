//! The grounds of a revocation (Decision 26/2026/QĐ-TTg Điều 8.1), as stored,
//! as cited, and the older reason each one is shown as.

use ocop_proto::certification::v1::{RevocationGround, RevocationReason};

/// Every ground, with its stored spelling and its point of Điều 8.1.
const GROUNDS: [(RevocationGround, &str, &str); 6] = [
    (RevocationGround::FalseDossier, "false_dossier", "a"),
    (RevocationGround::CriteriaNotMet, "criteria_not_met", "b"),
    (RevocationGround::LawViolation, "law_violation", "c"),
    (RevocationGround::MarkMisuse, "mark_misuse", "d"),
    (RevocationGround::ProductionStopped, "production_stopped", "đ"),
    (RevocationGround::OtherConclusion, "other_conclusion", "e"),
];

/// What the request's `ground` field accepts, for messages.
pub const EXPECTED: &str = "required: FALSE_DOSSIER (Điều 8.1.a), CRITERIA_NOT_MET (b), LAW_VIOLATION (c), \
                            MARK_MISUSE (d), PRODUCTION_STOPPED (đ) or OTHER_CONCLUSION (e)";

/// The stored spelling of `ground`; none for UNSPECIFIED.
pub fn stored(ground: RevocationGround) -> Option<&'static str> {
    GROUNDS.iter().find(|(g, _, _)| *g == ground).map(|(_, s, _)| *s)
}

/// The ground stored as `stored` (UNSPECIFIED for a revocation recorded before grounds).
pub fn of(stored: &str) -> RevocationGround {
    GROUNDS
        .iter()
        .find(|(_, s, _)| *s == stored)
        .map_or(RevocationGround::Unspecified, |(g, _, _)| *g)
}

/// The point of Điều 8.1, e.g. `b`.
pub fn point(ground: RevocationGround) -> &'static str {
    GROUNDS.iter().find(|(g, _, _)| *g == ground).map_or("", |(_, _, p)| *p)
}

/// The pre-2026 reason a ground is shown as (`Revocation.reason`).
pub fn reason(ground: RevocationGround) -> RevocationReason {
    match ground {
        RevocationGround::CriteriaNotMet => RevocationReason::FailedMandatoryCriteria,
        RevocationGround::LawViolation => RevocationReason::QualityOrFoodSafetyViolation,
        _ => RevocationReason::Other,
    }
}

/// The ground as the verify page cites it.
pub fn cited(ground: RevocationGround) -> &'static str {
    match ground {
        RevocationGround::FalseDossier => {
            "Điểm a khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: hồ sơ không trung thực hoặc giả mạo"
        }
        RevocationGround::CriteriaNotMet => {
            "Điểm b khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: sản phẩm không còn đáp ứng Bộ tiêu chí OCOP"
        }
        RevocationGround::LawViolation => {
            "Điểm c khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: vi phạm quy định pháp luật về chất lượng, an toàn thực phẩm, môi trường, sở hữu trí tuệ hoặc ghi nhãn"
        }
        RevocationGround::MarkMisuse => {
            "Điểm d khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: sử dụng nhãn hiệu OCOP không đúng quy định"
        }
        RevocationGround::ProductionStopped => {
            "Điểm đ khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: chủ thể không còn sản xuất sản phẩm"
        }
        RevocationGround::OtherConclusion => {
            "Điểm e khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: theo kết luận của cơ quan nhà nước có thẩm quyền"
        }
        RevocationGround::Unspecified => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ground_round_trips_and_is_cited() {
        for (ground, spelled, point) in GROUNDS {
            assert_eq!(stored(ground), Some(spelled));
            assert_eq!(of(spelled), ground);
            assert!(cited(ground).starts_with(&format!("Điểm {point} khoản 1 Điều 8")));
        }
        assert_eq!(stored(RevocationGround::Unspecified), None);
        assert_eq!(of(""), RevocationGround::Unspecified);
    }
}
