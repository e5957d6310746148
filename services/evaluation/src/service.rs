//! The evaluation service's state: the pool, the clients of the registry and
//! certification, the council rules, the decoded criteria sets entries pin,
//! and where this deployment stands. Built once by [`Evaluation::new`] and
//! shared by every operation; the adapter (`api/grpc.rs`) only reads requests
//! into calls on it.

use anyhow::Context as _;
use ocop_kit::client::TracedChannel;
use ocop_kit::config::{DeploymentRole, EvaluationConfig};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::server::Context;
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;

use crate::criteria::PinnedSets;

/// The state every operation of the evaluation service takes.
#[derive(Clone)]
pub struct Evaluation {
    /// The evaluation schema's pool.
    pub db: PgPool,
    /// The registry service (products, producers, dossiers), over gRPC with trace propagation.
    pub registry: RegistryServiceClient<TracedChannel>,
    /// The certification service (re-rating applications, Decision 26/2026 Điều 7.6), over gRPC.
    pub certification: CertificationServiceClient<TracedChannel>,
    /// Quorum and spread limit (`[evaluation]` in the configuration).
    pub rules: EvaluationConfig,
    /// Criteria sets pinned by entries, decoded once.
    pub sets: PinnedSets,
    /// Whether this is the national deployment (it mirrors the provinces' results).
    pub national: bool,
    /// The province this deployment's rounds are of (none nationally: central rounds only).
    pub here: Jurisdiction,
}

impl Evaluation {
    /// The state of a running service, from the platform's context. Fails,
    /// naming the key, when a peer's URL is unusable.
    pub fn new(context: &Context) -> anyhow::Result<Evaluation> {
        let config = &context.config;
        // Lazy channels: the registry and certification may start after this service.
        let registry =
            ocop_kit::client::service_channel(&config.services.registry, None).context("services.registry")?;
        let certification = ocop_kit::client::service_channel(&config.services.certification, None)
            .context("services.certification")?;
        Ok(Evaluation {
            db: context.db.clone(),
            registry: RegistryServiceClient::new(registry),
            certification: CertificationServiceClient::new(certification),
            rules: config.evaluation.clone(),
            sets: PinnedSets::default(),
            national: config.deployment.role == DeploymentRole::National,
            here: Jurisdiction::of(&config.deployment),
        })
    }
}
