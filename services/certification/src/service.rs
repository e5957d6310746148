//! The certification service's state: the pool, the cache, the clients of
//! evaluation and the registry, the signing key, the verify budget and where
//! this deployment stands. Built once by [`Certification::new`] and shared by
//! every operation, the verify page, the sweep and the followers; the
//! adapters (`api/`) only read requests into calls on it.

use std::sync::Arc;

use anyhow::Context as _;
use ocop_kit::cache::Cache;
use ocop_kit::client::TracedChannel;
use ocop_kit::config::DeploymentRole;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::ratelimit::{Limiter, Rule};
use ocop_kit::server::Context;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;

use crate::clock::Clock;
use crate::keys::Keys;

/// The state every operation of the certification service takes.
#[derive(Clone)]
pub struct Certification {
    /// The certification schema's pool.
    pub db: PgPool,
    /// Verifications by code.
    pub cache: Cache,
    /// Where results come from.
    pub evaluation: EvaluationServiceClient<TracedChannel>,
    /// Where product, producer and unit names come from.
    pub registry: RegistryServiceClient<TracedChannel>,
    /// This deployment's signing key.
    pub keys: Arc<Keys>,
    /// Rate limits per client address, and who the client is behind a proxy.
    pub limiter: Arc<Limiter>,
    /// The budget of verifications (page and RPC together).
    pub verify_limit: Rule,
    /// Base URL of the verify page, for QR payloads.
    pub public_url: String,
    /// A national deployment (issues 5 stars only).
    pub national: bool,
    /// The province whose certificates this deployment issues and revokes
    /// (none nationally: central ones only).
    pub here: Jurisdiction,
    /// Whether it keeps other deployments' certificates (national, or a
    /// province following the national feed): only then does a code unknown
    /// here cost a look in `mirrored`.
    pub mirrors: bool,
    /// Where "today" comes from.
    pub clock: Clock,
}

impl Certification {
    /// The state of a running service, from the platform's context, reading
    /// its rules on `clock`'s days. Fails, naming the key, when the signing
    /// key cannot be read or made, or Redis's URL is unusable.
    pub fn new(context: &Context, clock: Clock) -> anyhow::Result<Certification> {
        let config = &context.config;
        let services = &config.services;
        // Lazy channels: the other services may start after this one.
        let evaluation =
            ocop_kit::client::service_channel(&services.evaluation, None).context("services.evaluation")?;
        let registry = ocop_kit::client::service_channel(&services.registry, None).context("services.registry")?;
        let path = &config.certification.signing_key_path;
        let keys =
            Keys::load_or_create(path).with_context(|| format!("certification.signing_key_path {}", path.display()))?;
        let national = config.deployment.role == DeploymentRole::National;
        Ok(Certification {
            db: context.db.clone(),
            cache: context.cache.clone(),
            evaluation: EvaluationServiceClient::new(evaluation),
            registry: RegistryServiceClient::new(registry),
            keys: Arc::new(keys),
            limiter: Arc::new(Limiter::new(config).context("redis.url")?),
            verify_limit: Rule::verify(config),
            public_url: config.certification.public_url.clone(),
            national,
            here: Jurisdiction::of(&config.deployment),
            mirrors: national || config.federation.national.is_some(),
            clock,
        })
    }

    /// Today, the day the rules are read on.
    pub fn today(&self) -> time::Date {
        self.clock.today()
    }
}
