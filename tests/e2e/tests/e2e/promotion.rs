//! Issue 6's path with the four services as separate processes: a product
//! certified by the certification service appears in the catalog (through the
//! change feeds), goes to a sales point and a fair, counts toward its
//! province's target, then is revoked, leaves the catalog and is flagged at
//! the sales point.

use std::time::Duration;

use ocop_e2e::{Process, connect};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{RevocationGround, RevocationReason, RevokeCertificateRequest};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::promotion::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::{TestEnv, authorized, poll};
use tonic::transport::Channel;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// Waits (up to 15 s) until the catalog's size is `n`.
async fn catalog_of(promotion: &PromotionServiceClient<Channel>, n: usize) -> Vec<CatalogEntry> {
    let what = format!("the catalog to hold {n} entries");
    poll::until_ok(&what, Duration::from_secs(15), || {
        let mut promotion = promotion.clone();
        async move {
            let entries = promotion
                .list_catalog(ListCatalogRequest::default())
                .await
                .unwrap()
                .into_inner()
                .entries;
            if entries.len() == n { Ok(entries) } else { Err(entries) }
        }
    })
    .await
}

#[tokio::test]
async fn a_certified_product_is_promoted_then_revoked_across_four_processes() {
    let env = TestEnv::new().await;
    let registry = Process::start("registry", &env, &[]);
    let registry_url = registry.url();
    let evaluation = Process::start("evaluation", &env, &[("OCOP_SERVICES__REGISTRY__URL", &registry_url)]);
    let evaluation_url = evaluation.url();
    let certification = Process::start(
        "certification",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__EVALUATION__URL", &evaluation_url),
        ],
    );
    let certification_url = certification.url();
    let promotion = Process::start(
        "promotion",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__CERTIFICATION__URL", &certification_url),
        ],
    );
    let mut registry_client = RegistryServiceClient::new(connect(&registry).await);
    let mut evaluation_client = EvaluationServiceClient::new(connect(&evaluation).await);
    let mut certification_client = CertificationServiceClient::new(connect(&certification).await);
    let mut promotion_client = PromotionServiceClient::new(connect(&promotion).await);
    let officer = env.token("province_officer", Some("38"), None);

    let new = NewProduct {
        commune: "14758",
        registration: "2801112223",
        name: "Nem chua Thanh Hóa",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry_client, &officer, new).await;
    let evaluated = flows::evaluate(
        &env,
        &mut evaluation_client,
        &officer,
        &[&product],
        RoundPlan::province_2026(1, 4),
    )
    .await;
    let cert = flows::certify(
        &mut certification_client,
        &officer,
        &evaluated.results[0].name,
        (2026, 6, 15),
    )
    .await;

    let entries = catalog_of(&promotion_client, 1).await;
    assert_eq!((entries[0].code.as_str(), entries[0].stars), (cert.code.as_str(), 4));

    let station = promotion_client
        .create_sales_point(authorized(
            CreateSalesPointRequest {
                sales_point: Some(SalesPoint {
                    display_name: "Điểm OCOP ga Thanh Hóa".into(),
                    location_type: LocationType::StationAirportPort as i32,
                    address: "Ga Thanh Hóa".into(),
                    commune_code: "14758".into(),
                    operator: "HTX Hàm Rồng".into(),
                    opening_date: date(2025, 10, 1),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .sales_point
        .unwrap();
    promotion_client
        .add_sales_point_product(authorized(
            AddSalesPointProductRequest {
                sales_point: station.name.clone(),
                certificate: cert.name.clone(),
                etag: station.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let fair = promotion_client
        .create_fair(authorized(
            CreateFairRequest {
                fair: Some(Fair {
                    display_name: "Hội chợ OCOP Thanh Hóa".into(),
                    start_date: date(2026, 12, 10),
                    end_date: date(2026, 12, 14),
                    place: "Quảng trường Lam Sơn".into(),
                    organiser: "Sở Công Thương".into(),
                    ..Default::default()
                }),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .fair
        .unwrap();
    let fair = promotion_client
        .add_fair_booth(authorized(
            AddFairBoothRequest {
                fair: fair.name.clone(),
                booth: Some(Booth {
                    label: "A1".into(),
                    certificates: vec![cert.name.clone()],
                    ..Default::default()
                }),
                etag: fair.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .fair
        .unwrap();
    assert_eq!(fair.booths.len(), 1);
    promotion_client
        .set_target(authorized(
            SetTargetRequest {
                target: Some(Target {
                    year: 2026,
                    id: "4-star-products".into(),
                    kind: TargetKind::CertifiedProducts as i32,
                    min_stars: 4,
                    max_stars: 4,
                    value: 1,
                    description: "ít nhất 1 sản phẩm 4 sao".into(),
                    ..Default::default()
                }),
            },
            &officer,
        ))
        .await
        .unwrap();
    let progress = |stats: &Statistics| {
        let p = &stats.targets[0];
        (p.actual, p.met)
    };
    let stats = promotion_client
        .get_statistics(GetStatisticsRequest {
            province_code: "38".into(),
            year: 2026,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    assert_eq!(progress(&stats), (1, true));

    certification_client
        .revoke_certificate(authorized(
            RevokeCertificateRequest {
                name: cert.name.clone(),
                etag: cert.etag.clone(),
                reason: RevocationReason::QualityOrFoodSafetyViolation as i32,
                text: "Vi phạm an toàn thực phẩm".into(),
                document: "Quyết định 77/QĐ-UBND".into(),
                ground: RevocationGround::LawViolation as i32,
                conclusion_document: "Kết luận thanh tra 5/KL-TTr".into(),
                conclusion_date: cert.issue_date,
            },
            &officer,
        ))
        .await
        .unwrap();
    catalog_of(&promotion_client, 0).await;
    let flagged = promotion_client
        .get_sales_point(authorized(
            GetSalesPointRequest {
                name: station.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .sales_point
        .unwrap();
    assert!(flagged.products[0].flagged, "{flagged:?}");
    // Statistics are reused for up to a second: wait for the revocation to show.
    poll::until_ok("the revoked product to stop counting", Duration::from_secs(10), || {
        let mut promotion = promotion_client.clone();
        async move {
            let stats = promotion
                .get_statistics(GetStatisticsRequest {
                    province_code: "38".into(),
                    year: 2026,
                })
                .await
                .unwrap()
                .into_inner()
                .statistics
                .unwrap();
            if progress(&stats) == (0, false) {
                Ok(())
            } else {
                Err(stats)
            }
        }
    })
    .await;
}
