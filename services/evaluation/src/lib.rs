//! The OCOP evaluation service: the versioned national criteria sheets
//! (1048/2019, 148/2023 and 26/2026), checked and deliberately corrected where the
//! source contradicts itself; rounds with their councils; entries checked
//! with the registry over gRPC; score sheets; results under the 2019, 2023,
//! 2025 and 2026 rules; and the procedure of Decision 26/2026 (batches, the
//! producer's dossier and the transition, the commune's report, the way to
//! the ministry and back).

pub mod admission;
pub mod batches;
pub mod commune;
pub mod criteria;
pub mod dataset;
pub mod entries;
pub mod grpc;
pub mod national;
pub mod nominations;
pub mod procedure;
pub mod product_codes;
pub mod publish;
pub mod re_rating;
pub mod results;
pub mod rounds;
pub mod scoring;
pub mod sheet;
pub mod sheets;
pub mod transitions;

use ocop_kit::config::{DeploymentRole, ServiceName};
use ocop_kit::server::{Context, ServiceSpec, Surface};
use ocop_proto::evaluation::v1::evaluation_service_server::EvaluationServiceServer;
use tonic::service::Routes;

pub use dataset::DATASET;

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
                let filled = sheets::backfill(&pool).await?;
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

/// The service's gRPC routes.
pub fn routes(context: &Context) -> anyhow::Result<Surface> {
    // A lazy channel: the registry may start after this service.
    let channel = ocop_kit::client::service_channel(&context.config.services.registry, None)
        .expect("services.registry.url is validated at start");
    let registry = ocop_proto::registry::v1::registry_service_client::RegistryServiceClient::new(channel);
    // Re-rating entries read their application there (Decision 26/2026 Điều 7.6).
    let channel = ocop_kit::client::service_channel(&context.config.services.certification, None)
        .expect("services.certification.url is validated at start");
    let certification =
        ocop_proto::certification::v1::certification_service_client::CertificationServiceClient::new(channel);
    let rules = context.config.evaluation.clone();
    let national = context.config.deployment.role == DeploymentRole::National;
    let mut tasks = ocop_kit::mirror::follow_provinces(
        &context.config,
        &context.db,
        "evaluation",
        |p| &p.evaluation_url,
        |peer| ocop_kit::mirror::Mirror::of(peer, national::mirrored),
    );
    tasks.extend(national::follow_national(&context.config, &context.db));
    Ok(Surface {
        grpc: Routes::new(EvaluationServiceServer::new(grpc::Evaluation {
            db: context.db.clone(),
            registry,
            certification,
            rules,
            sets: Default::default(),
            national,
            here: ocop_kit::jurisdiction::Jurisdiction::of(&context.config.deployment),
        })),
        http: Default::default(),
        tasks,
    })
}
