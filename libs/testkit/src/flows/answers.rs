//! The answers a council member gives: aiming at a star level, or at an
//! exact total with the markers of its band met.

use ocop_proto::evaluation::v1::{Answer, CriteriaSet, Criterion, Scoring};

/// Answers for a product of `stars` stars: on each criterion the option
/// nearest a share of its maximum (60% for 3 stars, 80% for 4, 96% for 5),
/// raised to the least option the 148 star markers ask for at that level.
pub fn answers_for(set: &CriteriaSet, stars: i32) -> Vec<Answer> {
    let share = match stars {
        ..=3 => 0.6,
        4 => 0.8,
        _ => 0.96,
    };
    set.parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .map(|c| {
            let aim = f64::from(c.max_points) * share;
            let nearest = c
                .options
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| {
                    let (da, db) = ((f64::from(a.points) - aim).abs(), (f64::from(b.points) - aim).abs());
                    da.total_cmp(&db).then(b.points.cmp(&a.points))
                })
                .map(|(i, o)| (i, o.points))
                .unwrap_or((0, 0));
            let marked = c
                .options
                .iter()
                .enumerate()
                .filter(|(_, o)| (1..=stars).contains(&o.star_marker))
                .map(|(i, o)| (i, o.points))
                .max_by_key(|(_, p)| *p);
            let (index, _) = match marked {
                Some(m) if m.1 > nearest.1 => m,
                _ => nearest,
            };
            Answer {
                criterion: c.code.clone(),
                options: vec![index as i32],
            }
        })
        .collect()
}

/// Answers totalling exactly `total` points on `set` that meet every star
/// marker of the total's band, so that each member giving them makes a mean
/// of `total` with the band's stars; `None` when no answers do.
pub fn answers_totalling(set: &CriteriaSet, total: i32) -> Option<Vec<Answer>> {
    let band = match total {
        90.. => 5,
        70..=89 => 4,
        50..=69 => 3,
        _ => 0,
    };
    let criteria: Vec<&Criterion> = set
        .parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .collect();
    // Per criterion: each reachable points value and one choice giving it,
    // at least what the markers up to the band ask.
    let choices: Vec<Vec<(i32, Vec<i32>)>> = criteria
        .iter()
        .map(|c| {
            let least_positive = c.options.iter().map(|o| o.points).filter(|p| *p > 0).min().unwrap_or(0);
            let mut floor = if (3..=band).contains(&c.star_marker) {
                least_positive
            } else {
                0
            };
            for o in &c.options {
                if (3..=band).contains(&o.star_marker) {
                    floor = floor.max(o.points);
                }
            }
            let mut found: std::collections::BTreeMap<i32, Vec<i32>> = Default::default();
            found.insert(0, Vec::new());
            if c.scoring == Scoring::Additive as i32 && c.options.len() <= 12 {
                for mask in 1u32..(1 << c.options.len()) {
                    let picked: Vec<i32> = (0..c.options.len() as i32).filter(|i| mask & (1 << i) != 0).collect();
                    let sum: i32 = picked.iter().map(|&i| c.options[i as usize].points).sum();
                    found.entry(sum.min(c.max_points)).or_insert(picked);
                }
            } else {
                for (i, o) in c.options.iter().enumerate() {
                    found.entry(o.points.min(c.max_points)).or_insert(vec![i as i32]);
                }
            }
            found.into_iter().filter(|(p, _)| *p >= floor).collect()
        })
        .collect();
    // Which totals the first k criteria reach, and the choice that reached them.
    let top = criteria.iter().map(|c| c.max_points.max(0)).sum::<i32>().max(total) as usize;
    let mut reach: Vec<Vec<Option<usize>>> = vec![vec![None; top + 1]; criteria.len() + 1];
    let mut start = vec![None; top + 1];
    start[0] = Some(usize::MAX);
    reach[0] = start;
    for (k, options) in choices.iter().enumerate() {
        for t in 0..=top {
            if reach[k][t].is_none() {
                continue;
            }
            for (i, (points, _)) in options.iter().enumerate() {
                let next = t + *points as usize;
                if next <= top && reach[k + 1][next].is_none() {
                    reach[k + 1][next] = Some(i);
                }
            }
        }
    }
    let mut t = usize::try_from(total).ok()?;
    reach[criteria.len()].get(t)?.as_ref()?;
    let mut answers = Vec::new();
    for k in (0..criteria.len()).rev() {
        let i = reach[k + 1][t]?;
        let (points, options) = &choices[k][i];
        answers.push(Answer {
            criterion: criteria[k].code.clone(),
            options: options.clone(),
        });
        t -= *points as usize;
    }
    answers.reverse();
    Some(answers)
}
