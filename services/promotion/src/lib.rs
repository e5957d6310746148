//! The OCOP promotion service: the public catalog of products whose
//! certificate is in force, a read model in the promotion schema fed only by
//! the registry's and certification's change feeds, and the OCOP sales points
//! that carry them, fairs with their booths, e-commerce listings, and the
//! provinces' targets with the statistics that measure them.
//!
//! The crate follows the platform's service template:
//! - [`service`]: the state (pool, registry client, cache, jurisdiction);
//! - [`api`]: the gRPC adapter and, in front of it, the cache of encoded
//!   catalog pages;
//! - a module per resource with its operations: [`catalog`],
//!   [`sales_points`] (its SQL in `sales_points/store.rs`), [`fairs`],
//!   [`listings`], [`targets`], [`statistics`], [`exports`];
//! - [`feeds`]: the followers of this deployment's feeds, and [`national`]:
//!   what the national deployment adds.

pub mod api;
pub mod catalog;
pub mod dataset;
pub mod exports;
pub mod fairs;
pub mod feeds;
pub mod listings;
pub mod national;
pub mod sales_points;
pub mod service;
pub mod statistics;
pub mod targets;
mod writes;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec, Surface};
use ocop_proto::promotion::v1::promotion_service_server::PromotionServiceServer;
use tonic::service::Routes;

pub use dataset::DATASET;

/// Embedded migrations of the `promotion` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Promotion,
        grpc_service: "ocop.promotion.v1.PromotionService",
        migrations: &MIGRATIONS,
        public_methods: &[
            "/ocop.promotion.v1.PromotionService/ListCatalog",
            "/ocop.promotion.v1.PromotionService/GetStatistics",
            "/ocop.promotion.v1.PromotionService/ExportCatalog",
            "/ocop.promotion.v1.PromotionService/ExportStatistics",
        ],
        prepare: None,
    }
}

/// The service: its gRPC routes, and the followers that feed the catalog.
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    let promotion = service::Promotion::new(context);
    let adapter = PromotionServiceServer::new(api::grpc::Adapter(promotion));
    Ok(Surface {
        grpc: Routes::new(api::page_cache::PageCache::new(adapter)),
        http: Default::default(),
        tasks: feeds::local(context)?
            .into_iter()
            .chain(national::followers(context))
            .collect(),
    })
}
