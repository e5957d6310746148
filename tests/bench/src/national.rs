//! Issue 7's figures: a national deployment catching up from zero on three
//! provinces of 3,500 producers, products, results and certificates each,
//! and the steady-state lag from a province write to the national mirror.
//!
//! The provinces' feeds are filled with SQL, with resources encoded the way
//! the services encode them: catching up depends on what the feeds carry, not
//! on how the rows got there. The steady-state writes go through the API.

use std::time::{Duration, Instant};

use ocop_e2e::Process;
use ocop_proto::certification::v1::{Certificate, CertificateState, IssuingLevel};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::EvaluationResult;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateSubjectRequest, Product, ProductState, Representative, Subject, SubjectKind, SubjectState,
};
use ocop_testkit::{TestApp, TestEnv, authorized};
use prost::Message;
use sqlx::PgPool;

/// Producers (and products, results, certificates) per province.
const PER_PROVINCE: usize = 3_500;
const PROVINCES: [(&str, &str); 3] = [("38", "14758"), ("46", "19753"), ("48", "20194")];
const QUIET: (&str, &str) = ("OCOP_TELEMETRY__LOG_FILTER", "warn,ocop_kit::server=info");

struct Province {
    env: TestEnv,
    code: &'static str,
    commune: &'static str,
    registry: Process,
    evaluation: Process,
    certification: Process,
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The four feeds' rows of producer `i` of province `p`.
fn resources(p: &str, commune: &str, i: usize) -> [(String, Vec<u8>); 4] {
    let subject = format!("subjects/b{p}-{i}");
    let product = format!("{subject}/products/p{i}");
    let result = format!("evaluationRounds/r{p}/entries/e{i}/result");
    let code = format!("{p}-B{i:07}");
    [
        (
            subject.clone(),
            Subject {
                name: subject.clone(),
                kind: SubjectKind::Cooperative as i32,
                legal_name: format!("Hợp tác xã {p} số {i}"),
                registration_number: format!("{p}{i:08}"),
                representative: Some(Representative {
                    full_name: "Lê Thị Hoa".into(),
                    ..Default::default()
                }),
                commune_code: commune.into(),
                province_code: p.into(),
                state: SubjectState::Active as i32,
                etag: "v1".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            product.clone(),
            Product {
                name: product.clone(),
                display_name: format!("Sản phẩm {p} số {i}"),
                group_code: "thuc-pham".into(),
                subgroup_code: "rau-cu-qua-hat-tuoi".into(),
                origin_commune_code: commune.into(),
                province_code: p.into(),
                state: ProductState::Active as i32,
                etag: "v1".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            result.clone(),
            EvaluationResult {
                name: result,
                product: product.clone(),
                province_code: p.into(),
                nominated: i.is_multiple_of(50),
                group_code: "thuc-pham".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            format!("certificates/{code}"),
            Certificate {
                name: format!("certificates/{code}"),
                code,
                product,
                subject,
                product_name: format!("Sản phẩm {p} số {i}"),
                subject_name: format!("Hợp tác xã {p} số {i}"),
                province_code: p.into(),
                commune_code: commune.into(),
                group_code: "thuc-pham".into(),
                stars: 3 + (i % 2) as i32,
                issuing_level: IssuingLevel::Province as i32,
                issue_date: date(2026, 6, 15),
                valid_until: date(2029, 6, 14),
                state: CertificateState::Active as i32,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ]
}

/// The feed (schema) of each of [`resources`]' rows.
const FEEDS: [&str; 4] = ["registry", "registry", "evaluation", "certification"];

/// Writes the province's feeds: every row positioned, as a sequencer would.
async fn fill(db: &PgPool, p: &str, commune: &str) -> anyhow::Result<()> {
    let mut feeds: std::collections::BTreeMap<&str, (Vec<String>, Vec<Vec<u8>>)> = Default::default();
    for i in 0..PER_PROVINCE {
        for (schema, (resource, payload)) in FEEDS.into_iter().zip(resources(p, commune, i)) {
            let feed = feeds.entry(schema).or_default();
            feed.0.push(resource);
            feed.1.push(payload);
        }
    }
    for (schema, (resources, payloads)) in feeds {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {schema}.outbox (resource, change, payload, position)
             SELECT r, 'created', b, COALESCE((SELECT max(position) FROM {schema}.outbox), 0) + n
             FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS t(r, b, n)"
        )))
        .bind(resources)
        .bind(payloads)
        .execute(db)
        .await?;
    }
    Ok(())
}

async fn start_province(code: &'static str, commune: &'static str) -> anyhow::Result<Province> {
    let env = TestEnv::new().await;
    let vars = [QUIET, ("OCOP_DEPLOYMENT__PROVINCE_CODE", code)];
    let registry = Process::start("registry", &env, &vars);
    let evaluation = Process::start("evaluation", &env, &vars);
    let certification = Process::start("certification", &env, &vars);
    for p in [&registry, &evaluation, &certification] {
        TestApp::wait_serving_at(p.grpc_addr, Duration::from_secs(60)).await;
    }
    let db = PgPool::connect(&env.config.database.url).await?;
    fill(&db, code, commune).await?;
    Ok(Province {
        env,
        code,
        commune,
        registry,
        evaluation,
        certification,
    })
}

/// The national deployment's four services, following `provinces`.
fn start_national(env: &TestEnv, provinces: &[Province]) -> anyhow::Result<Vec<Process>> {
    let mut toml = String::from("[deployment]\nrole = \"national\"\n");
    for p in provinces {
        let token = env.dir.join(format!("{}.jwt", p.code));
        std::fs::write(&token, p.env.signer.issue("mae", "service", None, None, 3600)?)?;
        toml += &format!(
            "[[federation.provinces]]\nprovince_code = \"{}\"\nregistry_url = \"{}\"\nevaluation_url = \"{}\"\ncertification_url = \"{}\"\ntoken_path = \"{}\"\n",
            p.code,
            p.registry.url(),
            p.evaluation.url(),
            p.certification.url(),
            token.display()
        );
    }
    let config = env.dir.join("national.toml");
    std::fs::write(&config, toml)?;
    let config = config.display().to_string();
    let vars = [QUIET, ("OCOP_CONFIG", config.as_str())];
    Ok(["registry", "evaluation", "certification", "promotion"]
        .into_iter()
        .map(|service| Process::start(service, env, &vars))
        .collect())
}

/// Whether every national read model has applied every province's feed.
async fn caught_up(national: &PgPool, provinces: &[Province], last: &[[i64; 3]]) -> anyhow::Result<bool> {
    for (p, last) in provinces.iter().zip(last) {
        for (schema, source, position) in [
            ("registry", "registry", last[0]),
            ("evaluation", "evaluation", last[1]),
            ("certification", "certification", last[2]),
            ("promotion", "registry", last[0]),
            ("promotion", "certification", last[2]),
        ] {
            let at: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT sequence FROM {schema}.feed_cursors WHERE source = $1"
            )))
            .bind(format!("{}/{source}", p.code))
            .fetch_optional(national)
            .await?;
            if at != Some(position) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Runs the catch-up `runs` times (a fresh national deployment each time)
/// and measures the steady-state lag on the last one.
pub(crate) async fn run(runs: usize) -> anyhow::Result<()> {
    let mut provinces = Vec::new();
    for (code, commune) in PROVINCES {
        provinces.push(start_province(code, commune).await?);
    }
    let mut last = Vec::new();
    for p in &provinces {
        let db = PgPool::connect(&p.env.config.database.url).await?;
        let mut positions = [0; 3];
        for (slot, schema) in ["registry", "evaluation", "certification"].iter().enumerate() {
            positions[slot] = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(max(position), 0) FROM {schema}.outbox"
            )))
            .fetch_one(&db)
            .await?;
        }
        last.push(positions);
    }
    let mut catch_ups = Vec::new();
    let mut national = None;
    for _ in 0..runs {
        let env = TestEnv::new().await;
        let db = PgPool::connect(&env.config.database.url).await?;
        let started = Instant::now();
        let processes = start_national(&env, &provinces)?;
        while !caught_up(&db, &provinces, &last).await.unwrap_or(false) {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "no catch-up within 300 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        catch_ups.push(started.elapsed().as_secs_f64());
        national = Some((env, db, processes));
    }
    catch_ups.sort_by(f64::total_cmp);
    println!(
        "national catch-up from zero (start included), 3 provinces × {PER_PROVINCE} producers, products, results and certificates: median of {runs} runs {:.1} s (runs: {})",
        catch_ups[catch_ups.len() / 2],
        catch_ups
            .iter()
            .map(|s| format!("{s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Steady state: 300 producers registered in Thanh Hóa, 50 a second.
    let (_env, national_db, _processes) = national.expect("at least one run");
    let thanh_hoa = &provinces[0];
    let province_db = PgPool::connect(&thanh_hoa.env.config.database.url).await?;
    let officer = thanh_hoa.env.token("province_officer", Some(thanh_hoa.code), None);
    let mut registry = RegistryServiceClient::connect(thanh_hoa.registry.url()).await?;
    let mut names = Vec::new();
    for i in 0..300 {
        let subject = registry
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(Subject {
                        kind: SubjectKind::Enterprise as i32,
                        legal_name: format!("Công ty lag {i}"),
                        registration_number: format!("38{:08}", 90_000_000 + i),
                        representative: Some(Representative {
                            full_name: "Trần Văn Bình".into(),
                            ..Default::default()
                        }),
                        commune_code: thanh_hoa.commune.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &officer,
            ))
            .await?
            .into_inner();
        names.push(subject.subject.map(|s| s.name).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lags: Vec<f64> = loop {
        let arrived: Vec<(String, f64)> = sqlx::query_as(
            "SELECT resource, extract(epoch FROM update_time)::float8 FROM registry.mirrored WHERE resource = ANY($1)",
        )
        .bind(&names)
        .fetch_all(&national_db)
        .await?;
        if arrived.len() == names.len() {
            let written: Vec<(String, f64)> = sqlx::query_as(
                "SELECT resource, extract(epoch FROM min(created_at))::float8 FROM registry.outbox
                 WHERE resource = ANY($1) GROUP BY resource",
            )
            .bind(&names)
            .fetch_all(&province_db)
            .await?;
            let written: std::collections::HashMap<_, _> = written.into_iter().collect();
            break arrived.into_iter().map(|(r, at)| (at - written[&r]) * 1000.0).collect();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the 300 producers never all reached the national mirror"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    lags.sort_by(f64::total_cmp);
    println!(
        "national lag, province write to national mirror, 300 writes at 50/s: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lags[lags.len() / 2],
        lags[lags.len() * 99 / 100],
        lags[lags.len() - 1]
    );
    Ok(())
}
