//! Who may certify what, by the date of the decision, and who revokes what.
//! The regimes and their dates are the kit's one table
//! (`ocop_kit::regime`); what is here is how certification applies it, kept
//! in pure functions so every rule is tested on its own:
//!
//! | decision date            | district | province | central (national deployment) |
//! |--------------------------|----------|----------|-------------------------------|
//! | before 2023-02-24 (1048) | —        | 3, 4     | 5                             |
//! | 2023-02-24 to 2025-07-05 | 3        | 4        | 5                             |
//! | 2025-07-06 to 2026-05-21 (1489) | — | 3, 4     | 5                             |
//! | from 2026-05-22 (26/2026) | —       | 3, 4     | 5                             |
//!
//! Each level certifies results of its own level's round only, and 5 stars
//! only ever from a CENTRAL result. Revocation (26/2026 Điều 8.2) follows
//! the stars: the province's chairman for 3 and 4, the minister for 5.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::regime::Regime;
pub use ocop_kit::regime::{DECISION_148, DECISION_1489, Level};
use ocop_kit::{Error, Result};
use time::Date;

/// The stored and round-level spelling of an issuing level.
pub fn level_str(level: Level) -> &'static str {
    match level {
        Level::District => "district",
        Level::Province => "province",
        Level::Central => "central",
    }
}

/// The stars `level` may certify on `day`.
pub fn stars_allowed(level: Level, day: Date) -> &'static [i32] {
    Regime::on(day).certifies(level)
}

/// Whether `level` may certify a `stars` result of a `result_level` round by
/// a decision dated `day`, in a national (`national`) or provincial deployment.
pub fn check(level: Level, stars: i32, result_level: &str, day: Date, national: bool) -> Result<()> {
    let rule = Regime::on(day).name();
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
                    level_str(level)
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
                level_str(level)
            ),
        ));
    }
    if result_level != level_str(level) {
        return Err(Error::failed_precondition(
            "WRONG_RESULT_LEVEL",
            format!(
                "a {} certificate is issued from a {} round's result; this result is from a {result_level} round",
                level_str(level),
                level_str(level)
            ),
        ));
    }
    Ok(())
}

/// The reason of an officer acting on a certificate their level does not act on.
pub const NOT_THE_COMPETENT_AUTHORITY: &str = "NOT_THE_COMPETENT_AUTHORITY";

/// Whose officers act on a `stars` certificate of `province` (`what` does
/// `act` under `article`): the ministry's for 5 stars, on the national
/// deployment; the province's own for 3 and 4, on its deployment (`here`),
/// a district's certificate of 2023–2025 included, districts being gone.
pub fn require_competent(
    here: &Jurisdiction,
    who: &Principal,
    stars: i32,
    province: &str,
    what: &str,
    article: &str,
) -> Result<()> {
    let (role, whose) = if stars == 5 {
        (Role::NationalOfficer, "the ministry's (a national officer's)")
    } else {
        (Role::ProvinceOfficer, "the province's (a province officer's)")
    };
    if who.role != role {
        return Err(Error::permission_denied(
            NOT_THE_COMPETENT_AUTHORITY,
            format!(
                "{what} has {stars} stars: acting on it is {whose} under {article}, not a {}'s",
                who.role.as_str()
            ),
        )
        .with_metadata("role", who.role.as_str()));
    }
    if stars == 5 {
        return Ok(());
    }
    here.require_province(who, province, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

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

    fn officer(role: Role, province: Option<&str>) -> Principal {
        Principal {
            subject: "lan".into(),
            role,
            province: province.map(str::to_owned),
            commune: None,
        }
    }

    #[test]
    fn the_province_acts_on_3_and_4_stars_and_the_ministry_on_5() {
        let thanh_hoa = Jurisdiction::province("38");
        let province = officer(Role::ProvinceOfficer, Some("38"));
        let ministry = officer(Role::NationalOfficer, None);
        let act = |here: &Jurisdiction, who: &Principal, stars| {
            reason(require_competent(
                here,
                who,
                stars,
                "38",
                "certificates/38-X",
                "Điều 8.2",
            ))
        };
        assert_eq!(act(&thanh_hoa, &province, 4), "");
        assert_eq!(act(&thanh_hoa, &province, 3), "");
        assert_eq!(act(&thanh_hoa, &ministry, 4), NOT_THE_COMPETENT_AUTHORITY);
        assert_eq!(act(&Jurisdiction::national(), &ministry, 5), "");
        assert_eq!(
            act(&Jurisdiction::national(), &province, 5),
            NOT_THE_COMPETENT_AUTHORITY
        );
        assert_eq!(
            act(&thanh_hoa, &officer(Role::ProvinceOfficer, Some("25")), 4),
            "OUTSIDE_JURISDICTION"
        );
        let err = require_competent(&thanh_hoa, &ministry, 4, "38", "certificates/38-X", "Điều 8.2.a").unwrap_err();
        assert_eq!(
            err.message(),
            "certificates/38-X has 4 stars: acting on it is the province's (a province officer's) under Điều 8.2.a, \
             not a national_officer's"
        );
    }

    #[test]
    fn under_26_2026_the_province_still_certifies_3_and_4() {
        let day = ocop_kit::regime::DECISION_26_2026;
        assert!(check(Level::Province, 3, "province", day, false).is_ok());
        assert!(check(Level::Province, 4, "province", day, false).is_ok());
        let err = check(Level::District, 3, "district", day, false).unwrap_err();
        assert_eq!(err.reason(), "AUTHORITY_NOT_IN_FORCE");
        assert!(err.message().contains("Decision 26/2026/QĐ-TTg"), "{}", err.message());
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
