//! Search that ignores case and Vietnamese diacritics, done by PostgreSQL:
//! the `search` column holds `fold(text)` (unaccent + lower) and
//! `search_words` its words under a full-text (GIN) index. Every word of the
//! query must occur, in any order, the last one as a prefix (so a half-typed
//! "mat ong nhu xu" finds "Mật ong Như Xuân"); matches are ranked by where
//! the whole query occurs and by length. (Measured alternatives: a fuzzy `<%`
//! over all rows, ~150 ms for 20,000 products; trigram LIKE per word, ~15 ms.)

use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

/// Default and largest search page.
const DEFAULT_SIZE: i32 = 20;
const MAX_SIZE: i32 = 100;

/// Completes `sql` (a SELECT ... WHERE ... of a table with a `search` column)
/// with the match, the ranking and the page, and runs it. `key` orders ties.
pub async fn run<R>(
    db: &PgPool,
    mut sql: QueryBuilder<Postgres>,
    key: &str,
    query: &str,
    page_size: i32,
    page_token: &str,
    filter_id: &str,
) -> Result<(Vec<R>, String)>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let query = query.trim();
    if query.chars().filter(|c| c.is_alphanumeric()).count() < 2 || query.chars().count() > 200 {
        return Err(Error::invalid(
            "query",
            "give 2 to 200 characters of the name to look for, e.g. \"mat ong da bac\"",
        ));
    }
    let size = match page_size {
        0 => DEFAULT_SIZE,
        n => n.min(MAX_SIZE),
    };
    let query_id = format!("{query}|{filter_id}");
    let page = Page::parse(size, page_token, &query_id)?;
    let offset: i64 = match &page.after {
        Some(after) => after
            .parse()
            .map_err(|_| Error::invalid("page_token", "damaged page token; start again without it"))?,
        None => 0,
    };
    // Only letters and digits reach to_tsquery, so no input can break its syntax.
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(10)
        .map(str::to_owned)
        .collect();
    let tsquery = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == words.len() {
                format!("{w}:*")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" & ");
    // Scalar subqueries are evaluated once per query; a bare fold($n) would be
    // run (through the unaccent dictionary) for every row the filter reads.
    sql.push(" AND search_words @@ (SELECT to_tsquery('simple', fold(")
        .push_bind(tsquery)
        .push(")))");
    // Rank: the whole query at the start of the name, then anywhere in it,
    // then shorter names (closer to the query). Cheap per row, unlike a
    // trigram similarity (measured: 18 ms against 8 ms for 3,200 matches).
    let phrase = query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sql.push(" ORDER BY (search LIKE (SELECT fold(")
        .push_bind(format!("{phrase}%"))
        .push("))) DESC, (search LIKE (SELECT fold(")
        .push_bind(format!("%{phrase}%"))
        .push(format!("))) DESC, length(search), {key} LIMIT "))
        .push_bind(page.fetch_limit())
        .push(" OFFSET ")
        .push_bind(offset);
    let mut rows: Vec<R> = sql.build_query_as().fetch_all(db).await?;
    let next = if rows.len() > page.size {
        rows.truncate(page.size);
        Page::next_token(&(offset + page.size as i64).to_string(), &query_id)
    } else {
        String::new()
    };
    Ok((rows, next))
}
