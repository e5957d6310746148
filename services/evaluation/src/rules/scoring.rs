//! Checking a member's answers against a criteria set and adding them up.
//! Kept apart from storage so that results can be recomputed from stored
//! sheets and the pinned set alone.

use std::collections::HashSet;

use ocop_kit::error::Violations;
use ocop_proto::evaluation::v1::{Answer, CriteriaSet, Criterion, Scoring};

/// Points of a set of answers, in total and per part (A, B, C).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Points {
    /// Sum over every answered criterion.
    pub total: i32,
    /// Per part, in the set's part order.
    pub parts: Vec<(String, i32)>,
    /// Criteria of the set with no answer.
    pub unanswered: Vec<String>,
}

fn criteria(set: &CriteriaSet) -> impl Iterator<Item = (&str, &Criterion)> {
    set.parts.iter().flat_map(|p| {
        p.sections
            .iter()
            .flat_map(move |s| s.criteria.iter().map(move |c| (p.code.as_str(), c)))
    })
}

/// Checks `answers` against `set` (every problem reported, naming
/// `answers[i]`) and adds up their points.
pub fn score(set: &CriteriaSet, answers: &[Answer]) -> Result<Points, Violations> {
    let mut v = Violations::default();
    let mut seen = HashSet::new();
    let mut points = Points {
        parts: set.parts.iter().map(|p| (p.code.clone(), 0)).collect(),
        ..Default::default()
    };
    for (i, answer) in answers.iter().enumerate() {
        let field = format!("answers[{i}]");
        let Some((part, criterion)) = criteria(set).find(|(_, c)| c.code == answer.criterion) else {
            v.push(
                format!("{field}.criterion"),
                format!("`{}` is not a criterion of {}", answer.criterion, set.name),
            );
            continue;
        };
        if !seen.insert(answer.criterion.as_str()) {
            v.push(
                format!("{field}.criterion"),
                format!("criterion {} is answered twice", answer.criterion),
            );
            continue;
        }
        let distinct: HashSet<i32> = answer.options.iter().copied().collect();
        if distinct.len() != answer.options.len() {
            v.push(format!("{field}.options"), "an option is chosen twice");
            continue;
        }
        // No option is an answer: some criteria print no 0-point option (1.1
        // of every 26/2026 sheet), and a product that meets none scores 0.
        if criterion.scoring() == Scoring::SingleChoice && answer.options.len() > 1 {
            v.push(
                format!("{field}.options"),
                format!(
                    "criterion {} takes one option, or none when the product meets none of them; {} given",
                    criterion.code,
                    answer.options.len()
                ),
            );
            continue;
        }
        let mut sum = 0;
        for &index in &answer.options {
            match usize::try_from(index).ok().and_then(|i| criterion.options.get(i)) {
                Some(option) => sum += option.points,
                None => v.push(
                    format!("{field}.options"),
                    format!(
                        "criterion {} has options 0 to {}; {index} is not one of them",
                        criterion.code,
                        criterion.options.len().saturating_sub(1)
                    ),
                ),
            }
        }
        let sum = sum.min(criterion.max_points);
        points.total += sum;
        if let Some(slot) = points.parts.iter_mut().find(|(code, _)| code == part) {
            slot.1 += sum;
        }
    }
    points.unanswered = criteria(set)
        .filter(|(_, c)| !seen.contains(c.code.as_str()))
        .map(|(_, c)| c.code.clone())
        .collect();
    if v.is_empty() { Ok(points) } else { Err(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocop_proto::evaluation::v1::{CriteriaPart, CriteriaSection, CriterionOption};

    fn set() -> CriteriaSet {
        let option = |points| CriterionOption {
            text_vi: String::new(),
            points,
            star_marker: 0,
        };
        let criterion = |code: &str, scoring: Scoring, max, options: Vec<i32>| Criterion {
            code: code.into(),
            max_points: max,
            scoring: scoring as i32,
            options: options.into_iter().map(option).collect(),
            ..Default::default()
        };
        CriteriaSet {
            name: "criteriaSets/test-v1".into(),
            parts: vec![
                CriteriaPart {
                    code: "A".into(),
                    sections: vec![CriteriaSection {
                        criteria: vec![criterion("1", Scoring::SingleChoice, 5, vec![1, 3, 5])],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                CriteriaPart {
                    code: "C".into(),
                    sections: vec![CriteriaSection {
                        criteria: vec![criterion("2", Scoring::Additive, 4, vec![2, 1, 1])],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn answer(criterion: &str, options: &[i32]) -> Answer {
        Answer {
            criterion: criterion.into(),
            options: options.to_vec(),
        }
    }

    #[test]
    fn points_add_up_per_part() {
        let points = score(&set(), &[answer("1", &[2]), answer("2", &[0, 2])]).unwrap();
        assert_eq!(points.total, 8);
        assert_eq!(points.parts, vec![("A".into(), 5), ("C".into(), 3)]);
        assert!(points.unanswered.is_empty());
        let partial = score(&set(), &[answer("2", &[1])]).unwrap();
        assert_eq!(partial.unanswered, vec!["1"]);
    }

    #[test]
    fn a_product_meeting_no_option_scores_0_there() {
        // Criterion 1 prints no 0-point option.
        let points = score(&set(), &[answer("1", &[]), answer("2", &[])]).unwrap();
        assert_eq!(
            (points.total, points.unanswered.len()),
            (0, 0),
            "answered, with nothing met"
        );
    }

    #[test]
    fn every_wrong_answer_is_named() {
        let err = score(
            &set(),
            &[
                answer("1", &[0, 1]),
                answer("9.9", &[0]),
                answer("2", &[3]),
                answer("2", &[0]),
            ],
        )
        .unwrap_err();
        let err = err.into_error().unwrap();
        let fields: Vec<&str> = err.violations().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "answers[0].options",
                "answers[1].criterion",
                "answers[2].options",
                "answers[3].criterion"
            ]
        );
        let err = score(&set(), &[answer("2", &[0, 0])])
            .unwrap_err()
            .into_error()
            .unwrap();
        assert_eq!(err.violations()[0].description, "an option is chosen twice");
    }
}
