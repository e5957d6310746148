//! The gRPC adapter of the promotion service.

use ocop_proto::promotion::v1::promotion_service_server::PromotionService;
use ocop_proto::promotion::v1::{ListCatalogRequest, ListCatalogResponse};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::catalog;

/// Implements `ocop.promotion.v1.PromotionService`.
#[derive(Clone)]
pub struct Promotion {
    /// The promotion schema's pool.
    pub db: PgPool,
}

#[tonic::async_trait]
impl PromotionService for Promotion {
    async fn list_catalog(
        &self,
        request: Request<ListCatalogRequest>,
    ) -> Result<Response<ListCatalogResponse>, Status> {
        let r = request.get_ref();
        let (entries, next_page_token) =
            catalog::list(&self.db, r.page_size, &r.page_token, &r.filter, &r.query).await?;
        Ok(Response::new(ListCatalogResponse {
            entries,
            next_page_token,
        }))
    }
}
