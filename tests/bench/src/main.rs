//! `ocop-bench`: one run measures the baselines and the service RPCs on the
//! same machine, so each RPC is reported as a ratio to (a) a bare tonic echo,
//! (b) a bare handler doing one PostgreSQL primary-key read and (c) one doing
//! one Redis GET. Also measures a service's start-up time, its idle memory,
//! and one-shot operations (a 3,500-row import).
//!
//! Run it with `./dev bench` (release build, local PostgreSQL and Redis).

mod baseline;
mod certification;
mod data;
mod evaluation;
mod load;
mod national;
mod promotion;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use clap::Parser;
use load::Stats;
use ocop_e2e::Process;
use ocop_proto::bench::v1::bench_service_client::BenchServiceClient;
use ocop_proto::bench::v1::{CacheGetRequest, EchoRequest, SelectByKeyRequest};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
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
    /// Only scenarios whose name contains this (the baselines always run);
    /// `national` runs only the national deployment's figures, `evaluation`
    /// only issue 4's (score sheets and publishing).
    #[arg(long, default_value = "")]
    only: String,
}

type Run = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Stats> + Send>>>;

/// A scenario: `call(channel, worker)` in a closed loop over `channels`.
fn scenario<F, Fut>(channels: &[Channel], concurrency: usize, duration: Duration, call: F) -> Run
where
    F: Fn(Channel, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let channels = channels.to_vec();
    Box::new(move || {
        let (channels, call) = (channels.clone(), call.clone());
        Box::pin(load::run(concurrency, duration, move |worker| {
            call(channels[worker % channels.len()].clone(), worker)
        }))
    })
}

async fn channels(url: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    channels_tls(url, &ocop_kit::config::PeerTls::default(), n).await
}

/// `n` connections to `url`, dialled as `tls` says (TLS for `https://`).
async fn channels_tls(url: &str, tls: &ocop_kit::config::PeerTls, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(ocop_kit::client::endpoint(url, tls)?.connect().await?);
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

/// `error` with the warnings and errors the services logged, which say what
/// a bare INTERNAL status does not.
fn with_logs(error: anyhow::Error, services: &[&Process]) -> anyhow::Error {
    let logged: Vec<String> = services
        .iter()
        .flat_map(|p| p.output())
        .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("\"level\":\"WARN\""))
        .collect();
    error.context(format!("the services logged:\n{}", logged.join("\n")))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Issue 7's figures need deployments of their own, nothing of the rest.
    if args.only == "national" {
        return national::run(args.runs).await;
    }
    let env = TestEnv::new().await;
    let db = sqlx::PgPool::connect(&env.config.database.url).await?;
    let baseline_url = baseline::start(db.clone(), &env.config.redis.url).await?;
    let token = env.token("service", None, None);
    let officer = env.token("province_officer", Some("38"), None);
    let quiet = ("OCOP_TELEMETRY__LOG_FILTER", "warn,ocop_kit::server=info");

    // Start-up: the first start migrates and loads reference data; the later ones are the steady case.
    let first = Instant::now();
    let registry = Process::start("registry", &env, &[quiet]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    let first_start = first.elapsed();
    drop(registry);
    let mut starts = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let p = Process::start("registry", &env, &[quiet]);
        TestApp::wait_serving_at(p.grpc_addr, Duration::from_secs(60)).await;
        starts.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let registry = Process::start("registry", &env, &[quiet]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "registry start to SERVING: first (migrate + load units) {first_start:.2?}; after migrations, median of 3: {:.1} ms",
        median(starts)
    );
    println!(
        "registry idle resident memory: {:.1} MiB",
        rss_mib(registry.pid()).unwrap_or(f64::NAN)
    );

    data::fill_registry(&db, 2_000, 20_000).await?;
    let product_count: i64 = sqlx::query_scalar("SELECT count(*) FROM registry.products")
        .fetch_one(&db)
        .await?;

    // One-shot: a 3,500-row import, each run a file of new producers.
    let communes = data::communes(&db).await?;
    let mut import_secs = Vec::new();
    let mut client = RegistryServiceClient::new(Channel::from_shared(registry.url())?.connect().await?)
        .max_decoding_message_size(32 << 20)
        .max_encoding_message_size(32 << 20);
    for run in 0..args.runs {
        let csv = data::import_file(run, &communes);
        let t = Instant::now();
        let report = client
            .import_subjects_products(authorized(
                ImportSubjectsProductsRequest {
                    csv,
                    ..Default::default()
                },
                &officer,
            ))
            .await?
            .into_inner();
        import_secs.push(t.elapsed().as_secs_f64());
        assert_eq!(report.rows, 3_500);
    }
    println!(
        "registry.ImportSubjectsProducts, 3,500 rows: median of {} runs {:.2} s",
        args.runs,
        median(import_secs)
    );

    // Issue 4: an evaluation service beside the registry, 500 entries × 7 sheets per round.
    let evaluation = Process::start(
        "evaluation",
        &env,
        &[quiet, ("OCOP_SERVICES__REGISTRY__URL", registry.url().as_str())],
    );
    TestApp::wait_serving_at(evaluation.grpc_addr, Duration::from_secs(60)).await;
    let (mut publishes, mut saves, mut submits) = (Vec::new(), Vec::new(), Vec::new());
    let mut set = (String::new(), 0);
    let percentiles = |mut s: Vec<Duration>| {
        s.sort_unstable();
        (
            s[s.len() / 2].as_secs_f64() * 1000.0,
            s[s.len() * 99 / 100].as_secs_f64() * 1000.0,
        )
    };
    for batch in 1..=args.runs as i32 {
        let run = evaluation::run(&env, &evaluation.url(), batch).await?;
        publishes.push(run.publish.as_secs_f64());
        saves.push(percentiles(run.save));
        submits.push(percentiles(run.submit));
        set = run.set;
    }
    for (rpc, figures) in [("SaveScoreSheet", saves), ("SubmitScoreSheet", submits)] {
        let (p50s, p99s): (Vec<f64>, Vec<f64>) = figures.into_iter().unzip();
        println!(
            "evaluation.{rpc}, 32 in flight, 3,500 sheets of {} ({} criteria, Decision 26/2026): median of {} runs p50 {:.2} ms, p99 {:.2} ms",
            set.0,
            set.1,
            args.runs,
            median(p50s),
            median(p99s)
        );
    }
    println!(
        "evaluation.PublishEvaluationRound, 500 entries × 7 sheets: median of {} runs {:.2} s",
        args.runs,
        median(publishes)
    );
    if args.only == "evaluation" {
        return Ok(());
    }

    // Issue 5: a certification service with one real certificate; no rate limit in the way
    // (neither the verifications' nor the shared one of the methods without a token).
    let certification_process = Process::start(
        "certification",
        &env,
        &[
            quiet,
            ("OCOP_SERVICES__REGISTRY__URL", registry.url().as_str()),
            ("OCOP_SERVICES__EVALUATION__URL", evaluation.url().as_str()),
            ("OCOP_CERTIFICATION__VERIFY_PER_SECOND", "100000000"),
            ("OCOP_CERTIFICATION__VERIFY_BURST", "100000000"),
            ("OCOP_HTTP__PUBLIC_PER_SECOND", "100000000"),
            ("OCOP_HTTP__PUBLIC_BURST", "100000000"),
        ],
    );
    TestApp::wait_serving_at(certification_process.grpc_addr, Duration::from_secs(60)).await;
    let services = [&registry, &evaluation, &certification_process];
    let code = certification::certified_code(
        &env,
        &registry.url(),
        &evaluation.url(),
        &certification_process.url(),
        0,
    )
    .await
    .map_err(|e| with_logs(e, &services))?;

    // Issue 6: a promotion service following the certification and registry feeds.
    let promotion_process = Process::start(
        "promotion",
        &env,
        &[
            quiet,
            // ListCatalog needs no token: the shared public limit would cap it.
            ("OCOP_HTTP__PUBLIC_PER_SECOND", "100000000"),
            ("OCOP_HTTP__PUBLIC_BURST", "100000000"),
            ("OCOP_SERVICES__REGISTRY__URL", registry.url().as_str()),
            (
                "OCOP_SERVICES__CERTIFICATION__URL",
                certification_process.url().as_str(),
            ),
        ],
    );
    TestApp::wait_serving_at(promotion_process.grpc_addr, Duration::from_secs(60)).await;
    let mut revocable = Vec::new();
    for n in 1..=20 {
        revocable.push(
            certification::certified_code(
                &env,
                &registry.url(),
                &evaluation.url(),
                &certification_process.url(),
                n,
            )
            .await
            .map_err(|e| with_logs(e, &services))?,
        );
    }
    promotion::fill_catalog(&db, 3_500).await?;
    let mut latencies =
        promotion::revocation_latency(&env, &certification_process.url(), &promotion_process.url(), &revocable).await?;
    latencies.sort_unstable();
    println!(
        "promotion: a revocation leaves the catalog, {} certificates: p50 {:.0} ms, max {:.0} ms",
        latencies.len(),
        latencies[latencies.len() / 2].as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0
    );

    // The same registry and certification over TLS (certificates made here), for the
    // cost of TLS on warm connections, measured in the same run as plaintext.
    let ca = ocop_testkit::certs::Ca::new(&env.dir.join("tls"), "bench");
    let server = ca.issue("server", &["localhost", "127.0.0.1"]);
    let (cert_file, key_file) = (
        server.cert_file.display().to_string(),
        server.key_file.display().to_string(),
    );
    let tls_vars = [
        ("OCOP_TLS__CERT_FILE", cert_file.as_str()),
        ("OCOP_TLS__KEY_FILE", key_file.as_str()),
    ];
    let registry_tls = Process::start("registry", &env, &[quiet, tls_vars[0], tls_vars[1]]);
    let certification_tls = Process::start(
        "certification",
        &env,
        &[
            quiet,
            tls_vars[0],
            tls_vars[1],
            ("OCOP_SERVICES__REGISTRY__URL", registry.url().as_str()),
            ("OCOP_SERVICES__EVALUATION__URL", evaluation.url().as_str()),
            ("OCOP_CERTIFICATION__VERIFY_PER_SECOND", "100000000"),
            ("OCOP_CERTIFICATION__VERIFY_BURST", "100000000"),
            ("OCOP_HTTP__PUBLIC_PER_SECOND", "100000000"),
            ("OCOP_HTTP__PUBLIC_BURST", "100000000"),
        ],
    );
    let trust = ca.trust();
    let https = |p: &Process| format!("https://{}", p.grpc_addr);
    for p in [&registry_tls, &certification_tls] {
        TestApp::wait_serving_url(&https(p), &trust, Duration::from_secs(60)).await;
    }

    // The same registry with Redis unreachable: every read goes to PostgreSQL.
    let registry_cold = Process::start("registry", &env, &[quiet, ("OCOP_REDIS__URL", "redis://127.0.0.1:9")]);
    TestApp::wait_serving_at(registry_cold.grpc_addr, Duration::from_secs(60)).await;

    let (c, d, n) = (args.concurrency, Duration::from_secs(args.duration), args.connections);
    let bench = channels(&baseline_url, n).await?;
    let warm = channels(&registry.url(), n).await?;
    let cold = channels(&registry_cold.url(), n).await?;
    let warm_tls = channels_tls(&https(&registry_tls), &trust, n).await?;
    let certifying_tls = channels_tls(&https(&certification_tls), &trust, n).await?;
    let t = token.clone();
    let get_product = move |ch: Channel, w: usize| {
        // Product p{i} belongs to producer bench-s{i % 2000 + 1}.
        let i = w + 1;
        let request = authorized(
            GetProductRequest {
                name: format!("subjects/bench-s{}/products/p{i}", i % 2000 + 1),
            },
            &t,
        );
        async move { RegistryServiceClient::new(ch).get_product(request).await.is_ok() }
    };
    let t = token.clone();
    let get_unit = move |ch: Channel, _| {
        let request = authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-38".into(),
            },
            &t,
        );
        async move {
            RegistryServiceClient::new(ch)
                .get_administrative_unit(request)
                .await
                .is_ok()
        }
    };
    // Broad queries match 10% of the products (3,200 rows to rank); narrow ones a few dozen.
    let searcher = |queries: &'static [&'static str]| {
        let t = token.clone();
        move |ch: Channel, w: usize| {
            let request = authorized(
                SearchProductsRequest {
                    query: queries[w % queries.len()].into(),
                    ..Default::default()
                },
                &t,
            );
            async move { RegistryServiceClient::new(ch).search_products(request).await.is_ok() }
        }
    };
    let broad = searcher(&["mat ong", "banh gai"]);
    let narrow = searcher(&["che xanh ham rong", "nuoc mam nhu xuan", "nem chua tho xuan"]);
    let t = token.clone();
    let list = move |ch: Channel, _| {
        let request = authorized(
            ListProductsRequest {
                parent: "subjects/-".into(),
                filter: "province_code = 38".into(),
                ..Default::default()
            },
            &t,
        );
        async move { RegistryServiceClient::new(ch).list_products(request).await.is_ok() }
    };
    let t = token.clone();
    let resolve = move |ch: Channel, _| {
        let request = authorized(
            ResolveAdministrativeUnitRequest {
                code: "20440".into(),
                ..Default::default()
            },
            &t,
        );
        async move {
            RegistryServiceClient::new(ch)
                .resolve_administrative_unit(request)
                .await
                .is_ok()
        }
    };
    let certifying = channels(&certification_process.url(), n).await?;
    let promoting = channels(&promotion_process.url(), n).await?;
    let page_path: std::sync::Arc<str> = format!("/verify/{code}").into();
    let verify_code = code.clone();
    let verify = move |ch: Channel, _| certification::verify(ch, verify_code.clone());
    let verify_tls = verify.clone();
    let page_addr = certification_process.http_addr;
    let page: Run = Box::new(move || {
        let (connections, path) = (certification::connections(c), page_path.clone());
        Box::pin(load::run(c, d, move |worker| {
            certification::get(connections.clone(), worker, page_addr, path.clone())
        }))
    });
    let scenarios: Vec<(&str, Run)> = vec![
        (
            "a. bare echo",
            scenario(&bench, c, d, |ch, _| async move {
                BenchServiceClient::new(ch)
                    .echo(EchoRequest { payload: vec![7; 64] })
                    .await
                    .is_ok()
            }),
        ),
        (
            "b. bare sqlx PK select",
            scenario(&bench, c, d, |ch, w| async move {
                BenchServiceClient::new(ch)
                    .select_by_key(SelectByKeyRequest {
                        id: (w as i64 * 7919) % baseline::ROWS + 1,
                    })
                    .await
                    .is_ok()
            }),
        ),
        (
            "c. bare redis GET",
            scenario(&bench, c, d, |ch, _| async move {
                BenchServiceClient::new(ch)
                    .cache_get(CacheGetRequest {
                        key: baseline::KEY.into(),
                    })
                    .await
                    .is_ok()
            }),
        ),
        (
            "registry.GetProduct (warm cache)",
            scenario(&warm, c, d, get_product.clone()),
        ),
        (
            "registry.GetProduct (warm cache, TLS)",
            scenario(&warm_tls, c, d, get_product.clone()),
        ),
        ("registry.GetProduct (Redis down)", scenario(&cold, c, d, get_product)),
        (
            "registry.GetAdministrativeUnit (warm cache)",
            scenario(&warm, c, d, get_unit.clone()),
        ),
        (
            "registry.GetAdministrativeUnit (Redis down)",
            scenario(&cold, c, d, get_unit),
        ),
        (
            "registry.SearchProducts (narrow)",
            scenario(&warm, c, d, narrow.clone()),
        ),
        (
            "registry.SearchProducts (narrow, concurrency 4)",
            scenario(&warm, 4, d, narrow),
        ),
        (
            "registry.SearchProducts (broad: 3,200 matches)",
            scenario(&warm, c, d, broad.clone()),
        ),
        (
            "registry.SearchProducts (broad, concurrency 4)",
            scenario(&warm, 4, d, broad),
        ),
        (
            "registry.ListProducts (province 38, page 50)",
            scenario(&warm, c, d, list),
        ),
        (
            "registry.ResolveAdministrativeUnit (old commune)",
            scenario(&warm, c, d, resolve),
        ),
        (
            "certification.VerifyCertificate (warm cache)",
            scenario(&certifying, c, d, verify),
        ),
        (
            "certification.VerifyCertificate (warm cache, TLS)",
            scenario(&certifying_tls, c, d, verify_tls),
        ),
        ("certification verify page (HTTP/1.1 keep-alive)", page),
        (
            "promotion.ListCatalog (province 38, first page of 50)",
            scenario(&promoting, c, d, |ch, _| promotion::list(ch)),
        ),
        (
            "promotion.GetStatistics (province of 3,500 products)",
            scenario(&promoting, c, d, |ch, _| promotion::statistics(ch)),
        ),
    ];

    println!(
        "\n{} runs x {}s, concurrency {c}, {n} connections; medians; {product_count} products in the registry",
        args.runs, args.duration
    );
    println!(
        "{:<50} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>6}",
        "scenario", "req/s", "p50", "p99", "/echo", "/pk", "/redis", "errors"
    );
    let mut baselines = [f64::NAN; 3];
    for (i, (name, run)) in scenarios.iter().enumerate() {
        if i >= 3 && !name.contains(args.only.as_str()) {
            continue;
        }
        let mut runs = Vec::new();
        for _ in 0..args.runs {
            runs.push(run().await);
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
    if args.only.is_empty() {
        national::run(args.runs).await?;
    }
    Ok(())
}
