//! The shared rate limit: replicas on one Redis prefix draw on one budget;
//! with Redis gone each falls back to its own bucket, counted.

use std::net::IpAddr;

use ocop_kit::config::Config;
use ocop_kit::ratelimit::{Limiter, Rule};
use ocop_testkit::redis_server::RedisServer;

fn config(redis_url: &str) -> Config {
    let mut config = Config::default();
    config.redis.url = redis_url.into();
    config.redis.key_prefix = format!("ocop:test:{}", uuid::Uuid::new_v4().simple());
    config.redis.timeout_ms = 200;
    config
}

const RULE: Rule = Rule {
    scope: "test",
    per_second: 1,
    burst: 3,
    reason: "RATE_LIMITED",
    what: "calls",
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn two_replicas_share_one_budget() {
    let config = config(&std::env::var("OCOPTEST_REDIS_URL").expect("OCOPTEST_REDIS_URL"));
    let (a, b) = (Limiter::new(&config).unwrap(), Limiter::new(&config).unwrap());
    let client = ip("203.0.113.5");
    a.check(&RULE, client).await.unwrap();
    b.check(&RULE, client).await.unwrap();
    a.check(&RULE, client).await.unwrap();
    for limiter in [&a, &b] {
        let err = limiter.check(&RULE, client).await.unwrap_err();
        assert_eq!(err.reason(), "RATE_LIMITED");
        let wait = err.retry_after().expect("RetryInfo");
        assert!(wait.as_millis() > 0 && wait.as_millis() <= 1000, "{wait:?}");
    }
    b.check(&RULE, ip("203.0.113.6"))
        .await
        .expect("another address has its own budget");
    let other = Rule { scope: "other", ..RULE };
    a.check(&other, client).await.expect("another scope has its own budget");
    assert_eq!((a.fallbacks(), b.fallbacks()), (0, 0), "Redis answered every call");

    // A Redis that forgot the script (restart, flush) is sent it again.
    let mut conn = redis::Client::open(config.redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(
        a.check(&RULE, client).await.is_err(),
        "still limited after SCRIPT FLUSH"
    );
    a.check(&RULE, ip("203.0.113.7")).await.unwrap();
    assert_eq!(a.fallbacks(), 0);
    let key = format!("{}:ratelimit:test:203.0.113.7", config.redis.key_prefix);
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 2_000, "the bucket expires once full again: {ttl} ms");
}

#[tokio::test]
async fn without_redis_each_process_still_limits_and_says_so() {
    // The process's one recorder, shared with every other test of this binary
    // (a second `install_recorder` would fail); the scope and the `>=` below
    // keep their counts apart.
    let handle = ocop_kit::metrics_http::prometheus();
    let redis = RedisServer::start().await;
    let limiter = Limiter::new(&config(&redis.url())).unwrap();
    let client = ip("198.51.100.9");
    limiter.check(&RULE, client).await.unwrap();
    assert_eq!(limiter.fallbacks(), 0);
    redis.stop();
    // Two tokens left of the burst, counted here now.
    limiter.check(&RULE, client).await.unwrap();
    limiter.check(&RULE, client).await.unwrap();
    limiter.check(&RULE, client).await.unwrap();
    let err = limiter.check(&RULE, client).await.unwrap_err();
    assert_eq!(err.reason(), "RATE_LIMITED");
    assert!(err.retry_after().is_some());
    assert_eq!(limiter.fallbacks(), 4);
    let text = handle.render();
    let fallback = text
        .lines()
        .find(|l| l.starts_with("ocop_rate_limit_fallback_total{scope=\"test\"}"))
        .unwrap_or_else(|| panic!("no fallback metric in:\n{text}"));
    let counted: u64 = fallback.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(counted >= 4, "{fallback}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ocop_rate_limit_total{scope=\"test\",result=\"limited\"}")),
        "{text}"
    );
}

#[test]
fn bad_trusted_proxies_are_named() {
    let mut config = Config::default();
    config.http.trusted_proxies = vec!["127.0.0.2/32".into(), "proxy.local".into(), "10.0.0.0/40".into()];
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("http.trusted_proxies[1]: \"proxy.local\" is not an address block"),
        "{err}"
    );
    assert!(
        err.contains("http.trusted_proxies[2]: \"10.0.0.0/40\": the prefix length must be 0 to 32"),
        "{err}"
    );
    assert!(!err.contains("trusted_proxies[0]"), "{err}");
}
