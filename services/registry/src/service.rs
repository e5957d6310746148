//! The registry's state: the pool, the cache, the unit directory, where this
//! deployment writes and the export slots. Built once by [`Registry::new`]
//! and shared by every operation; the adapter (`api/grpc.rs`) only reads
//! requests into calls on it.

use ocop_kit::cache::Cache;
use ocop_kit::config::DeploymentRole;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::server::Context;
use sqlx::PgPool;

use crate::csv_exchange::ExportSlots;
use crate::units::Units;

/// The state every operation of the registry takes.
#[derive(Clone)]
pub struct Registry {
    /// The registry schema's pool.
    pub db: PgPool,
    /// The shared cache (units, producers, products).
    pub cache: Cache,
    /// Administrative units (lookups other resources check codes against).
    pub units: Units,
    /// The province this deployment writes.
    pub here: Jurisdiction,
    /// Whether this is the national deployment (search covers every province's products).
    pub national: bool,
    /// Bounds the exports running at once, so they leave connections for other requests.
    pub exports: ExportSlots,
}

impl Registry {
    /// The state of a running service, from the platform's context.
    pub fn new(context: &Context) -> Registry {
        let (db, cache) = (context.db.clone(), context.cache.clone());
        Registry {
            units: Units::new(db.clone(), cache.clone()),
            db,
            cache,
            here: Jurisdiction::of(&context.config.deployment),
            national: context.config.deployment.role == DeploymentRole::National,
            exports: ExportSlots::for_pool(&context.config.database),
        }
    }
}
