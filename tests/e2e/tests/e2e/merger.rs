//! Issue 7's merger round trip with the `ocop` command line: Quảng Nam's
//! deployment is exported (a certificate issued there in 2024 included), a damaged or truncated file is refused with nothing written,
//! the file is imported into Đà Nẵng's deployment, which then answers for
//! Quảng Nam's producer, product and certificate under their old names,
//! checks the old QR signature against the imported retired key, lists the
//! product in its catalog, and a second import changes nothing.

use std::time::Duration;

use ocop_e2e::{Process, connect, env_vars, run_to_end};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{GetSigningKeysRequest, VerificationStatus, VerifyCertificateRequest};
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::ListCatalogRequest;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::registry::v1::GetProductRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::{TestEnv, authorized, poll};
use sqlx::PgPool;

const DA_NANG: (&str, &str) = ("OCOP_DEPLOYMENT__PROVINCE_CODE", "48");

/// `ocop` with a deployment's variables; panics with its output unless it
/// ends as `succeed` says, and returns the output.
fn ocop(env: &TestEnv, args: &[&str], succeed: bool) -> String {
    let mut vars = env_vars(env);
    vars.push((DA_NANG.0.into(), DA_NANG.1.into()));
    let (status, output) = run_to_end("ocop", args, &vars);
    assert_eq!(status.success(), succeed, "ocop {args:?}:\n{output}");
    output
}

/// Row counts of the tables an import writes, to show what changed.
async fn counts(db: &PgPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "registry.subjects",
        "registry.products",
        "registry.audit_events",
        "registry.outbox",
        "registry.province_imports",
        "evaluation.results",
        "evaluation.score_sheets",
        "certification.certificates",
        "certification.certificate_events",
        "certification.signing_keys",
        "certification.outbox",
    ] {
        counts.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(db)
                .await
                .unwrap(),
        );
    }
    counts
}

#[tokio::test]
async fn quang_nam_merges_into_da_nang_and_its_certificates_still_verify() {
    // Quảng Nam's deployment. Its communes belong to Đà Nẵng since 2025-07-01
    // (Tam Kỳ, 20335), so it is configured as province 48.
    let quang_nam = TestEnv::new().await;
    ocop(&quang_nam, &["migrate"], true);
    let registry = Process::start("registry", &quang_nam, &[DA_NANG]);
    let registry_url = registry.url();
    let evaluation = Process::start(
        "evaluation",
        &quang_nam,
        &[DA_NANG, ("OCOP_SERVICES__REGISTRY__URL", &registry_url)],
    );
    let certification = Process::start(
        "certification",
        &quang_nam,
        &[
            DA_NANG,
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__EVALUATION__URL", &evaluation.url()),
        ],
    );
    let officer = quang_nam.token("province_officer", Some("48"), None);
    let mut registry_client = RegistryServiceClient::new(connect(&registry).await);
    let mut evaluation_client = EvaluationServiceClient::new(connect(&evaluation).await);
    let mut certification_client = CertificationServiceClient::new(connect(&certification).await);
    let new = NewProduct {
        commune: "20335",
        registration: "4000123456",
        name: "Sâm Ngọc Linh Tam Kỳ",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry_client, &officer, new).await;
    // A 2024 round and decision: 4 stars, certified by the province of the day, Quảng Nam.
    let plan = RoundPlan {
        date: (2024, 6, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let evaluated = flows::evaluate(&quang_nam, &mut evaluation_client, &officer, &[&product], plan).await;
    let old = flows::certify(
        &mut certification_client,
        &officer,
        &evaluated.results[0].name,
        (2024, 6, 15),
    )
    .await;
    assert_eq!((old.stars, old.decision_date.unwrap().year), (4, 2024));
    assert_eq!(
        old.authority, "administrativeUnits/2004-49",
        "Quảng Nam decided in 2024"
    );
    assert_eq!(old.authority_name, "Ủy ban nhân dân tỉnh Quảng Nam");
    drop((registry, evaluation, certification));
    let file = quang_nam.dir.join("quang-nam.ocop");
    let output = ocop(&quang_nam, &["export-province", file.to_str().unwrap()], true);
    assert!(output.contains("exported province 48"), "{output}");

    // Đà Nẵng's deployment.
    let da_nang = TestEnv::new().await;
    ocop(&da_nang, &["migrate"], true);
    let db = PgPool::connect(&da_nang.config.database.url).await.unwrap();
    let before = counts(&db).await;

    // A damaged file and a truncated one are refused, with nothing written.
    let bytes = std::fs::read(&file).unwrap();
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0x01;
    let damaged_file = da_nang.dir.join("damaged.ocop");
    std::fs::write(&damaged_file, &damaged).unwrap();
    let truncated_file = da_nang.dir.join("truncated.ocop");
    std::fs::write(&truncated_file, &bytes[..bytes.len() * 2 / 3]).unwrap();
    for bad in [&damaged_file, &truncated_file] {
        let output = ocop(&da_nang, &["import-province", bad.to_str().unwrap()], false);
        assert!(output.contains("is refused, nothing was written"), "{output}");
    }
    let missing = da_nang.dir.join("missing.ocop");
    let output = ocop(&da_nang, &["import-province", missing.to_str().unwrap()], false);
    assert!(output.contains("cannot read"), "{output}");
    assert_eq!(counts(&db).await, before, "a refused file writes nothing");
    // Only a province's deployment has a province to export.
    let mut national = env_vars(&da_nang);
    national.push(("OCOP_ROLE".into(), "national".into()));
    let (status, output) = run_to_end("ocop", &["export-province", missing.to_str().unwrap()], &national);
    assert!(
        !status.success() && output.contains("only a province's deployment is exported"),
        "{output}"
    );

    let output = ocop(&da_nang, &["import-province", file.to_str().unwrap()], true);
    assert!(output.contains("imported province 48"), "{output}");
    let after = counts(&db).await;
    assert_ne!(after, before);
    let output = ocop(&da_nang, &["import-province", file.to_str().unwrap()], true);
    assert!(output.contains("was already imported"), "{output}");
    assert_eq!(counts(&db).await, after, "the same file twice changes nothing");

    // Đà Nẵng now answers for Quảng Nam's names, and its old certificate.
    let registry = Process::start("registry", &da_nang, &[DA_NANG]);
    let certification = Process::start(
        "certification",
        &da_nang,
        &[DA_NANG, ("OCOP_SERVICES__REGISTRY__URL", &registry.url())],
    );
    let promotion = Process::start(
        "promotion",
        &da_nang,
        &[
            DA_NANG,
            ("OCOP_SERVICES__REGISTRY__URL", &registry.url()),
            ("OCOP_SERVICES__CERTIFICATION__URL", &certification.url()),
        ],
    );
    let da_nang_officer = da_nang.token("province_officer", Some("48"), None);
    let kept = RegistryServiceClient::new(connect(&registry).await)
        .get_product(authorized(
            GetProductRequest {
                name: product.name.clone(),
            },
            &da_nang_officer,
        ))
        .await
        .expect("the product keeps its name")
        .into_inner()
        .product
        .unwrap();
    assert_eq!(kept.display_name, product.display_name);
    let mut certification_client = CertificationServiceClient::new(connect(&certification).await);
    let verification = certification_client
        .verify_certificate(VerifyCertificateRequest { code: old.code.clone() })
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert_eq!(verification.status(), VerificationStatus::Valid, "{verification:?}");
    assert_eq!(verification.stars, 4);
    let keys = certification_client
        .get_signing_keys(GetSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let imported = keys
        .iter()
        .find(|k| k.key_id == old.key_id)
        .expect("Quảng Nam's key is published");
    assert!(!imported.current && imported.retire_time.is_some(), "{imported:?}");
    assert!(
        keys.iter().any(|k| k.current && k.key_id != old.key_id),
        "Đà Nẵng signs with its own key"
    );
    let fields = ocop_certification::keys::check_offline(&old.qr_payload, &keys).expect("the old QR code still checks");
    assert_eq!(fields.code, old.code);

    // Its catalog learns of the product through the feed entries that came along.
    let catalog = PromotionServiceClient::new(connect(&promotion).await);
    poll::until_ok(
        "the imported certificate to reach the catalog",
        Duration::from_secs(15),
        || {
            let mut catalog = catalog.clone();
            let code = &old.code;
            async move {
                let page = catalog
                    .list_catalog(ListCatalogRequest::default())
                    .await
                    .unwrap()
                    .into_inner();
                if page.entries.iter().any(|e| &e.code == code) {
                    Ok(())
                } else {
                    Err(page)
                }
            }
        },
    )
    .await;
}
