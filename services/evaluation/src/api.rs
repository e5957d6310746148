//! The evaluation service's adapters: gRPC only (no HTTP surface).

pub mod grpc;
