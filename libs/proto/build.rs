//! Generates the messages and gRPC stubs of every proto under `proto/` with
//! protox (a pure-Rust protoc), and writes the descriptor set that the
//! servers publish through reflection.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "ocop/common/v1/date.proto",
    "ocop/registry/v1/registry_service.proto",
    "ocop/evaluation/v1/evaluation_service.proto",
    "ocop/certification/v1/certification_service.proto",
    "ocop/promotion/v1/promotion_service.proto",
    "ocop/bench/v1/bench_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(FILES, ["../../proto"])?;
    std::fs::write(out_dir.join("ocop_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=../../proto");
    Ok(())
}
