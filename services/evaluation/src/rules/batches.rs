//! The batches of Decision 26/2026 Điều 5, from which a round's cut-off and
//! decision deadline follow.
//!
//! - **Province** (Điều 5.1): batch 1 is decided before 30/6 for the dossiers
//!   the communes proposed before 30/4; batch 2 before 30/12 for those
//!   proposed before 30/10.
//! - **Centre** (Điều 5.2): batch 1 before 30/9 for the provinces' proposals
//!   before 30/7; batch 2 before 30/3 for those before 30/01.
//!
//! A batch is named by the year of its decision, as rounds are: central
//! batch 2 of 2027 takes the proposals made before 2027-01-30, that is the
//! provinces' batch-2 results of 2026. "Before" is exclusive: a proposal
//! dated 30/4 belongs to the next batch.
//!
//! Batches 3 and more are additional batches (Điều 5, second paragraphs):
//! the council's regulation and plan provide for them, with no dates in the
//! decision, so one takes the proposals dated before its own decision date.

use time::{Date, Month};

/// A batch's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Proposals dated before this day belong to the batch.
    pub proposed_before: Date,
    /// A statutory batch is decided before this day.
    pub decided_before: Option<Date>,
    /// A statutory batch's earliest decision date: the previous batch's
    /// deadline, or the year's first day when that falls in the year before.
    pub decided_from: Option<Date>,
}

/// The first additional batch number.
pub const FIRST_ADDITIONAL: i32 = 3;

/// An additional batch decided on `decision_date`.
pub fn additional(decision_date: Date) -> Window {
    Window {
        proposed_before: decision_date,
        decided_before: None,
        decided_from: None,
    }
}

fn day(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).expect("a fixed day of the decision exists every year")
}

/// The window of batch `batch` of `year` at `level` (`province` or
/// `central`); `None` for another level or batch.
pub fn window(level: &str, year: i32, batch: i32) -> Option<Window> {
    let (proposed, decided, from) = match (level, batch) {
        ("province", 1) => ((Month::April, 30), (Month::June, 30), None),
        ("province", 2) => ((Month::October, 30), (Month::December, 30), Some((Month::June, 30))),
        ("central", 2) => ((Month::January, 30), (Month::March, 30), None),
        ("central", 1) => ((Month::July, 30), (Month::September, 30), Some((Month::March, 30))),
        _ => return None,
    };
    Some(Window {
        proposed_before: day(year, proposed.0, proposed.1),
        decided_before: Some(day(year, decided.0, decided.1)),
        decided_from: Some(from.map_or(day(year, Month::January, 1), |(m, d)| day(year, m, d))),
    })
}

/// The batch `(year, batch)` a proposal dated `proposed` belongs to at `level`:
/// the first whose cut-off is after it.
pub fn belongs_to(level: &str, proposed: Date) -> (i32, i32) {
    let year = proposed.year();
    let order: [(i32, i32); 3] = if level == "central" {
        [(year, 2), (year, 1), (year + 1, 2)]
    } else {
        [(year, 1), (year, 2), (year + 1, 1)]
    };
    order
        .into_iter()
        .find(|(y, b)| window(level, *y, *b).is_some_and(|w| proposed < w.proposed_before))
        .unwrap_or(order[2])
}

/// "batch 2 of 2026 (communes' proposals before 2026-10-30, decided before 2026-12-30)".
pub fn describe(level: &str, year: i32, batch: i32) -> String {
    let whose = if level == "central" { "provinces'" } else { "communes'" };
    match window(level, year, batch) {
        Some(Window {
            proposed_before,
            decided_before: Some(decided_before),
            ..
        }) => format!(
            "batch {batch} of {year} ({whose} proposals before {proposed_before}, decided before {decided_before})"
        ),
        _ => format!("batch {batch} of {year}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn each_batch_has_the_decisions_dates() {
        let w = window("province", 2026, 2).unwrap();
        assert_eq!(
            (w.proposed_before, w.decided_before, w.decided_from),
            (
                date!(2026 - 10 - 30),
                Some(date!(2026 - 12 - 30)),
                Some(date!(2026 - 06 - 30))
            )
        );
        let w = window("central", 2027, 2).unwrap();
        assert_eq!(
            (w.proposed_before, w.decided_before, w.decided_from),
            (
                date!(2027 - 01 - 30),
                Some(date!(2027 - 03 - 30)),
                Some(date!(2027 - 01 - 01))
            )
        );
        assert_eq!(
            window("central", 2026, 1).unwrap().decided_before,
            Some(date!(2026 - 09 - 30))
        );
        assert_eq!(window("province", 2026, 3), None);
        assert_eq!(window("district", 2026, 1), None);
    }

    #[test]
    fn a_proposal_belongs_to_the_first_batch_whose_cut_off_is_after_it() {
        assert_eq!(belongs_to("province", date!(2026 - 04 - 29)), (2026, 1));
        assert_eq!(
            belongs_to("province", date!(2026 - 04 - 30)),
            (2026, 2),
            "before 30/4 is exclusive"
        );
        assert_eq!(belongs_to("province", date!(2026 - 10 - 29)), (2026, 2));
        assert_eq!(belongs_to("province", date!(2026 - 10 - 30)), (2027, 1));
        assert_eq!(belongs_to("central", date!(2026 - 01 - 29)), (2026, 2));
        assert_eq!(belongs_to("central", date!(2026 - 07 - 29)), (2026, 1));
        assert_eq!(belongs_to("central", date!(2026 - 11 - 25)), (2027, 2));
        assert_eq!(
            describe("province", 2026, 2),
            "batch 2 of 2026 (communes' proposals before 2026-10-30, decided before 2026-12-30)"
        );
    }
}
