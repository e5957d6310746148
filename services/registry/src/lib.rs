//! The OCOP registry service: administrative units with the 2025 lineage
//! (producers, products and the cycle's first steps come with their issue).

pub mod grpc;
pub mod units;
mod units_data;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec};
use ocop_proto::registry::v1::registry_service_server::RegistryServiceServer;
use tonic::service::Routes;

/// Embedded migrations of the `registry` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Registry,
        grpc_service: "ocop.registry.v1.RegistryService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: Some(|pool| Box::pin(units_data::load(pool))),
    }
}

/// The service's gRPC routes.
pub fn routes(context: &Context) -> Routes {
    let registry = grpc::Registry {
        units: units::Units::new(context.db.clone(), context.cache.clone()),
    };
    Routes::new(RegistryServiceServer::new(registry))
}
