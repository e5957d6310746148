//! Search that ignores case and Vietnamese diacritics, done by PostgreSQL:
//! the `search` column holds `fold(text)` (unaccent + lower) under a trigram
//! index. Every word of the query must occur (in any order), so "mat ong bac"
//! finds "Mật ong Đà Bắc"; matches are ranked by word similarity to the whole
//! query. (A fuzzy `<%` match over all rows was measured at ~150 ms for 20,000
//! products: too slow to be the first filter.)

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
    for word in query.split_whitespace().take(10) {
        let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql.push(" AND search LIKE fold(")
            .push_bind(format!("%{escaped}%"))
            .push(")");
    }
    sql.push(" ORDER BY word_similarity(fold(")
        .push_bind(query.to_owned())
        .push(format!("), search) DESC, {key} LIMIT "))
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
