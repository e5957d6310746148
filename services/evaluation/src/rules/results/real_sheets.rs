//! The result rules over the shipped sheets: star markers of 26/2026 and 148
//! cap the stars, and 1048's sheets have none.

use super::*;
use ocop_proto::evaluation::v1::Scoring;
use time::macros::date;

fn shipped(prefix: &str) -> CriteriaSet {
    let (_, json) = crate::criteria::SHIPPED
        .iter()
        .find(|(f, _)| f.starts_with(prefix))
        .unwrap();
    let mut set = crate::rules::criteria_sheets::check(serde_json::from_str(json).unwrap())
        .unwrap()
        .set;
    set.name = format!("criteriaSets/{prefix}");
    set
}

/// Every criterion at its best.
fn best(set: &CriteriaSet) -> Vec<Answer> {
    set.parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .map(|c| Answer {
            criterion: c.code.clone(),
            options: if c.scoring == Scoring::Additive as i32 {
                (0..c.options.len() as i32).collect()
            } else {
                let top = (0..c.options.len()).max_by_key(|&i| c.options[i].points).unwrap();
                vec![top as i32]
            },
        })
        .collect()
}

fn with(mut answers: Vec<Answer>, code: &str, options: Vec<i32>) -> Vec<Answer> {
    answers.iter_mut().find(|a| a.criterion == code).unwrap().options = options;
    answers
}

fn compute_at(set: &CriteriaSet, sheet: Vec<Answer>, level: &str) -> Outcome {
    compute(
        set,
        &[sheet.clone(), sheet],
        level,
        date!(2026 - 10 - 01),
        DEFAULT_SPREAD_LIMIT,
        &[],
    )
}

#[test]
fn a_26_2026_sheet_missing_its_5_star_marker_ranks_4_stars() {
    let set = shipped("2026-01");
    let out = compute_at(&set, best(&set), "central");
    assert_eq!((out.mean_tenths, out.stars, out.recognised_stars), (1000, 5, 5));
    // 1.3 gives 2 of 3: 99 points, but its 5★ marker asks for 3.
    let out = compute_at(&set, with(best(&set), "1.3", vec![1]), "central");
    assert_eq!(
        (
            out.mean_tenths,
            out.band_stars,
            out.stars,
            out.recognised_stars,
            out.certifiable
        ),
        (990, 5, 4, 0, false)
    );
    assert_eq!(
        out.reasons,
        [
            "criterion 1.3 needs at least 3 points for 5★ (the members' mean is 2.0)",
            "the score's band is 5★ but the 26/2026 star markers met allow 4★",
            "the central round recognises 5 stars only",
        ]
    );
    // The same sheet at the province: 4★, certified there.
    let out = compute_at(&set, with(best(&set), "1.3", vec![1]), "province");
    assert_eq!((out.stars, out.recognised_stars, out.certifiable), (4, 4, true));
}

#[test]
fn missing_a_3_star_marker_leaves_2_stars_whatever_the_points() {
    let set = shipped("2026-01");
    // 2.3's 3★ option is its least (1 point): answering none misses it.
    let out = compute_at(&set, with(best(&set), "2.3", vec![]), "province");
    assert_eq!((out.band_stars, out.stars, out.certifiable), (5, 2, false));
    assert!(
        out.reasons
            .iter()
            .any(|r| r == "criterion 2.3 needs at least 1 points for 3★ (the members' mean is 0.0)"),
        "{:#?}",
        out.reasons
    );
}

#[test]
fn a_148_marker_printed_on_a_criterion_asks_for_its_least_option() {
    let set = shipped("148-01");
    let out = compute_at(&set, with(best(&set), "3e", vec![]), "province");
    assert_eq!(
        (out.mean_tenths, out.band_stars, out.stars),
        (980, 5, 3),
        "{:#?}",
        out.reasons
    );
    assert!(
        out.reasons
            .iter()
            .any(|r| r == "criterion 3e needs at least 1 points for 4★ (the members' mean is 0.0)"),
        "{:#?}",
        out.reasons
    );
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("the 148 star markers met allow 3★"))
    );
    let out = compute_at(&set, with(best(&set), "3e", vec![0]), "province");
    assert_eq!(out.stars, 5, "its least option is enough");
}

#[test]
fn a_1048_sheet_prints_no_markers_so_the_band_stands() {
    let set = shipped("1048-01");
    let markers = set
        .parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .flat_map(|c| &c.options)
        .filter(|o| o.star_marker > 0)
        .count();
    assert_eq!(markers, 0);
    let out = compute(
        &set,
        &[best(&set)],
        "province",
        date!(2022 - 06 - 01),
        DEFAULT_SPREAD_LIMIT,
        &[],
    );
    assert_eq!((out.band_stars, out.stars, out.recognised_stars), (5, 5, 4));
}
