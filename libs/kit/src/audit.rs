//! The audit log and the change feed, both written in the transaction of the
//! change they describe, so neither can miss nor invent a change. Each
//! service keeps `audit_events` (append-only) and `outbox` tables in its schema.
//!
//! This module is the writing side; [`read`] lists the log and [`service`]
//! serves it as `ocop.audit.v1.AuditService` on every service's port.

pub mod read;
pub mod service;

use sqlx::PgConnection;

use crate::auth::Principal;
use crate::error::Result;

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
    let traceparent = crate::telemetry::current_traceparent().unwrap_or_default();
    // One statement for both rows: every mutation pays one round trip less.
    sqlx::query(
        "WITH audit AS (
             INSERT INTO audit_events (actor, role, request_id, method, resource, province_code, etag_before, etag_after, traceparent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
         INSERT INTO outbox (resource, change, payload, traceparent) VALUES ($5, $10, $11, NULLIF($9, ''))",
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
    .bind(change.kind)
    .bind(change.payload)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What a guarded statement decides itself, for [`push_record`] to take from
/// the gate's columns instead of from the [`Change`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FromGate<'a> {
    /// A text column holding the resource's province (instead of `Change::province`).
    pub province: Option<&'a str>,
    /// A bytea column appended to `Change::payload`: the rest of a protobuf
    /// message, since concatenated encodings decode as one merged message.
    pub payload_tail: Option<&'a str>,
}

/// Appends to a `WITH` query the audit and outbox writes of `change`, one row
/// each for every row the CTE `gate` returns (so none when the guarded change
/// touched nothing). This puts a change and its records in one statement, one
/// round trip and no explicit transaction, for the hottest writes.
pub fn push_record(
    sql: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    who: &Principal,
    change: Change<'_>,
    gate: &str,
    decided: FromGate<'_>,
) {
    let traceparent = crate::telemetry::current_traceparent().unwrap_or_default();
    sql.push(", audit_write AS (INSERT INTO audit_events (actor, role, request_id, method, resource, province_code, etag_before, etag_after, traceparent) SELECT ")
        .push_bind(who.subject.clone())
        .push(", ")
        .push_bind(who.role.as_str())
        .push(", ")
        .push_bind(change.request_id.to_owned())
        .push(", ")
        .push_bind(change.method)
        .push(", ")
        .push_bind(change.resource.to_owned())
        .push(", ");
    match decided.province {
        Some(column) => sql.push(column),
        None => sql.push_bind(change.province.to_owned()),
    };
    sql.push(", ")
        .push_bind(change.etag_before.to_owned())
        .push(", ")
        .push_bind(change.etag_after.to_owned())
        .push(", ")
        .push_bind(traceparent.clone())
        .push(format!(" FROM {gate})"));
    sql.push(", outbox_write AS (INSERT INTO outbox (resource, change, payload, traceparent) SELECT ")
        .push_bind(change.resource.to_owned())
        .push(", ")
        .push_bind(change.kind)
        .push(", ")
        .push_bind(change.payload);
    if let Some(column) = decided.payload_tail {
        sql.push(" || ").push(column);
    }
    sql.push(", NULLIF(")
        .push_bind(traceparent)
        .push(format!(", '') FROM {gate})"));
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
    let traceparent = crate::telemetry::current_traceparent().unwrap_or_default();
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
