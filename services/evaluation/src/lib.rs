//! The OCOP evaluation service: the versioned national criteria sheets
//! (1048/2019, 148/2023 and 26/2026), checked and deliberately corrected where the
//! source contradicts itself; rounds with their councils; entries checked
//! with the registry over gRPC; score sheets; results under the 2019, 2023,
//! 2025 and 2026 rules; and the procedure of Decision 26/2026 (batches, the
//! producer's dossier and the transition, the commune's report, the way to
//! the ministry and back).
//!
//! The crate's map (the service template of `docs/architecture.md`):
//!
//! ```text
//! lib.rs            this map, the platform's spec and routes
//! main.rs           eight lines
//! service.rs        the state: pool, registry and certification clients, council rules, pinned sets
//! api/grpc.rs       the thin adapter: read the caller, call one operation, map its result
//! criteria.rs       the criteria-set store: the shipped sheets loaded, versioned, served, pinned
//! rounds.rs         rounds and their councils        (rounds/store.rs: the row and its SQL;
//!                   rounds/transitions.rs: DRAFT → OPEN → SCORING, CANCELLED)
//! entries.rs        entries, one function per RPC    (store: the row and its SQL; checklist, listing, report;
//!                   admission: what an entry is rated under; commune: Mẫu 03; procedure: what it
//!                   keeps; re_rating; product_codes)
//! score_sheets.rs   the members' score sheets        (score_sheets/{body,save,submit}.rs)
//! publish.rs        publishing a round's results, and recomputing them
//! nominations.rs    the way of a result of 90 or more to the ministry, and back
//! national.rs       what the national deployment adds (mirrored results), and a province's follower of it
//! rules/            pure regulation, unit-tested without a database: criteria_sheets (the published sheets
//!                   and their checks), scoring, results (mean, stars, markers, regimes), batches
//! dataset.rs        the tables a province's export carries
//! ```
//!
//! No module imports the adapter; states are Rust enums (`rounds::State`,
//! `score_sheets::State`).

pub mod api;
pub mod criteria;
pub mod dataset;
pub mod entries;
pub mod national;
pub mod nominations;
pub mod publish;
pub mod rounds;
pub mod rules;
pub mod score_sheets;
pub mod service;

use ocop_kit::config::ServiceName;
use ocop_kit::server::{Context, ServiceSpec, Surface};
use tonic::service::Routes;

pub use dataset::DATASET;
pub use service::Evaluation;

/// Embedded migrations of the `evaluation` schema.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the platform runs this service.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Evaluation,
        grpc_service: "ocop.evaluation.v1.EvaluationService",
        migrations: &MIGRATIONS,
        public_methods: &[],
        prepare: Some(|pool| {
            Box::pin(async move {
                criteria::load_shipped(pool.clone()).await?;
                let filled = score_sheets::backfill(&pool).await?;
                if filled > 0 {
                    tracing::info!(
                        drafts = filled,
                        "score sheets saved before migration 0011 given their body"
                    );
                }
                Ok(())
            })
        }),
    }
}

/// The service's gRPC routes and its feed followers.
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    let mut tasks = ocop_kit::mirror::follow_provinces(
        &context.config,
        &context.db,
        "evaluation",
        |p| &p.evaluation_url,
        |peer| ocop_kit::mirror::Mirror::of(peer, national::mirrored),
    );
    tasks.extend(national::follow_national(&context.config, &context.db));
    Ok(Surface {
        grpc: Routes::new(api::grpc::server(Evaluation::new(context)?)),
        http: Default::default(),
        tasks,
    })
}
