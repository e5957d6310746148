//! What the officers' writes of this service share: the officer's province,
//! and the audit record of the change.

use ocop_kit::audit::Change;
use ocop_kit::auth::{Principal, Role};
use ocop_kit::{Error, Result};

/// A province officer's province (the data's province is checked against it
/// and the deployment's once known).
pub(crate) fn require_officer(who: &Principal) -> Result<String> {
    who.require(&[Role::ProvinceOfficer])?;
    who.province
        .clone()
        .ok_or_else(|| Error::permission_denied("NO_PROVINCE", "your token names no province"))
}

/// The audit record of a write by an officer (these writes take no request_id).
pub(crate) fn change<'a>(
    method: &'static str,
    kind: &'static str,
    name: &'a str,
    province: &'a str,
    before: &'a str,
    after: &'a str,
    payload: Vec<u8>,
) -> Change<'a> {
    Change {
        method,
        kind,
        resource: name,
        province,
        etag_before: before,
        etag_after: after,
        request_id: "",
        payload,
    }
}
