//! Who may certify what, by the date of the decision (DESIGN.md §4, three
//! regimes), kept in one pure function so every rule is tested on its own:
//!
//! | decision date            | district | province | central (national deployment) |
//! |--------------------------|----------|----------|-------------------------------|
//! | before 2023-02-24 (1048) | —        | 3, 4     | 5                             |
//! | 2023-02-24 to 2025-07-05 | 3        | 4        | 5                             |
//! | from 2025-07-06 (1489)   | —        | 3, 4     | 5                             |
//!
//! Each level certifies results of its own level's round only, and 5 stars
//! only ever from a CENTRAL result.

use ocop_kit::{Error, Result};
use time::Date;
use time::macros::date;

/// Decision 148/2023 took effect.
pub const DECISION_148: Date = date!(2023 - 02 - 24);
/// Decision 1489/2025 took effect.
pub const DECISION_1489: Date = date!(2025 - 07 - 06);

/// An issuing level, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A district People's Committee.
    District,
    /// A provincial People's Committee.
    Province,
    /// The ministry.
    Central,
}

impl Level {
    /// The stored and round-level spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Province => "province",
            Level::Central => "central",
        }
    }
}

/// The regime a decision date falls under, named as the rule says it.
fn regime(day: Date) -> &'static str {
    if day < DECISION_148 {
        "Decision 1048/2019 (before 2023-02-24)"
    } else if day < DECISION_1489 {
        "Decision 148/2023 (2023-02-24 to 2025-07-05)"
    } else {
        "Decision 1489/2025 (from 2025-07-06)"
    }
}

/// The stars `level` may certify on `day`.
pub fn stars_allowed(level: Level, day: Date) -> &'static [i32] {
    match level {
        Level::Central => &[5],
        Level::District if (DECISION_148..DECISION_1489).contains(&day) => &[3],
        Level::District => &[],
        Level::Province if (DECISION_148..DECISION_1489).contains(&day) => &[4],
        Level::Province => &[3, 4],
    }
}

/// Whether `level` may certify a `stars` result of a `result_level` round by
/// a decision dated `day`, in a national (`national`) or provincial deployment.
pub fn check(level: Level, stars: i32, result_level: &str, day: Date, national: bool) -> Result<()> {
    let rule = regime(day);
    match (level, national) {
        (Level::Central, false) => {
            return Err(Error::failed_precondition(
                "CENTRAL_ONLY_NATIONALLY",
                "5-star certificates are issued by the ministry, on the national deployment; this is a provincial one",
            ));
        }
        (Level::District | Level::Province, true) => {
            return Err(Error::failed_precondition(
                "PROVINCIAL_ONLY_PROVINCIALLY",
                format!(
                    "{} certificates are issued on the province's own deployment; this is the national one",
                    level.as_str()
                ),
            ));
        }
        _ => {}
    }
    if stars == 5 && level != Level::Central {
        return Err(Error::failed_precondition(
            "FIVE_STARS_CENTRAL_ONLY",
            "only the central level (the ministry) certifies 5 stars, from a CENTRAL round's result",
        ));
    }
    let allowed = stars_allowed(level, day);
    if allowed.is_empty() {
        return Err(Error::failed_precondition(
            "AUTHORITY_NOT_IN_FORCE",
            format!(
                "under {rule} districts certify nothing: they certified 3 stars only from 2023-02-24 to 2025-07-05"
            ),
        ));
    }
    if !allowed.contains(&stars) {
        let who = match (level, stars) {
            (Level::Province, 3) => "a district certifies 3 stars: issue it at DISTRICT level",
            (Level::District, 4) => "the province certifies 4 stars: issue it at PROVINCE level",
            _ => "see the authority table in the API documentation",
        };
        return Err(Error::failed_precondition(
            "STARS_NOT_IN_AUTHORITY",
            format!(
                "under {rule} the {} level certifies {allowed:?} stars, not {stars}; {who}",
                level.as_str()
            ),
        ));
    }
    if result_level != level.as_str() {
        return Err(Error::failed_precondition(
            "WRONG_RESULT_LEVEL",
            format!(
                "a {} certificate is issued from a {} round's result; this result is from a {result_level} round",
                level.as_str(),
                level.as_str()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<()>) -> String {
        r.err().map(|e| e.reason().to_owned()).unwrap_or_default()
    }

    #[test]
    fn before_2023_the_province_certifies_3_and_4() {
        let day = date!(2022 - 09 - 01);
        assert!(check(Level::Province, 3, "province", day, false).is_ok());
        assert!(check(Level::Province, 4, "province", day, false).is_ok());
        assert_eq!(
            reason(check(Level::District, 3, "district", day, false)),
            "AUTHORITY_NOT_IN_FORCE"
        );
        assert_eq!(
            reason(check(Level::Province, 5, "province", day, false)),
            "FIVE_STARS_CENTRAL_ONLY"
        );
    }

    #[test]
    fn from_2023_to_july_2025_districts_certify_3_and_the_province_4() {
        for day in [DECISION_148, date!(2024 - 05 - 10), date!(2025 - 07 - 05)] {
            assert!(check(Level::District, 3, "district", day, false).is_ok());
            assert!(check(Level::Province, 4, "province", day, false).is_ok());
            assert_eq!(
                reason(check(Level::Province, 3, "province", day, false)),
                "STARS_NOT_IN_AUTHORITY"
            );
            assert_eq!(
                reason(check(Level::District, 4, "district", day, false)),
                "STARS_NOT_IN_AUTHORITY"
            );
        }
        assert_eq!(
            reason(check(Level::District, 3, "district", date!(2023 - 02 - 23), false)),
            "AUTHORITY_NOT_IN_FORCE"
        );
    }

    #[test]
    fn from_july_2025_the_province_certifies_3_and_4() {
        let day = DECISION_1489;
        assert!(check(Level::Province, 3, "province", day, false).is_ok());
        assert!(check(Level::Province, 4, "province", date!(2026 - 05 - 01), false).is_ok());
        assert_eq!(
            reason(check(Level::District, 3, "district", day, false)),
            "AUTHORITY_NOT_IN_FORCE"
        );
        assert_eq!(
            reason(check(Level::Province, 4, "district", day, false)),
            "WRONG_RESULT_LEVEL"
        );
    }

    #[test]
    fn five_stars_only_nationally_from_a_central_result() {
        let day = date!(2026 - 05 - 01);
        assert!(check(Level::Central, 5, "central", day, true).is_ok());
        assert_eq!(
            reason(check(Level::Central, 5, "central", day, false)),
            "CENTRAL_ONLY_NATIONALLY"
        );
        assert_eq!(
            reason(check(Level::Central, 5, "province", day, true)),
            "WRONG_RESULT_LEVEL"
        );
        assert_eq!(
            reason(check(Level::Central, 4, "central", day, true)),
            "STARS_NOT_IN_AUTHORITY"
        );
        assert_eq!(
            reason(check(Level::Province, 4, "province", day, true)),
            "PROVINCIAL_ONLY_PROVINCIALLY"
        );
    }
}
