//! The OCOP evaluation service: criteria sets, rounds, councils, score sheets and results.
//!
//! Its methods arrive with its own issue; today it starts, migrates its
//! schema and answers health and reflection like every service.

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec};
use ocop_proto::evaluation::v1::evaluation_service_server::{EvaluationService, EvaluationServiceServer};
use tonic::service::Routes;

/// Embedded migrations of the `evaluation` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Evaluation,
        grpc_service: "ocop.evaluation.v1.EvaluationService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: None,
    }
}

/// Implements `ocop.evaluation.v1.EvaluationService`.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation;

impl EvaluationService for Evaluation {}

/// The service's gRPC routes.
pub fn routes(_context: &Context) -> Routes {
    Routes::new(EvaluationServiceServer::new(Evaluation))
}
