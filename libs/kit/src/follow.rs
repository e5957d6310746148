//! The consuming side of the change feed. A follower reads another service's
//! feed and applies each change in a transaction of its own database that
//! also moves its cursor (`feed_cursors`): delivery is at least once, the
//! effect exactly once. It reconnects with backoff, and each change is
//! applied in a span linked to the trace that made it.

use std::time::{Duration, Instant};

use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use ocop_proto::feed::v1::{Change, WatchChangesRequest};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::client::TracedChannel;
use crate::error::Result;
use crate::feed::SHUTTING_DOWN;
use crate::server::BoxFuture;

pub mod contact;

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

/// The reason of a producer that cannot be reached or opened.
const FEED_UNAVAILABLE: &str = "FEED_UNAVAILABLE";

fn unreachable_feed(status: tonic::Status) -> crate::Error {
    use tonic_types::StatusExt;
    let reason = status.get_details_error_info().map(|i| i.reason);
    if status.code() == tonic::Code::Unavailable && reason.as_deref() == Some(SHUTTING_DOWN) {
        return crate::Error::unavailable(SHUTTING_DOWN, "the producer is shutting down");
    }
    crate::Error::unavailable(
        FEED_UNAVAILABLE,
        format!("the feed answered {:?}: {}", status.code(), status.message()),
    )
}

/// Most changes applied in one transaction.
const BATCH: usize = 500;

/// First and longest pause between reconnections.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// How long after its producer said it was shutting down a follower expects
/// not to reach it (a restart, a rolling deploy) before it warns.
const RESTART: Duration = Duration::from_secs(60);

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
        // Since when the producer is known to be restarting: until it is back
        // (or for [`RESTART`]), failing to reach it is expected, not a fault.
        let mut restarting: Option<Instant> = None;
        loop {
            let mut connected = false;
            let result = self.session(&mut connected).await;
            if connected {
                pause = BACKOFF.0;
                restarting = None;
            }
            let Err(e) = result else { continue };
            let retry_in_ms = pause.as_millis() as u64;
            if e.reason() == SHUTTING_DOWN {
                restarting = Some(Instant::now());
                tracing::info!(source = %self.source, retry_in_ms, "the feed's producer is shutting down; reconnecting");
            } else if e.reason() == FEED_UNAVAILABLE && restarting.is_some_and(|since| since.elapsed() < RESTART) {
                tracing::info!(source = %self.source, error = %e, retry_in_ms, "the feed's producer is not back yet");
            } else {
                tracing::warn!(source = %self.source, error = %e, retry_in_ms, "feed interrupted");
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(BACKOFF.1);
        }
    }

    /// One connection: until the stream ends or fails. Changes that arrive
    /// together (a replay, a burst) are applied together, up to [`BATCH`] per
    /// transaction, which is what lets a follower catch up from zero quickly.
    /// `connected` turns true once the stream is open.
    async fn session(&self, connected: &mut bool) -> Result<()> {
        let after = self.cursor().await?;
        let mut feed = (self.connect)().map_err(|e| {
            crate::Error::unavailable(FEED_UNAVAILABLE, format!("cannot open the {} feed: {e:#}", self.source))
        })?;
        let opened = feed
            .watch_changes(WatchChangesRequest { after_sequence: after })
            .await
            .map_err(unreachable_feed);
        let mut stream = match opened {
            Ok(stream) => stream.into_inner(),
            Err(e) => {
                contact::lost(&self.source);
                return Err(e);
            }
        };
        *connected = true;
        contact::made(&self.source, after);
        tracing::info!(source = %self.source, after, "following the feed");
        let result = async {
            let mut batch = Vec::new();
            while let Some(message) = stream.message().await.map_err(unreachable_feed)? {
                batch.extend(message.change);
                // Whatever else is already received, without waiting for more.
                while batch.len() < BATCH {
                    match tokio::time::timeout(Duration::ZERO, stream.message()).await {
                        Ok(next) => match next.map_err(unreachable_feed)? {
                            Some(message) => batch.extend(message.change),
                            None => break,
                        },
                        Err(_pending) => break,
                    }
                }
                if let Some(last) = batch.last().map(|c| c.sequence) {
                    self.apply_batch(&batch).await?;
                    contact::applied(&self.source, last);
                    batch.clear();
                }
            }
            Ok(())
        }
        .await;
        contact::lost(&self.source);
        result
    }

    /// Applies `changes` (in feed order) and moves the cursor past the last,
    /// in one transaction; changes at or behind the cursor are skipped.
    pub async fn apply_batch(&self, changes: &[Change]) -> Result<()> {
        let Some(last) = changes.last() else { return Ok(()) };
        let mut tx = self.db.begin().await?;
        let cursor: Option<i64> = sqlx::query_scalar("SELECT sequence FROM feed_cursors WHERE source = $1 FOR UPDATE")
            .bind(&self.source)
            .fetch_optional(&mut *tx)
            .await?;
        let cursor = cursor.unwrap_or(0);
        if last.sequence <= cursor {
            return Ok(());
        }
        for change in changes.iter().filter(|c| c.sequence > cursor) {
            self.apply.apply(&mut tx, change).instrument(self.span(change)).await?;
        }
        sqlx::query(
            "INSERT INTO feed_cursors (source, sequence) VALUES ($1, $2)
             ON CONFLICT (source) DO UPDATE SET sequence = EXCLUDED.sequence, update_time = now()",
        )
        .bind(&self.source)
        .bind(last.sequence)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The span of one applied change, linked to the trace that made it.
    fn span(&self, change: &Change) -> tracing::Span {
        let span = tracing::info_span!(
            "feed.apply",
            source = %self.source,
            sequence = change.sequence,
            resource = %change.resource,
            kind = %change.kind
        );
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let producer = crate::telemetry::span_context_of(&change.traceparent);
        if producer.is_valid() {
            span.add_link(producer);
        }
        span
    }
}

/// Opens `url`'s feed with the `service` token another deployment issued,
/// read from `token_path` at each connection (so a renewed token is used).
pub fn with_token_file(url: String, tls: crate::config::PeerTls, token_path: std::path::PathBuf) -> Connect {
    Box::new(move || {
        let token = std::fs::read_to_string(&token_path)
            .map_err(|e| anyhow::anyhow!("cannot read the feed token {}: {e}", token_path.display()))?;
        Ok(FeedServiceClient::new(crate::client::channel(
            &url,
            &tls,
            Some(token.trim()),
        )?))
    })
}
