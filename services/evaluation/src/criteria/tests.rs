//! The shipped sheets, checked as the service checks them at start.

use super::*;
use ocop_proto::evaluation::v1::Scoring;

#[test]
fn every_shipped_sheet_passes_the_checks() {
    // 26 sheets of 1048 and the 781 tourism sheet, 26 of 148, 26 of 26/2026.
    assert_eq!(SHIPPED.len(), 79);
    for (file, json) in SHIPPED {
        let source: SourceSheet = serde_json::from_str(json).unwrap_or_else(|e| panic!("{file}: {e}"));
        let checked = criteria_sheets::check(source).unwrap_or_else(|p| panic!("{file}: {p:#?}"));
        for part in &checked.set.parts {
            let total: i32 = part
                .sections
                .iter()
                .flat_map(|s| &s.criteria)
                .map(|c| c.max_points)
                .sum();
            assert!(total <= part.max_points, "{file}: part {}", part.code);
        }
    }
}

#[test]
fn the_source_errors_are_handled_deliberately() {
    let notes = |prefix: &str| {
        let (_, json) = SHIPPED.iter().find(|(f, _)| f.starts_with(prefix)).unwrap();
        criteria_sheets::check(serde_json::from_str(json).unwrap())
            .unwrap()
            .set
            .corrections
    };
    let honey = notes("1048-04");
    assert!(
        honey
            .iter()
            .any(|n| n.starts_with("criterion 9.1: printed maximum 3 corrected to 2")),
        "{honey:#?}"
    );
    let vegetables = notes("1048-07");
    assert!(
        vegetables
            .iter()
            .any(|n| n.contains("criterion 3.1: accepted as printed, though its best option gives 2 of 3")),
        "{vegetables:#?}"
    );
    assert!(
        notes("1048-13")
            .iter()
            .any(|n| n.contains("6.3: printed maximum 2 corrected to 3"))
    );
    assert!(
        notes("1048-17")
            .iter()
            .any(|n| n.contains("6.1: printed maximum 5 corrected to 3"))
    );
    assert!(
        notes("1048-19")
            .iter()
            .any(|n| n.contains("criterion 10: accepted as printed"))
    );
    assert!(
        notes("1048-25")
            .iter()
            .any(|n| n.contains("6.5: printed maximum 3 corrected to 5"))
    );
    assert!(
        notes("1048-26")
            .iter()
            .any(|n| n.contains("part A: accepted as printed, though its criteria add up to 34 of 35"))
    );
    assert!(notes("1048-781").iter().any(|n| n.contains("no cap printed")));
    assert!(notes("1048-01").is_empty(), "a clean sheet carries no notes");
    // 148's third-party transcription: the shortfalls it explains are kept.
    assert!(
        notes("148-11")
            .iter()
            .any(|n| n == "part C: accepted as printed, though its criteria add up to 32 of 35")
    );
    // 26/2026: the transcriber's corrections of printed values, as sentences.
    let honey = notes("2026-04");
    assert!(
        honey.iter().any(|n| n
            .starts_with("source: corrected: criterion 7: option 'Có trên 2 chỉ tiêu' printed '13', corrected to 3")),
        "{honey:#?}"
    );
}

fn shipped(prefix: &str) -> Vec<(&'static str, CriteriaSet)> {
    SHIPPED
        .iter()
        .filter(|(f, _)| f.starts_with(prefix))
        .map(|(f, json)| {
            let set = criteria_sheets::check(serde_json::from_str(json).unwrap())
                .unwrap_or_else(|p| panic!("{f}: {p:#?}"))
                .set;
            (*f, set)
        })
        .collect()
}

fn criteria(set: &CriteriaSet) -> impl Iterator<Item = &ocop_proto::evaluation::v1::Criterion> {
    set.parts.iter().flat_map(|p| &p.sections).flat_map(|s| &s.criteria)
}

#[test]
fn the_26_sheets_of_148_and_of_26_2026_score_the_26_product_sets() {
    for (prefix, decision) in [("148-", Decision::Decision1482023), ("2026-", Decision::Decision262026)] {
        let sets = shipped(prefix);
        let codes: Vec<(&str, &str)> = sets
            .iter()
            .map(|(_, s)| (s.group_code.as_str(), s.subgroup_code.as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = taxonomy::SETS.iter().map(|s| (s.group, s.code)).collect();
        assert_eq!(codes, expected, "{prefix}: one sheet per set, in Phụ lục I's order");
        for (file, set) in &sets {
            assert_eq!(set.decision, decision as i32, "{file}");
            let caps: Vec<i32> = set.parts.iter().map(|p| p.max_points).collect();
            assert_eq!(caps, [40, 25, 35], "{file}");
            assert!(
                criteria(set).any(|c| c.mandatory),
                "{file}: markers make criteria mandatory"
            );
        }
    }
    assert_eq!(
        decision_key(Decision::Decision262026 as i32),
        sheets_key(ocop_kit::regime::Regime::on(ocop_kit::regime::DECISION_26_2026).sheets())
    );
}

#[test]
fn every_26_2026_sheet_adds_up_to_100_and_prints_its_markers() {
    for (file, set) in shipped("2026-") {
        assert!(set.complete, "{file}");
        for part in &set.parts {
            let sum: i32 = part
                .sections
                .iter()
                .flat_map(|s| &s.criteria)
                .map(|c| c.max_points)
                .sum();
            assert_eq!(sum, part.max_points, "{file}: part {}", part.code);
        }
        let best: i32 = criteria(&set)
            .map(|c| {
                let points = c.options.iter().map(|o| o.points);
                if c.scoring == Scoring::Additive as i32 {
                    points.sum::<i32>().min(c.max_points)
                } else {
                    points.max().unwrap_or(0)
                }
            })
            .sum();
        assert_eq!(best, 100, "{file}: the best options reach 100");
        assert!(
            !set.corrections.iter().any(|n| n.contains("accepted as printed")),
            "{file}: {:#?}",
            set.corrections
        );
        let levels: std::collections::BTreeSet<i32> = criteria(&set)
            .flat_map(|c| &c.options)
            .map(|o| o.star_marker)
            .filter(|m| *m > 0)
            .collect();
        // Sheet 26 (tourism) prints 3★ and 4★ markers only.
        let expected: &[i32] = if file.starts_with("2026-26") {
            &[3, 4]
        } else {
            &[3, 4, 5]
        };
        assert_eq!(levels.into_iter().collect::<Vec<_>>(), expected, "{file}");
        assert_eq!(set.star_bands.len(), 5, "{file}: Điều 3.3's bands");
        assert_eq!(
            set.in_force_from,
            Some(ocop_kit::date::to_proto(ocop_kit::regime::DECISION_26_2026))
        );
    }
    // The one criterion-level marker kind: 148's intellectual-property criterion.
    let (_, vegetables) = shipped("148-01").remove(0);
    let ip = criteria(&vegetables).find(|c| c.code == "3e").unwrap();
    assert_eq!((ip.star_marker, ip.mandatory), (4, true));
}

#[test]
fn every_code_of_the_earlier_taxonomy_is_scored_on_a_shipped_148_and_26_2026_set() {
    let old = shipped("1048-");
    assert_eq!(old.len(), 27);
    let in_148: Vec<String> = shipped("148-").into_iter().map(|(_, s)| s.subgroup_code).collect();
    let in_2026: Vec<String> = shipped("2026-").into_iter().map(|(_, s)| s.subgroup_code).collect();
    let mut removed = Vec::new();
    for (file, set) in &old {
        let code = set.subgroup_code.as_str();
        assert_eq!(
            scored_subgroup("1048", code, "p").unwrap(),
            code,
            "1048 rounds score the code itself"
        );
        match scored_subgroup("2026", code, "subjects/s/products/p") {
            Ok(to) => {
                assert!(in_2026.contains(&to), "{file}: {code} → {to}, not a 26/2026 sheet");
                assert!(in_148.contains(&to), "{file}: {code} → {to}, not a 148 sheet");
                assert_eq!(scored_subgroup("148", code, "p").unwrap(), to);
            }
            Err(e) => {
                assert_eq!(e.reason(), "PRODUCT_SET_REMOVED", "{file}");
                assert!(e.message().contains("subjects/s/products/p"), "{}", e.message());
                removed.push(code);
            }
        }
    }
    assert_eq!(
        removed,
        ["trang-thiet-bi-dung-cu-y-te", "dich-vu-du-lich-truyen-thong-le-hoi"]
    );
    assert_eq!(
        scored_subgroup("2026", "mat-ong-cac-san-pham-tu-mat-ong-mat-khac", "p").unwrap(),
        "mat-ong-mat-khac-va-nong-san-thuc-pham-khac"
    );
    assert_eq!(scored_subgroup("2026", "hoa", "p").unwrap(), "hoa");
}
