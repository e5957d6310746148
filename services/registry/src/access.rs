//! Who may change what. Reads are open to every authenticated caller of the
//! deployment; writes belong to the province officers of the data's province,
//! and only on that province's deployment (the kit's [`Jurisdiction`]).
//! (National officers read everything; the national deployment never writes a
//! province's data.)

use ocop_kit::Result;
use ocop_kit::auth::{Principal, Role};
use ocop_kit::jurisdiction::{self, Jurisdiction};

/// The role check, done before looking anything up (permission before existence).
pub fn require_writer(who: &Principal) -> Result<()> {
    who.require(&[Role::ProvinceOfficer])
}

/// The jurisdiction check of a write: this deployment serves the data's
/// province, and the caller's token is for it.
pub fn require_province(here: &Jurisdiction, who: &Principal, province: &str, resource: &str) -> Result<()> {
    require_writer(who)?;
    here.require_province(who, province, resource)
}

/// The caller's token is for `province` (a read limited to one's own
/// province, such as an export).
pub fn require_own_province(who: &Principal, province: &str, resource: &str) -> Result<()> {
    require_writer(who)?;
    jurisdiction::require_caller(who, province, resource)
}
