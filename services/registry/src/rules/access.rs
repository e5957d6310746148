//! Who may change what. Reads are open to every authenticated caller of the
//! deployment; writes belong to the province officers of the data's province,
//! and only on that province's deployment (the kit's [`Jurisdiction`]).
//! (National officers read everything; the national deployment never writes a
//! province's data.)

use ocop_kit::auth::{Principal, Role};
use ocop_kit::jurisdiction::{self, Jurisdiction, OUTSIDE_JURISDICTION};
use ocop_kit::{Error, Result};

/// The role check, done before looking anything up (permission before existence).
pub(crate) fn require_writer(who: &Principal) -> Result<()> {
    who.require(&[Role::ProvinceOfficer])
}

/// The jurisdiction check of a write: this deployment serves the data's
/// province, and the caller's token is for it.
pub(crate) fn require_province(here: &Jurisdiction, who: &Principal, province: &str, resource: &str) -> Result<()> {
    require_writer(who)?;
    here.require_province(who, province, resource)
}

/// The caller's token is for `province` (a read limited to one's own
/// province, such as an export).
pub(crate) fn require_own_province(who: &Principal, province: &str, resource: &str) -> Result<()> {
    require_writer(who)?;
    jurisdiction::require_caller(who, province, resource)
}

/// Ideas and dossiers are the commune's (Điều 7.1): its officers act on
/// them, and the province's, on the province's own deployment. `refusal`
/// says what was refused, given where the caller's token is for.
pub(crate) fn require_commune_or_province(
    here: &Jurisdiction,
    who: &Principal,
    province: &str,
    commune: &str,
    refusal: impl FnOnce(&str) -> String,
) -> Result<()> {
    here.require_serves(province)?;
    if commune_or_province_officer(who, province, commune) {
        return Ok(());
    }
    Err(Error::permission_denied(OUTSIDE_JURISDICTION, refusal(&who_place(who))))
}

/// The caller is an officer of `commune`, or of `province`.
fn commune_or_province_officer(who: &Principal, province: &str, commune: &str) -> bool {
    match who.role {
        Role::CommuneOfficer => who.commune.as_deref() == Some(commune),
        Role::ProvinceOfficer => who.province.as_deref() == Some(province),
        _ => false,
    }
}

/// Where the caller's token is for, as a refusal names it.
fn who_place(who: &Principal) -> String {
    match (&who.commune, &who.province) {
        (Some(c), _) => format!("commune {c}"),
        (None, Some(p)) => format!("province {p}"),
        _ => "no jurisdiction".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(role: Role, province: Option<&str>, commune: Option<&str>) -> Principal {
        Principal {
            subject: "officer".into(),
            role,
            province: province.map(str::to_owned),
            commune: commune.map(str::to_owned),
        }
    }

    #[test]
    fn the_commune_and_its_province_act_on_the_communes_records() {
        let commune = officer(Role::CommuneOfficer, Some("38"), Some("16012"));
        let other_commune = officer(Role::CommuneOfficer, Some("38"), Some("16015"));
        let province = officer(Role::ProvinceOfficer, Some("38"), None);
        let other_province = officer(Role::ProvinceOfficer, Some("40"), None);
        let national = officer(Role::NationalOfficer, None, None);
        assert!(commune_or_province_officer(&commune, "38", "16012"));
        assert!(!commune_or_province_officer(&other_commune, "38", "16012"));
        assert!(commune_or_province_officer(&province, "38", "16012"));
        assert!(!commune_or_province_officer(&other_province, "38", "16012"));
        assert!(!commune_or_province_officer(&national, "38", "16012"));
    }

    #[test]
    fn a_refusal_names_where_the_token_is_for() {
        assert_eq!(
            who_place(&officer(Role::CommuneOfficer, Some("38"), Some("16012"))),
            "commune 16012"
        );
        assert_eq!(
            who_place(&officer(Role::ProvinceOfficer, Some("40"), None)),
            "province 40"
        );
        assert_eq!(
            who_place(&officer(Role::NationalOfficer, None, None)),
            "no jurisdiction"
        );
    }
}
