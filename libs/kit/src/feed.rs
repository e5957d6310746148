//! The serving side of the change feed: every service's `outbox`, given feed
//! positions in commit order and streamed by
//! `ocop.feed.v1.FeedService/WatchChanges`.
//!
//! Why positions: the outbox's identity numbers rows when they are inserted,
//! and transactions commit in another order, so a follower that saw 11 could
//! later find 10 committed behind its cursor and miss it. A sequencer (one per
//! schema at a time, across replicas) gives the rows it can see, which are
//! committed ones, the next positions in insert order; a row of a transaction
//! still running is invisible to it and gets a later position once it
//! commits. Positions are therefore gap-free, and no row ever appears behind
//! a position already served. Writers pay nothing for it: no lock, no NOTIFY
//! (which would serialize their commits).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ocop_proto::feed::v1::feed_service_server::FeedService;
use ocop_proto::feed::v1::{Change, WatchChangesRequest, WatchChangesResponse};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{Principal, Role};
use crate::date::to_timestamp;
use crate::error::{Error, Result};

/// Adds feed positions to the `outbox` of the pool's schema, the
/// `feed_cursors` of what it follows and the `mirrored` rows it keeps. Idempotent; run after the service's
/// migrations.
pub async fn install(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // One installer at a time, whichever replica starts first.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox.install'))")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        r#"
-- An earlier version numbered rows under a lock in a trigger; undo it.
DROP TRIGGER IF EXISTS outbox_in_commit_order ON outbox;
DROP FUNCTION IF EXISTS outbox_in_commit_order();
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'outbox' AND column_name = 'sequence' AND is_identity = 'YES') THEN
        ALTER TABLE outbox ALTER COLUMN sequence ADD GENERATED ALWAYS AS IDENTITY;
        PERFORM setval(pg_get_serial_sequence(format('%I.outbox', current_schema()), 'sequence'),
                       COALESCE((SELECT max(sequence) FROM outbox), 0) + 1, false);
    END IF;
END $$;
DROP SEQUENCE IF EXISTS outbox_commit_order;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS position bigint;
CREATE UNIQUE INDEX IF NOT EXISTS outbox_position ON outbox (position);
CREATE INDEX IF NOT EXISTS outbox_unpositioned ON outbox (sequence) WHERE position IS NULL;
-- Where this service is in the feeds it follows (see ocop_kit::follow).
CREATE TABLE IF NOT EXISTS feed_cursors (
    source      text PRIMARY KEY,
    sequence    bigint NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
-- Rows other deployments own, as their feeds describe them (see ocop_kit::mirror).
CREATE TABLE IF NOT EXISTS mirrored (
    resource    text PRIMARY KEY,
    origin      text NOT NULL,
    label       text NOT NULL,
    kind        text NOT NULL,
    payload     bytea NOT NULL,
    sequence    bigint NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mirrored_by_label ON mirrored (label, resource);
CREATE INDEX IF NOT EXISTS mirrored_by_origin ON mirrored (origin, resource);
"#,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rows positioned per statement.
const SEQUENCER_BATCH: i64 = 1000;
/// How often the sequencer looks for committed rows without a position.
const SEQUENCER_PAUSE: Duration = Duration::from_millis(50);

/// Gives positions to the committed rows that have none, unless another
/// replica's sequencer holds the schema's lock. Returns how many.
pub async fn position(db: &PgPool) -> Result<u64> {
    let mut tx = db.begin().await?;
    let ours: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox.sequencer'))")
            .fetch_one(&mut *tx)
            .await?;
    if !ours {
        return Ok(0);
    }
    let positioned = sqlx::query(
        "WITH top AS (SELECT COALESCE(max(position), 0) AS p FROM outbox),
              todo AS (SELECT sequence, row_number() OVER (ORDER BY sequence) AS n FROM outbox
                       WHERE position IS NULL ORDER BY sequence LIMIT $1)
         UPDATE outbox o SET position = top.p + todo.n FROM todo, top WHERE o.sequence = todo.sequence",
    )
    .bind(SEQUENCER_BATCH)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if positioned > 0 {
        // Once per batch, not per write: wakes the streams of every replica.
        sqlx::query("SELECT pg_notify('outbox_' || current_schema(), '')")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(positioned)
}

/// Positions new rows for as long as the service runs.
pub async fn sequencer(db: PgPool) {
    loop {
        match position(&db).await {
            Ok(n) if n as i64 == SEQUENCER_BATCH => continue,
            Ok(_) => {}
            // Not migrated or not reachable yet: try again shortly.
            Err(e) => tracing::debug!(error = %e, "outbox sequencer"),
        }
        tokio::time::sleep(SEQUENCER_PAUSE).await;
    }
}

/// Rows fetched per query while replaying.
const BATCH: i64 = 500;
/// How long a caught-up stream waits for a notification before looking anyway.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The `ErrorInfo.reason` a stream ends with when its service shuts down
/// (UNAVAILABLE): the follower reconnects, and a restart is not a fault.
pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";

/// Serves one schema's outbox.
#[derive(Clone)]
pub struct Feed {
    db: PgPool,
    committed: broadcast::Sender<()>,
    stop: Option<watch::Receiver<bool>>,
    ready: Option<Arc<AtomicBool>>,
}

impl Feed {
    /// A feed over the `outbox` of `schema` (the pool's), woken by its
    /// notifications. Must be called within a Tokio runtime.
    pub fn new(db: PgPool, schema: &str) -> Feed {
        let (committed, _) = broadcast::channel(16);
        tokio::spawn(listen(db.clone(), format!("outbox_{schema}"), committed.clone()));
        Feed {
            db,
            committed,
            stop: None,
            ready: None,
        }
    }

    /// Refuses streams, with UNAVAILABLE `SERVICE_STARTING`, while `ready`
    /// is false: before the migrations have run the outbox may not exist, and
    /// a follower should retry, not see INTERNAL.
    pub fn ready_on(mut self, ready: Arc<AtomicBool>) -> Feed {
        self.ready = Some(ready);
        self
    }

    /// Ends every stream, with UNAVAILABLE [`SHUTTING_DOWN`], once `stop`
    /// turns true. Streams never end on their own, so without it a graceful
    /// shutdown would wait its whole grace period for them.
    pub fn stop_on(mut self, stop: watch::Receiver<bool>) -> Feed {
        self.stop = Some(stop);
        self
    }

    /// Changes after `after`, oldest first, at most `limit`.
    pub async fn read(&self, after: i64, limit: i64) -> Result<Vec<Change>> {
        type OutboxRow = (i64, String, String, Vec<u8>, Option<String>, time::OffsetDateTime);
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT position, resource, change, payload, traceparent, created_at FROM outbox
             WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sequence, resource, kind, payload, traceparent, at)| Change {
                sequence,
                resource,
                kind,
                payload,
                traceparent: traceparent.unwrap_or_default(),
                commit_time: Some(to_timestamp(at)),
            })
            .collect())
    }

    async fn pump(self, mut after: i64, out: mpsc::Sender<std::result::Result<WatchChangesResponse, Status>>) {
        let mut woken = self.committed.subscribe();
        let mut stop = self.stop.clone();
        loop {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                // Best effort: a caller that stopped reading gets a plain end.
                let _ = out.try_send(Err(shutting_down()));
                return;
            }
            match self.read(after, BATCH).await {
                Ok(changes) => {
                    let full = changes.len() as i64 == BATCH;
                    for change in changes {
                        after = change.sequence;
                        let message = WatchChangesResponse { change: Some(change) };
                        tokio::select! {
                            sent = out.send(Ok(message)) => if sent.is_err() {
                                return; // the caller hung up
                            },
                            // A slow reader must not hold the shutdown up.
                            _ = stopped(&mut stop) => break,
                        }
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    let _ = out.send(Err(e.into())).await;
                    return;
                }
            }
            // Caught up: wait for a commit, or look again after a while (a
            // notification can be lost while the listener reconnects).
            tokio::select! {
                _ = woken.recv() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = out.closed() => return,
                _ = stopped(&mut stop) => {}
            }
        }
    }
}

/// The status a stream ends with at shutdown.
fn shutting_down() -> Status {
    Error::unavailable(
        SHUTTING_DOWN,
        "the service is shutting down; reconnect and resume from your cursor",
    )
    .into()
}

/// Resolves once `stop` is raised; never without one, nor once its sender is gone.
async fn stopped(stop: &mut Option<watch::Receiver<bool>>) {
    if let Some(stop) = stop
        && stop.wait_for(|stopped| *stopped).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// Forwards the schema's outbox notifications; reconnects when the listener drops.
async fn listen(db: PgPool, channel: String, committed: broadcast::Sender<()>) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&db).await?;
            listener.listen(&channel).await?;
            loop {
                listener.recv().await?;
                let _ = committed.send(());
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = listener.await {
            tracing::debug!(error = %e, "outbox listener lost; streams poll until it is back");
        }
        // Watchers poll meanwhile, so a retry every second is enough.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

type Changes = Pin<Box<dyn Stream<Item = std::result::Result<WatchChangesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FeedService for Feed {
    type WatchChangesStream = Changes;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> std::result::Result<Response<Changes>, Status> {
        let who = Principal::from_request(&request)?;
        who.require(&[Role::Service, Role::NationalOfficer])?;
        if self.ready.as_ref().is_some_and(|r| !r.load(Ordering::SeqCst)) {
            return Err(Error::unavailable(
                "SERVICE_STARTING",
                "this service is not serving yet (migrating, or its database is not answering); retry shortly",
            )
            .with_retry_after(Duration::from_secs(1))
            .into());
        }
        let after = request.get_ref().after_sequence;
        if after < 0 {
            return Err(Error::invalid("after_sequence", format!("{after} is negative; 0 replays everything")).into());
        }
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(self.clone().pump(after, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
