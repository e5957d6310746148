//! Resource names, ids and etags of the registry's resources.

use ocop_kit::{Error, Result, names};

/// The longest resource id (AIP-122).
const MAX_ID: usize = 63;

/// Validates a client-chosen id, or generates one when `id` is empty.
pub(crate) fn id_or_generate(field: &str, id: &str) -> Result<String> {
    if id.is_empty() {
        return Ok(uuid::Uuid::now_v7().to_string());
    }
    // A generated id (a UUID) comes back in exports and must import again.
    let generated = uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id);
    let ok = generated
        || id.len() <= MAX_ID
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && !id.ends_with('-')
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "`{id}` is not a valid id: 1 to 63 of a-z, 0-9 and '-', starting with a letter, not ending with '-'"
            ),
        ))
    }
}

fn check_segment(field: &str, name: &str, segment: &str) -> Result<()> {
    let ok = segment.starts_with(|c: char| c.is_ascii_alphanumeric())
        && segment.len() <= 64
        && segment
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("`{name}` has an invalid id segment `{segment}`"),
        ))
    }
}

/// `subjects/{id}`.
pub(crate) fn subject_name(id: &str) -> String {
    format!("subjects/{id}")
}

/// `subjects/{subject}/products/{id}`.
pub(crate) fn product_name(subject: &str, id: &str) -> String {
    format!("subjects/{subject}/products/{id}")
}

/// The id in `subjects/{id}`.
pub(crate) fn parse_subject(field: &str, name: &str) -> Result<String> {
    let [id] = names::parse(field, name, "subjects/{subject}", "a producer name")?;
    check_segment(field, name, id)?;
    Ok(id.to_owned())
}

/// The ids in `subjects/{subject}/products/{product}`.
pub(crate) fn parse_product(field: &str, name: &str) -> Result<(String, String)> {
    let [subject, product] = names::parse(field, name, "subjects/{subject}/products/{product}", "a product name")?;
    check_segment(field, name, subject)?;
    check_segment(field, name, product)?;
    Ok((subject.to_owned(), product.to_owned()))
}

/// The ids in a name made of `collections` (e.g. `["subjects", "products", "ideas"]`
/// for `subjects/{s}/products/{p}/ideas/{i}`). `-` is accepted as an id only
/// when `wildcard` (AIP-159 "any parent").
pub(crate) fn parse_path(field: &str, name: &str, collections: &[&str], wildcard: bool) -> Result<Vec<String>> {
    let pattern: Vec<String> = collections.iter().map(|c| format!("{c}/{{id}}")).collect();
    let pattern = pattern.join("/");
    let ids = names::parse_all(field, name, &pattern, "a valid name")?;
    for id in &ids {
        if !(wildcard && *id == "-") {
            check_segment(field, name, id)?;
        }
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(id_or_generate("id", "htx-mat-ong-1").is_ok());
        let generated = id_or_generate("id", "").unwrap();
        assert_eq!(
            id_or_generate("id", &generated).unwrap(),
            generated,
            "generated ids are valid ids"
        );
        for bad in ["Abc", "1abc", "abc-", "a_b", &"a".repeat(64)] {
            assert!(id_or_generate("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse_subject("name", "subjects/abc").unwrap(), "abc");
        assert!(parse_subject("name", "subjects/abc/products/x").is_err());
        assert!(parse_subject("name", "products/abc").is_err());
        assert_eq!(
            parse_product("name", "subjects/a/products/b").unwrap(),
            ("a".into(), "b".into())
        );
        for bad in [
            "subjects/a",
            "subjects/a/products/",
            "subjects/a/products/b/c",
            "subjects/A/products/b",
        ] {
            assert!(parse_product("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_parse() {
        let c = ["subjects", "products", "ideas"];
        assert_eq!(
            parse_path("n", "subjects/a/products/b/ideas/c", &c, false).unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(parse_path("n", "subjects/a/products/b", &c, false).is_err());
        assert!(parse_path("n", "subjects/a/plans/b/ideas/c", &c, false).is_err());
        assert!(parse_path("n", "subjects/-/products/-", &c[..2], false).is_err());
        assert_eq!(
            parse_path("n", "subjects/-/products/-", &c[..2], true).unwrap(),
            vec!["-", "-"]
        );
    }
}
