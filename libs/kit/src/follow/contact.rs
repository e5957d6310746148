//! What each follower of this process knows of its producer: whether a stream
//! is open, when the producer was last heard from, and how far the cursor is.
//! Kept per process (like the metrics it also sets) so that statistics can
//! show a province's lag while the province is unreachable.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use time::OffsetDateTime;

/// One followed feed, as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Whether a stream is open now.
    pub connected: bool,
    /// When the producer last answered: a stream opened or changes arrived.
    pub last_contact: OffsetDateTime,
    /// The last position applied (or the cursor the stream resumed from).
    pub sequence: i64,
}

static CONTACTS: LazyLock<Mutex<BTreeMap<String, Contact>>> = LazyLock::new(Default::default);

fn update(source: &str, change: impl FnOnce(&mut Contact)) {
    let mut contacts = CONTACTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let contact = contacts.entry(source.to_owned()).or_insert(Contact {
        connected: false,
        last_contact: OffsetDateTime::UNIX_EPOCH,
        sequence: 0,
    });
    change(contact);
    let labels = [("source", source.to_owned())];
    metrics::gauge!("ocop_feed_connected", &labels).set(if contact.connected { 1.0 } else { 0.0 });
    metrics::gauge!("ocop_feed_sequence", &labels).set(contact.sequence as f64);
    metrics::gauge!("ocop_feed_last_contact_seconds", &labels).set(contact.last_contact.unix_timestamp() as f64);
}

/// A stream to `source` opened, resuming after `sequence`.
pub(crate) fn made(source: &str, sequence: i64) {
    update(source, |c| {
        c.connected = true;
        c.last_contact = OffsetDateTime::now_utc();
        c.sequence = c.sequence.max(sequence);
    });
}

/// Changes up to `sequence` from `source` were applied.
pub(crate) fn applied(source: &str, sequence: i64) {
    update(source, |c| {
        c.last_contact = OffsetDateTime::now_utc();
        c.sequence = sequence;
    });
}

/// The stream to `source` ended or could not be opened.
pub(crate) fn lost(source: &str) {
    update(source, |c| c.connected = false);
}

/// Every feed followed by this process, by source.
pub fn all() -> BTreeMap<String, Contact> {
    CONTACTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}
