//! The registry's audit log as served by `ListAuditEvents`; the writing side
//! (audit and change-feed rows in the change's transaction) is `ocop_kit::audit`.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::AuditEvent;
use sqlx::{PgPool, Postgres, QueryBuilder};

pub use ocop_kit::audit::{Change, Created, record, record_created};

use ocop_kit::date::to_timestamp;

/// Filterable fields of `ListAuditEvents`.
pub const FILTER_FIELDS: &[&str] = &["resource", "actor", "method", "province_code"];

#[derive(sqlx::FromRow)]
struct Row {
    sequence: i64,
    time: time::OffsetDateTime,
    actor: String,
    role: String,
    request_id: String,
    method: String,
    resource: String,
    province_code: String,
    etag_before: String,
    etag_after: String,
    traceparent: String,
}

/// The audit log, newest first. Province officers see their province only.
pub async fn list(
    db: &PgPool,
    who: &Principal,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<AuditEvent>, String)> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT sequence, time, actor, role, request_id, method, resource, province_code, etag_before, etag_after, traceparent
         FROM audit_events WHERE TRUE",
    );
    for field in FILTER_FIELDS {
        if let Some(value) = filter.get(field) {
            // Field names come from the fixed list above, never from the request.
            sql.push(format!(" AND {field} = ")).push_bind(value.to_owned());
        }
    }
    if who.role == Role::ProvinceOfficer {
        let own = who.province.clone().unwrap_or_default();
        if filter.get("province_code").is_some_and(|p| p != own) {
            return Err(Error::permission_denied(
                "OUTSIDE_JURISDICTION",
                format!("province officers of {own} may read only their province's audit log"),
            ));
        }
        sql.push(" AND province_code = ").push_bind(own);
    }
    if let Some(after) = &page.after {
        let after: i64 = after
            .parse()
            .map_err(|_| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND sequence < ").push_bind(after);
    }
    sql.push(" ORDER BY sequence DESC LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut rows, |r| r.sequence.to_string(), &query_id);
    Ok((
        rows.into_iter()
            .map(|r| AuditEvent {
                name: format!("auditEvents/{}", r.sequence),
                time: Some(to_timestamp(r.time)),
                actor: r.actor,
                role: r.role,
                request_id: r.request_id,
                method: r.method,
                resource: r.resource,
                province_code: r.province_code,
                etag_before: r.etag_before,
                etag_after: r.etag_after,
                traceparent: r.traceparent,
            })
            .collect(),
        next,
    ))
}
