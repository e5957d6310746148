//! The OCOP certification service: certificates issued from published
//! evaluation results under the authority rules of their decision date,
//! signed so that a QR code can be checked offline, verified publicly by RPC
//! and on a web page, renewed, upgraded, revoked and expired, each step kept
//! in an append-only history and written to the change feed.

pub mod authority;
pub mod clock;
pub mod events;
pub mod federation;
pub mod grounds;
pub mod grpc;
pub mod inspections;
pub mod issue;
pub mod issuers;
pub mod keys;
pub mod page;
pub mod proposals;
pub mod re_rating;
pub mod revoke;
pub mod store;
pub mod sweep;
pub mod validity;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use ocop_kit::config::{DeploymentRole, ServiceName};
use ocop_kit::server::{BoxFuture, Context, ServiceSpec, Surface};
use ocop_proto::certification::v1::certification_service_server::CertificationServiceServer;
use tonic::service::Routes;

/// Embedded migrations of the `certification` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Certification,
        grpc_service: "ocop.certification.v1.CertificationService",
        migrations: &MIGRATIONS,
        public_methods: &[
            "/ocop.certification.v1.CertificationService/VerifyCertificate",
            "/ocop.certification.v1.CertificationService/GetSigningKeys",
        ],
        prepare: None,
    }
}

/// The service's state, built from its context.
pub fn service(context: &Context) -> anyhow::Result<grpc::Certification> {
    use anyhow::Context as _;
    let config = &context.config;
    let services = &config.services;
    // Lazy channels: the other services may start after this one.
    let evaluation = ocop_kit::client::service_channel(&services.evaluation, None)
        .expect("services.evaluation.url is validated at start");
    let registry = ocop_kit::client::service_channel(&services.registry, None)
        .expect("services.registry.url is validated at start");
    let keys = keys::Keys::load_or_create(&config.certification.signing_key_path).with_context(|| {
        format!(
            "certification.signing_key_path {}",
            config.certification.signing_key_path.display()
        )
    })?;
    Ok(grpc::Certification {
        db: context.db.clone(),
        cache: context.cache.clone(),
        evaluation: ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient::new(evaluation),
        registry: ocop_proto::registry::v1::registry_service_client::RegistryServiceClient::new(registry),
        keys: Arc::new(keys),
        limiter: Arc::new(ocop_kit::ratelimit::Limiter::new(config).context("redis.url")?),
        verify_limit: ocop_kit::ratelimit::Rule::verify(config),
        public_url: config.certification.public_url.clone(),
        national: config.deployment.role == DeploymentRole::National,
        here: ocop_kit::jurisdiction::Jurisdiction::of(&config.deployment),
        mirrors: config.deployment.role == DeploymentRole::National || config.federation.national.is_some(),
        clock: clock::Clock::Vietnam,
    })
}

/// The service: gRPC, the verify page, and the expiry sweep.
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    routes_with(context, clock::Clock::Vietnam)
}

/// The service reading its rules on `clock`'s days (tests of dated rules).
pub fn routes_with(context: &Context, clock: clock::Clock) -> anyhow::Result<Surface> {
    let mut svc = service(context)?;
    svc.clock = clock;
    let interval = Duration::from_secs(context.config.certification.sweep_interval_s);
    let followers = federation::followers(&context.config, &svc);
    Ok(Surface {
        grpc: Routes::new(CertificationServiceServer::new(svc.clone())),
        http: page::router(svc.clone()),
        tasks: [Box::pin(sweep::run(svc, interval)) as BoxFuture<'static, ()>]
            .into_iter()
            .chain(followers)
            .collect(),
    })
}
