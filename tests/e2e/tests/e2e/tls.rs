//! TLS on the listeners and mutual TLS, over real connections with
//! certificates made here (`ocop_testkit::certs`): every refusal with its
//! reason, and a certificate renewed on disk served without a restart.

use std::time::Duration;

use ocop_kit::config::{Caller, ClientAuth, PeerTls, TlsConfig};
use ocop_proto::feed::v1::WatchChangesRequest;
use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use ocop_testkit::certs::{Ca, Leaf};
use ocop_testkit::{TestApp, TestEnv, authorized, poll};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// The SANs of the service's own certificate.
const SERVER: &[&str] = &["localhost", "127.0.0.1"];

/// The national deployment, a caller known by its certificate.
const NATIONAL_SAN: &str = "national.ocop.test";
const NATIONAL_SUBJECT: &str = "ocop-national";

struct World {
    env: TestEnv,
    ca: Ca,
    server: Leaf,
    national: Leaf,
}

fn world(env: TestEnv, client_auth: ClientAuth) -> World {
    let dir = env.dir.join("tls");
    let ca = Ca::new(&dir, "deployment");
    let server = ca.issue("server", SERVER);
    let national = ca.issue("national", &[NATIONAL_SAN]);
    let mut env = env;
    env.config.tls = TlsConfig {
        cert_file: Some(server.cert_file.clone()),
        key_file: Some(server.key_file.clone()),
        client_ca_file: (client_auth != ClientAuth::None).then(|| ca.file.clone()),
        client_auth,
        callers: if client_auth == ClientAuth::None {
            Vec::new()
        } else {
            vec![Caller {
                san: NATIONAL_SAN.into(),
                subject: NATIONAL_SUBJECT.into(),
            }]
        },
    };
    env.config.validate().expect("the TLS settings validate");
    env.client_tls = ca.trust_as(&national);
    World {
        env,
        ca,
        server,
        national,
    }
}

async fn registry(world: &World) -> TestApp {
    world.env.spawn(ocop_registry::spec(), ocop_registry::routes).await
}

/// Dials `app` as `tls` says; the error of the handshake or the call, as text.
async fn health(app: &TestApp, url: &str, tls: &PeerTls) -> Result<(), String> {
    let channel = ocop_kit::client::endpoint(url, tls)
        .map_err(|e| format!("{e:#}"))?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let _ = app;
    HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map(|_| ())
        .map_err(|s| format!("{:?}: {} {:?}", s.code(), s.message(), s.get_details_error_info()))
}

/// Opens the feed with a `service` token of `subject`, dialling as `tls` says.
async fn feed(world: &World, app: &TestApp, tls: &PeerTls, subject: &str) -> Result<(), tonic::Status> {
    let channel = ocop_kit::client::endpoint(&app.url, tls)
        .expect("endpoint")
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
    let token = world
        .env
        .signer
        .issue(subject, "service", None, None, 600)
        .expect("token");
    FeedServiceClient::new(channel)
        .watch_changes(authorized(WatchChangesRequest { after_sequence: 0 }, &token))
        .await
        .map(|_| ())
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

#[tokio::test]
async fn a_plaintext_client_of_a_tls_port_is_told_to_use_https() {
    let world = world(TestEnv::new().await, ClientAuth::None);
    let app = registry(&world).await;
    assert!(app.url.starts_with("https://"), "{}", app.url);
    health(&app, &app.url, &world.ca.trust())
        .await
        .expect("TLS with the CA works");

    let plain = format!("http://{}", app.grpc_addr);
    let err = health(&app, &plain, &PeerTls::default()).await.unwrap_err();
    assert!(
        err.contains("FailedPrecondition") && err.contains("TLS_REQUIRED"),
        "{err}"
    );
    assert!(err.contains("this port speaks TLS: dial https://"), "{err}");

    // The HTTP port too: a 400 that says so, and /healthz over TLS.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut http = tokio::net::TcpStream::connect(app.http_addr).await.unwrap();
    http.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("use https://"), "{answer}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_or_expired_is_refused() {
    let world = world(TestEnv::new().await, ClientAuth::None);
    let app = registry(&world).await;
    let other = Ca::new(&world.env.dir.join("other"), "other");
    let err = health(&app, &app.url, &other.trust()).await.unwrap_err();
    assert!(err.contains("UnknownIssuer"), "a certificate of another CA: {err}");

    // A name the certificate does not carry.
    let misnamed = PeerTls {
        server_name: Some("registry.elsewhere.test".into()),
        ..world.ca.trust()
    };
    let err = health(&app, &app.url, &misnamed).await.unwrap_err();
    assert!(err.contains("NotValidForName"), "{err}");

    // The server's certificate expires (renewed on disk as an expired one).
    world.ca.issue_expired("server", SERVER);
    poll::until_ok(
        "the expired certificate to be refused",
        Duration::from_secs(20),
        || async {
            match health(&app, &app.url, &world.ca.trust()).await {
                Err(err) if err.contains("Expired") => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
    let _ = &world.server;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_restart() {
    let world = world(TestEnv::new().await, ClientAuth::None);
    let app = registry(&world).await;
    let next = Ca::new(&world.env.dir.join("next"), "next");
    health(&app, &app.url, &world.ca.trust())
        .await
        .expect("the first certificate");
    assert!(
        health(&app, &app.url, &next.trust()).await.is_err(),
        "not yet the next CA's"
    );

    // Renewed by the next CA, written over the same files.
    let renewed = next.issue("renewed", SERVER);
    std::fs::copy(&renewed.key_file, &world.server.key_file).unwrap();
    std::fs::copy(&renewed.cert_file, &world.server.cert_file).unwrap();
    let trust_next = next.trust();
    poll::until_ok("the renewed certificate to be served", Duration::from_secs(20), || {
        health(&app, &app.url, &trust_next)
    })
    .await;
    let err = health(&app, &app.url, &world.ca.trust()).await.unwrap_err();
    assert!(
        err.contains("UnknownIssuer"),
        "the old certificate is no longer served: {err}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_certificates_are_checked_against_the_callers() {
    let world = world(TestEnv::new().await, ClientAuth::Required);
    let app = registry(&world).await;

    // No certificate: health answers (probes), the feed does not.
    health(&app, &app.url, &world.ca.trust())
        .await
        .expect("health without a certificate");
    let err = feed(&world, &app, &world.ca.trust(), "ocop-promotion")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    assert_eq!(reason(&err), "CLIENT_CERT_REQUIRED");
    assert!(err.message().contains("client certificate"), "{}", err.message());
    // A certificate of another CA: refused at the handshake.
    let other = Ca::new(&world.env.dir.join("other"), "other");
    let stranger = other.issue("stranger", &[NATIONAL_SAN]);
    let err = feed(&world, &app, &other.trust_as(&stranger), NATIONAL_SUBJECT)
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{err:?}"
    );

    // The listed caller with its own token.
    feed(&world, &app, &world.ca.trust_as(&world.national), NATIONAL_SUBJECT)
        .await
        .expect("the national deployment follows the feed");
    // The listed caller's certificate carrying another subject's token.
    let err = feed(&world, &app, &world.ca.trust_as(&world.national), "ocop-province-46")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert_eq!(reason(&err), "CLIENT_CERT_SUBJECT_MISMATCH");
    assert!(err.message().contains(NATIONAL_SAN), "{}", err.message());
    // A certificate of the right CA whose name is not listed.
    let unlisted = world.ca.issue("unlisted", &["unlisted.ocop.test"]);
    let err = feed(&world, &app, &world.ca.trust_as(&unlisted), NATIONAL_SUBJECT)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert_eq!(reason(&err), "CLIENT_CERT_UNKNOWN");
    assert!(err.message().contains("unlisted.ocop.test"), "{}", err.message());
    // An expired client certificate: refused at the handshake.
    let expired = world.ca.issue_expired("expired", &[NATIONAL_SAN]);
    let err = feed(&world, &app, &world.ca.trust_as(&expired), NATIONAL_SUBJECT)
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{err:?}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn optional_client_certificates_bind_the_listed_callers_only() {
    let world = world(TestEnv::new().await, ClientAuth::Optional);
    let app = registry(&world).await;
    let anonymous = world.ca.trust();

    // Public methods need no certificate.
    health(&app, &app.url, &anonymous)
        .await
        .expect("health without a certificate");
    // Nor do callers that are not listed (people, the province's own services).
    feed(&world, &app, &anonymous, "ocop-promotion")
        .await
        .expect("an unlisted subject without a certificate");
    // A listed caller must come with its certificate.
    let err = feed(&world, &app, &anonymous, NATIONAL_SUBJECT).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    assert_eq!(reason(&err), "CLIENT_CERT_REQUIRED");
    feed(&world, &app, &world.ca.trust_as(&world.national), NATIONAL_SUBJECT)
        .await
        .expect("with its certificate");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_balancer_dials_each_replica_over_tls_under_the_urls_host() {
    use ocop_kit::config::{BalanceConfig, Endpoint};
    let world = world(TestEnv::new().await, ClientAuth::None);
    let app = registry(&world).await;
    // The URL names a host; the balancer dials its addresses, and each
    // replica's certificate must carry that host.
    let to = |tls: PeerTls| Endpoint {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        url: format!("https://localhost:{}", app.grpc_addr.port()),
        tls,
        balance: Some(BalanceConfig {
            replicas: Vec::new(),
            refresh_ms: 100,
        }),
        deadline_ms: 10_000,
    };
    let channel = ocop_kit::client::service_channel(&to(world.ca.trust()), None).expect("channel");
    let health_client = HealthClient::new(channel);
    poll::until_ok("a replica over TLS", Duration::from_secs(20), || {
        let mut health_client = health_client.clone();
        async move { health_client.check(HealthCheckRequest { service: String::new() }).await }
    })
    .await;
    app.stop().await.unwrap();
}
