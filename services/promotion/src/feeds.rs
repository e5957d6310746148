//! The followers that keep the catalog and the statistics: this
//! deployment's certification and registry feeds (and, in the national
//! deployment, every province's: see [`crate::national`]).

use std::sync::Arc;

use ocop_kit::auth::Signer;
use ocop_kit::follow::{Apply, Connect, Follower};
use ocop_kit::server::{BoxFuture, Context};
use ocop_proto::feed::v1::Change;
use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use sqlx::PgConnection;

use crate::{catalog, statistics};

/// Lifetime of the `service` tokens the followers present; a stream keeps
/// its connection past it, a reconnection signs a new one.
const TOKEN_TTL_S: i64 = 3600;

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
pub(crate) fn follow(source: String, connect: Connect, context: &Context) -> BoxFuture<'static, ()> {
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

/// The followers of this deployment's certification and registry feeds,
/// which sign their own `service` tokens with the deployment's key. Without
/// the key nothing would feed the catalog, so the service does not start.
pub fn local(context: &Context) -> anyhow::Result<Vec<BoxFuture<'static, ()>>> {
    use anyhow::Context as _;
    let config = &context.config;
    let path = &config.auth.signing_key_path;
    let signer = std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|pem| Signer::from_pem(&pem, &config.auth.issuer))
        .map(|signer| Arc::new(signer.with_audience(&config.auth.audience)))
        .with_context(|| {
            format!(
                "auth.signing_key_path {}: the feed followers sign their tokens with it, and without them the catalog is not fed",
                path.display()
            )
        })?;
    Ok([
        ("certification", &config.services.certification),
        ("registry", &config.services.registry),
    ]
    .into_iter()
    .map(|(source, peer)| {
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
        follow(source.into(), connect, context)
    })
    .collect())
}
