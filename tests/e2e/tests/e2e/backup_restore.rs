//! The local backup procedure of deploy/RUNBOOK.md ("Restore"): `pg_dump -Fc`
//! of a deployment's database, `pg_restore` into an empty database, the four
//! services started on it with an empty cache. Every certificate still
//! verifies, every feed position (each schema's outbox, each follower's
//! cursor) is intact, the followers resume without applying anything twice,
//! and new changes get positions after the restored ones.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ocop_e2e::{Process, connect};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{VerificationStatus, VerifyCertificateRequest};
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::ListCatalogRequest;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::{TestEnv, poll};
use sqlx::{Connection, PgConnection};

/// The four services of `env`, on the database of `url`, with Redis keys under `prefix`.
struct Suite {
    registry: Process,
    evaluation: Process,
    certification: Process,
    promotion: Process,
}

fn start(env: &TestEnv, url: &str, prefix: &str) -> Suite {
    let common = [("OCOP_DATABASE__URL", url), ("OCOP_REDIS__KEY_PREFIX", prefix)];
    let registry = Process::start("registry", env, &common);
    let r = registry.url();
    let evaluation = Process::start(
        "evaluation",
        env,
        &[common[0], common[1], ("OCOP_SERVICES__REGISTRY__URL", &r)],
    );
    let e = evaluation.url();
    let certification = Process::start(
        "certification",
        env,
        &[
            common[0],
            common[1],
            ("OCOP_SERVICES__REGISTRY__URL", &r),
            ("OCOP_SERVICES__EVALUATION__URL", &e),
        ],
    );
    let c = certification.url();
    let promotion = Process::start(
        "promotion",
        env,
        &[
            common[0],
            common[1],
            ("OCOP_SERVICES__REGISTRY__URL", &r),
            ("OCOP_SERVICES__CERTIFICATION__URL", &c),
        ],
    );
    Suite {
        registry,
        evaluation,
        certification,
        promotion,
    }
}

/// The PostgreSQL client tools of the newest server installed (the dump must not be older than the server).
fn pg_tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (scripts/local-servers.sh)")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|d| d.join(name).is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("pg_dump and pg_restore").join(name)
}

fn run(tool: &str, args: &[&str]) {
    let output = Command::new(pg_tool(tool)).args(args).output().expect(tool);
    assert!(
        output.status.success(),
        "{tool} {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What must survive a restore: every outbox's last position and every follower's cursor.
async fn positions(url: &str) -> Vec<(String, i64)> {
    let mut db = PgConnection::connect(url).await.expect("connect");
    let mut out = Vec::new();
    for schema in ["registry", "evaluation", "certification", "promotion"] {
        let head: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT max(position) FROM {schema}.outbox"
        )))
        .fetch_one(&mut db)
        .await
        .expect("outbox");
        out.push((format!("{schema}.outbox"), head.unwrap_or(0)));
        let cursors: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT source, sequence FROM {schema}.feed_cursors ORDER BY source"
        )))
        .fetch_all(&mut db)
        .await
        .expect("feed_cursors");
        out.extend(cursors.into_iter().map(|(s, n)| (format!("{schema} follows {s}"), n)));
    }
    out
}

/// Waits (up to 20 s) until the catalog lists `n` products.
async fn catalog_size(suite: &Suite, n: usize) {
    let promotion = PromotionServiceClient::new(connect(&suite.promotion).await);
    let what = format!("the catalog to list {n} products");
    poll::until_ok(&what, Duration::from_secs(20), || {
        let mut promotion = promotion.clone();
        async move {
            let size = promotion
                .list_catalog(ListCatalogRequest::default())
                .await
                .unwrap()
                .into_inner()
                .entries
                .len();
            if size == n { Ok(()) } else { Err(size) }
        }
    })
    .await
}

#[tokio::test]
async fn a_restored_deployment_keeps_its_certificates_and_feed_positions() {
    let env = TestEnv::new().await;
    let original = env.config.database.url.clone();
    let suite = start(&env, &original, &env.config.redis.key_prefix);
    let officer = env.token("province_officer", Some("38"), None);
    let mut registry = RegistryServiceClient::new(connect(&suite.registry).await);
    let mut evaluation = EvaluationServiceClient::new(connect(&suite.evaluation).await);
    let mut certification = CertificationServiceClient::new(connect(&suite.certification).await);

    let mut products = Vec::new();
    for (registration, name) in [
        ("2801113331", "Nem chua Thanh Hóa"),
        ("2801113332", "Chè lam Phủ Quảng"),
    ] {
        let new = NewProduct {
            commune: "14758",
            registration,
            name,
            subgroup: "rau-cu-qua-hat-tuoi",
        };
        products.push(flows::product(&mut registry, &officer, new).await.1);
    }
    let refs: Vec<_> = products.iter().collect();
    let evaluated = flows::evaluate(&env, &mut evaluation, &officer, &refs, RoundPlan::province_2026(1, 4)).await;
    let mut codes = Vec::new();
    for result in &evaluated.results {
        codes.push(
            flows::certify(&mut certification, &officer, &result.name, (2026, 6, 15))
                .await
                .code,
        );
    }
    // The catalog has followed both feeds to the end: its cursors are set.
    catalog_size(&suite, codes.len()).await;
    drop(suite);
    let before = positions(&original).await;
    assert!(
        before
            .iter()
            .any(|(what, n)| what.starts_with("promotion follows") && *n > 0),
        "{before:?}"
    );

    // Back up, then restore into an empty database.
    let dump = env.dir.join("ocop.dump");
    run(
        "pg_dump",
        &["-Fc", "--no-owner", "-f", dump.to_str().unwrap(), &original],
    );
    let restored_db = format!("{}_restored", env.database);
    let restored = original.replace(&env.database, &restored_db);
    let admin = std::env::var("OCOPTEST_DATABASE_URL").unwrap();
    run("psql", &["-q", "-c", &format!("CREATE DATABASE {restored_db}"), &admin]);
    run(
        "pg_restore",
        &["--no-owner", "--exit-on-error", "-d", &restored, dump.to_str().unwrap()],
    );
    assert_eq!(positions(&restored).await, before, "the restored positions");

    // The services on the restored database, with an empty cache.
    let prefix = format!("{}:restored", env.config.redis.key_prefix);
    let suite = start(&env, &restored, &prefix);
    let mut certification = CertificationServiceClient::new(connect(&suite.certification).await);
    for code in &codes {
        let verification = certification
            .verify_certificate(VerifyCertificateRequest { code: code.clone() })
            .await
            .expect("verify")
            .into_inner()
            .verification
            .expect("verification");
        assert_eq!(
            verification.status(),
            VerificationStatus::Valid,
            "{code}: {verification:?}"
        );
        assert_eq!(verification.stars, 4, "{code}");
    }
    // The followers resume from their cursors: nothing twice, nothing lost.
    catalog_size(&suite, codes.len()).await;
    // Both of promotion's followers (registry, certification) have their
    // streams open again, from their restored cursors.
    poll::until(
        "promotion to follow both feeds again",
        Duration::from_secs(20),
        || async {
            let lines = suite.promotion.output();
            (lines.iter().filter(|l| l.contains("following the feed")).count() >= 2).then_some(())
        },
    )
    .await;
    assert_eq!(positions(&restored).await, before, "after the followers resumed");

    // A new change is numbered after the restored ones, and reaches the followers.
    let mut registry = RegistryServiceClient::new(connect(&suite.registry).await);
    let new = NewProduct {
        commune: "14758",
        registration: "2801113333",
        name: "Bánh gai Tứ Trụ",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    flows::product(&mut registry, &officer, new).await;
    let at = |p: &[(String, i64)], what: &str| p.iter().find(|(w, _)| w == what).map_or(0, |p| p.1);
    poll::until_ok(
        "the new product to be numbered after the restored changes and followed",
        Duration::from_secs(20),
        || async {
            let now = positions(&restored).await;
            let numbered = at(&now, "registry.outbox") > at(&before, "registry.outbox");
            let followed = at(&now, "promotion follows registry") > at(&before, "promotion follows registry");
            if numbered && followed { Ok(()) } else { Err(now) }
        },
    )
    .await;
}
