//! Resource names (AIP-122): `collection/{id}/collection/{id}`, read once
//! for every service against a pattern such as
//! `certificates/{code}/inspections/{id}`. [`parse`] gives the ids, each
//! non-empty and without `/`; what an id must look like beyond that (a
//! certificate code, a UUID) is the resource's to check, refusing with
//! [`invalid`] so every refusal names the expected form the same way.

use crate::{Error, Result};

/// The `N` ids of `name` in the places of `pattern`'s `{…}` segments, or
/// INVALID_ARGUMENT on `field` naming `what` and the form expected.
pub fn parse<'n, const N: usize>(field: &str, name: &'n str, pattern: &str, what: &str) -> Result<[&'n str; N]> {
    ids(name, pattern).ok_or_else(|| invalid(field, name, pattern, what))
}

/// The refusal of `name`, which is not `what` (e.g. "a certificate name"),
/// expected in the form `pattern`.
pub fn invalid(field: &str, name: &str, pattern: &str, what: &str) -> Error {
    Error::invalid(field, format!("`{name}` is not {what}; expected `{pattern}`"))
}

/// The ids of `name` in the places of `pattern`'s `{…}` segments, however
/// many the pattern has (for names whose depth the caller decides at run time).
pub fn parse_all<'n>(field: &str, name: &'n str, pattern: &str, what: &str) -> Result<Vec<&'n str>> {
    all_ids(name, pattern).ok_or_else(|| invalid(field, name, pattern, what))
}

fn ids<'n, const N: usize>(name: &'n str, pattern: &str) -> Option<[&'n str; N]> {
    all_ids(name, pattern)?.try_into().ok()
}

fn all_ids<'n>(name: &'n str, pattern: &str) -> Option<Vec<&'n str>> {
    let (mut parts, mut expected) = (name.split('/'), pattern.split('/'));
    let mut found = Vec::new();
    loop {
        match (parts.next(), expected.next()) {
            (None, None) => break,
            (Some(part), Some(place)) if place.starts_with('{') && place.ends_with('}') => {
                if part.is_empty() {
                    return None;
                }
                found.push(part);
            }
            (Some(part), Some(literal)) if part == literal => {}
            _ => return None,
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECTION: &str = "certificates/{code}/inspections/{id}";

    #[test]
    fn the_ids_come_in_the_patterns_places() {
        let [code, id] = parse(
            "name",
            "certificates/38-K7M9Q2XA/inspections/7",
            INSPECTION,
            "an inspection",
        )
        .unwrap();
        assert_eq!((code, id), ("38-K7M9Q2XA", "7"));
        let [sales_point] = parse("name", "salesPoints/sp-1", "salesPoints/{id}", "a sales point name").unwrap();
        assert_eq!(sales_point, "sp-1");
    }

    #[test]
    fn another_shape_is_refused_naming_the_form() {
        for bad in [
            "certificates/38-K7M9Q2XA",
            "certificates//inspections/7",
            "certificates/38-K7M9Q2XA/inspections/7/x",
            "certificates/38-K7M9Q2XA/reRating/7",
            "",
        ] {
            let err = parse::<2>("name", bad, INSPECTION, "an inspection").unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(
                err.to_string()
                    .contains("expected `certificates/{code}/inspections/{id}`"),
                "{err}"
            );
        }
        // The count of places is the caller's: a pattern with one place gives one id.
        assert!(ids::<2>("salesPoints/a", "salesPoints/{id}").is_none());
    }
}
