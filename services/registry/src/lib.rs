//! The OCOP registry service: administrative units with the 2025 lineage,
//! producers, products, the cycle's idea registrations, business plans and
//! support records, the producers' dossiers for evaluation, search, CSV
//! import/export and the audit log.
//!
//! The crate's map (the service template of `docs/architecture.md`):
//!
//! ```text
//! lib.rs            this map, the platform's spec and routes
//! main.rs           eight lines
//! service.rs        the state: pool, cache, units, jurisdiction, export slots
//! api/grpc.rs       the thin adapter: read the caller, call one operation, map its result
//! units.rs          administrative units and the lineage    (units/store.rs: its SQL)
//! subjects.rs       producers, one function per RPC         (subjects/store.rs, subjects/fields.rs)
//! products.rs       products and the taxonomy               (products/store.rs, products/fields.rs)
//! ideas.rs          idea registrations                      (ideas/store.rs)
//! plans.rs          business plans                          (plans/store.rs, plans/fields.rs, plans/support.rs)
//! dossiers.rs       dossiers for evaluation                 (dossiers/store.rs, dossiers/forms.rs)
//! csv_exchange.rs   CSV import and export                   (read, known, check, import, export, format, export_slots)
//! audit.rs          the audit log
//! search.rs         accent-blind name search
//! national.rs       what the national deployment adds (the provinces' mirrored producers and products)
//! rules/            pure regulation: access, review verdicts (unit-tested without a database)
//! ids.rs, listing.rs, fields.rs   names and etags, list order and paging, shared field checks
//! reference_data.rs the units, lineage and taxonomy loaded at start-up
//! ```
//!
//! No module imports the adapter; each resource's SQL sits in its `store`,
//! which owns the row types, with states and kinds as Rust enums.

pub mod api;
mod audit;
pub mod csv_exchange;
pub mod dataset;
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
pub mod units;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec, Surface};
use tonic::service::Routes;

pub use service::Registry;

pub use dataset::DATASET;

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
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    let tasks = ocop_kit::mirror::follow_provinces(
        &context.config,
        &context.db,
        "registry",
        |p| &p.registry_url,
        |peer| national::Provinces(ocop_kit::mirror::Mirror::of(peer, national::mirrored)),
    );
    Ok(Surface {
        grpc: Routes::new(api::grpc::server(Registry::new(context))),
        http: Default::default(),
        tasks,
    })
}
