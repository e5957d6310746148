//! The OCOP promotion service: the public catalog of products whose
//! certificate is in force, a read model in the promotion schema fed only by
//! the registry's and certification's change feeds, and the OCOP sales points
//! that carry them, fairs with their booths, e-commerce listings, and the
//! provinces' targets with the statistics that measure them.

pub mod catalog;
pub mod fairs;
pub mod grpc;
pub mod pages;
pub mod sales_points;
pub mod statistics;

use ocop_kit::auth::Signer;
use ocop_kit::config::{DeploymentRole, ServiceName};
use ocop_kit::follow::{Apply, Connect, Follower, with_token_file};
use ocop_kit::server::{BoxFuture, Context, ServiceSpec, Surface};
use ocop_proto::feed::v1::Change;
use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use ocop_proto::promotion::v1::promotion_service_server::PromotionServiceServer;
use sqlx::PgConnection;
use tonic::service::Routes;

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

/// Applies a change of a certification or registry feed, by its resource:
/// certificates feed the catalog, producers and products its names and the
/// statistics.
struct Changes;

impl Apply for Changes {
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, ocop_kit::Result<()>> {
        Box::pin(async move {
            if change.resource.starts_with("certificates/") {
                return catalog::apply_certification(tx, change).await;
            }
            catalog::apply_registry(tx, change).await?;
            statistics::apply_registry(tx, change).await
        })
    }
}

/// A follower of `source` (`certification`, `38/registry`, ...).
fn follow(source: String, connect: Connect, context: &Context) -> BoxFuture<'static, ()> {
    Box::pin(
        Follower {
            source,
            connect,
            db: context.db.clone(),
            apply: Changes,
        }
        .run(),
    )
}

/// Lifetime of the `service` tokens the followers present; a stream keeps
/// its connection past it, a reconnection signs a new one.
const TOKEN_TTL_S: i64 = 3600;

/// The service: ListCatalog, and the two followers that feed the catalog.
pub fn routes(context: &Context) -> Surface {
    let config = context.config.clone();
    // The followers sign their own `service` tokens with the deployment's key.
    let signer = std::fs::read_to_string(&config.auth.signing_key_path)
        .map_err(anyhow::Error::from)
        .and_then(|pem| Signer::from_pem(&pem, &config.auth.issuer))
        .map(|signer| signer.with_audience(&config.auth.audience));
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    match signer {
        Ok(signer) => {
            let signer = std::sync::Arc::new(signer);
            for (source, peer) in [
                ("certification", &config.services.certification),
                ("registry", &config.services.registry),
            ] {
                let (url, tls) = (peer.url.clone(), peer.tls.clone());
                let signer = signer.clone();
                let connect: Connect = Box::new(move || {
                    let token = signer.issue("promotion", "service", None, None, TOKEN_TTL_S)?;
                    Ok(FeedServiceClient::new(ocop_kit::client::channel(
                        &url,
                        &tls,
                        Some(&token),
                    )?))
                });
                tasks.push(follow(source.into(), connect, context));
            }
        }
        Err(e) => tracing::error!(
            error = %e,
            path = %config.auth.signing_key_path.display(),
            "no key to sign the feed followers' tokens: the catalog will not be fed"
        ),
    }
    // The national catalog and statistics: every province's feeds, followed
    // directly with the tokens the provinces issued (and their lag shown).
    if config.deployment.role == DeploymentRole::National {
        for peer in &config.federation.provinces {
            for (service, url) in [
                ("certification", &peer.certification_url),
                ("registry", &peer.registry_url),
            ] {
                let connect = with_token_file(url.clone(), peer.tls.clone(), peer.token_path.clone());
                tasks.push(follow(peer.source(service), connect, context));
            }
        }
    }
    Surface {
        grpc: Routes::new(pages::PageCache::new(PromotionServiceServer::new(grpc::Promotion {
            db: context.db.clone(),
            registry: ocop_proto::registry::v1::registry_service_client::RegistryServiceClient::new(
                ocop_kit::client::channel(&config.services.registry.url, &config.services.registry.tls, None)
                    .expect("services.registry.url is validated at start"),
            ),
            cache: context.cache.clone(),
            here: ocop_kit::jurisdiction::Jurisdiction::of(&config.deployment),
        }))),
        http: Default::default(),
        tasks,
    }
}
