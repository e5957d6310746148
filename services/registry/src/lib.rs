//! The OCOP registry service: administrative units with the 2025 lineage,
//! producers, products, the cycle's idea registrations, business plans and
//! support records, the producers' dossiers for evaluation, search, CSV import/export and the audit log.

pub mod api;
mod audit;
pub mod csv_exchange;
pub mod dossiers;
mod fields;
pub mod ideas;
mod ids;
mod listing;
pub mod national;
pub mod plans;
pub mod products;
mod reference_data;
mod rules;
mod search;
pub mod service;
pub mod subjects;
mod text_enum;
pub mod units;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec, Surface};
use tonic::service::Routes;

/// The CSV import and export under the path the `ocop` CLI calls (`transfer::import`).
pub use csv_exchange as transfer;
pub use service::Registry;

/// Embedded migrations of the `registry` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Registry,
        grpc_service: "ocop.registry.v1.RegistryService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: Some(|pool| Box::pin(reference_data::load(pool))),
    }
}

/// The service's gRPC routes and its national feed followers.
pub fn routes(context: &Context) -> Surface {
    let tasks = ocop_kit::mirror::follow_provinces(
        &context.config,
        &context.db,
        "registry",
        |p| &p.registry_url,
        |peer| national::Provinces(ocop_kit::mirror::Mirror::of(peer, national::mirrored)),
    );
    Surface {
        grpc: Routes::new(api::grpc::server(Registry::new(context))),
        http: Default::default(),
        tasks,
    }
}
