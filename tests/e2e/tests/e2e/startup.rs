//! A service that cannot be built exits at once with the reason, naming the
//! setting, instead of panicking or reporting SERVING without what it needs.

use std::process::Command;

use ocop_e2e::{binary, env_vars};
use ocop_testkit::TestEnv;

/// Runs service `name` with `extra` variables; its exit code and standard error.
fn run(name: &str, env: &TestEnv, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(binary(name))
        .args(["--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .envs(env_vars(env))
        .env_remove("OCOP_CONFIG")
        .envs(extra.iter().copied())
        .output()
        .expect("run the service");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_certification_key_that_does_not_load_stops_the_start() {
    let env = TestEnv::new().await;
    let bad = env.dir.join("not-a-key.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let (code, stderr) = run(
        "certification",
        &env,
        &[("OCOP_CERTIFICATION__SIGNING_KEY_PATH", bad.to_str().unwrap())],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the certification service cannot start")
            && stderr.contains(&format!("certification.signing_key_path {}", bad.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn promotion_without_the_key_its_followers_sign_with_stops_the_start() {
    let env = TestEnv::new().await;
    let missing = env.dir.join("missing-signing.pem");
    let (code, stderr) = run(
        "promotion",
        &env,
        &[("OCOP_AUTH__SIGNING_KEY_PATH", missing.to_str().unwrap())],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the promotion service cannot start")
            && stderr.contains(&format!("auth.signing_key_path {}", missing.display()))
            && stderr.contains("the catalog is not fed"),
        "{stderr}"
    );
}
