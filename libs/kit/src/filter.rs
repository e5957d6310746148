//! A small, strict subset of AIP-160 filters: equality terms joined by `AND`,
//! e.g. `level = commune AND province_code = "38"`. Anything else is refused
//! with a message that shows the accepted form, never silently ignored.

use sqlx::{Postgres, QueryBuilder};

use crate::error::{Error, Result};

/// A parsed filter: `(field, value)` pairs, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<(String, String)>,
}

impl Filter {
    /// Parses `text`, accepting only the `fields` listed (each at most once).
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter> {
        let mut terms: Vec<(String, String)> = Vec::new();
        let text = text.trim();
        if text.is_empty() {
            return Ok(Filter::default());
        }
        for raw in split_and(text) {
            let (field, value) = raw.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "`{raw}` is not a `field = value` term; join terms with AND; fields: {}",
                    fields.join(", ")
                ))
            })?;
            let field = field.trim();
            if !fields.contains(&field) {
                return Err(invalid(format!(
                    "unknown field `{field}`; filterable fields: {}",
                    fields.join(", ")
                )));
            }
            if terms.iter().any(|(f, _)| f == field) {
                return Err(invalid(format!("field `{field}` appears twice")));
            }
            terms.push((field.to_owned(), unquote(value.trim())?));
        }
        Ok(Filter { terms })
    }

    /// The value required for `field`, if the filter names it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str())
    }

    /// Appends ` AND {field} = $n` for each of `fields` the filter names.
    /// Columns come from the caller's fixed list (`'static`), never from the
    /// request; the value is always a bind.
    pub fn push_equal(&self, sql: &mut QueryBuilder<Postgres>, fields: &[&'static str]) {
        for field in fields {
            self.push_one(sql, field, field);
        }
    }

    /// As [`Filter::push_equal`], for fields stored under another column:
    /// `(field, column)` pairs.
    pub fn push_equal_as(&self, sql: &mut QueryBuilder<Postgres>, pairs: &[(&str, &'static str)]) {
        for (field, column) in pairs {
            self.push_one(sql, field, column);
        }
    }

    fn push_one(&self, sql: &mut QueryBuilder<Postgres>, field: &str, column: &'static str) {
        if let Some(value) = self.get(field) {
            sql.push(format!(" AND {column} = ")).push_bind(value.to_owned());
        }
    }

    /// The `stars` the filter asks for, 3 to 5: INVALID_ARGUMENT for any other.
    pub fn stars(&self) -> Result<Option<i32>> {
        let Some(stars) = self.get("stars") else {
            return Ok(None);
        };
        stars
            .parse()
            .ok()
            .filter(|s| (3..=5).contains(s))
            .map(Some)
            .ok_or_else(|| Error::invalid("filter", format!("stars `{stars}` is not 3, 4 or 5")))
    }

    /// A canonical text of the filter, for page-token fingerprints.
    pub fn canonical(&self) -> String {
        let mut terms = self.terms.clone();
        terms.sort();
        terms
            .iter()
            .map(|(f, v)| format!("{f}={v:?}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// Splits on the keyword AND outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes) = (0, false);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_quotes = !in_quotes,
            b' ' if !in_quotes && text[i..].starts_with(" AND ") => {
                parts.push(text[start..i].trim());
                i += 4;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(text[start..].trim());
    parts
}

fn unquote(value: &str) -> Result<String> {
    if let Some(inner) = value.strip_prefix('"') {
        return inner
            .strip_suffix('"')
            .filter(|v| !v.contains('"'))
            .map(str::to_owned)
            .ok_or_else(|| invalid(format!("unbalanced quotes in `{value}`")));
    }
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(invalid(format!(
            "value `{value}` must be one word or a \"quoted string\""
        )));
    }
    Ok(value.to_owned())
}

fn invalid(description: String) -> Error {
    Error::invalid("filter", description)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["level", "province_code", "parent"];

    #[test]
    fn parses_terms() {
        let f = Filter::parse(r#"level = commune AND province_code = "38""#, FIELDS).unwrap();
        assert_eq!(f.get("level"), Some("commune"));
        assert_eq!(f.get("province_code"), Some("38"));
        assert_eq!(f.get("parent"), None);
    }

    #[test]
    fn quoted_values_may_hold_and() {
        let f = Filter::parse(r#"parent = "a AND b""#, FIELDS).unwrap();
        assert_eq!(f.get("parent"), Some("a AND b"));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "colour = red",
            "level",
            "level = a b",
            "level = \"x",
            "level = a AND level = b",
            "level = a OR parent = b",
        ] {
            let err = Filter::parse(bad, FIELDS).unwrap_err();
            assert_eq!(err.violations()[0].field, "filter", "{bad}");
        }
    }

    #[test]
    fn canonical_ignores_order() {
        let a = Filter::parse("level = a AND parent = b", FIELDS).unwrap();
        let b = Filter::parse("parent = b AND level = a", FIELDS).unwrap();
        assert_eq!(a.canonical(), b.canonical());
    }
}
