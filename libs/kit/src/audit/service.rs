//! `ocop.audit.v1.AuditService`, served by the runner beside every service's
//! own contract (as the change feed is), over that service's schema.

use ocop_proto::audit::v1::audit_service_server::AuditService;
use ocop_proto::audit::v1::{ListAuditEventsRequest, ListAuditEventsResponse};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::auth::Principal;

/// Serves the audit log of one schema (the pool's).
#[derive(Clone)]
pub struct AuditLog {
    db: PgPool,
}

impl AuditLog {
    /// The audit log of `db`'s schema.
    pub fn new(db: PgPool) -> AuditLog {
        AuditLog { db }
    }
}

#[tonic::async_trait]
impl AuditService for AuditLog {
    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let who = Principal::from_request(&request)?;
        let page = super::read::list(&self.db, &who, request.get_ref()).await?;
        Ok(Response::new(page))
    }
}
