//! Generates the messages and gRPC stubs of every proto under `proto/` with
//! protox (a pure-Rust protoc), and writes the descriptor set that the
//! servers publish through reflection, and the boundary checks of every
//! message (`build/boundary.rs`).

use std::path::{Path, PathBuf};

#[path = "build/boundary.rs"]
mod boundary;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = proto_files(Path::new("../../proto"))?;
    let fds = protox::compile(&files, ["../../proto"])?;
    std::fs::write(out_dir.join("ocop_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    std::fs::write(out_dir.join("ocop_boundary.rs"), boundary::generate(&fds))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Every request is decoded and checked once, at the boundary.
        .codec_path("crate::boundary::Codec")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=../../proto");
    println!("cargo:rerun-if-changed=build");
    Ok(())
}

/// Every `.proto` under `root`, relative to it, in a stable order.
fn proto_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}
