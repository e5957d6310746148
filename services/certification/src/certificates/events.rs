//! What every change to a certificate writes besides the row itself, in the
//! same transaction: a history event, an audit row and a change-feed row
//! carrying the certificate after the change. And, once committed, the
//! verification cache entry, overwritten so that a verifier sees the change
//! at once. Re-rating applications and inspections write their audit and
//! change-feed rows the same way ([`resource`]).

use ocop_kit::Result;
use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use prost::Message;

use crate::certificates::store::{self, Row};
use crate::service::Certification;

/// One step of a certificate's history.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// `issued`, `superseded`, `revoked`, `expired`, `expiry_notice`,
    /// `extended` or `extension_ended`: the history's and the feed's kind.
    pub kind: &'static str,
    /// Why, in words.
    pub reason: &'a str,
    /// A related resource (the superseding certificate, the inspection).
    pub related: &'a str,
    /// The RPC (or task) that made it, for the audit.
    pub method: &'static str,
    /// What the audit's reader should know of it (empty: nothing).
    pub note: &'a str,
}

impl<'a> Event<'a> {
    /// A `kind` step, for `reason`, by the method that makes such steps.
    pub fn new(kind: &'static str, reason: &'a str) -> Event<'a> {
        Event {
            kind,
            reason,
            related: "",
            method: method_of(kind),
            note: "",
        }
    }

    /// Naming a related resource.
    pub fn related(self, related: &'a str) -> Event<'a> {
        Event { related, ..self }
    }

    /// Made by `method`.
    pub fn by(self, method: &'static str) -> Event<'a> {
        Event { method, ..self }
    }

    /// With a note for the audit.
    pub fn noted(self, note: &'a str) -> Event<'a> {
        Event { note, ..self }
    }
}

/// Records `kind` (`issued`, `superseded`, `revoked`, `expired`,
/// `expiry_notice`) for `row` as it is after the change.
#[allow(clippy::too_many_arguments)]
pub async fn changed(
    tx: &mut sqlx::PgConnection,
    svc: &Certification,
    who: &Principal,
    row: &Row,
    etag_before: &str,
    kind: &'static str,
    reason: &str,
    related: &str,
) -> Result<()> {
    record(
        tx,
        svc,
        who,
        row,
        etag_before,
        Event::new(kind, reason).related(related),
    )
    .await
}

/// Records `event` for `row` as it is after the change.
pub async fn record(
    tx: &mut sqlx::PgConnection,
    svc: &Certification,
    who: &Principal,
    row: &Row,
    etag_before: &str,
    event: Event<'_>,
) -> Result<()> {
    store::record_event(tx, &row.code, event.kind, &who.subject, event.reason, event.related).await?;
    let proto = row.to_proto(&svc.public_url, svc.today());
    let change = Change {
        method: event.method,
        kind: event.kind,
        resource: &proto.name,
        province: &row.province_code,
        etag_before,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audited(tx, who, change, event.note).await
}

/// Writes the audit and change-feed rows of a change to a re-rating
/// application or an inspection (`kind`: `created` or `updated`).
#[allow(clippy::too_many_arguments)]
pub async fn resource(
    tx: &mut sqlx::PgConnection,
    who: &Principal,
    method: &'static str,
    kind: &'static str,
    name: &str,
    province: &str,
    etag_before: &str,
    etag_after: &str,
    payload: Vec<u8>,
) -> Result<()> {
    let change = Change {
        method,
        kind,
        resource: name,
        province,
        etag_before,
        etag_after,
        request_id: "",
        payload,
    };
    audit::record(tx, who, change).await
}

/// The kit's audit and outbox rows, with `note` in this schema's
/// `audit_events.note` when there is one (the kit's writer has no notes).
async fn audited(tx: &mut sqlx::PgConnection, who: &Principal, change: Change<'_>, note: &str) -> Result<()> {
    if note.is_empty() {
        return audit::record(tx, who, change).await;
    }
    let traceparent = ocop_kit::telemetry::current_traceparent().unwrap_or_default();
    sqlx::query(
        "WITH audit AS (
             INSERT INTO audit_events (actor, role, request_id, method, resource, province_code, etag_before,
                 etag_after, traceparent, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $12))
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
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn method_of(kind: &str) -> &'static str {
    match kind {
        "issued" | "superseded" => "IssueCertificate",
        "revoked" => "RevokeCertificate",
        "extended" => "CreateReRatingApplication",
        "extension_ended" => "RecordReRatingOutcome",
        _ => "ExpirySweep",
    }
}

/// The cache key of a code's verification.
pub fn cache_key(code: &str) -> String {
    format!("verify:{code}")
}

/// Overwrites the cached verification of `row` (after its transaction commits).
pub async fn refresh_cache(svc: &Certification, row: &Row) {
    svc.cache.put(&cache_key(&row.code), &row.to_verification()).await;
}
