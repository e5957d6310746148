//! The example configurations in `deploy/config/` load and validate, so they
//! cannot drift from the code.

use ocop_kit::config::{Config, DeploymentRole};

fn load(name: &str) -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/config")
        .join(name);
    Config::load(Some(&path), &serde_json::json!({})).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn province_example_is_valid() {
    let config = load("province.example.toml");
    assert_eq!(config.deployment.role, DeploymentRole::Province);
    assert_eq!(config.deployment.province_code.as_deref(), Some("38"));
    assert_eq!(config.services.certification.grpc_listen.port(), 50053);
    assert_eq!(config.auth.audience, "ocop:38");
    let national = config
        .federation
        .national
        .expect("follows the national certification feed");
    assert_eq!(national.source("certification"), "national/certification");
}

#[test]
fn national_example_is_valid() {
    let config = load("national.example.toml");
    assert_eq!(config.deployment.role, DeploymentRole::National);
    assert_eq!(config.deployment.province_code, None);
    assert_eq!(config.auth.audience, "ocop:national");
    let provinces: Vec<_> = config
        .federation
        .provinces
        .iter()
        .map(|p| p.province_code.as_str())
        .collect();
    assert_eq!(provinces, ["38", "48"]);
}
