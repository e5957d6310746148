//! The rules that turn submitted score sheets into a result, in one place:
//! the mean and its rounding, the star bands, the 148 star markers, what
//! each level may recognise under each regime, nominations and the spread
//! flag. Pure functions over a criteria set and sheets, so a result can be
//! recomputed years later from what was stored and give the same answer.
//!
//! - **Mean.** The mean of the members' totals, rounded to one decimal, half
//!   away from zero (kept as tenths: 89.95 → 900 → 90.0).
//! - **Bands** on the rounded mean, half-open: [90, 100] 5★, [70, 90) 4★,
//!   [50, 70) 3★, [30, 50) 2★, below 30 1★.
//! - **Markers (148 and 26/2026 sets).** An option marked 3, 4 or 5 is the
//!   least a product must reach on its criterion to rank at that level or
//!   above ("Dấu sao là yêu cầu tối thiểu phải đạt theo các cấp độ sao", the
//!   legend under each 26/2026 sheet); "reach" means the members' mean points
//!   on the criterion are at least the option's. A marker printed on the
//!   criterion itself (some 148 sheets) asks for its least option worth
//!   points. The star is the band's, capped at the highest level whose
//!   markers are all met (2★ when even the 3★ markers are not); the reasons
//!   name every criterion that capped it. 1048 prints no markers.
//! - **Levels**, from the regime table (`ocop_kit::regime`): a level
//!   recognises up to the most stars it certifies under the round's regime.
//!   PROVINCE recognises up to 4★. DISTRICT recognises up to 3★ from
//!   2023-02-24 to 2025-07-05 and nothing before (pre-screening). CENTRAL
//!   recognises 5★ only. COMMUNE_ASSESSMENT recognises nothing. Only 3★ to 5★
//!   are certifiable. The reasons' wording is kept as published, since
//!   RecomputeResult compares a recomputed result with the stored one.
//! - **Nomination.** A PROVINCE entry with a mean of 90.0 or more goes to the
//!   central round.

use ocop_kit::regime::{Level, Regime};
use ocop_proto::evaluation::v1::{Answer, CriteriaSet, Criterion, Decision};

/// Members' totals further apart than this flag the entry for rescoring.
pub const DEFAULT_SPREAD_LIMIT: i32 = 10;

/// A computed result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Mean of the members' totals, in tenths of a point.
    pub mean_tenths: i64,
    /// Per part (A, B, C), in tenths.
    pub part_means_tenths: Vec<(String, i64)>,
    /// Stars of the band.
    pub band_stars: i32,
    /// Stars after the star markers.
    pub stars: i32,
    /// Stars this round's level may recognise.
    pub recognised_stars: i32,
    /// Whether a certificate may be issued from it.
    pub certifiable: bool,
    /// Whether it goes to the central round.
    pub nominated: bool,
    /// Whether the members' totals spread past the limit.
    pub rescore: bool,
    /// Every reason that lowered, blocked or flagged it.
    pub reasons: Vec<String>,
}

/// Rounds `sum / n` to tenths, half away from zero.
pub fn mean_tenths(sum: i64, n: i64) -> i64 {
    if n == 0 {
        return 0;
    }
    let scaled = sum * 20; // twice the tenths, to round on the half
    let twice = scaled / n;
    (twice + twice.signum()) / 2
}

/// The band of a mean (tenths).
pub fn band_stars(mean_tenths: i64) -> i32 {
    match mean_tenths {
        t if t >= 900 => 5,
        t if t >= 700 => 4,
        t if t >= 500 => 3,
        t if t >= 300 => 2,
        _ => 1,
    }
}

/// The most stars a round of `level` dated `day` may recognise, and why.
pub fn level_cap(level: &str, day: time::Date) -> (i32, Option<String>) {
    let regime = Regime::on(day);
    let most = |level: Level| regime.certifies(level).iter().copied().max().unwrap_or(0);
    match level {
        "province" => (
            most(Level::Province),
            Some("a PROVINCE round recognises up to 4 stars; 5 is for the central round".into()),
        ),
        "district" => match regime {
            Regime::D1048 => (
                0,
                Some("before 2023-02-24 (Decision 1048) a DISTRICT round only pre-screens".into()),
            ),
            Regime::D148 => (
                most(Level::District),
                Some("from 2023-02-24 to 2025-07-05 a DISTRICT round recognises up to 3 stars".into()),
            ),
            _ => (0, Some("districts were abolished on 2025-07-01".into())),
        },
        "central" => (most(Level::Central), None),
        _ => (0, Some("a commune assessment recognises no stars".into())),
    }
}

/// The decision whose star markers cap a set's stars, as the reasons name it.
fn marker_decision(set: &CriteriaSet) -> Option<&'static str> {
    if set.decision == Decision::Decision1482023 as i32 {
        Some("148")
    } else if set.decision == Decision::Decision262026 as i32 {
        Some("26/2026")
    } else {
        None
    }
}

/// Every star marker of a set as (criterion, level, least points), in sheet
/// order: a criterion's own marker first, then its options'.
fn markers(set: &CriteriaSet) -> Vec<(&Criterion, i32, i32)> {
    let mut out = Vec::new();
    for c in set.parts.iter().flat_map(|p| &p.sections).flat_map(|s| &s.criteria) {
        if c.star_marker >= 3 {
            let least = c.options.iter().map(|o| o.points).filter(|p| *p > 0).min();
            out.push((c, c.star_marker, least.unwrap_or(0)));
        }
        out.extend(
            c.options
                .iter()
                .filter(|o| o.star_marker >= 3)
                .map(|o| (c, o.star_marker, o.points)),
        );
    }
    out
}

/// Computes the result of one entry from its submitted sheets.
pub fn compute(
    set: &CriteriaSet,
    sheets: &[Vec<Answer>],
    level: &str,
    day: time::Date,
    spread_limit: i32,
    disqualifications: &[String],
) -> Outcome {
    let mut reasons: Vec<String> = disqualifications.iter().map(|d| format!("disqualified: {d}")).collect();
    let scored: Vec<crate::rules::scoring::Points> = sheets
        .iter()
        .filter_map(|answers| crate::rules::scoring::score(set, answers).ok())
        .collect();
    let n = scored.len() as i64;
    let mean = mean_tenths(scored.iter().map(|p| i64::from(p.total)).sum(), n);
    let part_means = set
        .parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            (
                part.code.clone(),
                mean_tenths(
                    scored
                        .iter()
                        .map(|p| i64::from(p.parts.get(i).map_or(0, |x| x.1)))
                        .sum(),
                    n,
                ),
            )
        })
        .collect();
    let (low, high) = scored
        .iter()
        .fold((i32::MAX, i32::MIN), |(lo, hi), p| (lo.min(p.total), hi.max(p.total)));
    let rescore = n > 1 && high - low > spread_limit;
    if rescore {
        reasons.push(format!(
            "members' totals range from {low} to {high}, more than {spread_limit} apart: the council should rescore"
        ));
    }

    let band = band_stars(mean);
    let mut stars = band;
    if let Some(decision) = marker_decision(set)
        && band >= 3
    {
        let criterion_means = criterion_means(set, sheets);
        let markers = markers(set);
        let mean_of = |c: &Criterion| criterion_means.get(c.code.as_str()).copied().unwrap_or(0);
        let missed = |level: i32| -> Vec<String> {
            markers
                .iter()
                .filter(|(c, marker, points)| *marker <= level && mean_of(c) < i64::from(*points) * 10)
                .map(|(c, marker, points)| {
                    format!(
                        "criterion {} needs at least {} points for {}★ (the members' mean is {:.1})",
                        c.code,
                        points,
                        marker,
                        mean_of(c) as f64 / 10.0
                    )
                })
                .collect()
        };
        stars = 2;
        for level in (3..=band).rev() {
            let missing = missed(level);
            if missing.is_empty() {
                stars = level;
                break;
            }
            // The band's list holds every missed marker up to the band, so it
            // names each criterion that capped the stars.
            if level == band {
                reasons.extend(missing);
            }
        }
        if stars < band {
            reasons.push(format!(
                "the score's band is {band}★ but the {decision} star markers met allow {stars}★"
            ));
        }
    }
    let (cap, why) = level_cap(level, day);
    let recognised = if level == "central" {
        if stars == 5 { 5 } else { 0 }
    } else {
        stars.min(cap)
    };
    if recognised < stars
        && let Some(why) = why
    {
        reasons.push(why);
    }
    if level == "central" && stars < 5 {
        reasons.push("the central round recognises 5 stars only".into());
    }
    let certifiable = recognised >= 3 && disqualifications.is_empty();
    if recognised < 3 && recognised == stars {
        reasons.push(format!("{stars}★ is below 3★: only 3 to 5 stars are certified"));
    }
    Outcome {
        mean_tenths: mean,
        part_means_tenths: part_means,
        band_stars: band,
        stars,
        recognised_stars: recognised,
        certifiable,
        nominated: level == "province" && mean >= 900 && disqualifications.is_empty(),
        rescore,
        reasons,
    }
}

/// The members' mean points per criterion, in tenths.
fn criterion_means<'a>(set: &'a CriteriaSet, sheets: &[Vec<Answer>]) -> std::collections::HashMap<&'a str, i64> {
    let mut sums: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for sheet in sheets {
        for answer in sheet {
            let Some(criterion) = set
                .parts
                .iter()
                .flat_map(|p| &p.sections)
                .flat_map(|s| &s.criteria)
                .find(|c| c.code == answer.criterion)
            else {
                continue;
            };
            let points: i32 = answer
                .options
                .iter()
                .filter_map(|&i| criterion.options.get(i as usize))
                .map(|o| o.points)
                .sum();
            *sums.entry(criterion.code.as_str()).or_default() += i64::from(points.min(criterion.max_points));
        }
    }
    let n = sheets.len() as i64;
    sums.into_iter()
        .map(|(code, sum)| (code, mean_tenths(sum, n)))
        .collect()
}

#[cfg(test)]
mod real_sheets;

#[cfg(test)]
mod tests {
    use super::*;
    use ocop_proto::evaluation::v1::{CriteriaPart, CriteriaSection, Criterion, CriterionOption, Scoring};
    use time::macros::date;

    #[test]
    fn means_round_half_away_from_zero() {
        assert_eq!(mean_tenths(179, 2), 895);
        assert_eq!(mean_tenths(1799, 20), 900, "89.95 rounds to 90.0");
        assert_eq!(mean_tenths(2, 3), 7);
        assert_eq!(mean_tenths(0, 0), 0);
    }

    #[test]
    fn bands_are_half_open_at_each_boundary() {
        for (tenths, stars) in [
            (1000, 5),
            (900, 5),
            (899, 4),
            (700, 4),
            (699, 3),
            (500, 3),
            (499, 2),
            (300, 2),
            (299, 1),
            (0, 1),
        ] {
            assert_eq!(band_stars(tenths), stars, "{tenths}");
        }
    }

    /// A 148 set: criterion "x" worth 80 (a plain score), criterion "m" worth
    /// 20 whose option of 15 points is marked 4★.
    fn set_148() -> CriteriaSet {
        let option = |points, marker| CriterionOption {
            text_vi: String::new(),
            points,
            star_marker: marker,
        };
        CriteriaSet {
            name: "criteriaSets/148-test-v1".into(),
            decision: Decision::Decision1482023 as i32,
            parts: vec![CriteriaPart {
                code: "A".into(),
                max_points: 100,
                sections: vec![CriteriaSection {
                    criteria: vec![
                        Criterion {
                            code: "x".into(),
                            max_points: 80,
                            scoring: Scoring::SingleChoice as i32,
                            options: (0..=80).map(|p| option(p, 0)).collect(),
                            ..Default::default()
                        },
                        Criterion {
                            code: "m".into(),
                            max_points: 20,
                            scoring: Scoring::SingleChoice as i32,
                            options: vec![option(5, 0), option(15, 4), option(20, 0)],
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn sheet(x: i32, m: i32) -> Vec<Answer> {
        vec![
            Answer {
                criterion: "x".into(),
                options: vec![x],
            },
            Answer {
                criterion: "m".into(),
                options: vec![m],
            },
        ]
    }

    #[test]
    fn a_148_entry_scoring_4_stars_is_capped_at_3_by_its_markers() {
        // 70 + 5 = 75: a 4★ score, but "m" stays below its 4★ option (15).
        let out = compute(
            &set_148(),
            &[sheet(70, 0), sheet(70, 0)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!(
            (out.mean_tenths, out.band_stars, out.stars, out.recognised_stars),
            (750, 4, 3, 3)
        );
        assert!(out.certifiable);
        assert!(
            out.reasons
                .iter()
                .any(|r| r.contains("criterion m needs at least 15 points for 4★")),
            "{:#?}",
            out.reasons
        );
        // Reaching the marked option keeps the 4★.
        let out = compute(
            &set_148(),
            &[sheet(60, 1), sheet(60, 1)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!((out.band_stars, out.stars), (4, 4));
    }

    #[test]
    fn levels_recognise_what_their_regime_allows() {
        let top = [sheet(80, 2), sheet(75, 2)]; // 100 and 95: mean 97.5
        let province = compute(
            &set_148(),
            &top,
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!(
            (province.stars, province.recognised_stars, province.nominated),
            (5, 4, true)
        );
        let central = compute(
            &set_148(),
            &top,
            "central",
            date!(2026 - 10 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!(
            (central.recognised_stars, central.certifiable, central.nominated),
            (5, true, false)
        );
        let district_2024 = compute(
            &set_148(),
            &top,
            "district",
            date!(2024 - 03 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!(district_2024.recognised_stars, 3);
        let district_2022 = compute(
            &set_148(),
            &top,
            "district",
            date!(2022 - 03 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!((district_2022.recognised_stars, district_2022.certifiable), (0, false));
        let low = compute(
            &set_148(),
            &[sheet(30, 0)],
            "central",
            date!(2026 - 10 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert_eq!((low.recognised_stars, low.certifiable), (0, false));
    }

    #[test]
    fn a_recorded_disqualification_blocks_certification() {
        let knocked = ["1.1: nguyên liệu không rõ nguồn gốc".to_string()];
        let out = compute(
            &set_148(),
            &[sheet(60, 1), sheet(60, 1)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &knocked,
        );
        assert_eq!((out.stars, out.recognised_stars, out.certifiable), (4, 4, false));
        let top = compute(
            &set_148(),
            &[sheet(80, 2)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &knocked,
        );
        assert!(!top.nominated, "a disqualified product is not nominated");
        assert!(
            out.reasons
                .iter()
                .any(|r| r == "disqualified: 1.1: nguyên liệu không rõ nguồn gốc")
        );
    }

    #[test]
    fn a_wide_spread_between_members_flags_rescoring() {
        let out = compute(
            &set_148(),
            &[sheet(60, 1), sheet(45, 1)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert!(out.rescore);
        assert!(out.reasons.iter().any(|r| r.contains("more than 10 apart")));
        assert_eq!(out.mean_tenths, 675, "(75 + 60) / 2");
        let out = compute(
            &set_148(),
            &[sheet(60, 1), sheet(50, 1)],
            "province",
            date!(2026 - 06 - 01),
            DEFAULT_SPREAD_LIMIT,
            &[],
        );
        assert!(!out.rescore, "10 apart is within the limit");
    }
}
