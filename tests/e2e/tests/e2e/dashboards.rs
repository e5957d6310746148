//! Every panel query of the Grafana dashboards in deploy/observability/grafana
//! returns data from a real Prometheus (Debian's `prometheus`, installed by
//! scripts/check-deploy.sh) scraping the four services as processes, with the
//! rules of deploy/observability/prometheus/rules.yml loaded and healthy.
//!
//! The registry runs against a Redis that refuses connections, so the cache
//! panels (bypassed reads, owed writes) have real data; the promotion
//! service's followers give the federation panels theirs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ocop_e2e::{Process, connect, free_addr, http_get};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{GetSigningKeysRequest, VerifyCertificateRequest};
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::promotion::v1::{GetStatisticsRequest, ListCatalogRequest};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{GetProductRequest, UpdateProductRequest};
use ocop_testkit::flows::{self, NewProduct};
use ocop_testkit::{TestEnv, authorized};

/// Panels that cannot have data in a provincial deployment, with why.
const NO_DATA_HERE: &[(&str, &str)] = &[(
    "Mirror conflicts in the last hour, by origin",
    "only a national deployment mirrors, and only a conflict counts",
)];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: scripts/check-deploy.sh installs Debian's prometheus"))
}

fn start_prometheus(dir: &Path, targets: &[(&str, std::net::SocketAddr)]) -> Prometheus {
    let rules = repo().join("deploy/observability/prometheus/rules.yml");
    let mut config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
        rules.display()
    );
    // The labels a ServiceMonitor target carries in namespace ocop-38.
    for (service, addr) in targets {
        config.push_str(&format!(
            "  - job_name: {service}\n    static_configs:\n      - targets: [\"{addr}\"]\n        labels: \
             {{namespace: ocop-38, service: {service}, pod: {service}-0}}\n"
        ));
    }
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let listen = free_addr();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", file.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus {
        child,
        url: format!("http://{listen}"),
    }
}

/// `promtool query instant`'s answer (JSON), or an error text.
fn query(prometheus: &Prometheus, expr: &str) -> Result<serde_json::Value, String> {
    let output = Command::new(tool("promtool"))
        .args(["query", "instant", "-o", "json", &prometheus.url, expr])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// The dashboard variables as this test's deployment has them.
fn concrete(expr: &str) -> String {
    expr.replace("$namespace", "ocop-38")
        .replace("$source", ".*")
        .replace("$__rate_interval", "10s")
}

/// (dashboard, panel title, expression) of every panel target.
fn panel_queries() -> Vec<(String, String, String)> {
    let dir = repo().join("deploy/observability/grafana");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "overview, federation, verification");
    let mut out = Vec::new();
    for file in files {
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let title = dashboard["title"].as_str().unwrap().to_owned();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                out.push((
                    title.clone(),
                    panel["title"].as_str().unwrap().to_owned(),
                    target["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let queries = panel_queries();
    let env = TestEnv::new().await;
    let refused_redis = format!("redis://{}", free_addr());
    let registry = Process::start("registry", &env, &[("OCOP_REDIS__URL", refused_redis.as_str())]);
    let r = registry.url();
    let evaluation = Process::start("evaluation", &env, &[("OCOP_SERVICES__REGISTRY__URL", &r)]);
    let e = evaluation.url();
    let certification = Process::start(
        "certification",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &r),
            ("OCOP_SERVICES__EVALUATION__URL", &e),
        ],
    );
    let c = certification.url();
    let promotion = Process::start(
        "promotion",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &r),
            ("OCOP_SERVICES__CERTIFICATION__URL", &c),
        ],
    );
    let prometheus = start_prometheus(
        &env.dir,
        &[
            ("registry", registry.http_addr),
            ("evaluation", evaluation.http_addr),
            ("certification", certification.http_addr),
            ("promotion", promotion.http_addr),
        ],
    );

    let officer = env.token("province_officer", Some("38"), None);
    let mut registry_client = RegistryServiceClient::new(connect(&registry).await);
    let mut certification_client = CertificationServiceClient::new(connect(&certification).await);
    let mut promotion_client = PromotionServiceClient::new(connect(&promotion).await);
    connect(&evaluation).await;
    // A read that bypasses the refusing Redis, and a write whose cache update it refuses: owed.
    let new = NewProduct {
        commune: "14758",
        registration: "2801114441",
        name: "Nem chua Thanh Hóa",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry_client, &officer, new).await;
    let _ = registry_client
        .get_product(authorized(
            GetProductRequest {
                name: product.name.clone(),
            },
            &officer,
        ))
        .await;
    let mut change = product.clone();
    change.display_name = "Nem chua Thanh Hóa loại đặc biệt".into();
    registry_client
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            },
            &officer,
        ))
        .await
        .expect("update the product");

    // Public traffic for a while, so that every rate has samples in its window.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<String>;
    loop {
        for i in 0..20 {
            let _ = certification_client
                .verify_certificate(VerifyCertificateRequest {
                    code: format!("38-NOTREAL{i}"),
                })
                .await;
        }
        let _ = certification_client.get_signing_keys(GetSigningKeysRequest {}).await;
        let _ = promotion_client.list_catalog(ListCatalogRequest::default()).await;
        let _ = promotion_client
            .get_statistics(GetStatisticsRequest {
                province_code: "38".into(),
                year: 2026,
            })
            .await;
        missing = Vec::new();
        for (dashboard, panel, expr) in &queries {
            if NO_DATA_HERE.iter().any(|(p, _)| p == panel) {
                continue;
            }
            match query(&prometheus, &concrete(expr)) {
                Ok(result) if result.as_array().is_some_and(|a| !a.is_empty()) => {}
                Ok(result) => missing.push(format!("{dashboard} / {panel}: no data for {expr} ({result})")),
                Err(e) => missing.push(format!("{dashboard} / {panel}: {expr} fails: {e}")),
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        // Not a wait for a condition alone: the traffic must spread over
        // time (rates need samples across scrapes, 1 s apart), and each
        // round runs promtool once per panel, so rounds are paced, not polled.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        missing.is_empty(),
        "panels without data:\n  {}\nprometheus log: {}",
        missing.join("\n  "),
        std::fs::read_to_string(env.dir.join("prometheus.log")).unwrap_or_default()
    );
    for (panel, why) in NO_DATA_HERE {
        eprintln!("not checked here: {panel} ({why})");
    }

    // The rules load and evaluate without error against the real series.
    let addr = prometheus.url.trim_start_matches("http://").parse().unwrap();
    let rules = http_get(addr, "/api/v1/rules").await;
    assert!(rules.contains("\"health\":\"ok\""), "{rules}");
    assert!(!rules.contains("\"health\":\"err\""), "{rules}");
}
