//! The `ocop` command line as the README uses it: seed (twice), a token it
//! prints accepted by a running registry, import and export through it.

use std::time::Duration;

use ocop_e2e::{Process, env_vars, run_to_end};
use ocop_proto::registry::v1::GetSubjectRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

#[tokio::test]
async fn seed_token_import_and_export_work_as_documented() {
    let env = TestEnv::new().await;
    let vars = env_vars(&env);
    let (status, output) = run_to_end("ocop", &["seed"], &vars);
    assert!(status.success(), "{output}");
    assert!(output.contains("8 producers created"), "{output}");
    let (status, output) = run_to_end("ocop", &["seed"], &vars);
    assert!(status.success(), "{output}");
    assert!(
        output.contains("0 producers created (8 already there)"),
        "seeding twice is safe: {output}"
    );

    let (status, token) = run_to_end(
        "ocop",
        &["token", "--role", "council_member", "--province", "38"],
        &vars,
    );
    assert!(status.success(), "{token}");
    let (status, output) = run_to_end("ocop", &["token", "--role", "mayor"], &vars);
    assert!(!status.success());
    assert!(output.contains("unknown role `mayor`"), "{output}");

    let registry = Process::start("registry", &env, &[]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;
    let mut client = RegistryServiceClient::new(Channel::from_shared(registry.url()).unwrap().connect().await.unwrap());
    let subject = client
        .get_subject(authorized(
            GetSubjectRequest {
                name: "subjects/htx-mat-ong-nhu-xuan".into(),
            },
            token.trim(),
        ))
        .await
        .expect("the printed token is accepted")
        .into_inner()
        .subject
        .unwrap();
    assert_eq!(subject.legal_name, "Hợp tác xã Mật ong Như Xuân");

    let mut with_url = vars.clone();
    with_url.push(("OCOP_SERVICES__REGISTRY__URL".into(), registry.url()));
    let file = env.dir.join("export.csv");
    let (status, output) = run_to_end(
        "ocop",
        &["export", "subjects-products", file.to_str().unwrap()],
        &with_url,
    );
    assert!(status.success(), "{output}");
    assert!(output.contains("9 rows written"), "{output}");
    let (status, output) = run_to_end(
        "ocop",
        &["import", "subjects-products", file.to_str().unwrap()],
        &with_url,
    );
    assert!(status.success(), "{output}");
    assert!(
        output.contains("0 producers created, 8 unchanged, 0 products created"),
        "{output}"
    );

    let bad = env.dir.join("bad.csv");
    std::fs::write(&bad, "registration_number\n1\n").unwrap();
    let (status, output) = run_to_end(
        "ocop",
        &["import", "subjects-products", bad.to_str().unwrap()],
        &with_url,
    );
    assert!(!status.success());
    assert!(
        output.contains("InvalidArgument") && output.contains("nothing was imported"),
        "{output}"
    );
}

#[tokio::test]
async fn call_output_cut_short_by_a_closed_pipe_is_not_a_crash() {
    use std::io::BufRead;
    let env = TestEnv::new().await;
    let registry = Process::start("registry", &env, &[]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;
    // As `ocop call list-units --page-size 500 | head -1`: far more than a pipe holds.
    let mut child = std::process::Command::new(ocop_e2e::binary("ocop"))
        .args(["call", "list-units", "--page-size", "500"])
        .envs(env_vars(&env))
        .env("OCOP_SERVICES__REGISTRY__URL", registry.url())
        .env_remove("OCOP_CONFIG")
        .env_remove("TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ocop");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("ListAdministrativeUnitsResponse"), "{first}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}

#[tokio::test]
async fn keys_are_readable_by_openssl_and_unknown_variables_only_warn() {
    let dir = std::env::temp_dir().join(format!("ocop-e2e-keys-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let vars = vec![
        ("OCOP_AUTH__SIGNING_KEY_PATH".to_string(), path("signing.pem")),
        ("OCOP_AUTH__JWKS_PATH".to_string(), path("jwks.json")),
        (
            "OCOP_CERTIFICATION__SIGNING_KEY_PATH".to_string(),
            path("certificates.pem"),
        ),
        // Not a setting (scripts/local-servers.sh reads it).
        ("OCOP_PG_PORT".to_string(), "55432".to_string()),
    ];
    let (status, output) = run_to_end("ocop", &["keys"], &vars);
    assert!(status.success(), "{output}");
    assert!(
        output.contains("warning: OCOP_PG_PORT is not a setting; ignored"),
        "{output}"
    );
    for key in ["signing.pem", "certificates.pem"] {
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in", &path(key)])
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl pkey -in {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, token) = run_to_end("ocop", &["token", "--role", "service"], &vars);
    assert!(status.success(), "{token}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn token_mints_service_tokens_for_a_fixed_audience_and_lifetime() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ocop_kit::auth::{Role, Verifier};
    let dir = std::env::temp_dir().join(format!("ocop-e2e-token-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    // Province 46's deployment, with its own keys.
    let vars = vec![
        ("OCOP_AUTH__SIGNING_KEY_PATH".to_string(), path("signing.pem")),
        ("OCOP_AUTH__JWKS_PATH".to_string(), path("jwks.json")),
        (
            "OCOP_CERTIFICATION__SIGNING_KEY_PATH".to_string(),
            path("certificates.pem"),
        ),
        ("OCOP_AUTH__ISSUER".to_string(), "ocop-46".to_string()),
        ("OCOP_DEPLOYMENT__PROVINCE_CODE".to_string(), "46".to_string()),
    ];
    let (status, output) = run_to_end("ocop", &["keys"], &vars);
    assert!(status.success(), "{output}");
    let jwks = std::fs::read_to_string(path("jwks.json")).unwrap();
    let claims = |token: &str| -> serde_json::Value {
        let payload = URL_SAFE_NO_PAD.decode(token.trim().split('.').nth(1).unwrap()).unwrap();
        serde_json::from_slice(&payload).unwrap()
    };

    // By default: for this deployment (its audience derived from the province).
    let (status, own) = run_to_end("ocop", &["token", "--role", "service"], &vars);
    assert!(status.success(), "{own}");
    assert_eq!(claims(&own)["aud"], "ocop:46");
    let province = Verifier::from_jwks(&jwks, "ocop-46", "ocop:46").unwrap();
    assert_eq!(province.verify(own.trim()).unwrap().role, Role::Service);

    // A service token for a fixed audience and lifetime.
    let (status, minted) = run_to_end(
        "ocop",
        &[
            "token",
            "--role",
            "service",
            "--subject",
            "mae",
            "--audience",
            "ocop:national",
            "--ttl-s",
            "3600",
        ],
        &vars,
    );
    assert!(status.success(), "{minted}");
    let c = claims(&minted);
    assert_eq!(c["aud"], "ocop:national");
    assert_eq!(c["sub"], "mae");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 3600);
    let national = Verifier::from_jwks(&jwks, "ocop-46", "ocop:national").unwrap();
    assert_eq!(national.verify(minted.trim()).unwrap().subject, "mae");
    let err = province.verify(minted.trim()).unwrap_err();
    assert_eq!(err.reason(), "TOKEN_WRONG_AUDIENCE");

    // Longer than the deployments accept: refused before signing.
    let (status, output) = run_to_end("ocop", &["token", "--role", "service", "--ttl-s", "90000"], &vars);
    assert!(!status.success(), "{output}");
    assert!(output.contains("auth.max_token_lifetime_s (86400)"), "{output}");
    assert!(!output.contains("eyJ"), "no token printed: {output}");
    std::fs::remove_dir_all(&dir).ok();
}
