//! The registry's network surface: the gRPC adapter.

pub mod grpc;
