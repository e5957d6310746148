//! Etags: a row's version as clients see it, `v{version}`, opaque to them.
//! Every resource with a `version` column answers [`of`] it and guards its
//! updates with [`check`], so a stale write is refused the same way in
//! every service.

use crate::{Error, ErrorKind, Result};

/// The etag of a row version.
pub fn of(version: i64) -> String {
    format!("v{version}")
}

/// The version an etag names, when it is exactly one this module made.
pub fn version(etag: &str) -> Option<i64> {
    etag.strip_prefix('v')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| of(*n) == etag)
}

/// The current etag of `resource` (at `version`) when `given` (sent in
/// `field`) is it: INVALID_ARGUMENT when none was sent, ABORTED `STALE_ETAG`
/// with the current etag in the metadata when it is an older one.
pub fn check(field: &str, given: &str, resource: &str, version: i64) -> Result<String> {
    let current = of(version);
    if given.is_empty() {
        return Err(Error::invalid(field, "required: send the etag of the version you read"));
    }
    if given != current {
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{resource} changed since you read it (etag `{given}`, now {current}); read it again and retry"),
        )
        .with_metadata("resource", resource.to_owned())
        .with_metadata("current_etag", current));
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_names_its_version_exactly() {
        assert_eq!(of(3), "v3");
        assert_eq!(version("v3"), Some(3));
        for not_ours in ["3", "v", "v03", "v+3", "W/\"v3\"", ""] {
            assert_eq!(version(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn a_missing_etag_is_invalid_and_a_stale_one_aborted() {
        assert_eq!(check("etag", "v3", "subjects/a", 3).unwrap(), "v3");
        let stale = check("etag", "v2", "subjects/a", 3).unwrap_err();
        assert_eq!((stale.kind(), stale.reason()), (ErrorKind::Aborted, "STALE_ETAG"));
        assert!(stale.to_string().contains("now v3"), "{stale}");
        let missing = check("subject.etag", "", "subjects/a", 3).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::InvalidArgument);
    }
}
