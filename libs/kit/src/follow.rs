//! The consuming side of the change feed. A follower reads another service's
//! feed and applies each change in a transaction of its own database that
//! also moves its cursor (`feed_cursors`): delivery is at least once, the
//! effect exactly once. It reconnects with backoff, and each change is
//! applied in a span linked to the trace that made it.

use std::time::Duration;

use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use ocop_proto::feed::v1::{Change, WatchChangesRequest};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::client::TracedChannel;
use crate::error::Result;
use crate::server::BoxFuture;

/// What a follower does with one change, inside its transaction.
pub trait Apply: Send + Sync + 'static {
    /// Applies `change`; an error rolls the change back and the follower retries it.
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, Result<()>>;
}

/// Opens the producer's feed with a fresh `service` token; called for every
/// (re)connection, so a token only has to outlive the start of a stream.
pub type Connect = Box<dyn Fn() -> anyhow::Result<FeedServiceClient<TracedChannel>> + Send + Sync>;

/// One feed followed into one database.
pub struct Follower<A> {
    /// The cursor's name, e.g. `certification`.
    pub source: String,
    /// How to reach the producer's feed.
    pub connect: Connect,
    /// The consumer's pool (its schema has `feed_cursors`).
    pub db: PgPool,
    /// What to do with each change.
    pub apply: A,
}

fn unreachable_feed(status: tonic::Status) -> crate::Error {
    crate::Error::unavailable(
        "FEED_UNAVAILABLE",
        format!("the feed answered {:?}: {}", status.code(), status.message()),
    )
}

/// First and longest pause between reconnections.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

impl<A: Apply> Follower<A> {
    /// The last sequence applied.
    pub async fn cursor(&self) -> Result<i64> {
        let cursor: Option<i64> = sqlx::query_scalar("SELECT sequence FROM feed_cursors WHERE source = $1")
            .bind(&self.source)
            .fetch_optional(&self.db)
            .await?;
        Ok(cursor.unwrap_or(0))
    }

    /// Follows forever: replays from the cursor, then applies changes as they come.
    pub async fn run(self) {
        let mut pause = BACKOFF.0;
        loop {
            match self.session().await {
                Ok(()) => pause = BACKOFF.0,
                Err(e) => {
                    tracing::warn!(source = %self.source, error = %e, retry_in_ms = pause.as_millis() as u64, "feed interrupted");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(BACKOFF.1);
                }
            }
        }
    }

    /// One connection: until the stream ends or fails.
    async fn session(&self) -> Result<()> {
        let after = self.cursor().await?;
        let mut feed = (self.connect)().map_err(|e| {
            crate::Error::unavailable(
                "FEED_UNAVAILABLE",
                format!("cannot open the {} feed: {e:#}", self.source),
            )
        })?;
        let mut stream = feed
            .watch_changes(WatchChangesRequest { after_sequence: after })
            .await
            .map_err(unreachable_feed)?
            .into_inner();
        while let Some(message) = stream.message().await.map_err(unreachable_feed)? {
            let Some(change) = message.change else { continue };
            self.one(&change).await?;
        }
        Ok(())
    }

    /// Applies one change and moves the cursor, in one transaction; a change
    /// at or behind the cursor (a redelivery) is skipped.
    pub async fn one(&self, change: &Change) -> Result<()> {
        let span = tracing::info_span!(
            "feed.apply",
            source = %self.source,
            sequence = change.sequence,
            resource = %change.resource,
            kind = %change.kind
        );
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let producer = crate::telemetry::span_context_of(&change.traceparent);
            if producer.is_valid() {
                span.add_link(producer);
            }
        }
        async {
            let mut tx = self.db.begin().await?;
            let cursor: Option<i64> =
                sqlx::query_scalar("SELECT sequence FROM feed_cursors WHERE source = $1 FOR UPDATE")
                    .bind(&self.source)
                    .fetch_optional(&mut *tx)
                    .await?;
            if cursor.is_some_and(|c| c >= change.sequence) {
                return Ok(());
            }
            self.apply.apply(&mut tx, change).await?;
            sqlx::query(
                "INSERT INTO feed_cursors (source, sequence) VALUES ($1, $2)
                 ON CONFLICT (source) DO UPDATE SET sequence = EXCLUDED.sequence, update_time = now()",
            )
            .bind(&self.source)
            .bind(change.sequence)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .instrument(span)
        .await
    }
}
