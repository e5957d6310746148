//! The one table of the rules in force by date: which criteria sheets, which
//! levels certify which stars, what the commune does and how a dossier made
//! under an older regime finishes. Evaluation and certification both read it,
//! so a date is defined once.
//!
//! | regime | from | sheets | district | province | central | commune step |
//! |---|---|---|---|---|---|---|
//! | 1048/2019 | (start) | 1048 | — (pre-screens) | 3, 4 | 5 | — |
//! | 148/2023 | 2023-02-24 | 148 | 3 | 4 | 5 | — |
//! | 148 as amended by 1489/2025 | 2025-07-06 | 148 | — (abolished) | 3, 4 | 5 | 4 criteria |
//! | 26/2026 | 2026-05-22 | 26/2026 | — | 3, 4 | 5 | report, Mẫu 03 |
//!
//! Transition (26/2026 Điều 12): a dossier submitted before 2026-05-22 and not
//! yet rated finishes under the 2021–2025 rules (148 as amended by 1489)
//! within 60 days (a first rating or an upgrade) or 30 days (a re-rating);
//! after that it is refused, naming the rule. Certificates issued before stay
//! valid to their end.

use time::macros::date;
use time::{Date, Duration};

use crate::error::{Error, Result};

/// The decisions whose criteria sheets the platform scores on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Regime {
    /// Quyết định 1048/QĐ-TTg (2019).
    D1048,
    /// Quyết định 148/QĐ-TTg (2023-02-24).
    D148,
    /// 148 as amended by Quyết định 1489/QĐ-TTg (2025-07-06).
    D148As1489,
    /// Quyết định 26/2026/QĐ-TTg (2026-05-22), which replaced 148 and 1489.
    D26_2026,
}

/// The sheets a regime scores on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sheets {
    /// 1048/2019: parts 35/25/40.
    D1048,
    /// 148/2023: parts 40/25/35 (also under 1489).
    D148,
    /// 26/2026: parts 40/25/35.
    D26_2026,
}

/// What the commune does before the province scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommuneStep {
    /// Nothing the platform records.
    None,
    /// 1489/2025: the commune assesses its 4 criteria.
    FourCriteria,
    /// 26/2026 Điều 7.2: the commune's report (Mẫu 03) within 15 working days.
    Report,
}

/// The level that evaluates and certifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A district People's Committee (until 2025-07-01).
    District,
    /// A provincial People's Committee.
    Province,
    /// The ministry.
    Central,
}

/// What a dossier asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// A product rated for the first time.
    FirstRating,
    /// A certified product asking for more stars.
    Upgrade,
    /// A certificate's renewal after its 36 months.
    ReRating,
}

/// Every regime, oldest first.
pub const ALL: [Regime; 4] = [Regime::D1048, Regime::D148, Regime::D148As1489, Regime::D26_2026];

/// Decision 148/2023 took effect.
pub const DECISION_148: Date = date!(2023 - 02 - 24);
/// Decision 1489/2025 took effect.
pub const DECISION_1489: Date = date!(2025 - 07 - 06);
/// Decision 26/2026 took effect.
pub const DECISION_26_2026: Date = date!(2026 - 05 - 22);

impl Regime {
    /// The regime in force on `day`.
    pub fn on(day: Date) -> Regime {
        ALL.into_iter()
            .rev()
            .find(|r| r.since() <= day)
            .unwrap_or(Regime::D1048)
    }

    /// The first day it was in force.
    pub fn since(self) -> Date {
        match self {
            Regime::D1048 => Date::MIN,
            Regime::D148 => DECISION_148,
            Regime::D148As1489 => DECISION_1489,
            Regime::D26_2026 => DECISION_26_2026,
        }
    }

    /// As people cite it.
    pub fn name(self) -> &'static str {
        match self {
            Regime::D1048 => "Decision 1048/QĐ-TTg (before 2023-02-24)",
            Regime::D148 => "Decision 148/QĐ-TTg (2023-02-24 to 2025-07-05)",
            Regime::D148As1489 => "Decision 148/QĐ-TTg as amended by 1489/QĐ-TTg (2025-07-06 to 2026-05-21)",
            Regime::D26_2026 => "Decision 26/2026/QĐ-TTg (from 2026-05-22)",
        }
    }

    /// The sheets it scores on.
    pub fn sheets(self) -> Sheets {
        match self {
            Regime::D1048 => Sheets::D1048,
            Regime::D148 | Regime::D148As1489 => Sheets::D148,
            Regime::D26_2026 => Sheets::D26_2026,
        }
    }

    /// The stars `level` may certify under it.
    pub fn certifies(self, level: Level) -> &'static [i32] {
        match (self, level) {
            (_, Level::Central) => &[5],
            (Regime::D148, Level::District) => &[3],
            (_, Level::District) => &[],
            (Regime::D148, Level::Province) => &[4],
            (_, Level::Province) => &[3, 4],
        }
    }

    /// What the commune does before the province scores.
    pub fn commune_step(self) -> CommuneStep {
        match self {
            Regime::D1048 | Regime::D148 => CommuneStep::None,
            Regime::D148As1489 => CommuneStep::FourCriteria,
            Regime::D26_2026 => CommuneStep::Report,
        }
    }
}

impl Procedure {
    /// How long a dossier filed before 26/2026 may still be rated under the
    /// old rules, from 2026-05-22 (Điều 12.2).
    pub fn transition_days(self) -> i64 {
        match self {
            Procedure::FirstRating | Procedure::Upgrade => 60,
            Procedure::ReRating => 30,
        }
    }
}

/// The last day a dossier of `procedure` filed before 2026-05-22 may be
/// rated under the 2021–2025 rules.
pub fn transition_deadline(procedure: Procedure) -> Date {
    DECISION_26_2026 + Duration::days(procedure.transition_days() - 1)
}

/// The regime that rates a dossier submitted on `submitted` (when known) by
/// a decision on `decided`: the regime in force on `decided`, except that a
/// dossier submitted before 2026-05-22 keeps the 2021–2025 rules until its
/// transition deadline, and is refused after it (`TRANSITION_EXPIRED`).
pub fn rating(decided: Date, submitted: Option<Date>, procedure: Procedure) -> Result<Regime> {
    let in_force = Regime::on(decided);
    let Some(submitted) = submitted.filter(|s| *s < DECISION_26_2026) else {
        return Ok(in_force);
    };
    if in_force < Regime::D26_2026 {
        return Ok(in_force);
    }
    let deadline = transition_deadline(procedure);
    if decided <= deadline {
        return Ok(Regime::D148As1489);
    }
    Err(Error::failed_precondition(
        "TRANSITION_EXPIRED",
        format!(
            "a dossier submitted on {submitted} (before Decision 26/2026 took effect on 2026-05-22) had to be rated \
             by {deadline} under the 2021–2025 rules ({} days, Điều 12.2); file it again under Decision 26/2026",
            procedure.transition_days()
        ),
    )
    .with_metadata("deadline", deadline.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regime_follows_the_decision_date() {
        assert_eq!(Regime::on(date!(2023 - 02 - 23)), Regime::D1048);
        assert_eq!(Regime::on(date!(2023 - 02 - 24)), Regime::D148);
        assert_eq!(Regime::on(date!(2025 - 07 - 05)), Regime::D148);
        assert_eq!(Regime::on(date!(2025 - 07 - 06)), Regime::D148As1489);
        assert_eq!(Regime::on(date!(2026 - 05 - 21)), Regime::D148As1489);
        assert_eq!(Regime::on(date!(2026 - 05 - 22)), Regime::D26_2026);
        assert_eq!(Regime::on(date!(2026 - 12 - 02)).sheets(), Sheets::D26_2026);
        assert_eq!(Regime::D148As1489.sheets(), Sheets::D148);
    }

    #[test]
    fn who_certifies_what() {
        assert_eq!(Regime::D1048.certifies(Level::District), &[] as &[i32]);
        assert_eq!(Regime::D148.certifies(Level::District), &[3]);
        assert_eq!(Regime::D148.certifies(Level::Province), &[4]);
        assert_eq!(Regime::D148As1489.certifies(Level::Province), &[3, 4]);
        assert_eq!(Regime::D26_2026.certifies(Level::Province), &[3, 4]);
        assert_eq!(Regime::D26_2026.certifies(Level::District), &[] as &[i32]);
        assert!(ALL.iter().all(|r| r.certifies(Level::Central) == [5]));
        assert_eq!(Regime::D26_2026.commune_step(), CommuneStep::Report);
    }

    #[test]
    fn a_dossier_filed_before_26_2026_finishes_under_the_old_rules_within_its_window() {
        let filed = Some(date!(2026 - 05 - 10));
        assert_eq!(transition_deadline(Procedure::FirstRating), date!(2026 - 07 - 20));
        assert_eq!(transition_deadline(Procedure::ReRating), date!(2026 - 06 - 20));
        assert_eq!(
            rating(date!(2026 - 07 - 20), filed, Procedure::FirstRating).unwrap(),
            Regime::D148As1489
        );
        let late = rating(date!(2026 - 07 - 21), filed, Procedure::FirstRating).unwrap_err();
        assert_eq!(late.reason(), "TRANSITION_EXPIRED");
        assert!(late.message().contains("2026-07-20"), "{}", late.message());
        assert!(rating(date!(2026 - 06 - 21), filed, Procedure::ReRating).is_err());
        // Filed under 26/2026, or decided before it: the regime of the day.
        assert_eq!(
            rating(
                date!(2026 - 07 - 21),
                Some(date!(2026 - 05 - 22)),
                Procedure::FirstRating
            )
            .unwrap(),
            Regime::D26_2026
        );
        assert_eq!(
            rating(date!(2026 - 05 - 01), filed, Procedure::Upgrade).unwrap(),
            Regime::D148As1489
        );
        assert_eq!(
            rating(date!(2026 - 09 - 01), None, Procedure::FirstRating).unwrap(),
            Regime::D26_2026
        );
    }
}
