//! Rows another deployment owns, kept here as that deployment's feed last
//! described them: the national deployment mirrors every province's
//! producers, products, results and certificates, and a province mirrors the
//! 5-star certificates the national deployment issued for it.
//!
//! A mirrored row is read-only here (it changes only through its owner's
//! feed), sits in the service's `mirrored` table beside its own tables, and
//! keeps its resource name: names carry no province and are unique across
//! deployments (UUIDs, or codes prefixed with the issuing province).

use ocop_proto::feed::v1::Change;
use sqlx::{PgConnection, PgPool};

use crate::error::{Error, Result};
use crate::follow::Apply;
use crate::server::BoxFuture;

/// Chooses the changes to keep and the label to keep each under (`None`: not kept).
pub type Keep = Box<dyn Fn(&Change) -> Option<&'static str> + Send + Sync>;

/// A follower's [`Apply`] that mirrors another deployment's changes.
pub struct Mirror {
    /// Who owns the rows: a province code, or `national`.
    pub origin: String,
    /// Which changes are kept, and under which label.
    pub keep: Keep,
    /// Whether a kept change is also written to this service's own feed, for
    /// this deployment's own followers (a province's catalog learns of its
    /// national 5-star certificates through its own certification feed).
    pub pass_on: bool,
}

impl Apply for Mirror {
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(label) = (self.keep)(change) else {
                return Ok(());
            };
            // The time is the statement's, not the batch transaction's: it says
            // when this change arrived (lag figures read it).
            // The owner check makes a name clash between two deployments
            // visible instead of letting one overwrite the other's row.
            let kept: i64 = sqlx::query_scalar(
                "WITH kept AS (
                     INSERT INTO mirrored (resource, origin, label, kind, payload, sequence, update_time)
                     VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())
                     ON CONFLICT (resource) DO UPDATE SET label = EXCLUDED.label, kind = EXCLUDED.kind,
                         payload = EXCLUDED.payload, sequence = EXCLUDED.sequence, update_time = EXCLUDED.update_time
                     WHERE mirrored.origin = EXCLUDED.origin
                     RETURNING resource),
                 passed AS (
                     INSERT INTO outbox (resource, change, payload, traceparent)
                     SELECT resource, $4, $5, NULLIF($7, '') FROM kept WHERE $8)
                 SELECT count(*) FROM kept",
            )
            .bind(&change.resource)
            .bind(&self.origin)
            .bind(label)
            .bind(&change.kind)
            .bind(&change.payload)
            .bind(change.sequence)
            .bind(&change.traceparent)
            .bind(self.pass_on)
            .fetch_one(&mut *tx)
            .await?;
            if kept == 0 {
                metrics::counter!("ocop_mirror_conflicts_total", "origin" => self.origin.clone()).increment(1);
                tracing::error!(
                    origin = %self.origin,
                    resource = %change.resource,
                    "a mirrored name is already owned by another deployment; the change is skipped"
                );
            }
            Ok(())
        })
    }
}

/// A mirrored row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Mirrored {
    /// Its name.
    pub resource: String,
    /// Who owns it.
    pub origin: String,
    /// The label it was kept under.
    pub label: String,
    /// Its last change's kind.
    pub kind: String,
    /// The resource as its owner last described it (protobuf).
    pub payload: Vec<u8>,
}

/// The mirrored row named `resource`, if any.
pub async fn get<'e, E: sqlx::PgExecutor<'e>>(db: E, resource: &str) -> Result<Option<Mirrored>> {
    Ok(
        sqlx::query_as("SELECT resource, origin, label, kind, payload FROM mirrored WHERE resource = $1")
            .bind(resource)
            .fetch_optional(db)
            .await?,
    )
}

/// The mirrored resource named `resource`, decoded, if any.
pub async fn find<M: prost::Message + Default>(db: &PgPool, resource: &str) -> Result<Option<M>> {
    let Some(row) = get(db, resource).await? else {
        return Ok(None);
    };
    M::decode(row.payload.as_slice())
        .map(Some)
        .map_err(|e| Error::internal(format!("mirrored {resource} does not decode: {e}")))
}

/// What to answer a write to `resource` that is not among this service's own
/// rows: the refusal to write a mirrored row, or NOT_FOUND.
pub async fn missing<'e, E: sqlx::PgExecutor<'e>>(db: E, resource: &str) -> Error {
    match get(db, resource).await {
        Ok(Some(row)) => read_only(&row),
        Ok(None) => Error::not_found(resource),
        Err(e) => e,
    }
}

/// Up to `limit` rows labelled `label`, by name, after the name `after`.
pub async fn page(db: &PgPool, label: &str, after: &str, limit: i64) -> Result<Vec<Mirrored>> {
    Ok(sqlx::query_as(
        "SELECT resource, origin, label, kind, payload FROM mirrored
         WHERE label = $1 AND resource > $2 ORDER BY resource LIMIT $3",
    )
    .bind(label)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The refusal of a write to a mirrored row.
pub fn read_only(row: &Mirrored) -> Error {
    let owner = if row.origin == "national" {
        "the national deployment".to_owned()
    } else {
        format!("province {}'s deployment", row.origin)
    };
    Error::failed_precondition(
        "MIRRORED_READ_ONLY",
        format!(
            "{} belongs to {owner} and is only mirrored here; change it there",
            row.resource
        ),
    )
}

impl Mirror {
    /// Mirrors what `keep` chooses of `peer`'s feed, without passing it on.
    pub fn of(peer: &crate::config::Peer, keep: fn(&Change) -> Option<&'static str>) -> Mirror {
        Mirror {
            origin: peer.province_code.clone(),
            keep: Box::new(keep),
            pass_on: false,
        }
    }
}

/// On the national deployment, one follower per province in the
/// configuration, applying that province's `service` feed (reached at
/// `url_of(peer)`) with `apply(peer)` into `db`; none elsewhere.
pub fn follow_provinces<A: Apply>(
    config: &crate::config::Config,
    db: &PgPool,
    service: &str,
    url_of: fn(&crate::config::Peer) -> &str,
    apply: impl Fn(&crate::config::Peer) -> A,
) -> Vec<BoxFuture<'static, ()>> {
    if config.deployment.role != crate::config::DeploymentRole::National {
        return Vec::new();
    }
    config
        .federation
        .provinces
        .iter()
        .map(|peer| {
            let follower = crate::follow::Follower {
                source: peer.source(service),
                connect: crate::follow::with_token_file(
                    url_of(peer).to_owned(),
                    peer.tls.clone(),
                    peer.token_path.clone(),
                ),
                db: db.clone(),
                apply: apply(peer),
            };
            Box::pin(follower.run()) as BoxFuture<'static, ()>
        })
        .collect()
}

/// On a province's deployment that follows the national one
/// (`federation.national`), the follower of the national `service` feed
/// at `url_of(national)`, applying with `apply(province)`; none elsewhere,
/// or when that URL is empty. With [`follow_provinces`], the one way a
/// service follows another deployment.
pub fn follow_national<A: Apply>(
    config: &crate::config::Config,
    db: &PgPool,
    service: &str,
    url_of: fn(&crate::config::Peer) -> &str,
    apply: impl FnOnce(String) -> A,
) -> Option<BoxFuture<'static, ()>> {
    let national = config.federation.national.as_ref()?;
    let province = config.deployment.province_code.clone()?;
    let url = url_of(national);
    if url.is_empty() {
        return None;
    }
    let follower = crate::follow::Follower {
        source: national.source(service),
        connect: crate::follow::with_token_file(url.to_owned(), national.tls.clone(), national.token_path.clone()),
        db: db.clone(),
        apply: apply(province),
    };
    Some(Box::pin(follower.run()))
}
