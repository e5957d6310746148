//! Client-side balancing over two registry processes on two loopback
//! addresses, as the replicas behind a headless Service: calls spread over
//! both, a replica that shuts down leaves the set (every call then succeeds
//! on the other), and it rejoins when it serves again.

use std::time::{Duration, Instant};

use ocop_e2e::{Process, free_addr_on, http_get};
use ocop_kit::client::{TracedChannel, service_channel};
use ocop_kit::config::{BalanceConfig, Endpoint};
use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::{TestApp, TestEnv};

/// How many GetAdministrativeUnit calls `replica` has answered, from its metrics.
async fn answered(replica: &Process) -> u64 {
    let metrics = http_get(replica.http_addr, "/metrics").await;
    metrics
        .lines()
        .filter(|l| l.starts_with("ocop_grpc_requests_total") && l.contains("method=\"GetAdministrativeUnit\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn call(client: &mut RegistryServiceClient<TracedChannel>) -> Result<(), tonic::Status> {
    client
        .get_administrative_unit(GetAdministrativeUnitRequest {
            name: "administrativeUnits/2025-38".into(),
        })
        .await
        .map(drop)
}

/// Calls until `n` in a row succeed; how many failed before.
async fn until_ok_in_a_row(client: &mut RegistryServiceClient<TracedChannel>, n: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let (mut row, mut failed) = (0, 0);
    while row < n {
        assert!(
            Instant::now() < deadline,
            "no {n} successful calls in a row within {limit:?}"
        );
        match call(client).await {
            Ok(()) => row += 1,
            Err(_) => {
                row = 0;
                failed += 1;
            }
        }
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_the_healthy_replicas() {
    let env = TestEnv::new().await;
    let first = Process::start_on("registry", &env, &[], "127.0.0.1:0");
    // A port outside the ephemeral range: it is bound again after a restart.
    let mut second = Process::start_on("registry", &env, &[], &free_addr_on("127.0.0.2"));
    for replica in [&first, &second] {
        TestApp::wait_serving_at(replica.grpc_addr, Duration::from_secs(30)).await;
    }
    let to = Endpoint {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        url: first.url(),
        tls: Default::default(),
        balance: Some(BalanceConfig {
            replicas: vec![second.url()],
            refresh_ms: 100,
        }),
        deadline_ms: 10_000,
    };
    let token = env.token("service", None, None);
    let mut client = RegistryServiceClient::new(service_channel(&to, Some(&token)).expect("channel"));

    for _ in 0..60 {
        call(&mut client).await.expect("both replicas serve");
    }
    let (a, b) = (answered(&first).await, answered(&second).await);
    assert_eq!(a + b, 60, "every call answered once");
    assert!(a > 0 && b > 0, "calls spread over both replicas: {a} and {b}");

    // The second replica shuts down; once it is out of the set every call
    // lands on the first.
    let second_addr = second.grpc_addr;
    second.terminate();
    assert_eq!(second.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let failed = until_ok_in_a_row(&mut client, 10, Duration::from_secs(10)).await;
    let before = answered(&first).await;
    for _ in 0..40 {
        call(&mut client).await.expect("the replica left serves every call");
    }
    assert_eq!(answered(&first).await, before + 40);
    eprintln!("calls failed while the stopped replica was evicted: {failed}");

    // Back on its address, it rejoins.
    let second = Process::start_on("registry", &env, &[], &second_addr.to_string());
    TestApp::wait_serving_at(second.grpc_addr, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered(&second).await == 0 {
        assert!(Instant::now() < deadline, "the restarted replica got no call");
        call(&mut client).await.expect("both serve");
    }
}
