//! `ocop call list-audit-events --service …` as the README shows it: each
//! service's own log, read on its own port with an officer's TOKEN.

use std::time::Duration;

use ocop_e2e::{Process, env_vars};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{CreateSubjectRequest, Representative, Subject, SubjectKind};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

/// Runs `ocop call list-audit-events` with `TOKEN` and the two services' URLs.
fn list(env: &TestEnv, urls: &[(&str, String)], token: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(ocop_e2e::binary("ocop"))
        .args(["call", "list-audit-events"])
        .args(args)
        .envs(env_vars(env))
        .envs(urls.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("OCOP_CONFIG")
        .env("TOKEN", token)
        .output()
        .expect("run ocop");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn list_audit_events_reads_the_log_of_the_service_named() {
    let env = TestEnv::new().await;
    let registry = Process::start("registry", &env, &[]);
    let evaluation = Process::start("evaluation", &env, &[]);
    for process in [&registry, &evaluation] {
        TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(30)).await;
    }
    let officer = env.token("province_officer", Some("38"), None);
    let mut client = RegistryServiceClient::new(Channel::from_shared(registry.url()).unwrap().connect().await.unwrap());
    let subject = Subject {
        kind: SubjectKind::Cooperative as i32,
        legal_name: "Hợp tác xã Mật ong Hàm Rồng".into(),
        registration_number: "2801234567".into(),
        representative: Some(Representative {
            full_name: "Lê Thị Lan".into(),
            is_woman: true,
            is_ethnic_minority: false,
        }),
        phone: "+84 237 385 1234".into(),
        email: "htx@example.vn".into(),
        address: "Thôn 1".into(),
        commune_code: "14758".into(),
        ..Default::default()
    };
    let created = client
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(subject),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    let urls = [
        ("OCOP_SERVICES__REGISTRY__URL", registry.url()),
        ("OCOP_SERVICES__EVALUATION__URL", evaluation.url()),
    ];

    let (ok, out) = list(
        &env,
        &urls,
        &officer,
        &["--service", "registry", "--filter", "method = CreateSubject"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("ListAuditEventsResponse") && out.contains(&created.name) && out.contains("CreateSubject"),
        "{out}"
    );
    // The evaluation service's log, on its port, holds none of the registry's rows.
    let (ok, out) = list(&env, &urls, &officer, &["--service", "evaluation"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("audit_events: []") && !out.contains(&created.name),
        "{out}"
    );

    let council = env.token("council_member", Some("38"), None);
    let (ok, out) = list(&env, &urls, &council, &["--service", "registry"]);
    assert!(!ok && out.contains("PermissionDenied"), "{out}");
    let (ok, out) = list(
        &env,
        &urls,
        &officer,
        &["--service", "registry", "--filter", "colour = red"],
    );
    assert!(!ok && out.contains("InvalidArgument"), "{out}");
    let (ok, out) = list(&env, &urls, &officer, &["--service", "mayor"]);
    assert!(!ok && out.contains("mayor"), "{out}");
}
