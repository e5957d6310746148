//! The OCOP evaluation service. Today: the versioned national criteria
//! sheets (1048/2019 and 148/2023), checked, corrected deliberately where
//! the source contradicts itself, and served. Rounds, councils, score sheets
//! and results arrive with the rest of its issue.

pub mod criteria;
pub mod grpc;
pub mod sheet;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec};
use ocop_proto::evaluation::v1::evaluation_service_server::EvaluationServiceServer;
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
        prepare: Some(|pool| Box::pin(criteria::load_shipped(pool))),
    }
}

/// The service's gRPC routes.
pub fn routes(context: &Context) -> Routes {
    Routes::new(EvaluationServiceServer::new(grpc::Evaluation {
        db: context.db.clone(),
    }))
}
