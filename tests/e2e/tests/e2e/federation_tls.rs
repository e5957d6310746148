//! Federation over mutual TLS, every deployment a set of processes: the
//! ministry's registry follows a province's registry feed, and the
//! province's certification follows the national certification feed, each
//! presenting its client certificate, whose SAN the other side maps to the
//! subject of the `service` token it issued (`[[tls.callers]]`).

use std::path::Path;
use std::time::Duration;

use ocop_e2e::{Process, free_addr};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{CreateSubjectRequest, Representative, Subject, SubjectKind};
use ocop_testkit::certs::{Ca, Leaf};
use ocop_testkit::poll::{self, Text};
use ocop_testkit::{TestApp, TestEnv, authorized};
use sqlx::PgPool;

const PROVINCE_SAN: &str = "province-38.ocop.test";
const NATIONAL_SAN: &str = "national.ocop.test";
const SERVER: &[&str] = &["localhost", "127.0.0.1"];

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `[tls]` for a deployment's listeners: its server certificate, client
/// certificates from `ca` required or optional, and its callers.
fn listener_tls(server: &Leaf, ca: &Ca, client_auth: &str, callers: &[(&str, &str)]) -> String {
    let mut toml = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{}\"\nclient_auth = \"{client_auth}\"\n",
        path(&server.cert_file),
        path(&server.key_file),
        path(&ca.file)
    );
    for (san, subject) in callers {
        toml += &format!("\n[[tls.callers]]\nsan = \"{san}\"\nsubject = \"{subject}\"\n");
    }
    toml
}

/// The `tls` table of a peer dialled with `ca` trusted, presenting `client`.
fn peer_tls(ca: &Ca, client: &Leaf) -> String {
    format!(
        "tls.ca_file = \"{}\"\ntls.cert_file = \"{}\"\ntls.key_file = \"{}\"\n",
        path(&ca.file),
        path(&client.cert_file),
        path(&client.key_file)
    )
}

fn start(name: &str, env: &TestEnv, toml: &str, file: &str, extra: &[(&str, &str)], listen: Option<&str>) -> Process {
    let config = env.dir.join(file);
    std::fs::write(&config, toml).unwrap();
    let config = path(&config);
    let mut vars = vec![("OCOP_CONFIG", config.as_str())];
    vars.extend_from_slice(extra);
    match listen {
        Some(addr) => Process::start_on(name, env, &vars, addr),
        None => Process::start(name, env, &vars),
    }
}

fn https(process: &Process) -> String {
    format!("https://{}", process.grpc_addr)
}

#[tokio::test]
async fn a_province_and_the_ministry_follow_each_other_over_mutual_tls() {
    let (national, province) = (TestEnv::new().await, TestEnv::new().await);
    // One CA per deployment, each issuing its servers' and its clients' certificates.
    let national_ca = Ca::new(&national.dir.join("tls"), "national");
    let province_ca = Ca::new(&province.dir.join("tls"), "province");
    let national_server = national_ca.issue("server", SERVER);
    let national_client = national_ca.issue("client", &[NATIONAL_SAN]);
    let province_server = province_ca.issue("server", SERVER);
    let province_client = province_ca.issue("client", &[PROVINCE_SAN]);

    // The national certification service: only province 38's certificate,
    // carrying the token the ministry issued it (subject "38").
    let national_certification_addr = free_addr();
    let national_certification = start(
        "certification",
        &national,
        &format!(
            "[deployment]\nrole = \"national\"\n\n{}",
            listener_tls(&national_server, &province_ca, "required", &[(PROVINCE_SAN, "38")])
        ),
        "certification.toml",
        &[],
        Some(&national_certification_addr),
    );

    // The province: its registry lets the ministry in by its certificate
    // (people and its own services need none), its certification follows
    // the national feed with its certificate.
    let token = province.dir.join("national.jwt");
    std::fs::write(
        &token,
        national.signer.issue("38", "service", None, None, 3600).unwrap(),
    )
    .unwrap();
    let province_toml = format!(
        "[deployment]\nprovince_code = \"38\"\n\n[federation.national]\ncertification_url = \"https://{national_certification_addr}\"\ntoken_path = \"{}\"\n{}\n{}",
        path(&token),
        peer_tls(&national_ca, &province_client),
        listener_tls(
            &province_server,
            &national_ca,
            "optional",
            &[(NATIONAL_SAN, "national")]
        ),
    );
    let province_registry = start("registry", &province, &province_toml, "province.toml", &[], None);
    let province_certification = start("certification", &province, &province_toml, "province.toml", &[], None);

    // The national registry mirrors province 38 with its own certificate.
    let token = national.dir.join("38.jwt");
    std::fs::write(
        &token,
        province.signer.issue("national", "service", None, None, 3600).unwrap(),
    )
    .unwrap();
    let url = https(&province_registry);
    let national_registry = start(
        "registry",
        &national,
        &format!(
            "[deployment]\nrole = \"national\"\n\n[[federation.provinces]]\nprovince_code = \"38\"\nregistry_url = \"{url}\"\nevaluation_url = \"{url}\"\ncertification_url = \"{url}\"\ntoken_path = \"{}\"\n{}",
            path(&token),
            peer_tls(&province_ca, &national_client),
        ),
        "registry.toml",
        &[],
        None,
    );
    let national_trust = national_ca.trust();
    let province_trust = province_ca.trust();
    for (process, trust) in [
        (&national_certification, &national_trust),
        (&province_registry, &province_trust),
        (&province_certification, &province_trust),
    ] {
        TestApp::wait_serving_url(&https(process), trust, Duration::from_secs(60)).await;
    }
    TestApp::wait_serving_at(national_registry.grpc_addr, Duration::from_secs(60)).await;

    // A province officer (no client certificate) registers a producer...
    let channel = ocop_kit::client::endpoint(&https(&province_registry), &province_trust)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let officer = province.token("province_officer", Some("38"), None);
    let subject = Subject {
        kind: SubjectKind::Cooperative as i32,
        legal_name: "Hợp tác xã mTLS".into(),
        registration_number: "3800000001".into(),
        representative: Some(Representative {
            full_name: "Lê Thị Hoa".into(),
            ..Default::default()
        }),
        commune_code: "14758".into(),
        ..Default::default()
    };
    RegistryServiceClient::new(channel)
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(subject),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .expect("the officer registers a producer over TLS");

    // ...which the ministry's registry mirrors over mutual TLS.
    let db = PgPool::connect(&national.config.database.url).await.unwrap();
    poll::until_ok(
        "the national registry to mirror province 38",
        Duration::from_secs(30),
        || async {
            let mirrored: i64 = sqlx::query_scalar("SELECT count(*) FROM registry.mirrored WHERE origin = '38'")
                .fetch_one(&db)
                .await
                .unwrap_or(0);
            if mirrored >= 1 {
                Ok(())
            } else {
                Err(Text(national_registry.output().join("\n")))
            }
        },
    )
    .await;

    // The province's certification opened the national certification feed
    // with its certificate and the token of subject "38".
    poll::until_ok(
        "the province to follow the national feed",
        Duration::from_secs(30),
        || async {
            let lines = province_certification.output();
            let following = lines
                .iter()
                .any(|line| line.contains("following the feed") && line.contains("national/certification"));
            if following { Ok(()) } else { Err(Text(lines.join("\n"))) }
        },
    )
    .await;
}
