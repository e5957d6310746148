//! The change feed across processes: a follower of the registry's feed is
//! killed mid-stream and restarted, the registry itself is killed and
//! restarted on its port, writes go on throughout, and in the end every
//! change was applied exactly once, in commit order, with no gap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ocop_e2e::{Process, free_addr};
use ocop_kit::Result;
use ocop_kit::follow::{Apply, Follower};
use ocop_kit::server::BoxFuture;
use ocop_proto::feed::v1::Change;
use ocop_proto::feed::v1::feed_service_client::FeedServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{CreateSubjectRequest, Representative, Subject, SubjectKind};
use ocop_testkit::{TestApp, TestEnv, authorized, poll};
use sqlx::PgConnection;

/// Records each change; applying one twice would break the primary key.
struct Record(Arc<AtomicUsize>);

impl Apply for Record {
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO applied (sequence, resource) VALUES ($1, $2)")
                .bind(change.sequence)
                .bind(&change.resource)
                .execute(&mut *tx)
                .await?;
            self.0.fetch_add(1, Ordering::SeqCst);
            // Not a wait for a condition: a slow apply (the behaviour under
            // test), slow enough that the kill below lands mid-stream.
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        })
    }
}

fn subject(i: usize) -> CreateSubjectRequest {
    CreateSubjectRequest {
        subject: Some(Subject {
            kind: SubjectKind::HouseholdBusiness as i32,
            legal_name: format!("Hộ kinh doanh {i}"),
            registration_number: format!("38{i:08}"),
            representative: Some(Representative {
                full_name: "Nguyễn Văn An".into(),
                ..Default::default()
            }),
            commune_code: "14758".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn write(url: &str, token: &str, range: std::ops::Range<usize>) {
    let mut registry = RegistryServiceClient::connect(url.to_owned()).await.unwrap();
    for i in range {
        registry.create_subject(authorized(subject(i), token)).await.unwrap();
    }
}

#[tokio::test]
async fn a_follower_applies_every_change_once_through_kills_and_restarts() {
    let env = TestEnv::new().await;
    let officer = env.token("province_officer", Some("38"), None);
    // Below the ephemeral range: it restarts on this port while other tests run.
    let mut registry = Process::start_on("registry", &env, &[], &free_addr());
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    let url = registry.url();

    // The follower's own schema, as a consuming service would have.
    let admin = sqlx::PgPool::connect(&env.config.database.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA follower;
         CREATE TABLE follower.feed_cursors (source text PRIMARY KEY, sequence bigint NOT NULL,
             update_time timestamptz NOT NULL DEFAULT now());
         CREATE TABLE follower.applied (sequence bigint PRIMARY KEY, resource text NOT NULL);",
    )
    .execute(&admin)
    .await
    .unwrap();
    let db = ocop_kit::db::connect_lazy(&env.config.database, "follower").unwrap();
    let token = env.token("service", None, None);
    let applied = Arc::new(AtomicUsize::new(0));
    let follower = || Follower {
        source: "registry".into(),
        connect: {
            let (url, token) = (url.clone(), token.clone());
            Box::new(move || {
                Ok(FeedServiceClient::new(ocop_kit::client::channel(
                    &url,
                    &Default::default(),
                    Some(&token),
                )?))
            })
        },
        db: db.clone(),
        apply: Record(applied.clone()),
    };

    write(&url, &officer, 0..60).await;
    let first = tokio::spawn(follower().run());
    poll::until(
        "the first follower to apply 20 changes",
        Duration::from_secs(30),
        || std::future::ready((applied.load(Ordering::SeqCst) >= 20).then_some(())),
    )
    .await;
    first.abort(); // killed mid-stream
    let _ = first.await;
    let at_kill = applied.load(Ordering::SeqCst);
    assert!(at_kill < 60, "the kill landed mid-stream ({at_kill} of 60 applied)");
    write(&url, &officer, 60..80).await;
    let second = tokio::spawn(follower().run());

    // The producer goes away and comes back where it was; writes continue.
    registry.terminate();
    registry.wait_exit(Duration::from_secs(10));
    let grpc = registry.grpc_addr.to_string();
    drop(registry);
    // Not a wait for a condition: the producer stays away a moment, so the
    // follower's reconnects are refused (the outage under test).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let registry = Process::start_on("registry", &env, &[], &grpc);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    write(&url, &officer, 80..120).await;

    let produced: i64 = sqlx::query_scalar("SELECT count(*) FROM registry.outbox")
        .fetch_one(&admin)
        .await
        .unwrap();
    // Positions are given shortly after commit: wait until every row has one.
    poll::until_ok(
        "every outbox row to get a position",
        Duration::from_secs(10),
        || async {
            let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM registry.outbox WHERE position IS NULL")
                .fetch_one(&admin)
                .await
                .unwrap();
            if waiting == 0 {
                Ok(())
            } else {
                Err(format!("{waiting} rows without one"))
            }
        },
    )
    .await;
    let last: i64 = sqlx::query_scalar("SELECT max(position) FROM registry.outbox")
        .fetch_one(&admin)
        .await
        .unwrap();
    let what = format!("the follower to reach position {last}");
    poll::until_ok(&what, Duration::from_secs(30), || async {
        let cursor: Option<i64> = sqlx::query_scalar("SELECT sequence FROM follower.feed_cursors")
            .fetch_optional(&admin)
            .await
            .unwrap();
        if cursor == Some(last) { Ok(()) } else { Err(cursor) }
    })
    .await;
    second.abort();
    let sequences: Vec<i64> = sqlx::query_scalar("SELECT sequence FROM follower.applied ORDER BY sequence")
        .fetch_all(&admin)
        .await
        .unwrap();
    assert_eq!(produced, last, "the producer's positions have no gap");
    assert_eq!(
        sequences,
        (1..=last).collect::<Vec<_>>(),
        "every change applied once, none lost"
    );
    assert!(produced >= 120, "{produced} changes for 120 subjects");
    let same: bool = sqlx::query_scalar(
        "SELECT bool_and(a.resource = o.resource) FROM follower.applied a JOIN registry.outbox o ON o.position = a.sequence",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(same, "each applied change is the producer's change of that number");
}
