//! Field checks every resource shares: update masks and text lengths.

use ocop_kit::Result;
use ocop_kit::error::Violations;

/// INVALID_ARGUMENT unless `mask` is non-empty and names only `allowed` fields.
pub(crate) fn check_mask(mask: &[String], allowed: &[&str]) -> Result<()> {
    if mask.is_empty() {
        return Err(ocop_kit::Error::invalid(
            "update_mask",
            format!("required: name the fields to change ({})", allowed.join(", ")),
        ));
    }
    let mut v = Violations::default();
    for path in mask {
        if !allowed.contains(&path.as_str()) {
            v.push(
                "update_mask",
                format!("`{path}` cannot be updated; allowed: {}", allowed.join(", ")),
            );
        }
    }
    v.check()
}

/// A violation of `field` unless `value` has `min` to `max` characters.
pub(crate) fn check_len(v: &mut Violations, field: &str, value: &str, min: usize, max: usize) {
    let n = value.chars().count();
    if n < min || n > max {
        v.push(
            field,
            if min > 0 {
                format!("required, {min} to {max} characters")
            } else {
                format!("at most {max} characters")
            },
        );
    }
}
