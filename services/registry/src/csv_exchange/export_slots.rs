//! How many exports run at once. An export reads a whole province while it
//! holds a pooled connection; were every connection held by exports, every
//! other request would wait for one and fail. Exports get a bounded share of
//! the pool instead (a quarter, at least one); a further export waits as long
//! as a request waits for a connection, then is told to retry.

use std::sync::Arc;
use std::time::Duration;

use ocop_kit::config::DatabaseConfig;
use ocop_kit::error::ErrorKind;
use ocop_kit::{Error, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// When a turned-away export is told to try again: an export of the largest
/// province takes about a second.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The export slots of one service instance.
#[derive(Debug, Clone)]
pub struct ExportSlots {
    slots: Arc<Semaphore>,
    size: usize,
    wait: Duration,
}

impl ExportSlots {
    /// A quarter of the pool's connections (at least one), waited for up to
    /// `acquire_timeout_ms`.
    pub fn for_pool(config: &DatabaseConfig) -> ExportSlots {
        let size = (config.max_connections as usize / 4).max(1);
        ExportSlots {
            slots: Arc::new(Semaphore::new(size)),
            size,
            wait: Duration::from_millis(config.acquire_timeout_ms),
        }
    }

    /// A slot, to hold while the export reads; RESOURCE_EXHAUSTED
    /// (`TOO_MANY_EXPORTS`, with RetryInfo) when none frees up in time.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            // The semaphore is never closed; a timeout is the only refusal.
            _ => Err(Error::new(
                ErrorKind::ResourceExhausted,
                "TOO_MANY_EXPORTS",
                format!(
                    "{} export(s) are already running, the most this service runs at once (a quarter of database.max_connections); retry in {} s",
                    self.size,
                    RETRY_AFTER.as_secs()
                ),
            )
            .with_retry_after(RETRY_AFTER)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_get_a_quarter_of_the_pool_and_at_least_one_slot() {
        let pool = |max_connections| DatabaseConfig {
            max_connections,
            ..Default::default()
        };
        assert_eq!(ExportSlots::for_pool(&pool(8)).size, 2);
        assert_eq!(ExportSlots::for_pool(&pool(3)).size, 1);
        assert_eq!(ExportSlots::for_pool(&pool(1)).size, 1);
    }
}
