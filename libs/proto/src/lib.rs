//! Generated code for the OCOP contracts in `proto/`: one module per package,
//! and the checks every request passes where it is decoded ([`boundary`]).
#![allow(missing_docs, clippy::all)]

pub mod boundary;

/// Encoded `FileDescriptorSet` of every OCOP proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ocop_descriptor.bin"));

/// `ocop.*` packages.
pub mod ocop {
    /// Types shared by every service.
    pub mod common {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.common.v1");
        }
    }
    /// The registry service.
    pub mod registry {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.registry.v1");
        }
    }
    /// The evaluation service.
    pub mod evaluation {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.evaluation.v1");
        }
    }
    /// The certification service.
    pub mod certification {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.certification.v1");
        }
    }
    /// The promotion service.
    pub mod promotion {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.promotion.v1");
        }
    }
    /// The change feed every service serves.
    pub mod feed {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.feed.v1");
        }
    }
    /// The audit log every service serves.
    pub mod audit {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.audit.v1");
        }
    }
    /// Baseline handlers of the benchmark harness.
    pub mod bench {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("ocop.bench.v1");
        }
    }
}

pub use ocop::*;
