//! The OCOP registry service: administrative units with the 2025 lineage,
//! producers, products, the cycle's idea registrations, business plans and
//! support records, the producers' dossiers for evaluation, search, CSV import/export and the audit log.

mod access;
mod audit;
pub mod dossiers;
pub mod exports;
pub mod grpc;
pub mod ideas;
mod ids;
mod listing;
pub mod national;
pub mod plans;
pub mod products;
mod reference_data;
mod search;
pub mod subjects;
pub mod transfer;
pub mod units;

use ocop_kit::config::{DeploymentRole, ServiceName};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::server::{Context, ServiceSpec, Surface};
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
        prepare: Some(|pool| Box::pin(reference_data::load(pool))),
    }
}

/// The service's gRPC routes.
pub fn routes(context: &Context) -> Surface {
    let (db, cache) = (context.db.clone(), context.cache.clone());
    let tasks = ocop_kit::mirror::follow_provinces(
        &context.config,
        &db,
        "registry",
        |p| &p.registry_url,
        |peer| national::Provinces(ocop_kit::mirror::Mirror::of(peer, national::mirrored)),
    );
    let national = context.config.deployment.role == DeploymentRole::National;
    let here = Jurisdiction::of(&context.config.deployment);
    let units = units::Units::new(db.clone(), cache.clone());
    let subjects = subjects::Subjects::new(db.clone(), cache.clone(), units.clone(), here.clone());
    let products = products::Products::new(db.clone(), cache, units.clone(), subjects.clone(), here.clone());
    let ideas = ideas::Ideas::new(db.clone(), units.clone(), here.clone());
    let plans = plans::Plans::new(db.clone(), here.clone());
    let dossiers = dossiers::Dossiers::new(db.clone(), here.clone());
    let registry = grpc::Registry {
        units,
        subjects,
        products,
        ideas,
        plans,
        dossiers,
        db,
        national,
        here,
        exports: exports::ExportSlots::for_pool(&context.config.database),
    };
    // Imports and exports carry whole files: allow up to 32 MiB (Hà Nội's ~3,500
    // rows are about 1 MiB).
    let server = RegistryServiceServer::new(registry)
        .max_decoding_message_size(32 * 1024 * 1024)
        .max_encoding_message_size(32 * 1024 * 1024);
    Surface {
        grpc: Routes::new(server),
        http: Default::default(),
        tasks,
    }
}
