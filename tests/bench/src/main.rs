//! `ocop-bench`: one run measures the baselines and the service RPCs on the
//! same machine, so each RPC is reported as a ratio to (a) a bare tonic echo,
//! (b) a bare handler doing one PostgreSQL primary-key read and (c) one doing
//! one Redis GET. Also measures a service's start-up time and idle memory.
//!
//! Run it with `./dev bench` (release build, local PostgreSQL and Redis).

mod baseline;
mod load;

use std::time::{Duration, Instant};

use clap::Parser;
use load::Stats;
use ocop_e2e::Process;
use ocop_proto::bench::v1::bench_service_client::BenchServiceClient;
use ocop_proto::bench::v1::{CacheGetRequest, EchoRequest, SelectByKeyRequest};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    GetAdministrativeUnitRequest, ListAdministrativeUnitsRequest, ResolveAdministrativeUnitRequest,
};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

#[derive(Parser)]
#[command(about = "OCOP benchmark harness")]
struct Args {
    /// Seconds per scenario run.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Only scenarios whose name contains this.
    #[arg(long, default_value = "")]
    only: String,
}

async fn channels(url: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Channel::from_shared(url.to_owned())?.connect().await?);
    }
    Ok(out)
}

/// Reads VmRSS of a process, in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = TestEnv::new().await;
    let db = sqlx::PgPool::connect(&env.config.database.url).await?;
    let baseline_url = baseline::start(db, &env.config.redis.url).await?;
    let token = env.token("service", None, None);
    let quiet = [("OCOP_TELEMETRY__LOG_FILTER", "warn,ocop_kit::server=info")];

    // Start-up: the first start migrates and loads reference data; the second is the steady case.
    let first = Instant::now();
    let registry = Process::start("registry", &env, &quiet);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    let first_start = first.elapsed();
    drop(registry);
    let second = Instant::now();
    let registry = Process::start("registry", &env, &quiet);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    let warm_start = second.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_mib(registry.pid());
    println!(
        "registry start to SERVING: first (migrate + load units) {first_start:.2?}, after migrations {warm_start:.2?}"
    );
    println!("registry idle resident memory: {:.1} MiB", idle_rss.unwrap_or(f64::NAN));

    // The same registry with Redis unreachable: every read goes to PostgreSQL.
    let no_redis = [
        ("OCOP_TELEMETRY__LOG_FILTER", "warn,ocop_kit::server=info"),
        ("OCOP_REDIS__URL", "redis://127.0.0.1:9"),
    ];
    let registry_cold = Process::start("registry", &env, &no_redis);
    TestApp::wait_serving_at(registry_cold.grpc_addr, Duration::from_secs(60)).await;

    let bench = channels(&baseline_url, args.connections).await?;
    let warm = channels(&registry.url(), args.connections).await?;
    let cold = channels(&registry_cold.url(), args.connections).await?;
    let n = args.connections;
    type Scenario = (
        &'static str,
        Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Stats> + Send>>>,
    );
    let (c, d) = (args.concurrency, Duration::from_secs(args.duration));
    let mut scenarios: Vec<Scenario> = Vec::new();
    {
        let ch = bench.clone();
        scenarios.push((
            "a. bare echo",
            Box::new(move || {
                let ch = ch.clone();
                Box::pin(load::run(c, d, move |w| {
                    let mut client = BenchServiceClient::new(ch[w % n].clone());
                    async move { client.echo(EchoRequest { payload: vec![7; 64] }).await.is_ok() }
                }))
            }),
        ));
    }
    {
        let ch = bench.clone();
        scenarios.push((
            "b. bare sqlx PK select",
            Box::new(move || {
                let ch = ch.clone();
                Box::pin(load::run(c, d, move |w| {
                    let mut client = BenchServiceClient::new(ch[w % n].clone());
                    let id = (w as i64 * 7919) % baseline::ROWS + 1;
                    async move { client.select_by_key(SelectByKeyRequest { id }).await.is_ok() }
                }))
            }),
        ));
    }
    {
        let ch = bench.clone();
        scenarios.push((
            "c. bare redis GET",
            Box::new(move || {
                let ch = ch.clone();
                Box::pin(load::run(c, d, move |w| {
                    let mut client = BenchServiceClient::new(ch[w % n].clone());
                    async move {
                        client
                            .cache_get(CacheGetRequest {
                                key: baseline::KEY.into(),
                            })
                            .await
                            .is_ok()
                    }
                }))
            }),
        ));
    }
    for (label, ch) in [
        ("registry.GetAdministrativeUnit (warm cache)", warm.clone()),
        ("registry.GetAdministrativeUnit (Redis down)", cold.clone()),
    ] {
        let token = token.clone();
        scenarios.push((
            label,
            Box::new(move || {
                let (ch, token) = (ch.clone(), token.clone());
                Box::pin(load::run(c, d, move |w| {
                    let mut client = RegistryServiceClient::new(ch[w % n].clone());
                    let request = authorized(
                        GetAdministrativeUnitRequest {
                            name: "administrativeUnits/2025-38".into(),
                        },
                        &token,
                    );
                    async move { client.get_administrative_unit(request).await.is_ok() }
                }))
            }),
        ));
    }
    {
        let (ch, token) = (warm.clone(), token.clone());
        scenarios.push((
            "registry.ListAdministrativeUnits (50 communes)",
            Box::new(move || {
                let (ch, token) = (ch.clone(), token.clone());
                Box::pin(load::run(c, d, move |w| {
                    let mut client = RegistryServiceClient::new(ch[w % n].clone());
                    let request = authorized(
                        ListAdministrativeUnitsRequest {
                            page_size: 50,
                            filter: "province_code = 38 AND scheme = 2025".into(),
                            ..Default::default()
                        },
                        &token,
                    );
                    async move { client.list_administrative_units(request).await.is_ok() }
                }))
            }),
        ));
    }
    {
        let (ch, token) = (warm.clone(), token.clone());
        scenarios.push((
            "registry.ResolveAdministrativeUnit (old commune)",
            Box::new(move || {
                let (ch, token) = (ch.clone(), token.clone());
                Box::pin(load::run(c, d, move |w| {
                    let mut client = RegistryServiceClient::new(ch[w % n].clone());
                    let request = authorized(
                        ResolveAdministrativeUnitRequest {
                            code: "20440".into(),
                            ..Default::default()
                        },
                        &token,
                    );
                    async move { client.resolve_administrative_unit(request).await.is_ok() }
                }))
            }),
        ));
    }

    println!(
        "\n{} runs x {}s, concurrency {c}, {n} connections; medians",
        args.runs, args.duration
    );
    println!(
        "{:<50} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>6}",
        "scenario", "req/s", "p50", "p99", "/echo", "/pk", "/redis", "errors"
    );
    let mut baselines = [f64::NAN; 3];
    for (i, (name, scenario)) in scenarios.iter().enumerate() {
        if !name.contains(args.only.as_str()) && i >= 3 {
            continue;
        }
        let mut runs = Vec::new();
        for _ in 0..args.runs {
            runs.push(scenario().await);
        }
        let s = load::median(&runs);
        if i < 3 {
            baselines[i] = s.rps;
        }
        println!(
            "{name:<50} {:>9.0} {:>9.2?} {:>9.2?} {:>6.0}% {:>6.0}% {:>6.0}% {:>6}",
            s.rps,
            s.p50,
            s.p99,
            100.0 * s.rps / baselines[0],
            100.0 * s.rps / baselines[1],
            100.0 * s.rps / baselines[2],
            s.errors
        );
    }
    Ok(())
}
