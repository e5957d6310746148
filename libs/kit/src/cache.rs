//! Cache-aside over Redis that never makes a request fail.
//!
//! Every call is bounded by `redis.timeout_ms`; a timeout or error counts a
//! bypass (`ocop_cache_bypass_total`) and the request is answered from
//! PostgreSQL. After a failure Redis is skipped for a short pause, so an
//! outage costs one timeout per pause rather than one per request; the
//! connection manager reconnects in the background, so caching resumes
//! without a restart when Redis returns. A write that follows a committed
//! change and that Redis refuses is not dropped: see the `owed` module.

use std::any::Any;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::bounded::Bounded;
use crate::config::RedisConfig;
use crate::error::Result;

mod owed;

/// How long Redis is skipped after a failed call.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// A cheap-to-clone handle on the deployment's Redis.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
    ttl_s: u64,
    started: Instant,
    /// Milliseconds since `started` before which Redis is not tried.
    paused_until_ms: AtomicU64,
    /// Keys this process is refreshing in the background (see `get_or_refresh`).
    refreshing: Mutex<HashSet<String>>,
    /// Fresh values `get_or_refresh` saw, decoded, by key: hot public pages
    /// are answered without a Redis round trip while they are fresh.
    local: Bounded<String, Decoded>,
    /// Keys whose write Redis refused: their removal is retried until it lands.
    owed: Mutex<owed::Owed>,
    /// How many keys are owed, read without the lock.
    owed_count: AtomicUsize,
}

/// A decoded value and the time (Unix ms) until which it is fresh.
type Decoded = (u64, Arc<dyn Any + Send + Sync>);

/// Most values kept decoded in the process; past it the oldest go.
const LOCAL_ENTRIES: usize = 1024;

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("prefix", &self.inner.prefix).finish()
    }
}

impl Cache {
    /// A handle that connects lazily: a Redis that is down at start-up is not an error.
    pub fn new(config: &RedisConfig, namespace: &str) -> anyhow::Result<Cache> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = redis::Client::open(config.url.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        Ok(Cache {
            inner: Arc::new(Inner {
                manager,
                prefix: format!("{}:{namespace}:", config.key_prefix),
                timeout,
                ttl_s: config.ttl_s,
                started: Instant::now(),
                paused_until_ms: AtomicU64::new(0),
                refreshing: Mutex::default(),
                local: Bounded::new(LOCAL_ENTRIES),
                owed: Mutex::default(),
                owed_count: AtomicUsize::new(0),
            }),
        })
    }

    /// The full Redis key of `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Returns the cached message, or loads it, caches it and returns it.
    /// A loader error is returned as is and nothing is cached.
    pub async fn get_or_load<M, F, Fut>(&self, key: &str, load: F) -> Result<M>
    where
        M: prost::Message + Default,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<M>>,
    {
        self.get_or_load_for(key, self.inner.ttl_s, load).await
    }

    /// As [`Cache::get_or_load`], kept `ttl_s` seconds: for read models that
    /// nothing invalidates and may lag by that much (catalog pages, statistics).
    pub async fn get_or_load_for<M, F, Fut>(&self, key: &str, ttl_s: u64, load: F) -> Result<M>
    where
        M: prost::Message + Default,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<M>>,
    {
        let full = self.key(key);
        if self.owes(&full) {
            // Redis may still hold the value from before a committed change.
            metrics::counter!("ocop_cache_requests_total", "result" => "owed").increment(1);
            return load().await;
        }
        if let Some(bytes) = self.get_bytes(&full).await {
            match M::decode(bytes.as_slice()) {
                Ok(message) => {
                    metrics::counter!("ocop_cache_requests_total", "result" => "hit").increment(1);
                    return Ok(message);
                }
                // A value written by an older version of the message: reload it.
                Err(e) => tracing::warn!(key = %full, error = %e, "undecodable cache entry"),
            }
        }
        metrics::counter!("ocop_cache_requests_total", "result" => "miss").increment(1);
        let message = load().await?;
        // Only if absent: a writer's fresher value (see `put`) must win over a
        // value this reader loaded before the writer's transaction committed.
        self.set_bytes(&full, message.encode_to_vec(), true, ttl_s).await;
        Ok(message)
    }

    /// For public read models under heavy load (catalog pages, statistics):
    /// a value is fresh for `fresh`, then served stale while one background
    /// load per process replaces it, and dropped after `keep`. Readers only
    /// wait on a cold key, so no burst of requests piles onto the database
    /// when a value ages out; what a reader sees is at most `keep` old. While
    /// fresh, a value is also kept decoded in the process, so a hot page costs
    /// no Redis round trip.
    pub async fn get_or_refresh<M, F, Fut>(&self, key: &str, fresh: Duration, keep: Duration, load: F) -> Result<M>
    where
        M: prost::Message + Default + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<M>> + Send + 'static,
    {
        let full = self.key(key);
        if let Some(message) = self.local_get::<M>(&full) {
            metrics::counter!("ocop_cache_requests_total", "result" => "local").increment(1);
            return Ok(message);
        }
        if let Some((fresh_until, message)) = self.get_bytes(&full).await.as_deref().and_then(split_stamped::<M>) {
            if unix_ms() < fresh_until {
                metrics::counter!("ocop_cache_requests_total", "result" => "hit").increment(1);
                self.local_put(&full, fresh_until, &message);
                return Ok(message);
            }
            metrics::counter!("ocop_cache_requests_total", "result" => "stale").increment(1);
            let first = self.lock_refreshing().insert(full.clone());
            if first {
                let cache = self.clone();
                tokio::spawn(async move {
                    match load().await {
                        Ok(message) => cache.set_stamped(&full, &message, fresh, keep).await,
                        Err(e) => {
                            tracing::warn!(key = %full, error = %e, "background refresh failed; the stale value stays")
                        }
                    }
                    cache.lock_refreshing().remove(&full);
                });
            }
            return Ok(message);
        }
        metrics::counter!("ocop_cache_requests_total", "result" => "miss").increment(1);
        let message = load().await?;
        self.set_stamped(&full, &message, fresh, keep).await;
        Ok(message)
    }

    /// A fresh decoded copy of `full` kept in this process, if any.
    fn local_get<M: Clone + Send + Sync + 'static>(&self, full: &str) -> Option<M> {
        let (fresh_until, value) = self.inner.local.get(full)?;
        (unix_ms() < fresh_until).then(|| value.downcast_ref::<M>().cloned())?
    }

    fn local_put<M: Clone + Send + Sync + 'static>(&self, full: &str, fresh_until: u64, message: &M) {
        let decoded: Arc<dyn Any + Send + Sync> = Arc::new(message.clone());
        self.inner.local.insert(full.to_owned(), (fresh_until, decoded));
    }

    fn lock_refreshing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn set_stamped<M: prost::Message + Clone + Send + Sync + 'static>(
        &self,
        full: &str,
        message: &M,
        fresh: Duration,
        keep: Duration,
    ) {
        let fresh_until = unix_ms() + fresh.as_millis() as u64;
        let mut value = fresh_until.to_be_bytes().to_vec();
        message.encode(&mut value).expect("a Vec grows as needed");
        self.set_bytes_px(full, value, keep).await;
        self.local_put(full, fresh_until, message);
    }

    /// Stores the value a write just committed, replacing what is cached.
    /// Together with readers that only fill absent keys, a read that raced
    /// the write cannot leave the old value behind. If Redis refuses it, the
    /// key's removal is owed (see the `owed` module).
    pub async fn put<M: prost::Message>(&self, key: &str, message: &M) {
        let value = (message.encode_to_vec(), self.inner.ttl_s);
        self.write(&self.key(key), Some(value)).await;
    }

    /// Removes `key`. Called after the database transaction commits, so a
    /// concurrent reader can at worst re-cache the new value. If Redis
    /// refuses it, it is owed and retried (see the `owed` module).
    pub async fn invalidate(&self, key: &str) {
        self.write(&self.key(key), None).await;
    }

    /// How many keys' removals this process owes Redis (writes it refused).
    pub fn owed_writes(&self) -> usize {
        self.inner.owed_count.load(Ordering::Acquire)
    }

    /// Whether Redis answers a PING now (health reporting, tests).
    pub async fn ping(&self) -> bool {
        self.run("ping", |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .is_some()
    }

    async fn get_bytes(&self, key: &str) -> Option<Vec<u8>> {
        let key = key.to_owned();
        self.run(
            "get",
            |mut conn| async move { conn.get::<_, Option<Vec<u8>>>(key).await },
        )
        .await
        .flatten()
    }

    /// Whether Redis took the value (or, with `only_if_absent`, answered).
    async fn set_bytes(&self, key: &str, value: Vec<u8>, only_if_absent: bool, ttl: u64) -> bool {
        let key = key.to_owned();
        self.run("set", |mut conn| async move {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(value).arg("EX").arg(ttl);
            if only_if_absent {
                set.arg("NX");
            }
            set.query_async::<()>(&mut conn).await
        })
        .await
        .is_some()
    }

    /// Whether Redis removed `key` (or had none).
    async fn delete(&self, key: &str) -> bool {
        let key = key.to_owned();
        self.run("del", |mut conn| async move { conn.del::<_, ()>(key).await })
            .await
            .is_some()
    }

    async fn set_bytes_px(&self, key: &str, value: Vec<u8>, keep: Duration) {
        let key = key.to_owned();
        let keep_ms = keep.as_millis().max(1) as u64;
        self.run("set", |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(keep_ms)
                .query_async::<()>(&mut conn)
                .await
        })
        .await;
    }

    /// Runs one command within the timeout; `None` (and a bypass counted) on
    /// timeout, error, or while paused after a failure.
    pub(crate) async fn run<T, F, Fut>(&self, op: &'static str, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        let now_ms = inner.started.elapsed().as_millis() as u64;
        if now_ms < inner.paused_until_ms.load(Ordering::Relaxed) {
            metrics::counter!("ocop_cache_bypass_total", "op" => op, "reason" => "paused").increment(1);
            return None;
        }
        let reason = match tokio::time::timeout(inner.timeout, command(inner.manager.clone())).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => {
                tracing::warn!(op, error = %e, "redis call failed; answering from the database");
                "error"
            }
            Err(_) => {
                tracing::warn!(
                    op,
                    timeout_ms = inner.timeout.as_millis() as u64,
                    "redis call timed out; answering from the database"
                );
                "timeout"
            }
        };
        metrics::counter!("ocop_cache_bypass_total", "op" => op, "reason" => reason).increment(1);
        let resume = inner.started.elapsed() + PAUSE_AFTER_FAILURE;
        inner
            .paused_until_ms
            .store(resume.as_millis() as u64, Ordering::Relaxed);
        None
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A value written by `set_stamped`: its fresh-until time and the message.
fn split_stamped<M: prost::Message + Default>(bytes: &[u8]) -> Option<(u64, M)> {
    let (stamp, body) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*stamp), M::decode(body).ok()?))
}
