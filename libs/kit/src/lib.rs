//! Platform pieces shared by every OCOP service: configuration, the error
//! vocabulary, telemetry, the server runner, PostgreSQL, the Redis cache,
//! tokens, pagination and filters.

pub mod audit;
pub mod auth;
pub mod bounded;
pub mod cache;
pub mod cli;
pub mod client;
pub mod config;
pub mod create;
pub mod dataset;
pub mod date;
pub mod db;
pub mod error;
pub mod etag;
pub mod feed;
pub mod filter;
pub mod follow;
pub mod idempotency;
pub mod jurisdiction;
pub mod linger;
pub mod methods;
pub mod metrics_http;
pub mod mirror;
pub mod names;
pub mod paging;
pub mod ratelimit;
pub mod reasons;
pub mod regime;
pub mod request_layer;
pub mod server;
pub mod taxonomy;
pub mod telemetry;
pub mod text_enum;
pub mod tls;

pub use error::{Error, ErrorKind, Result};

/// The allocator every binary of the platform declares as its global one:
/// a request allocates and frees hundreds of small strings (decoding and
/// encoding protobuf), where glibc's malloc spent about 30% of a service's
/// CPU in a profile of ListCatalog under load.
pub use mimalloc::MiMalloc as Allocator;

/// FNV-1a hash: stable across builds and releases, unlike `DefaultHasher`,
/// so it may be stored (page tokens, data fingerprints).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
