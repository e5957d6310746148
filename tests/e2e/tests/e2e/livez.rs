//! `/livez`, the liveness probe of the Kubernetes manifests: it answers 200
//! while the database is down, when `/healthz` (readiness) answers 503, so a
//! database outage takes the pods out of the Services without restarting them.

use std::time::Duration;

use ocop_e2e::{Process, http_get};
use ocop_testkit::TestEnv;
use ocop_testkit::poll::{self, Text};
use sqlx::{Connection, PgConnection};

async fn admin() -> PgConnection {
    PgConnection::connect(&std::env::var("OCOPTEST_DATABASE_URL").expect("OCOPTEST_DATABASE_URL"))
        .await
        .expect("admin connection")
}

async fn execute(sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin().await)
        .await
        .expect("admin statement");
}

/// Polls `path` until its answer contains `want` (up to 30 s); the last answer.
async fn until(process: &Process, path: &str, want: &str) -> String {
    let what = format!("{path} to answer {want}");
    poll::until_ok(&what, Duration::from_secs(30), || async {
        let answer = http_get(process.http_addr, path).await;
        if answer.contains(want) {
            Ok(answer)
        } else {
            Err(Text(answer))
        }
    })
    .await
}

#[tokio::test]
async fn livez_answers_while_the_database_is_down() {
    let env = TestEnv::new().await;
    let own = format!("{}_livez", env.database);
    let url = env.config.database.url.replace(&env.database, &own);

    // Before the database exists: not ready, but alive.
    let mut process = Process::start("registry", &env, &[("OCOP_DATABASE__URL", url.as_str())]);
    until(&process, "/healthz", "503").await;
    let livez = http_get(process.http_addr, "/livez").await;
    assert!(livez.contains("200 OK") && livez.contains("ALIVE"), "{livez}");

    // The database appears: ready.
    execute(format!("CREATE DATABASE {own}")).await;
    until(&process, "/healthz", "200 OK").await;

    // The database goes away under a serving process: readiness drops, liveness stays.
    execute(format!("DROP DATABASE {own} WITH (FORCE)")).await;
    until(&process, "/healthz", "503").await;
    for _ in 0..5 {
        let livez = http_get(process.http_addr, "/livez").await;
        assert!(livez.contains("200 OK"), "{livez}");
        // Not a wait for a condition: liveness must hold over a stretch of
        // time with the database gone (the behaviour under test).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(process.try_wait().is_none(), "the process kept running");
    process.kill();
}
