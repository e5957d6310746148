//! The OCOP certification service: certificates issued from published
//! evaluation results under the authority rules of their decision date,
//! signed so that a QR code can be checked offline, verified publicly by RPC
//! and on a web page, renewed, upgraded, revoked and expired, each step kept
//! in an append-only history and written to the change feed.
//!
//! The crate's map (the service template of `docs/architecture.md`):
//!
//! ```text
//! lib.rs            this map, the platform's spec and routes
//! main.rs           eight lines
//! service.rs        the state: pool, cache, clients, signing key, verify budget, settings
//! api/grpc.rs       the thin adapter: read the caller, call one operation, map its result
//! api/http.rs       the verify page a phone opens from a QR code
//! certificates.rs   certificates: get, list, expiring, history
//! certificates/     issue.rs (IssueCertificate, in steps), issuers.rs (the authority and the names),
//!                   revoke.rs, store.rs (the SQL and the row), events.rs (history, audit, feed, cache)
//! inspections.rs    inspections and their revocation proposals' records
//! proposals.rs      the review of a revocation proposal
//! re_rating.rs      re-rating applications and extensions (Decision 26/2026 Điều 12)
//! verify.rs         VerifyCertificate, by RPC and for the page
//! keys.rs           the signing key, the published keys and the offline QR check
//! national.rs       what the national deployment adds (following provinces, mirrored certificates)
//! sweep.rs          the background expiry sweep
//! clock.rs          where "today" comes from (fixed in tests of dated rules)
//! rules/            pure regulation: authority, validity, grounds, issuing (unit-tested without a database)
//! ```
//!
//! No module imports the adapters; the state is in `service.rs`.

pub mod api;
pub mod certificates;
pub mod clock;
pub mod dataset;
pub mod inspections;
pub mod keys;
pub mod national;
pub mod proposals;
pub mod re_rating;
pub mod rules;
pub mod service;
pub mod sweep;
pub mod verify;

use std::time::Duration;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{BoxFuture, Context, ServiceSpec, Surface};
use tonic::service::Routes;

pub use dataset::DATASET;

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

pub use service::Certification;

/// The service: gRPC, the verify page, and the expiry sweep.
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    routes_with(context, clock::Clock::Vietnam)
}

/// The service reading its rules on `clock`'s days (tests of dated rules).
pub fn routes_with(context: &Context, clock: clock::Clock) -> anyhow::Result<Surface> {
    let svc = Certification::new(context, clock)?;
    let interval = Duration::from_secs(context.config.certification.sweep_interval_s);
    let followers = national::followers(&context.config, &svc);
    Ok(Surface {
        grpc: Routes::new(api::grpc::server(svc.clone())),
        http: api::http::router(svc.clone()),
        tasks: [Box::pin(sweep::run(svc, interval)) as BoxFuture<'static, ()>]
            .into_iter()
            .chain(followers)
            .collect(),
    })
}
