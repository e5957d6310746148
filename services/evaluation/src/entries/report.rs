//! Writing the commune's report (Mẫu 03) on an entry; the checks before it
//! are `commune::record_report`'s.

use ocop_kit::Result;
use ocop_kit::auth::Principal;
use ocop_proto::evaluation::v1::Entry;
use sqlx::PgPool;

use super::{COLUMNS, Row, record};
use crate::entries::commune;

/// Records the commune's report `report` (proposed on `day`) on an entry
/// without one, with its audit and change-feed rows; `None` when it has one.
pub async fn set_report(
    db: &PgPool,
    who: &Principal,
    round_id: &str,
    entry_id: &str,
    report: &commune::StoredReport,
    day: time::Date,
) -> Result<Option<Entry>> {
    let mut tx = db.begin().await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE entries SET commune_report = $3, proposed_date = $4
         WHERE round_id = $1 AND id = $2 AND commune_report IS NULL RETURNING {COLUMNS}"
    )))
    .bind(round_id)
    .bind(entry_id)
    .bind(sqlx::types::Json(report))
    .bind(day)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let proto = row.to_proto();
    record(&mut tx, who, "RecordCommuneReport", "updated", &row, &proto, "").await?;
    tx.commit().await?;
    Ok(Some(proto))
}
