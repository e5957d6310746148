//! The cache never makes a request fail: with Redis stopped, reads are
//! answered from PostgreSQL and counted as bypasses; when Redis comes back,
//! caching resumes without a restart. Uses a Redis server of its own.

use std::time::Duration;

use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::redis_server::RedisServer;
use ocop_testkit::{TestEnv, authorized, poll};
use redis::AsyncCommands;

async fn key_exists(url: &str, key: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    conn.exists(key).await.unwrap_or(false)
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test]
async fn reads_survive_redis_going_away_and_caching_resumes_when_it_returns() {
    let redis = RedisServer::start().await;
    let (port, url) = (redis.port(), redis.url());
    let mut env = TestEnv::new().await;
    env.config.redis.url = url.clone();
    let app = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    let mut client = RegistryServiceClient::new(app.channel().await);
    let token = env.token("service", None, None);
    let get = |name: &str| authorized(GetAdministrativeUnitRequest { name: name.into() }, &token);
    let key = format!("{}:registry:unit:2025-38", env.config.redis.key_prefix);

    client
        .get_administrative_unit(get("administrativeUnits/2025-38"))
        .await
        .expect("warm read");
    assert!(key_exists(&url, &key).await, "the read was cached");

    redis.stop();
    for name in [
        "administrativeUnits/2025-38",
        "administrativeUnits/2025-01",
        "administrativeUnits/2004-49",
    ] {
        let unit = client
            .get_administrative_unit(get(name))
            .await
            .expect("read with Redis down")
            .into_inner();
        assert_eq!(unit.administrative_unit.unwrap().name, name);
    }
    let text = metrics(app.http_addr).await;
    assert!(
        text.contains("ocop_cache_bypass_total"),
        "bypasses are counted:\n{text}"
    );

    let _redis = RedisServer::start_on(port).await;
    poll::until(
        "caching to resume after Redis returned, without a restart",
        Duration::from_secs(10),
        || {
            let mut client = client.clone();
            let (url, key) = (&url, &key);
            async move {
                client
                    .get_administrative_unit(get("administrativeUnits/2025-38"))
                    .await
                    .expect("read");
                key_exists(url, key).await.then_some(())
            }
        },
    )
    .await;
    app.stop().await.unwrap();
}
