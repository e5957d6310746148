//! A read that raced a write never leaves the old value cached (real Redis).

use ocop_kit::cache::Cache;
use ocop_proto::common::v1::Date;
use ocop_testkit::TestEnv;

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
