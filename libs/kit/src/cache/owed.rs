//! Removals the cache owes. After a change commits, its writer overwrites or
//! removes the cached value; when Redis refuses that write (down, slow,
//! partitioned), dropping it would let Redis serve the value from before the
//! change until its TTL runs out once it answers again: a revoked
//! certificate shown VALID for minutes.
//!
//! So a refused write becomes an owed *removal* of the key, retried in the
//! background until it lands. A removal is always safe to replay late: it can
//! only send the next reader to the database, which holds the committed
//! value, whatever other writes (of this process or another) landed
//! meanwhile; replaying the refused value itself could put back an older one.
//! While it owes a key, this process reads that key from the database and
//! writes nothing to it. Other processes may read the old value from Redis
//! until the removal lands, and for at most the TTL if the owing process dies.

use std::collections::HashSet;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use super::{Cache, PAUSE_AFTER_FAILURE};

/// The keys this process owes a removal, by full key.
#[derive(Default)]
pub(super) struct Owed {
    keys: HashSet<String>,
    /// Whether the retrying task runs; changed only under the lock.
    retrying: bool,
}

impl Cache {
    fn owed(&self) -> MutexGuard<'_, Owed> {
        self.inner.owed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this process owes Redis the removal of `full`: Redis may hold
    /// a value older than the database's.
    pub(super) fn owes(&self, full: &str) -> bool {
        // Read on every cached read: the lock only when something is owed.
        self.inner.owed_count.load(Ordering::Acquire) > 0 && self.owed().keys.contains(full)
    }

    /// Sets `full` to `value`, or owes its removal if Redis refuses.
    pub(super) async fn write(&self, full: &str, value: Option<(Vec<u8>, u64)>) {
        // Owed already: the pending removal covers this write too.
        if self.owes(full) {
            return;
        }
        let landed = match value {
            Some((bytes, ttl_s)) => self.set_bytes(full, bytes, false, ttl_s).await,
            None => self.delete(full).await,
        };
        if !landed {
            self.owe(full);
        }
    }

    fn owe(&self, full: &str) {
        let mut owed = self.owed();
        owed.keys.insert(full.to_owned());
        self.counted(&owed);
        if !owed.retrying {
            owed.retrying = true;
            tokio::spawn(self.clone().settle());
        }
    }

    fn counted(&self, owed: &Owed) {
        self.inner.owed_count.store(owed.keys.len(), Ordering::Release);
        metrics::gauge!("ocop_cache_owed_writes").set(owed.keys.len() as f64);
    }

    /// Retries the owed removals until none is left.
    async fn settle(self) {
        loop {
            tokio::time::sleep(PAUSE_AFTER_FAILURE).await;
            let keys: Vec<String> = self.owed().keys.iter().cloned().collect();
            for key in keys {
                if !self.delete(&key).await {
                    break; // Redis refuses again: wait out the pause.
                }
                let mut owed = self.owed();
                owed.keys.remove(&key);
                self.counted(&owed);
            }
            let mut owed = self.owed();
            if owed.keys.is_empty() {
                owed.retrying = false;
                return;
            }
        }
    }
}
