//! Criteria sheets as published in `data/criteria/*.json` (see SOURCES.md
//! there), their deliberate corrections, and the checks every imported
//! sheet must pass before it becomes a [`CriteriaSet`].
//!
//! A sheet's product set: a 1048 sheet names it (the registry's codes before
//! 26/2026, in `sheets_1048`); a 148 or 26/2026 sheet gives its number, the
//! product set's number in 26/2026 Phụ lục I (`ocop_kit::taxonomy`).

use ocop_kit::taxonomy;
use ocop_proto::evaluation::v1::{
    CriteriaPart, CriteriaSection, CriteriaSet, Criterion, CriterionOption, Decision, Scoring, StarBand,
};

mod sheets_1048;
mod source;

pub use source::{DecisionRules, SourceSheet, decision_of};
use source::{SourceBand, SourceCriterion};

/// A checked sheet, ready to store.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The set, without name, version, `used` and times.
    pub set: CriteriaSet,
}

/// The product set `(group, subgroup)` a sheet scores.
fn product_set(sheet: &SourceSheet, decision: Decision) -> Result<(&'static str, &'static str), String> {
    if decision == Decision::Decision10482019 {
        let name = sheet.subgroup.split(" (").next().unwrap_or(&sheet.subgroup).trim();
        return sheets_1048::SUBGROUPS
            .iter()
            .find(|(_, _, n)| *n == name)
            .map(|(group, subgroup, _)| (*group, *subgroup))
            .ok_or_else(|| {
                format!(
                    "product set `{}` (group `{}`) is not in the taxonomy",
                    sheet.subgroup, sheet.group
                )
            });
    }
    // Without a number (the first 148 transcription), the set's name in
    // Phụ lục I, after the group and before any note: "Nhóm / Phân nhóm (…)".
    let named = || {
        let name = sheet.subgroup.split(" (").next().unwrap_or_default();
        let name = name.rsplit(" / ").next().unwrap_or_default().trim();
        taxonomy::SETS.iter().find(|s| s.name_vi == name).map(|s| s.sheet)
    };
    let no = sheet.sheet_no.or_else(named).ok_or_else(|| {
        format!(
            "sheet_no is missing and `{}` is not a product set of 26/2026 Phụ lục I: a {} sheet names its set by its number there (1 to 26)",
            sheet.subgroup, sheet.decision
        )
    })?;
    let set = taxonomy::by_sheet(no)
        .ok_or_else(|| format!("sheet_no {no} is not in the taxonomy: 26/2026 Phụ lục I has product sets 1 to 26"))?;
    if let Some(row) = &sheet.classification_2026
        && !row.annex1_path.is_empty()
        && row.annex1_path != set.annex
    {
        return Err(format!(
            "sheet {no} is row {} of Phụ lục I ({}); the file says row {}",
            set.annex, set.name_vi, row.annex1_path
        ));
    }
    Ok((set.group, set.code))
}

/// Problems with a criterion's star markers; `markers` is whether the
/// decision prints any.
fn marker_problems(c: &SourceCriterion, markers: bool, decision: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let marked: Vec<(i32, i32)> = c
        .options
        .iter()
        .filter_map(|o| o.star_marker.map(|m| (o.points, m)))
        .collect();
    if !markers && (c.star_marker.is_some() || !marked.is_empty()) {
        problems.push(format!(
            "criterion {}: a star marker on a {decision} sheet, whose decision prints none",
            c.code
        ));
        return problems;
    }
    for m in marked.iter().map(|(_, m)| *m).chain(c.star_marker) {
        if !(3..=5).contains(&m) {
            problems.push(format!("criterion {}: star marker Some({m}) is not 3, 4 or 5", c.code));
        }
    }
    if c.star_marker.is_some() && c.options.iter().all(|o| o.points <= 0) {
        problems.push(format!(
            "criterion {}: marked on the criterion, but no option is worth points to reach",
            c.code
        ));
    }
    // A higher level never asks for less: a 5★ option worth less than the
    // 4★ one is a transcription error. (Two options of one level are read as
    // the stricter, since every marked option up to a level must be reached;
    // the first 148 transcription marks both options of 3e so.)
    let mut sorted = marked.clone();
    sorted.sort();
    for pair in sorted.windows(2) {
        let ((low_points, low), (high_points, high)) = (pair[0], pair[1]);
        if low > high && low_points < high_points {
            problems.push(format!(
                "criterion {}: its {low}★ option is worth {low_points}, less than its {high}★ option ({high_points})",
                c.code
            ));
        }
    }
    problems
}

/// Problems with the printed bands: they must be those `results` applies
/// (Điều 3.3 of 26/2026, the same figures in 1048).
fn band_problems(bands: &[SourceBand]) -> Vec<String> {
    bands
        .iter()
        .filter(|b| {
            let last = if b.max_exclusive { b.max * 10 - 1 } else { b.max * 10 };
            let above = last + 1;
            let first = i64::from(b.min) * 10;
            crate::rules::results::band_stars(first) != b.stars
                || (b.min > 0 && crate::rules::results::band_stars(first - 1) == b.stars)
                || crate::rules::results::band_stars(i64::from(last)) != b.stars
                || (b.stars < 5 && crate::rules::results::band_stars(i64::from(above)) == b.stars && b.max_exclusive)
        })
        .map(|b| {
            format!(
                "star band {}★ ({} to {}{}) is not the band results apply",
                b.stars,
                b.min,
                if b.max_exclusive { "under " } else { "" },
                b.max
            )
        })
        .collect()
}

/// Turns a source sheet into a criteria set: applies the recorded
/// corrections, then checks every rule. Returns every problem at once.
pub fn check(sheet: SourceSheet) -> Result<Checked, Vec<String>> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let Some(rules) = decision_of(&sheet.decision) else {
        return Err(vec![format!(
            "decision `{}` is none of 1048/QĐ-TTg, 148/QĐ-TTg and 26/2026/QĐ-TTg",
            sheet.decision
        )]);
    };
    let decision = rules.decision;
    let (group_code, subgroup_code) = product_set(&sheet, decision).map_err(|p| vec![p])?;
    let markers = decision != Decision::Decision10482019;
    problems.extend(band_problems(&sheet.star_bands));
    let mut parts = Vec::new();
    let codes: Vec<&str> = sheet.parts.iter().map(|p| p.code.as_str()).collect();
    if codes != ["A", "B", "C"] {
        problems.push(format!("parts must be A, B and C in that order; found {codes:?}"));
    }
    for (part, cap) in sheet.parts.into_iter().zip(rules.caps) {
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
                let fix = sheets_1048::CORRECTIONS.iter().find(|f| {
                    f.subgroup == subgroup_code && f.criterion == c.code && decision == Decision::Decision10482019
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
                }
                problems.extend(marker_problems(&c, markers, &sheet.decision));
                // 148 and 26/2026 mark their mandatory criteria with the markers.
                let marked = c.star_marker.is_some() || c.options.iter().any(|o| o.star_marker.is_some());
                total += c_max;
                criteria.push(Criterion {
                    code: c.code,
                    title_vi: c.title_vi,
                    max_points: c_max,
                    scoring: scoring as i32,
                    mandatory: c.mandatory || marked,
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
                    star_marker: c.star_marker.unwrap_or(0),
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
                    max_exclusive: b.max_exclusive,
                })
                .collect(),
            corrections: notes,
            in_force_from: Some(rules.from),
            in_force_until: rules.until,
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

    const OK: &str = r#"{"decision": "148/QĐ-TTg", "sheet_no": 10, "group": "Thực phẩm", "subgroup": "Gia vị / Gia vị khác",
        "taxonomy": {"relation": "same"}, "corrections": [],
        "parts": [
          {"code": "A", "max_points": 40, "sections": [{"code": "1", "criteria": [
             {"code": "1a", "max_points": 40, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 40, "synthesized": true}]}]}]},
          {"code": "B", "max_points": 25, "sections": [{"code": "2", "criteria": [
             {"code": "2a", "max_points": 25, "scoring": "additive", "options": [{"text_vi": "x", "points": 20}, {"text_vi": "y", "points": 5}]}]}]},
          {"code": "C", "max_points": 35, "sections": [{"code": "3", "criteria": [
             {"code": "3a", "max_points": 35, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 35, "star_marker": 4}]}]}]}]}"#;

    #[test]
    fn a_consistent_sheet_passes() {
        let checked = check(sheet(OK)).unwrap();
        assert_eq!(checked.set.subgroup_code, "gia-vi-khac");
        let marked = &checked.set.parts[2].sections[0].criteria[0];
        assert_eq!(marked.options[0].star_marker, 4);
        assert!(marked.mandatory, "a marked criterion is mandatory");
        assert!(checked.set.corrections.is_empty());
        let in_2026 = check(sheet(&OK.replace("148/QĐ-TTg", "26/2026/QĐ-TTg"))).unwrap();
        assert_eq!(in_2026.set.decision, Decision::Decision262026 as i32);
    }

    #[test]
    fn every_problem_is_explained() {
        let bad = OK
            .replace(r#""points": 40,"#, r#""points": 41,"#)
            .replace(r#""max_points": 25, "sections""#, r#""max_points": 30, "sections""#)
            .replace(r#""points": 5}"#, r#""points": 6}"#)
            .replace(r#""star_marker": 4"#, r#""star_marker": 2"#);
        let problems = check(sheet(&bad)).unwrap_err();
        for expected in [
            "criterion 1a: an option is worth 41, above the criterion's maximum 40",
            "part B has a cap of 30; 148/QĐ-TTg sets 25",
            "criterion 2a: its options add up to 26",
            "star marker Some(2)",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:#?}"
            );
        }
        let over = OK.replace(r#""code": "1a", "max_points": 40"#, r#""code": "1a", "max_points": 45"#);
        let problems = check(sheet(&over)).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("part A: its criteria add up to 45, above the part's cap 40")),
            "{problems:#?}"
        );
        let unknown = OK.replace(r#""sheet_no": 10"#, r#""sheet_no": 27"#);
        assert!(check(sheet(&unknown)).unwrap_err()[0].contains("not in the taxonomy"));
        let unnumbered = OK.replace(r#""sheet_no": 10,"#, "");
        assert_eq!(
            check(sheet(&unnumbered)).unwrap().set.subgroup_code,
            "gia-vi-khac",
            "named instead"
        );
        let unknown = unnumbered.replace("Gia vị / Gia vị khác", "Đồ chơi");
        assert!(check(sheet(&unknown)).unwrap_err()[0].contains("sheet_no is missing and `Đồ chơi`"));
        let unnamed = OK
            .replace("148/QĐ-TTg", "1048/QĐ-TTg")
            .replace("Gia vị / Gia vị khác", "Đồ chơi");
        assert!(check(sheet(&unnamed)).unwrap_err()[0].contains("not in the taxonomy"));
        let decision = OK.replace("148/QĐ-TTg", "999/QĐ-TTg");
        assert!(check(sheet(&decision)).unwrap_err()[0].contains("none of 1048"));
        let misfiled = OK.replace("148/QĐ-TTg", "26/2026/QĐ-TTg").replace(
            r#""sheet_no": 10,"#,
            r#""sheet_no": 10, "classification_2026": {"annex1_path": "I.4.a"},"#,
        );
        assert!(
            check(sheet(&misfiled)).unwrap_err()[0].contains("sheet 10 is row I.4.b of Phụ lục I"),
            "the row printed in the file must be the number's"
        );
    }

    #[test]
    fn markers_must_make_sense() {
        let in_1048 = OK
            .replace("148/QĐ-TTg", "1048/QĐ-TTg")
            .replace(r#""max_points": 40"#, r#""max_points": 35"#)
            .replace(r#""points": 40,"#, r#""points": 35,"#)
            .replace(r#""max_points": 35, "sections""#, r#""max_points": 40, "sections""#)
            .replace(r#""code": "3a", "max_points": 35"#, r#""code": "3a", "max_points": 40"#);
        let problems = check(sheet(&in_1048)).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("criterion 3a: a star marker on a 1048/QĐ-TTg sheet")),
            "{problems:#?}"
        );
        let options = |list: &str| {
            OK.replace(
                r#"[{"text_vi": "x", "points": 35, "star_marker": 4}]"#,
                &format!("[{list}]"),
            )
        };
        let inverted = options(
            r#"{"text_vi": "a", "points": 20, "star_marker": 5}, {"text_vi": "b", "points": 35, "star_marker": 4}"#,
        );
        assert!(
            check(sheet(&inverted)).unwrap_err()[0]
                .contains("criterion 3a: its 5★ option is worth 20, less than its 4★ option (35)")
        );
        let twice = options(
            r#"{"text_vi": "a", "points": 20, "star_marker": 4}, {"text_vi": "b", "points": 35, "star_marker": 4}"#,
        );
        assert!(check(sheet(&twice)).is_ok(), "the stricter of two 4★ options applies");
        let on_nothing = OK.replace(
            r#""code": "3a", "max_points": 35, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 35, "star_marker": 4}]"#,
            r#""code": "3a", "max_points": 35, "star_marker": 3, "scoring": "single_choice", "options": [{"text_vi": "x", "points": 0}, {"text_vi": "y", "points": 0}]"#,
        );
        let problems = check(sheet(&on_nothing)).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no option is worth points to reach")),
            "{problems:#?}"
        );
    }

    #[test]
    fn printed_bands_must_be_the_ones_applied() {
        let banded = |bands: &str| OK.replace(r#""corrections": [],"#, &format!(r#""star_bands": [{bands}],"#));
        let right = banded(
            r#"{"stars": 4, "min": 70, "max": 90, "max_exclusive": true}, {"stars": 5, "min": 90, "max": 100},
               {"stars": 1, "min": 0, "max": 29}"#,
        );
        let set = check(sheet(&right)).unwrap().set;
        assert!(set.star_bands[0].max_exclusive);
        let wrong = banded(r#"{"stars": 4, "min": 75, "max": 90, "max_exclusive": true}"#);
        assert!(check(sheet(&wrong)).unwrap_err()[0].contains("star band 4★ (75 to under 90)"));
        let inclusive = banded(r#"{"stars": 4, "min": 70, "max": 90}"#);
        assert!(check(sheet(&inclusive)).unwrap_err()[0].contains("star band 4★ (70 to 90)"));
    }
}
