//! AIP-158 pagination: page sizes with a default and a cap, and opaque page
//! tokens bound to the filter they were issued for (keyset, not offset, so
//! pages stay stable while rows are added).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page served; larger requests are reduced to it (AIP-158).
pub const MAX_PAGE_SIZE: usize = 500;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows to return.
    pub size: usize,
    /// Sort key of the last row of the previous page.
    pub after: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// Last key served.
    k: String,
    /// Fingerprint of the query the token belongs to.
    q: u64,
}

impl Page {
    /// Validates `page_size` and `page_token` for a query fingerprinted by `query`
    /// (the filter and order, normalised by the caller).
    pub fn parse(page_size: i32, page_token: &str, query: &str) -> Result<Page> {
        let size = match page_size {
            n if n < 0 => {
                return Err(Error::invalid(
                    "page_size",
                    format!("{n} is negative; use 0 for the default ({DEFAULT_PAGE_SIZE}) or up to {MAX_PAGE_SIZE}"),
                ));
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        if page_token.is_empty() {
            return Ok(Page { size, after: None });
        }
        let bad = || {
            Error::invalid(
                "page_token",
                "not a token returned by this method; start again without page_token",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| bad())?;
        let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if token.q != fingerprint(query) {
            return Err(Error::invalid(
                "page_token",
                "this token was issued for another filter or order; keep them unchanged while paging",
            ));
        }
        Ok(Page {
            size,
            after: Some(token.k),
        })
    }

    /// The token for the page after the one ending at `last_key`.
    pub fn next_token(last_key: &str, query: &str) -> String {
        let token = Token {
            k: last_key.to_owned(),
            q: fingerprint(query),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
    }

    /// Given up to `size + 1` rows fetched, trims the extra row and returns
    /// the next page token (empty on the last page).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String, query: &str) -> String {
        if rows.len() > self.size {
            rows.truncate(self.size);
            rows.last()
                .map(|row| Page::next_token(&key(row), query))
                .unwrap_or_default()
        } else {
            String::new()
        }
    }

    /// How many rows to fetch: one more than the page, to know if another follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// The previous page's last sort key, as [`key`] made it of `N` parts:
    /// `None` on the first page, INVALID_ARGUMENT for a token whose key is
    /// not one (made by another version of the method).
    pub fn after_key<const N: usize>(&self) -> Result<Option<[String; N]>> {
        let Some(after) = &self.after else { return Ok(None) };
        let parts: Vec<String> = serde_json::from_str(after).map_err(|_| damaged())?;
        parts.try_into().map(Some).map_err(|_| damaged())
    }
}

/// A keyset sort key of several parts (a row's ordering columns, in order),
/// for [`Page::finish`]; read back with [`Page::after_key`]. Any text may be
/// a part: nothing is split on a separator.
pub fn key<const N: usize>(parts: [&str; N]) -> String {
    serde_json::to_string(&parts[..]).unwrap_or_default()
}

fn damaged() -> Error {
    Error::invalid("page_token", "damaged page token; start again without it")
}

fn fingerprint(text: &str) -> u64 {
    crate::fnv1a(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sort_key_of_several_parts_comes_back_whole() {
        let token = Page::next_token(&key(["5", "Mật ong | Như Xuân", "38-K7M9Q2XA"]), "q");
        let page = Page::parse(10, &token, "q").unwrap();
        let [stars, name, code] = page.after_key::<3>().unwrap().expect("a key");
        assert_eq!(
            (stars.as_str(), name.as_str(), code.as_str()),
            ("5", "Mật ong | Như Xuân", "38-K7M9Q2XA")
        );
        assert_eq!(Page::parse(10, "", "q").unwrap().after_key::<3>().unwrap(), None);
        // A key of another shape (an older offset token) is damaged, not misread.
        for old in ["120", "[\"a\"]"] {
            let page = Page::parse(10, &Page::next_token(old, "q"), "q").unwrap();
            assert_eq!(
                page.after_key::<3>().unwrap_err().kind(),
                crate::ErrorKind::InvalidArgument
            );
        }
    }

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(Page::parse(0, "", "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse(10_000, "", "").unwrap().size, MAX_PAGE_SIZE);
        let err = Page::parse(-1, "", "").unwrap_err();
        assert_eq!(err.violations()[0].field, "page_size");
    }

    #[test]
    fn token_round_trips_for_the_same_query_only() {
        let token = Page::next_token("2025-38", "level=province");
        assert_eq!(
            Page::parse(5, &token, "level=province").unwrap().after.as_deref(),
            Some("2025-38")
        );
        let err = Page::parse(5, &token, "level=commune").unwrap_err();
        assert_eq!(err.violations()[0].field, "page_token");
    }

    #[test]
    fn garbage_token_is_invalid() {
        for token in ["%%%", "bm90IGpzb24"] {
            let err = Page::parse(5, token, "").unwrap_err();
            assert_eq!(err.violations()[0].field, "page_token", "{token}");
        }
    }

    #[test]
    fn finish_trims_and_links() {
        let page = Page { size: 2, after: None };
        let mut rows = vec![1, 2, 3];
        let next = page.finish(&mut rows, |r| r.to_string(), "q");
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(Page::parse(2, &next, "q").unwrap().after.as_deref(), Some("2"));
        let mut last = vec![1];
        assert_eq!(page.finish(&mut last, |r| r.to_string(), "q"), "");
    }
}
