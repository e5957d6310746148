//! Criteria sheets as published in `data/criteria/*.json` (see SOURCES.md
//! there), their deliberate corrections, and the checks every imported
//! sheet must pass before it becomes a [`CriteriaSet`].

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::{
    CriteriaPart, CriteriaSection, CriteriaSet, Criterion, CriterionOption, Decision, Scoring, StarBand,
};
use serde::Deserialize;

/// A sheet file as transcribed.
#[derive(Debug, Deserialize)]
pub struct SourceSheet {
    decision: String,
    group: String,
    subgroup: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    complete: bool,
    #[serde(default)]
    bo_san_pham_vi: Option<String>,
    #[serde(default)]
    disqualified_if_vi: Option<String>,
    parts: Vec<SourcePart>,
    #[serde(default)]
    star_bands: Vec<SourceBand>,
    #[serde(default)]
    source_issues: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SourcePart {
    code: String,
    #[serde(default)]
    title_vi: String,
    max_points: Option<i32>,
    sections: Vec<SourceSection>,
}

#[derive(Debug, Deserialize)]
struct SourceSection {
    code: String,
    #[serde(default)]
    title_vi: String,
    criteria: Vec<SourceCriterion>,
}

#[derive(Debug, Deserialize)]
struct SourceCriterion {
    code: String,
    #[serde(default)]
    title_vi: String,
    #[serde(default)]
    mandatory: bool,
    max_points: Option<i32>,
    scoring: String,
    options: Vec<SourceOption>,
    #[serde(default)]
    notes_vi: Vec<String>,
    #[serde(default)]
    knockout_vi: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SourceOption {
    text_vi: String,
    points: i32,
    #[serde(default)]
    star_marker: Option<i32>,
}

#[derive(Debug, Deserialize)]
struct SourceBand {
    stars: i32,
    min: i32,
    max: i32,
    #[serde(default)]
    text_vi: String,
}

/// The decisions, their part caps and the dates their sheets are in force.
pub fn decision_of(text: &str) -> Option<(Decision, [i32; 3], Date, Option<Date>)> {
    if text.starts_with("1048/") {
        let until = Date {
            year: 2023,
            month: 2,
            day: 23,
        };
        Some((
            Decision::Decision10482019,
            [35, 25, 40],
            Date {
                year: 2019,
                month: 8,
                day: 21,
            },
            Some(until),
        ))
    } else if text.starts_with("148/") {
        Some((
            Decision::Decision1482023,
            [40, 25, 35],
            Date {
                year: 2023,
                month: 2,
                day: 24,
            },
            None,
        ))
    } else {
        None
    }
}

/// Product set codes (the registry's taxonomy) of the sheets' subgroup names.
const SUBGROUPS: &[(&str, &str, &str)] = &[
    (
        "thuc-pham",
        "rau-cu-qua-hat-tuoi",
        "Thực phẩm tươi sống / Rau, củ, quả, hạt tươi",
    ),
    (
        "thuc-pham",
        "thit-trung-sua-tuoi",
        "Thực phẩm tươi sống / Thịt, trứng, sữa tươi",
    ),
    ("thuc-pham", "gao-ngu-coc", "Thực phẩm thô, sơ chế / Gạo, ngũ cốc"),
    (
        "thuc-pham",
        "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
        "Thực phẩm thô, sơ chế / Mật ong, các sản phẩm từ mật ong, mật khác",
    ),
    ("thuc-pham", "do-an-nhanh", "Thực phẩm chế biến / Đồ ăn nhanh"),
    (
        "thuc-pham",
        "che-bien-tu-gao-ngu-coc",
        "Thực phẩm chế biến / Chế biến từ gạo, ngũ cốc",
    ),
    (
        "thuc-pham",
        "che-bien-tu-rau-cu-qua-hat",
        "Thực phẩm chế biến / Chế biến từ rau, củ, quả, hạt",
    ),
    (
        "thuc-pham",
        "che-bien-tu-thit-trung-sua",
        "Thực phẩm chế biến / Chế biến từ thịt, trứng, sữa",
    ),
    (
        "thuc-pham",
        "che-bien-tu-thuy-hai-san",
        "Thực phẩm chế biến / Chế biến từ thủy, hải sản",
    ),
    (
        "thuc-pham",
        "tuong-nuoc-mam-gia-vi-dang-long-khac",
        "Gia vị / Tương, nước mắm, gia vị dạng lỏng khác",
    ),
    ("thuc-pham", "gia-vi-khac", "Gia vị / Gia vị khác"),
    ("thuc-pham", "che-tuoi-che-bien", "Chè / Chè tươi, chế biến"),
    (
        "thuc-pham",
        "cac-san-pham-khac-tu-che-tra",
        "Chè / Các sản phẩm khác từ chè, trà",
    ),
    ("thuc-pham", "ca-phe-ca-cao", "Cà phê, Ca cao"),
    ("do-uong", "ruou-trang", "Đồ uống có cồn / Rượu trắng"),
    ("do-uong", "do-uong-co-con-khac", "Đồ uống có cồn / Đồ uống có cồn khác"),
    (
        "do-uong",
        "nuoc-khoang-thien-nhien-nuoc-uong-tinh-khiet",
        "Đồ uống không cồn / Nước khoáng thiên nhiên, nước uống tinh khiết",
    ),
    ("do-uong", "do-uong-khong-con", "Đồ uống không cồn / Đồ uống không cồn"),
    (
        "thao-duoc",
        "thuc-pham-chuc-nang-thuoc-tu-duoc-lieu-thuoc-y-hoc-co-truyen",
        "Thực phẩm chức năng, thuốc từ dược liệu, thuốc Y học cổ truyền",
    ),
    ("thao-duoc", "my-pham", "Mỹ phẩm"),
    (
        "thao-duoc",
        "trang-thiet-bi-dung-cu-y-te",
        "Trang thiết bị, dụng cụ y tế",
    ),
    ("thao-duoc", "thao-duoc-khac", "Thảo dược khác"),
    (
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-trang-tri",
        "Thủ công mỹ nghệ, trang trí",
    ),
    (
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-gia-dung",
        "Thủ công mỹ nghệ gia dụng",
    ),
    ("vai-may-mac", "vai-may-mac", "Vải, may mặc"),
    (
        "dich-vu-du-lich",
        "dich-vu-du-lich-truyen-thong-le-hoi",
        "Dịch vụ du lịch - truyền thống - lễ hội",
    ),
    (
        "dich-vu-du-lich",
        "dich-vu-du-lich-cong-dong-va-diem-du-lich",
        "Dịch vụ du lịch cộng đồng và điểm du lịch",
    ),
];

/// A deliberate correction of a criterion's printed maximum.
struct Correction {
    subgroup: &'static str,
    criterion: &'static str,
    printed: i32,
    corrected: i32,
    why: &'static str,
}

/// Each is a printed header that disagrees with its own options, where the
/// options' value also makes the part add up to the decision's cap.
const CORRECTIONS: &[Correction] = &[
    Correction {
        subgroup: "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
        criterion: "9.1",
        printed: 3,
        corrected: 2,
        why: "its options reach 2, and part C then sums to 40 as printed in the part header",
    },
    Correction {
        subgroup: "cac-san-pham-khac-tu-che-tra",
        criterion: "6.3",
        printed: 2,
        corrected: 3,
        why: "its options reach 3, and part C then sums to 40",
    },
    Correction {
        subgroup: "nuoc-khoang-thien-nhien-nuoc-uong-tinh-khiet",
        criterion: "6.1",
        printed: 5,
        corrected: 3,
        why: "its options reach 3, and part C then sums to 40",
    },
    Correction {
        subgroup: "vai-may-mac",
        criterion: "6.5",
        printed: 3,
        corrected: 5,
        why: "its options reach 5, and part C then sums to 40",
    },
];

/// A checked sheet, ready to store.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The set, without name, version, `used` and times.
    pub set: CriteriaSet,
}

/// Turns a source sheet into a criteria set: applies the recorded
/// corrections, then checks every rule. Returns every problem at once.
pub fn check(sheet: SourceSheet) -> Result<Checked, Vec<String>> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let Some((decision, caps, from, until)) = decision_of(&sheet.decision) else {
        return Err(vec![format!(
            "decision `{}` is neither 1048/QĐ-TTg nor 148/QĐ-TTg",
            sheet.decision
        )]);
    };
    let subgroup_name = sheet.subgroup.split(" (").next().unwrap_or(&sheet.subgroup).trim();
    let Some((group_code, subgroup_code, _)) = SUBGROUPS.iter().find(|(_, _, name)| *name == subgroup_name) else {
        return Err(vec![format!(
            "product set `{}` (group `{}`) is not in the taxonomy",
            sheet.subgroup, sheet.group
        )]);
    };
    let mut parts = Vec::new();
    let codes: Vec<&str> = sheet.parts.iter().map(|p| p.code.as_str()).collect();
    if codes != ["A", "B", "C"] {
        problems.push(format!("parts must be A, B and C in that order; found {codes:?}"));
    }
    for (part, cap) in sheet.parts.into_iter().zip(caps) {
        let max = match part.max_points {
            Some(max) if max == cap => max,
            Some(max) => {
                problems.push(format!(
                    "part {} has a cap of {max}; {} sets {cap}",
                    part.code, sheet.decision
                ));
                max
            }
            None => {
                notes.push(format!(
                    "part {}: no cap printed in the source; the decision's cap {cap} is used",
                    part.code
                ));
                cap
            }
        };
        let mut sections = Vec::new();
        let mut total = 0;
        for section in part.sections {
            let mut criteria = Vec::new();
            for c in section.criteria {
                let mut c_max = c.max_points.unwrap_or(0);
                let fix = CORRECTIONS.iter().find(|f| {
                    f.subgroup == *subgroup_code && f.criterion == c.code && decision == Decision::Decision10482019
                });
                // Only the printed value is corrected: a source fixed upstream passes untouched.
                if let Some(fix) = fix.filter(|f| c_max == f.printed) {
                    notes.push(format!(
                        "criterion {}: printed maximum {} corrected to {}, because {}",
                        c.code, fix.printed, fix.corrected, fix.why
                    ));
                    c_max = fix.corrected;
                }
                let scoring = match c.scoring.as_str() {
                    "single_choice" => Scoring::SingleChoice,
                    "additive" => Scoring::Additive,
                    other => {
                        problems.push(format!(
                            "criterion {}: scoring `{other}` is neither single_choice nor additive",
                            c.code
                        ));
                        Scoring::Unspecified
                    }
                };
                if c_max <= 0 {
                    problems.push(format!("criterion {}: no maximum points", c.code));
                }
                if c.options.is_empty() {
                    problems.push(format!("criterion {}: no options", c.code));
                }
                let best = c.options.iter().map(|o| o.points).max().unwrap_or(0);
                let sum: i32 = c.options.iter().map(|o| o.points).sum();
                match scoring {
                    Scoring::SingleChoice if best > c_max => problems.push(format!(
                        "criterion {}: an option is worth {best}, above the criterion's maximum {c_max}",
                        c.code
                    )),
                    Scoring::Additive if sum > c_max => problems.push(format!(
                        "criterion {}: its options add up to {sum}, above the criterion's maximum {c_max}",
                        c.code
                    )),
                    Scoring::SingleChoice if best < c_max => notes.push(format!(
                        "criterion {}: accepted as printed, though its best option gives {best} of {c_max} points",
                        c.code
                    )),
                    _ => {}
                }
                for o in &c.options {
                    if o.points < 0 {
                        problems.push(format!(
                            "criterion {}: option `{}` has negative points",
                            c.code, o.text_vi
                        ));
                    }
                    if o.star_marker.is_some_and(|s| !(3..=5).contains(&s)) {
                        problems.push(format!(
                            "criterion {}: star marker {:?} is not 3, 4 or 5",
                            c.code, o.star_marker
                        ));
                    }
                }
                total += c_max;
                criteria.push(Criterion {
                    code: c.code,
                    title_vi: c.title_vi,
                    max_points: c_max,
                    scoring: scoring as i32,
                    mandatory: c.mandatory,
                    options: c
                        .options
                        .into_iter()
                        .map(|o| CriterionOption {
                            text_vi: o.text_vi,
                            points: o.points,
                            star_marker: o.star_marker.unwrap_or(0),
                        })
                        .collect(),
                    notes_vi: c.notes_vi,
                    knockout_vi: c.knockout_vi,
                });
            }
            sections.push(CriteriaSection {
                code: section.code,
                title_vi: section.title_vi,
                criteria,
            });
        }
        if total > max {
            problems.push(format!(
                "part {}: its criteria add up to {total}, above the part's cap {max}",
                part.code
            ));
        } else if total < max {
            notes.push(format!(
                "part {}: accepted as printed, though its criteria add up to {total} of {max}",
                part.code
            ));
        }
        parts.push(CriteriaPart {
            code: part.code,
            title_vi: part.title_vi,
            max_points: max,
            sections,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The transcriber's own list of source problems, kept beside the decisions above.
    notes.extend(sheet.source_issues.into_iter().map(|issue| format!("source: {issue}")));
    Ok(Checked {
        set: CriteriaSet {
            decision: decision as i32,
            group_code: group_code.to_string(),
            subgroup_code: subgroup_code.to_string(),
            title_vi: sheet.bo_san_pham_vi.unwrap_or(sheet.subgroup),
            complete: sheet.complete,
            source: sheet.source,
            parts,
            disqualified_if_vi: sheet.disqualified_if_vi.unwrap_or_default(),
            star_bands: sheet
                .star_bands
                .into_iter()
                .map(|b| StarBand {
                    stars: b.stars,
                    min_points: b.min,
                    max_points: b.max,
                    text_vi: b.text_vi,
                })
                .collect(),
            corrections: notes,
            in_force_from: Some(from),
            in_force_until: until,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(json: &str) -> SourceSheet {
        serde_json::from_str(json).unwrap()
    }

    const OK: &str = r#"{"decision": "148/QĐ-TTg", "group": "Thực phẩm", "subgroup": "Gia vị / Gia vị khác",
        "parts": [
          {"code": "A", "max_points": 40, "sections": [{"code": "1", "criteria": [
             {"code": "1a", "max_points": 40, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 40}]}]}]},
          {"code": "B", "max_points": 25, "sections": [{"code": "2", "criteria": [
             {"code": "2a", "max_points": 25, "scoring": "additive", "options": [{"text_vi": "x", "points": 20}, {"text_vi": "y", "points": 5}]}]}]},
          {"code": "C", "max_points": 35, "sections": [{"code": "3", "criteria": [
             {"code": "3a", "max_points": 35, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 35, "star_marker": 4}]}]}]}]}"#;

    #[test]
    fn a_consistent_sheet_passes() {
        let checked = check(sheet(OK)).unwrap();
        assert_eq!(checked.set.subgroup_code, "gia-vi-khac");
        assert_eq!(checked.set.parts[2].sections[0].criteria[0].options[0].star_marker, 4);
        assert!(checked.set.corrections.is_empty());
    }

    #[test]
    fn every_problem_is_explained() {
        let bad = OK
            .replace(r#""points": 40}"#, r#""points": 41}"#)
            .replace(r#""max_points": 25, "sections""#, r#""max_points": 30, "sections""#)
            .replace(r#""points": 5}"#, r#""points": 6}"#)
            .replace(r#""star_marker": 4"#, r#""star_marker": 2"#);
        let problems = check(sheet(&bad)).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("criterion 1a: an option is worth 41, above the criterion's maximum 40")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("part B has a cap of 30; 148/QĐ-TTg sets 25")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("criterion 2a: its options add up to 26")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("star marker Some(2)")),
            "{problems:#?}"
        );
        let over = OK.replace(r#""code": "1a", "max_points": 40"#, r#""code": "1a", "max_points": 45"#);
        let problems = check(sheet(&over)).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("part A: its criteria add up to 45, above the part's cap 40")),
            "{problems:#?}"
        );
        let unknown = OK.replace("Gia vị / Gia vị khác", "Đồ chơi");
        assert!(check(sheet(&unknown)).unwrap_err()[0].contains("not in the taxonomy"));
        let decision = OK.replace("148/QĐ-TTg", "999/QĐ-TTg");
        assert!(check(sheet(&decision)).unwrap_err()[0].contains("neither 1048"));
    }
}
