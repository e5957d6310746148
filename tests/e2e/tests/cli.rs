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
