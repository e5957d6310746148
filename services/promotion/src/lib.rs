//! The OCOP promotion service: the public catalog, sales points, fairs, targets and statistics.
//!
//! Its methods arrive with its own issue; today it starts, migrates its
//! schema and answers health and reflection like every service.

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec, Surface};
use ocop_proto::promotion::v1::promotion_service_server::{PromotionService, PromotionServiceServer};
use tonic::service::Routes;

/// Embedded migrations of the `promotion` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Promotion,
        grpc_service: "ocop.promotion.v1.PromotionService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: None,
    }
}

/// Implements `ocop.promotion.v1.PromotionService`.
#[derive(Debug, Clone, Copy)]
pub struct Promotion;

impl PromotionService for Promotion {}

/// The service's gRPC routes.
pub fn routes(_context: &Context) -> Surface {
    Routes::new(PromotionServiceServer::new(Promotion)).into()
}
