//! A write Redis refuses after a committed change is retried until it lands,
//! so Redis does not go on serving the value from before the change. Redis is
//! a real server of the test's own, paused with SIGSTOP as a partition would
//! leave it: it keeps its data and answers nothing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ocop_kit::cache::Cache;
use ocop_proto::common::v1::Date;
use ocop_testkit::TestEnv;

/// A redis-server on a free loopback port, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start() -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed by ./dev");
        // From here on, dropping the server (a failed start included) kills the process.
        let server = Server {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let client = redis::Client::open(server.url.as_str()).unwrap();
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn day(day: i32) -> Date {
    Date {
        year: 2026,
        month: 11,
        day,
    }
}

#[tokio::test]
async fn writes_refused_while_redis_is_unreachable_land_once_it_answers() {
    let env = TestEnv::new().await;
    let server = Server::start().await;
    let mut config = env.config.redis.clone();
    config.url = server.url.clone();
    config.timeout_ms = 100;
    let writer = Cache::new(&config, "owed").unwrap();
    // Another replica: it knows nothing of the writer's failures.
    let other = Cache::new(&config, "owed").unwrap();
    writer.put("certificate", &day(1)).await;
    writer.put("listing", &day(1)).await;
    assert_eq!(writer.owed_writes(), 0);

    server.signal("-STOP");
    writer.put("certificate", &day(2)).await;
    writer.put("certificate", &day(3)).await;
    writer.invalidate("listing").await;
    assert_eq!(writer.owed_writes(), 2, "one owed write per key, the newest");
    // Meanwhile the writer reads the database, never the value Redis holds.
    let read = writer
        .get_or_load("certificate", || async { Ok(day(3)) })
        .await
        .unwrap();
    assert_eq!(read, day(3));

    server.signal("-CONT");
    for _ in 0..100 {
        if writer.owed_writes() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(writer.owed_writes(), 0, "the owed writes landed");
    let seen: Date = other
        .get_or_load("certificate", || async { panic!("must be a cache hit") })
        .await
        .unwrap();
    assert_eq!(seen, day(3), "Redis holds the last committed value, not the one before");
    let listing = other.get_or_load("listing", || async { Ok(day(9)) }).await.unwrap();
    assert_eq!(listing, day(9), "the removal landed: the other replica loads");
}
