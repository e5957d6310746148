//! Config validation of TLS: every refusal names its key, with real PEM
//! files made here (and broken ones).

use ocop_kit::config::Config;
use ocop_testkit::certs::Ca;
use serde_json::{Value, json};

fn load(overrides: Value) -> Result<Config, String> {
    Config::load(None, &overrides).map_err(|e| e.to_string())
}

fn dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ocop-tls-config-{}", uuid::Uuid::new_v4().simple()))
}

fn expect_refusals(overrides: Value, expected: &[&str]) {
    let err = load(overrides).expect_err("refused");
    for e in expected {
        assert!(err.contains(e), "missing `{e}` in:\n{err}");
    }
}

#[test]
fn plaintext_off_loopback_needs_allow_plaintext() {
    let registry = |url: &str, tls: Value| json!({"services": {"registry": {"grpc_listen": "127.0.0.1:50051", "http_listen": "127.0.0.1:9051", "url": url, "tls": tls}}});
    expect_refusals(
        registry("http://registry.ocop-38.svc:50051", json!({})),
        &[
            "services.registry.url: \"http://registry.ocop-38.svc:50051\" is plaintext to registry.ocop-38.svc, off this machine: use https:// or set services.registry.tls.allow_plaintext = true",
        ],
    );
    load(registry(
        "http://registry.ocop-38.svc:50051",
        json!({"allow_plaintext": true}),
    ))
    .expect("explicitly plaintext");
    for loopback in [
        "http://127.0.0.1:50051",
        "http://localhost:50051",
        "http://[::1]:50051",
        "http://127.0.0.2:1",
    ] {
        load(registry(loopback, json!({}))).unwrap_or_else(|e| panic!("{loopback}: {e}"));
    }
    load(registry("https://registry.example.gov.vn:50051", json!({}))).expect("https with the system roots");
    // TLS files on an http:// URL would be silently unused.
    let ca = Ca::new(&dir(), "peer");
    expect_refusals(
        registry("http://127.0.0.1:50051", json!({"ca_file": ca.file})),
        &["services.registry.tls: has TLS files but services.registry.url is \"http://127.0.0.1:50051\": use https://"],
    );
    // Federation peers too, each URL named.
    expect_refusals(
        json!({"deployment": {"role": "national"}, "federation": {"provinces": [{
            "province_code": "38", "registry_url": "http://10.0.38.1:50051", "evaluation_url": "https://e.example:1",
            "certification_url": "https://c.example:1", "token_path": "/t"}]}}),
        &[
            "federation.provinces[0].registry_url: \"http://10.0.38.1:50051\" is plaintext to 10.0.38.1, off this machine: use https:// or set federation.provinces[0].tls.allow_plaintext = true",
        ],
    );
    expect_refusals(
        json!({"federation": {"national": {"certification_url": "http://ocop.mae.gov.vn:50053", "token_path": "/t"}}}),
        &["federation.national.certification_url: \"http://ocop.mae.gov.vn:50053\" is plaintext"],
    );
}

#[test]
fn unusable_tls_files_of_an_https_peer_are_named() {
    let dir = dir();
    let ca = Ca::new(&dir, "peer");
    let client = ca.issue("client", &["client.ocop.test"]);
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let national = |tls: Value| json!({"federation": {"national": {"certification_url": "https://c.example:50053", "token_path": "/t", "tls": tls}}});
    load(national(
        json!({"ca_file": ca.file, "cert_file": client.cert_file, "key_file": client.key_file}),
    ))
    .expect("usable files");
    expect_refusals(
        national(json!({"ca_file": dir.join("missing.pem")})),
        &["federation.national.tls.ca_file: cannot read"],
    );
    expect_refusals(
        national(json!({"ca_file": garbage})),
        &["federation.national.tls.ca_file:", "holds no PEM certificate"],
    );
    expect_refusals(
        national(json!({"cert_file": client.cert_file})),
        &["federation.national.tls.key_file: required with cert_file"],
    );
    expect_refusals(
        national(json!({"cert_file": client.cert_file, "key_file": client.cert_file})),
        &["federation.national.tls.key_file:", "holds no usable PEM private key"],
    );
    expect_refusals(
        national(json!({"server_name": " "})),
        &["federation.national.tls.server_name: must not be empty"],
    );
}

#[test]
fn broken_listener_tls_is_named() {
    let dir = dir();
    let ca = Ca::new(&dir, "deployment");
    let server = ca.issue("server", &["localhost"]);
    let ok = json!({"cert_file": server.cert_file, "key_file": server.key_file});
    load(json!({"tls": ok})).expect("TLS without client certificates");
    load(
        json!({"tls": {"cert_file": server.cert_file, "key_file": server.key_file, "client_ca_file": ca.file,
        "client_auth": "required", "callers": [{"san": "mae.example", "subject": "mae"}]}}),
    )
    .expect("mutual TLS");
    expect_refusals(
        json!({"tls": {"cert_file": server.cert_file}}),
        &["tls.key_file: required with tls.cert_file"],
    );
    expect_refusals(
        json!({"tls": {"cert_file": dir.join("nope.pem"), "key_file": server.key_file}}),
        &["tls.cert_file: cannot read"],
    );
    expect_refusals(
        json!({"tls": {"client_auth": "optional"}}),
        &["tls.cert_file: required for client certificates"],
    );
    expect_refusals(
        json!({"tls": {"cert_file": server.cert_file, "key_file": server.key_file, "client_auth": "required"}}),
        &["tls.client_ca_file: required when tls.client_auth is \"optional\" or \"required\""],
    );
    expect_refusals(
        json!({"tls": {"cert_file": server.cert_file, "key_file": server.key_file, "client_ca_file": ca.file}}),
        &["tls.client_auth: is \"none\" but tls.client_ca_file is set"],
    );
    expect_refusals(
        json!({"tls": {"cert_file": server.cert_file, "key_file": server.key_file, "callers": [{"san": "a", "subject": "b"}]}}),
        &["tls.callers: callers are known by client certificates: set tls.client_auth"],
    );
    expect_refusals(
        json!({"tls": {"cert_file": server.cert_file, "key_file": server.key_file, "client_ca_file": ca.file,
            "client_auth": "optional", "callers": [{"san": "a", "subject": "b"}, {"san": "a", "subject": ""}]}}),
        &[
            "tls.callers[1].san: \"a\" is listed twice",
            "tls.callers[1].subject: must not be empty",
        ],
    );
    expect_refusals(json!({"tls": {"client_auth": "sometimes"}}), &["tls.client_auth"]);
}
