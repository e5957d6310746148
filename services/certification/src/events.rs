//! What every change to a certificate writes besides the row itself, in the
//! same transaction: a history event, an audit row and a change-feed row
//! carrying the certificate after the change. And, once committed, the
//! verification cache entry, overwritten so that a verifier sees the change
//! at once.

use ocop_kit::Result;
use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::date::today_vn;
use prost::Message;

use crate::grpc::Certification;
use crate::store::{self, Row};

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
    store::record_event(tx, &row.code, kind, &who.subject, reason, related).await?;
    let proto = row.to_proto(&svc.public_url, today_vn());
    let change = Change {
        method: method_of(kind),
        kind,
        resource: &proto.name,
        province: &row.province_code,
        etag_before,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audit::record(tx, who, change).await
}

fn method_of(kind: &str) -> &'static str {
    match kind {
        "issued" | "superseded" => "IssueCertificate",
        "revoked" => "RevokeCertificate",
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
