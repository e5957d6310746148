//! The service's surface: the gRPC adapter, and the cache of encoded
//! catalog pages in front of it.

pub mod grpc;
pub mod page_cache;
