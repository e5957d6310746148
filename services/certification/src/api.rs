//! The service's adapters: gRPC (`grpc`) and the verify page over HTTP (`http`).

pub mod grpc;
pub mod http;
