//! The promotion service's state: built once from the platform's context
//! and shared by every operation. No module imports the adapter; the
//! adapter and the operations import this.

use std::time::Duration;

use ocop_kit::cache::Cache;
use ocop_kit::client::TracedChannel;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::server::Context;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;

/// How long a public catalog page or statistics answer is served as is;
/// after that it is still served while one background load replaces it.
pub const PUBLIC_FRESH: Duration = Duration::from_millis(500);
/// The oldest answer ever served. The feeds lag by a fraction of a second, so
/// a revocation leaves the catalog well within its 2 s; expiry is re-checked
/// on every read anyway.
pub const PUBLIC_KEEP: Duration = Duration::from_millis(1200);

/// What the operations work with.
#[derive(Clone)]
pub struct Promotion {
    /// The promotion schema's pool.
    pub db: PgPool,
    /// Where communes are resolved to their province.
    pub registry: RegistryServiceClient<TracedChannel>,
    /// Public reads, reused for up to [`PUBLIC_KEEP`].
    pub cache: Cache,
    /// The province whose sales points, fairs, listings and targets this
    /// deployment writes.
    pub here: Jurisdiction,
}

impl Promotion {
    /// The state of the service running in `context`. The registry channel
    /// is lazy: the registry may start after this service.
    pub fn new(context: &Context) -> Promotion {
        let config = &context.config;
        let registry = ocop_kit::client::service_channel(&config.services.registry, None)
            .expect("services.registry is validated at start");
        Promotion {
            db: context.db.clone(),
            registry: RegistryServiceClient::new(registry),
            cache: context.cache.clone(),
            here: Jurisdiction::of(&config.deployment),
        }
    }
}
