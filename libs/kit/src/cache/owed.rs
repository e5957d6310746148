//! Writes the cache owes. After a change commits, its writer overwrites or
//! removes the cached value; when Redis refuses that write (down, slow,
//! partitioned), dropping it would let Redis serve the value from before the
//! change until its TTL runs out once it answers again: a revoked
//! certificate shown VALID for minutes. So a refused write is kept and
//! retried in the background until it lands, newest value per key, in the
//! order the writes were made; meanwhile this process reads that key from
//! the database. (A process that dies still owing a write leaves the old
//! value for at most the TTL.)

use std::collections::HashMap;
use std::sync::MutexGuard;

use super::{Cache, PAUSE_AFTER_FAILURE};

/// One write to Redis.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Write {
    /// `SET key value EX ttl_s`.
    Set { value: Vec<u8>, ttl_s: u64 },
    /// `DEL key`.
    Delete,
}

/// The owed writes by full key, each with a number that grows with every
/// write, so that a retry never settles a newer write made meanwhile.
#[derive(Default)]
pub(super) struct Owed {
    writes: HashMap<String, (u64, Write)>,
    next: u64,
    /// Whether the retrying task runs; changed only under the lock.
    retrying: bool,
}

impl Owed {
    /// How many writes are owed.
    pub(super) fn len(&self) -> usize {
        self.writes.len()
    }
}

impl Cache {
    fn owed(&self) -> MutexGuard<'_, Owed> {
        self.inner.owed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this process owes Redis a write of `full`: Redis may hold a
    /// value older than the database's.
    pub(super) fn owes(&self, full: &str) -> bool {
        self.owed().writes.contains_key(full)
    }

    /// Makes `write` of `full`: at once, unless an earlier write of that key
    /// is still owed (it then goes after it), and owed if Redis refuses it.
    pub(super) async fn write(&self, full: &str, write: Write) {
        if self.owes(full) || !self.apply(full, &write).await {
            self.owe(full, write);
        }
    }

    fn owe(&self, full: &str, write: Write) {
        let mut owed = self.owed();
        owed.next += 1;
        let number = owed.next;
        owed.writes.insert(full.to_owned(), (number, write));
        metrics::gauge!("ocop_cache_owed_writes").set(owed.writes.len() as f64);
        if !owed.retrying {
            owed.retrying = true;
            tokio::spawn(self.clone().settle());
        }
    }

    async fn apply(&self, full: &str, write: &Write) -> bool {
        match write {
            Write::Set { value, ttl_s } => self.set_bytes(full, value.clone(), false, *ttl_s).await,
            Write::Delete => self.delete(full).await,
        }
    }

    /// Retries the owed writes until none is left.
    async fn settle(self) {
        loop {
            tokio::time::sleep(PAUSE_AFTER_FAILURE).await;
            let batch: Vec<(String, u64, Write)> = self
                .owed()
                .writes
                .iter()
                .map(|(key, (number, write))| (key.clone(), *number, write.clone()))
                .collect();
            for (key, number, write) in batch {
                if !self.apply(&key, &write).await {
                    break; // Redis refuses again: wait out the pause.
                }
                let mut owed = self.owed();
                if owed.writes.get(&key).is_some_and(|(n, _)| *n == number) {
                    owed.writes.remove(&key);
                }
            }
            let mut owed = self.owed();
            metrics::gauge!("ocop_cache_owed_writes").set(owed.writes.len() as f64);
            if owed.writes.is_empty() {
                owed.retrying = false;
                return;
            }
        }
    }
}
