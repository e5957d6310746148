//! A write Redis refuses after a committed change is retried until it lands,
//! so Redis does not go on serving the value from before the change. Redis is
//! a real server of the test's own, paused with SIGSTOP as a partition would
//! leave it: it keeps its data and answers nothing.

use std::time::Duration;

use ocop_kit::cache::Cache;
use ocop_proto::common::v1::Date;
use ocop_testkit::redis_server::RedisServer;
use ocop_testkit::{TestEnv, poll};

fn day(day: i32) -> Date {
    Date {
        year: 2026,
        month: 11,
        day,
    }
}

#[tokio::test]
async fn keys_whose_write_redis_refused_are_removed_once_it_answers() {
    let env = TestEnv::new().await;
    let server = RedisServer::start().await;
    let mut config = env.config.redis.clone();
    config.url = server.url();
    config.timeout_ms = 100;
    let writer = Cache::new(&config, "owed").unwrap();
    // Another replica: it knows nothing of the writer's failures.
    let other = Cache::new(&config, "owed").unwrap();
    writer.put("certificate", &day(1)).await;
    writer.put("listing", &day(1)).await;
    writer.put("untouched", &day(1)).await;
    assert_eq!(writer.owed_writes(), 0);

    // The database now says day 2, then 3; Redis, unreachable, still says day 1.
    server.pause();
    writer.put("certificate", &day(2)).await;
    writer.put("certificate", &day(3)).await;
    writer.invalidate("listing").await;
    assert_eq!(writer.owed_writes(), 2, "one owed removal per key");
    // Meanwhile the writer reads the database, never the value Redis holds.
    let read = writer
        .get_or_load("certificate", || async { Ok(day(3)) })
        .await
        .unwrap();
    assert_eq!(read, day(3));

    server.resume();
    poll::until_ok("the owed removals to land", Duration::from_secs(5), || async {
        match writer.owed_writes() {
            0 => Ok(()),
            owed => Err(owed),
        }
    })
    .await;
    for key in ["certificate", "listing"] {
        let seen = other.get_or_load(key, || async { Ok(day(3)) }).await.unwrap();
        assert_eq!(seen, day(3), "{key}: the day-1 value is gone, the other replica loads");
    }
    let kept: Date = other
        .get_or_load("untouched", || async { panic!("must be a cache hit") })
        .await
        .unwrap();
    assert_eq!(kept, day(1), "keys nobody wrote stay cached");
    // Owing nothing, the writer caches again.
    writer.put("certificate", &day(4)).await;
    let cached: Date = other
        .get_or_load("certificate", || async { panic!("must be a cache hit") })
        .await
        .unwrap();
    assert_eq!(cached, day(4));
}
