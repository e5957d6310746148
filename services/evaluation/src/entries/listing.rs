//! Listing entries: a round's, or every round's, with the filters the
//! province reads its overdue commune reports by.

use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::Entry;
use sqlx::PgPool;

use super::procedure;
use super::{COLUMNS, Row};
use crate::rounds;

/// A page of a round's entries (`evaluationRounds/-`: every round's), by
/// round and entry, oldest first (ids are UUIDv7), filtered.
pub async fn list(
    db: &PgPool,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Entry>, String)> {
    let round_id = if parent == "evaluationRounds/-" {
        None
    } else {
        Some(rounds::parse_name("parent", parent)?)
    };
    let filter = ocop_kit::filter::Filter::parse(filter, procedure::FILTER_FIELDS)?;
    let query_id = format!("{parent}|{}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    if let Some(round_id) = &round_id {
        rounds::fetch(db, round_id).await?;
    }
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("SELECT {COLUMNS} FROM entries WHERE TRUE"));
    if let Some(round_id) = round_id {
        sql.push(" AND round_id = ").push_bind(round_id);
    }
    procedure::push_filter(&mut sql, &filter, ocop_kit::date::today_vn())?;
    if let Some(after) = &page.after {
        let (r, e) = after
            .split_once('/')
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (round_id, id) > (")
            .push_bind(r.to_owned())
            .push(", ")
            .push_bind(e.to_owned())
            .push(")");
    }
    sql.push(" ORDER BY round_id, id LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut rows, |r| format!("{}/{}", r.round_id, r.id), &query_id);
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}
