//! A read that raced a write never leaves the old value cached (real Redis).

use ocop_kit::cache::Cache;
use ocop_proto::common::v1::Date;
use ocop_testkit::{TestEnv, poll};

#[tokio::test]
async fn a_racing_reader_cannot_overwrite_a_writers_fresh_value() {
    let env = TestEnv::new().await;
    let cache = Cache::new(&env.config.redis, "race").unwrap();
    let old = Date {
        year: 2025,
        month: 1,
        day: 1,
    };
    let new = Date {
        year: 2026,
        month: 1,
        day: 1,
    };

    // The reader misses and loads the old row; meanwhile the writer commits and puts the new one.
    let loaded = cache
        .get_or_load("thing", || async {
            cache.put("thing", &new).await;
            Ok(old)
        })
        .await
        .unwrap();
    assert_eq!(loaded, old, "the reader answers with what it read");
    let next: Date = cache
        .get_or_load("thing", || async { panic!("must be a cache hit") })
        .await
        .unwrap();
    assert_eq!(next, new, "the writer's value stayed");

    // A loader error is returned and nothing is cached.
    let err = cache
        .get_or_load::<Date, _, _>("missing", || async {
            Err(ocop_kit::Error::not_found("things/missing"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "RESOURCE_NOT_FOUND");
    let later = cache.get_or_load("missing", || async { Ok(new) }).await.unwrap();
    assert_eq!(later, new);
}

fn day(day: i32) -> Date {
    Date {
        year: 2026,
        month: 1,
        day,
    }
}

/// A value past its fresh time is served once more while one background load
/// replaces it; past its keep time it is gone and the reader loads.
#[tokio::test]
async fn a_stale_value_is_served_while_one_load_replaces_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    let env = TestEnv::new().await;
    let cache = Cache::new(&env.config.redis, "refresh").unwrap();
    let (fresh, keep) = (Duration::from_millis(200), Duration::from_millis(1500));
    let loads = Arc::new(AtomicUsize::new(0));
    let load = |value: i32| {
        let loads = loads.clone();
        move || async move {
            loads.fetch_add(1, Ordering::SeqCst);
            // Not a wait for a condition: a slow load (the behaviour under
            // test), slow enough that the second stale reader finds it in flight.
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(day(value))
        }
    };

    assert_eq!(cache.get_or_refresh("k", fresh, keep, load(1)).await.unwrap(), day(1));
    assert_eq!(
        cache.get_or_refresh("k", fresh, keep, load(2)).await.unwrap(),
        day(1),
        "fresh: a hit"
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    // Not a wait for a condition: the value must age past `fresh` (the clock
    // is the behaviour under test).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Stale: both readers get the old value at once, and only one load starts.
    let (a, b) = tokio::join!(
        cache.get_or_refresh("k", fresh, keep, load(2)),
        cache.get_or_refresh("k", fresh, keep, load(3)),
    );
    assert_eq!((a.unwrap(), b.unwrap()), (day(1), day(1)));
    poll::until_ok(
        "the background load to replace the stale value",
        Duration::from_secs(1),
        || async {
            let now = cache.get_or_refresh("k", fresh, keep, load(9)).await.unwrap();
            if now == day(1) { Err(now) } else { Ok(()) }
        },
    )
    .await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "one background load for both stale readers"
    );

    // Not a wait for a condition: the value must age past `keep`.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        cache.get_or_refresh("k", fresh, keep, load(4)).await.unwrap(),
        day(4),
        "past keep, the reader loads"
    );
}
