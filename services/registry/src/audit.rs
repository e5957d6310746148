//! The registry's audit log as served by `ListAuditEvents`: the kit's reader
//! (`ocop_kit::audit::read`, which every service also serves as
//! `ocop.audit.v1.AuditService`), mapped to the registry's own message. The
//! writing side (audit and change-feed rows in the change's transaction) is
//! `ocop_kit::audit`.

use ocop_kit::Result;
use ocop_kit::auth::Principal;
use ocop_proto::audit::v1 as kit;
use ocop_proto::registry::v1::AuditEvent;
use sqlx::PgPool;

pub(crate) use ocop_kit::audit::{Change, Created, record, record_created};

/// The audit log, newest first. Province officers see their province only.
pub(crate) async fn list(
    db: &PgPool,
    who: &Principal,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<AuditEvent>, String)> {
    let request = kit::ListAuditEventsRequest {
        page_size,
        page_token: page_token.to_owned(),
        filter: filter.to_owned(),
    };
    let page = ocop_kit::audit::read::list(db, who, &request).await?;
    Ok((
        page.audit_events.into_iter().map(registry_event).collect(),
        page.next_page_token,
    ))
}

/// The same fields, in the registry's message.
fn registry_event(e: kit::AuditEvent) -> AuditEvent {
    AuditEvent {
        name: e.name,
        time: e.time,
        actor: e.actor,
        role: e.role,
        request_id: e.request_id,
        method: e.method,
        resource: e.resource,
        province_code: e.province_code,
        etag_before: e.etag_before,
        etag_after: e.etag_after,
        traceparent: e.traceparent,
    }
}
