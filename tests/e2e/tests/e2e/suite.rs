//! The four service binaries as processes: health, reflection, readiness
//! that follows the database, configuration errors and graceful shutdown.

use std::time::Duration;

use ocop_e2e::{Process, env_vars, http_get, run_to_end};
use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::{TestEnv, authorized, poll};
use sqlx::{Connection, PgConnection};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

async fn health(url: &str, service: &str) -> ServingStatus {
    let channel = Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

async fn wait_for(url: &str, service: &str, want: ServingStatus) {
    let what = format!("{url} to report {want:?} for `{service}`");
    poll::until_ok(&what, Duration::from_secs(15), || async {
        let now = health(url, service).await;
        if now == want { Ok(()) } else { Err(now) }
    })
    .await
}

async fn listed_services(url: &str) -> Vec<String> {
    let channel = Channel::from_shared(url.to_owned()).unwrap().connect().await.unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("one response");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn every_service_serves_health_and_lists_itself_through_reflection() {
    let env = TestEnv::new().await;
    for (binary, service) in [
        ("registry", "ocop.registry.v1.RegistryService"),
        ("evaluation", "ocop.evaluation.v1.EvaluationService"),
        ("certification", "ocop.certification.v1.CertificationService"),
        ("promotion", "ocop.promotion.v1.PromotionService"),
    ] {
        let process = Process::start(binary, &env, &[]);
        wait_for(&process.url(), service, ServingStatus::Serving).await;
        assert_eq!(health(&process.url(), "").await, ServingStatus::Serving);
        let mut expected = vec![
            "grpc.health.v1.Health".to_string(),
            "ocop.feed.v1.FeedService".to_string(),
            "ocop.audit.v1.AuditService".to_string(),
            service.to_string(),
        ];
        expected.sort();
        assert_eq!(
            listed_services(&process.url()).await,
            expected,
            "{binary}: health, its change feed, its audit log and itself"
        );
        let metrics = http_get(process.http_addr, "/metrics").await;
        assert!(metrics.contains("200 OK"), "{metrics}");
        let healthz = http_get(process.http_addr, "/healthz").await;
        assert!(healthz.contains("200 OK") && healthz.contains("SERVING"), "{healthz}");
    }
}

/// A minimal HTTP/1.1 GET, to check the metrics port as a scraper sees it.
#[tokio::test]
async fn health_is_not_serving_until_the_database_answers() {
    let env = TestEnv::new().await;
    // Point the service at a database that does not exist yet.
    let later = format!("{}_later", env.database);
    let url = env.config.database.url.replace(&env.database, &later);
    let process = Process::start("registry", &env, &[("OCOP_DATABASE__URL", url.as_str())]);
    process
        .wait_line("database not ready; retrying", Duration::from_secs(15))
        .await;
    assert_eq!(
        health(&process.url(), "ocop.registry.v1.RegistryService").await,
        ServingStatus::NotServing
    );
    let healthz = http_get(process.http_addr, "/healthz").await;
    assert!(healthz.contains("503"), "{healthz}");

    let mut admin = PgConnection::connect(&std::env::var("OCOPTEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {later}")))
        .execute(&mut admin)
        .await
        .unwrap();
    wait_for(
        &process.url(),
        "ocop.registry.v1.RegistryService",
        ServingStatus::Serving,
    )
    .await;
}

#[tokio::test]
async fn a_bad_configuration_stops_the_process_and_names_the_key() {
    let env = TestEnv::new().await;
    let mut vars = env_vars(&env);
    vars.push(("OCOP_REDIS__TIMEOUT_MS".into(), "0".into()));
    vars.push(("OCOP_DEPLOYMENT__PROVINCE_CODE".into(), "99".into()));
    let (status, output) = run_to_end("registry", &[], &vars);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("redis.timeout_ms: 0 must be between 1 and 10000"),
        "{output}"
    );
    assert!(
        output.contains("deployment.province_code: \"99\" is not one of the 34 province codes"),
        "{output}"
    );

    let (status, output) = run_to_end("registry", &["--config", "/nonexistent/ocop.toml"], &env_vars(&env));
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains("/nonexistent/ocop.toml does not exist"), "{output}");
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let env = TestEnv::new().await;
    let mut process = Process::start("registry", &env, &[]);
    wait_for(&process.url(), "", ServingStatus::Serving).await;

    // Hold a lock that the next (uncached) read must wait for, so a request
    // is provably in flight when SIGTERM arrives.
    let mut locker = PgConnection::connect(&env.config.database.url).await.unwrap();
    let mut tx = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE registry.administrative_units IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();

    let channel = Channel::from_shared(process.url()).unwrap().connect().await.unwrap();
    let token = env.token("service", None, None);
    let in_flight = tokio::spawn(async move {
        RegistryServiceClient::new(channel)
            .get_administrative_unit(authorized(
                GetAdministrativeUnitRequest {
                    name: "administrativeUnits/2025-38".into(),
                },
                &token,
            ))
            .await
    });
    // The read is in flight once its query waits on the lock held above.
    let watcher = sqlx::PgPool::connect(&env.config.database.url).await.unwrap();
    poll::until("the read to wait on the lock", Duration::from_secs(15), || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&watcher)
        .await
        .unwrap();
        (waiting > 0).then_some(())
    })
    .await;
    process.terminate();
    process
        .wait_line("shutting down: draining in-flight requests", Duration::from_secs(15))
        .await;
    assert!(
        process.try_wait().is_none(),
        "exited while a request was still in flight"
    );

    tx.rollback().await.unwrap();
    let response = in_flight.await.unwrap().expect("the in-flight request completes");
    assert_eq!(
        response.into_inner().administrative_unit.unwrap().display_name,
        "Tỉnh Thanh Hóa"
    );
    let status = process.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", process.output().join("\n"));
}
