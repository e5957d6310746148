//! The serving side of the change feed: every service's `outbox`, numbered in
//! commit order and streamed by `ocop.feed.v1.FeedService/WatchChanges`.
//!
//! Why commit order: an identity column numbers rows when they are inserted,
//! and transactions commit in another order, so a follower that saw 11 could
//! later find 10 committed behind its cursor and miss it. Here a trigger takes
//! a per-schema advisory lock before numbering the row, and the lock is held
//! to the commit: the row numbered next commits after this one. Writers queue
//! on that lock only from their outbox insert to their commit, which every
//! write path keeps as its last step.

use std::pin::Pin;
use std::time::Duration;

use ocop_proto::feed::v1::feed_service_server::FeedService;
use ocop_proto::feed::v1::{Change, WatchChangesRequest, WatchChangesResponse};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{Principal, Role};
use crate::date::to_timestamp;
use crate::error::{Error, Result};

/// Installs the commit-order numbering on the `outbox` of the pool's schema.
/// Idempotent; run after the service's migrations.
pub async fn install(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // One installer at a time, whichever replica starts first.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox.install'))")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        r#"
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'outbox' AND column_name = 'sequence' AND is_identity = 'YES') THEN
        ALTER TABLE outbox ALTER COLUMN sequence DROP IDENTITY;
    END IF;
END $$;
CREATE SEQUENCE IF NOT EXISTS outbox_commit_order;
DO $$ DECLARE top bigint; BEGIN
    -- Continue after the rows numbered before this was installed.
    SELECT max(sequence) INTO top FROM outbox;
    IF top IS NOT NULL AND top >= (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                                   FROM outbox_commit_order) THEN
        PERFORM setval('outbox_commit_order', top, true);
    END IF;
END $$;
CREATE OR REPLACE FUNCTION outbox_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(TG_TABLE_SCHEMA || '.outbox'));
    NEW.sequence := nextval(format('%I.outbox_commit_order', TG_TABLE_SCHEMA));
    PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    RETURN NEW;
END $f$;
CREATE OR REPLACE TRIGGER outbox_in_commit_order BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_in_commit_order();
-- Where this service is in the feeds it follows (see ocop_kit::follow).
CREATE TABLE IF NOT EXISTS feed_cursors (
    source      text PRIMARY KEY,
    sequence    bigint NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
"#,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rows fetched per query while replaying.
const BATCH: i64 = 500;
/// How long a caught-up stream waits for a notification before looking anyway.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Serves one schema's outbox.
#[derive(Clone)]
pub struct Feed {
    db: PgPool,
    committed: broadcast::Sender<()>,
}

impl Feed {
    /// A feed over the `outbox` of `schema` (the pool's), woken by its
    /// notifications. Must be called within a Tokio runtime.
    pub fn new(db: PgPool, schema: &str) -> Feed {
        let (committed, _) = broadcast::channel(16);
        tokio::spawn(listen(db.clone(), format!("outbox_{schema}"), committed.clone()));
        Feed { db, committed }
    }

    /// Changes after `after`, oldest first, at most `limit`.
    pub async fn read(&self, after: i64, limit: i64) -> Result<Vec<Change>> {
        type OutboxRow = (i64, String, String, Vec<u8>, Option<String>, time::OffsetDateTime);
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT sequence, resource, change, payload, traceparent, created_at FROM outbox
             WHERE sequence > $1 ORDER BY sequence LIMIT $2",
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
        loop {
            match self.read(after, BATCH).await {
                Ok(changes) => {
                    let full = changes.len() as i64 == BATCH;
                    for change in changes {
                        after = change.sequence;
                        let message = WatchChangesResponse { change: Some(change) };
                        if out.send(Ok(message)).await.is_err() {
                            return; // the caller hung up
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
            }
        }
    }
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
        let after = request.get_ref().after_sequence;
        if after < 0 {
            return Err(Error::invalid("after_sequence", format!("{after} is negative; 0 replays everything")).into());
        }
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(self.clone().pump(after, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
