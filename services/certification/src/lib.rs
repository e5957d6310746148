//! The OCOP certification service: certificates, their verification, renewal, upgrade, revocation and expiry.
//!
//! Its methods arrive with its own issue; today it starts, migrates its
//! schema and answers health and reflection like every service.

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec};
use ocop_proto::certification::v1::certification_service_server::{CertificationService, CertificationServiceServer};
use tonic::service::Routes;

/// Embedded migrations of the `certification` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Certification,
        grpc_service: "ocop.certification.v1.CertificationService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: None,
    }
}

/// Implements `ocop.certification.v1.CertificationService`.
#[derive(Debug, Clone, Copy)]
pub struct Certification;

impl CertificationService for Certification {}

/// The service's gRPC routes.
pub fn routes(_context: &Context) -> Routes {
    Routes::new(CertificationServiceServer::new(Certification))
}
