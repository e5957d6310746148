//! A graceful shutdown with a follower connected: the producer (registry)
//! ends its feed streams at once and exits well within its grace period, and
//! the follower (promotion) takes the restart as routine, with no warning or
//! error, and resumes from its cursor once the producer is back.

use std::time::{Duration, Instant};

use ocop_e2e::{Process, connect, eventually, free_addr};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{CreateSubjectRequest, Representative, Subject, SubjectKind};
use ocop_testkit::{TestEnv, authorized, poll};
use sqlx::PgPool;

fn subject(i: usize) -> CreateSubjectRequest {
    CreateSubjectRequest {
        subject: Some(Subject {
            kind: SubjectKind::HouseholdBusiness as i32,
            legal_name: format!("Hộ kinh doanh Lam Sơn {i}"),
            registration_number: format!("38{i:08}"),
            representative: Some(Representative {
                full_name: "Lê Thị Hoa".into(),
                ..Default::default()
            }),
            commune_code: "14758".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Waits until promotion's registry cursor is at the registry's last
/// position, and returns it. One statement, so one snapshot: read apart, a
/// row positioned between the reads looked caught up at the old position.
async fn caught_up(admin: &PgPool) -> i64 {
    eventually("promotion follows the registry to its last change", || async {
        let (last, unpositioned, cursor): (Option<i64>, i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT max(position) FROM registry.outbox),
                    (SELECT count(*) FROM registry.outbox WHERE position IS NULL),
                    (SELECT sequence FROM promotion.feed_cursors WHERE source = 'registry')",
        )
        .fetch_one(admin)
        .await
        .ok()?;
        (unpositioned == 0 && last.is_some() && cursor == last).then_some(cursor?)
    })
    .await
}

/// The JSON log lines of `process` from line `from` on, as (level, fields).
fn logged(process: &Process, from: usize) -> Vec<(String, serde_json::Value)> {
    process
        .output()
        .iter()
        .skip(from)
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            Some((v.get("level")?.as_str()?.to_owned(), v.get("fields")?.clone()))
        })
        .collect()
}

#[tokio::test]
async fn a_producer_with_a_follower_exits_at_once_and_the_follower_resumes_quietly() {
    let env = TestEnv::new().await;
    let officer = env.token("province_officer", Some("38"), None);
    // Below the ephemeral range: it restarts on this port while other tests run.
    let mut registry = Process::start_on("registry", &env, &[], &free_addr());
    let registry_url = registry.url();
    let certification = Process::start(
        "certification",
        &env,
        &[("OCOP_SERVICES__REGISTRY__URL", &registry_url)],
    );
    let certification_url = certification.url();
    let promotion = Process::start(
        "promotion",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__CERTIFICATION__URL", &certification_url),
        ],
    );
    connect(&certification).await;
    connect(&promotion).await;
    let admin = PgPool::connect(&env.config.database.url).await.unwrap();
    let mut client = RegistryServiceClient::new(connect(&registry).await);
    client.create_subject(authorized(subject(1), &officer)).await.unwrap();
    let cursor = caught_up(&admin).await;

    // Idle but for the follower's open stream: the exit must not wait for it.
    let from = promotion.output().len();
    let grpc = registry.grpc_addr.to_string();
    let asked = Instant::now();
    registry.terminate();
    // Polled without blocking this runtime: the test's own idle connection
    // to the registry must answer the server's goodbye, as any live client does.
    let status = poll::until("the registry to exit", Duration::from_secs(15), || {
        std::future::ready(registry.try_wait())
    })
    .await;
    let took = asked.elapsed();
    assert!(status.success(), "{status}: {}", registry.output().join("\n"));
    assert!(
        took < Duration::from_secs(2),
        "SIGTERM to exit took {took:?}:\n{}",
        registry.output().join("\n")
    );
    drop(registry);

    let registry = Process::start_on("registry", &env, &[], &grpc);
    let mut client = RegistryServiceClient::new(connect(&registry).await);
    client.create_subject(authorized(subject(2), &officer)).await.unwrap();
    let after = caught_up(&admin).await;
    assert!(
        after > cursor,
        "the change made after the restart arrived ({cursor} → {after})"
    );

    let lines = logged(&promotion, from);
    let loud: Vec<_> = lines
        .iter()
        .filter(|(level, _)| level == "WARN" || level == "ERROR")
        .collect();
    assert!(loud.is_empty(), "the follower took the restart as a fault: {loud:?}");
    let said = |message: &str| {
        lines
            .iter()
            .filter(|(_, f)| f["message"] == message && f["source"] == "registry")
            .map(|(_, f)| f.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        said("the feed's producer is shutting down; reconnecting").len(),
        1,
        "the follower noted the shutdown once: {lines:?}"
    );
    let resumed = said("following the feed");
    assert_eq!(
        resumed.iter().map(|f| f["after"].as_i64()).collect::<Vec<_>>(),
        [Some(cursor)],
        "the follower resumed once, from its cursor: {lines:?}"
    );
}
