//! Who may change what. Reads are open to every authenticated caller of the
//! deployment; writes belong to the province officers of the data's province.
//! (National officers read everything; the national deployment never writes a
//! province's data.)

use ocop_kit::auth::{Principal, Role};
use ocop_kit::{Error, Result};

/// The role check, done before looking anything up (permission before existence).
pub fn require_writer(who: &Principal) -> Result<()> {
    who.require(&[Role::ProvinceOfficer])
}

/// The jurisdiction check: the caller's province must be the data's.
pub fn require_province(who: &Principal, province: &str, resource: &str) -> Result<()> {
    require_writer(who)?;
    if who.province.as_deref() == Some(province) {
        return Ok(());
    }
    Err(Error::permission_denied(
        "OUTSIDE_JURISDICTION",
        format!(
            "{resource} belongs to province {province}; your token is for province {}",
            who.province.as_deref().unwrap_or("(none)")
        ),
    )
    .with_metadata("province_code", province.to_owned()))
}
