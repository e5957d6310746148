//! The audit log and the change feed, both written in the transaction of the
//! change they describe, so neither can miss nor invent a change.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::AuditEvent;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use ocop_kit::date::to_timestamp;

/// One change to record.
pub struct Change<'a> {
    /// The RPC, e.g. `UpdateSubject`.
    pub method: &'static str,
    /// `created`, `updated` or `deleted` (the change feed's kind).
    pub kind: &'static str,
    /// Resource name.
    pub resource: &'a str,
    /// The resource's province.
    pub province: &'a str,
    /// Etag before; empty on create.
    pub etag_before: &'a str,
    /// Etag after.
    pub etag_after: &'a str,
    /// The caller's request_id, if any.
    pub request_id: &'a str,
    /// The resource after the change, encoded (the change feed's payload).
    pub payload: Vec<u8>,
}

/// Writes the audit row and the outbox row of `change`.
pub async fn record(tx: &mut PgConnection, who: &Principal, change: Change<'_>) -> Result<()> {
    let traceparent = ocop_kit::telemetry::current_traceparent().unwrap_or_default();
    sqlx::query(
        "INSERT INTO audit_events (actor, role, request_id, method, resource, province_code, etag_before, etag_after, traceparent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&who.subject)
    .bind(who.role.as_str())
    .bind(change.request_id)
    .bind(change.method)
    .bind(change.resource)
    .bind(change.province)
    .bind(change.etag_before)
    .bind(change.etag_after)
    .bind(&traceparent)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO outbox (resource, change, payload, traceparent) VALUES ($1, $2, $3, NULLIF($4, ''))")
        .bind(change.resource)
        .bind(change.kind)
        .bind(change.payload)
        .bind(&traceparent)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

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

/// One created resource of a bulk write.
pub struct Created {
    /// Resource name.
    pub resource: String,
    /// Its province.
    pub province: String,
    /// Its etag.
    pub etag: String,
    /// The resource, encoded.
    pub payload: Vec<u8>,
}

/// Writes the audit and outbox rows of many creations at once (imports).
pub async fn record_created(
    tx: &mut PgConnection,
    who: &Principal,
    method: &'static str,
    request_id: &str,
    created: Vec<Created>,
) -> Result<()> {
    if created.is_empty() {
        return Ok(());
    }
    let traceparent = ocop_kit::telemetry::current_traceparent().unwrap_or_default();
    let (mut resources, mut provinces, mut etags, mut payloads) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in created {
        resources.push(c.resource);
        provinces.push(c.province);
        etags.push(c.etag);
        payloads.push(c.payload);
    }
    sqlx::query(
        "INSERT INTO audit_events (actor, role, request_id, method, resource, province_code, etag_after, traceparent)
         SELECT $1, $2, $3, $4, r, p, e, $5 FROM UNNEST($6::text[], $7::text[], $8::text[]) AS t(r, p, e)",
    )
    .bind(&who.subject)
    .bind(who.role.as_str())
    .bind(request_id)
    .bind(method)
    .bind(&traceparent)
    .bind(&resources)
    .bind(&provinces)
    .bind(&etags)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (resource, change, payload, traceparent)
         SELECT r, 'created', p, NULLIF($1, '') FROM UNNEST($2::text[], $3::bytea[]) AS t(r, p)",
    )
    .bind(&traceparent)
    .bind(&resources)
    .bind(&payloads)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
