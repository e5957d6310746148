//! A sheet file as transcribed (`data/criteria/*.json`, shape in SOURCES.md
//! there), and the decisions it may name. The serde types read what the
//! checks use and ignore the rest, so the transcribers' extra keys
//! (`taxonomy`, `corrections`, `synthesized`, `cases_vi`, …) pass untouched.

use ocop_kit::regime::{self, Procedure};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::Decision;
use serde::Deserialize;

/// A sheet file as transcribed.
#[derive(Debug, Deserialize)]
pub struct SourceSheet {
    pub(super) decision: String,
    pub(super) group: String,
    pub(super) subgroup: String,
    /// Its number in the decision's annex (148 and 26/2026: 1 to 26, the
    /// product set's number in 26/2026 Phụ lục I).
    #[serde(default)]
    pub(super) sheet_no: Option<u8>,
    /// 26/2026: its row of Phụ lục I.
    #[serde(default)]
    pub(super) classification_2026: Option<SourceClassification>,
    #[serde(default)]
    pub(super) source: String,
    #[serde(default)]
    pub(super) complete: bool,
    #[serde(default)]
    pub(super) bo_san_pham_vi: Option<String>,
    #[serde(default)]
    pub(super) disqualified_if_vi: Option<String>,
    pub(super) parts: Vec<SourcePart>,
    #[serde(default)]
    pub(super) star_bands: Vec<SourceBand>,
    /// The transcriber's list of source problems; for 148 and 26/2026 it
    /// also repeats each entry of `corrections` ("corrected: …").
    #[serde(default)]
    pub(super) source_issues: Vec<String>,
}

/// 26/2026's `classification_2026`.
#[derive(Debug, Deserialize)]
pub(super) struct SourceClassification {
    #[serde(default)]
    pub(super) annex1_path: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct SourcePart {
    pub(super) code: String,
    #[serde(default)]
    pub(super) title_vi: String,
    pub(super) max_points: Option<i32>,
    pub(super) sections: Vec<SourceSection>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SourceSection {
    pub(super) code: String,
    #[serde(default)]
    pub(super) title_vi: String,
    pub(super) criteria: Vec<SourceCriterion>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SourceCriterion {
    pub(super) code: String,
    #[serde(default)]
    pub(super) title_vi: String,
    #[serde(default)]
    pub(super) mandatory: bool,
    pub(super) max_points: Option<i32>,
    pub(super) scoring: String,
    pub(super) options: Vec<SourceOption>,
    #[serde(default)]
    pub(super) notes_vi: Vec<String>,
    #[serde(default)]
    pub(super) knockout_vi: Vec<String>,
    /// A marker printed on the criterion rather than on an option (148).
    #[serde(default)]
    pub(super) star_marker: Option<i32>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SourceOption {
    pub(super) text_vi: String,
    pub(super) points: i32,
    #[serde(default)]
    pub(super) star_marker: Option<i32>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SourceBand {
    pub(super) stars: i32,
    pub(super) min: i32,
    pub(super) max: i32,
    /// "đến dưới": `max` is outside the band.
    #[serde(default)]
    pub(super) max_exclusive: bool,
    #[serde(default)]
    pub(super) text_vi: String,
}

/// What a decision fixes for its sheets.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRules {
    /// The decision.
    pub decision: Decision,
    /// Caps of parts A, B and C.
    pub caps: [i32; 3],
    /// First day rounds may use its sheets.
    pub from: Date,
    /// Last day, when it was replaced.
    pub until: Option<Date>,
}

fn proto(day: time::Date) -> Date {
    ocop_kit::date::to_proto(day)
}

/// The decision a sheet names (`"1048/QĐ-TTg"`, `"148/QĐ-TTg"`,
/// `"26/2026/QĐ-TTg"`), with the dates of [`regime`].
pub fn decision_of(text: &str) -> Option<DecisionRules> {
    if text.starts_with("1048/") {
        Some(DecisionRules {
            decision: Decision::Decision10482019,
            caps: [35, 25, 40],
            from: Date {
                year: 2019,
                month: 8,
                day: 21,
            },
            until: regime::DECISION_148.previous_day().map(proto),
        })
    } else if text.starts_with("148/") {
        Some(DecisionRules {
            decision: Decision::Decision1482023,
            caps: [40, 25, 35],
            from: proto(regime::DECISION_148),
            // 26/2026 replaced it, but a dossier filed before 2026-05-22 may
            // still be rated under it until its transition deadline (Điều 12.2).
            until: Some(proto(regime::transition_deadline(Procedure::FirstRating))),
        })
    } else if text.starts_with("26/2026/") {
        Some(DecisionRules {
            decision: Decision::Decision262026,
            caps: [40, 25, 35],
            from: proto(regime::DECISION_26_2026),
            until: None,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decisions_are_in_force_by_the_regime_table() {
        let d1048 = decision_of("1048/QĐ-TTg").unwrap();
        assert_eq!(
            d1048.until,
            Some(Date {
                year: 2023,
                month: 2,
                day: 23
            })
        );
        let d148 = decision_of("148/QĐ-TTg").unwrap();
        assert_eq!(
            (d148.from, d148.until),
            (
                Date {
                    year: 2023,
                    month: 2,
                    day: 24
                },
                Some(Date {
                    year: 2026,
                    month: 7,
                    day: 20
                })
            )
        );
        let d2026 = decision_of("26/2026/QĐ-TTg").unwrap();
        assert_eq!((d2026.decision, d2026.caps), (Decision::Decision262026, [40, 25, 35]));
        assert_eq!(d2026.until, None);
        assert!(decision_of("999/QĐ-TTg").is_none());
    }
}
