//! Targets and statistics: counts by stars, group, producer kind, commune and
//! year, progress against each target, and the CSV exports.

use crate::support::world;

use std::time::Duration;

use ocop_proto::promotion::v1::*;
use ocop_testkit::flows::RoundPlan;
use ocop_testkit::{authorized, poll};
use tonic::Code;
use world::*;

fn count(counts: &[Count], key: &str) -> i32 {
    counts.iter().find(|c| c.key == key).map_or(0, |c| c.products)
}

#[tokio::test]
async fn statistics_count_what_is_in_force_and_measure_the_targets() {
    let mut w = world().await;
    let (a, b) = (w.product("Nem chua").await, w.product("Chè lam").await);
    // Registered, never certified: it counts against the share target.
    w.product("Bánh gai").await;
    w.certify(&a, RoundPlan::province_2026(1, 4), date(2026, 6, 15)).await;
    w.certify(&b, RoundPlan::province_2026(2, 3), date(2026, 6, 15)).await;
    w.until("two certificates listed", |e| e.len() == 2).await;
    let officer = w.officer.clone();

    let target = |id: &str, kind: TargetKind, min: i32, max: i32, value: i32| Target {
        year: 2026,
        id: id.into(),
        kind: kind as i32,
        min_stars: min,
        max_stars: max,
        value,
        description: "Kế hoạch OCOP 2026".into(),
        ..Default::default()
    };
    for (t, token, code) in [
        (
            target("x", TargetKind::Unspecified, 3, 5, 1),
            &officer,
            Code::InvalidArgument,
        ),
        (
            target("Bad Id", TargetKind::CertifiedProducts, 3, 5, 1),
            &officer,
            Code::InvalidArgument,
        ),
        (
            target("x", TargetKind::CertifiedProducts, 5, 3, 1),
            &officer,
            Code::InvalidArgument,
        ),
        (
            target("x", TargetKind::CertifiedSharePercent, 3, 5, 170),
            &officer,
            Code::InvalidArgument,
        ),
        (
            target("x", TargetKind::CertifiedProducts, 3, 5, 1),
            &w.env
                .signer
                .issue("m", "council_member", Some("38"), None, 600)
                .unwrap(),
            Code::PermissionDenied,
        ),
    ] {
        let err = w
            .promotion
            .set_target(authorized(
                SetTargetRequest {
                    target: Some(t.clone()),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{t:?}");
    }
    for t in [
        target("4-star-products", TargetKind::CertifiedProducts, 4, 4, 1),
        target("5-star-products", TargetKind::CertifiedProducts, 5, 5, 5),
        target("share-3-stars", TargetKind::CertifiedSharePercent, 3, 5, 70),
        target("sales-point-communes", TargetKind::SalesPointCommunes, 3, 5, 1),
    ] {
        let stored = w
            .promotion
            .set_target(authorized(SetTargetRequest { target: Some(t) }, &officer))
            .await
            .unwrap()
            .into_inner()
            .target
            .unwrap();
        assert!(stored.name.starts_with("provinces/38/targets/2026-"), "{}", stored.name);
    }

    // The registry's feed brings the third, uncertified product.
    let statistics = |year| GetStatisticsRequest {
        province_code: "38".into(),
        year,
    };
    let promotion = w.promotion.clone();
    let stats = poll::until_ok("three registered products", Duration::from_secs(15), || {
        let mut promotion = promotion.clone();
        async move {
            let stats = promotion
                .get_statistics(statistics(2026))
                .await
                .unwrap()
                .into_inner()
                .statistics
                .unwrap();
            if stats.registered_products == 3 {
                Ok(stats)
            } else {
                Err(stats.registered_products)
            }
        }
    })
    .await;
    assert_eq!(stats.certified_products, 2);
    assert_eq!((count(&stats.by_stars, "4"), count(&stats.by_stars, "3")), (1, 1));
    assert_eq!(count(&stats.by_group, "thuc-pham"), 2);
    assert_eq!(count(&stats.by_producer_kind, "cooperative"), 2);
    assert_eq!(count(&stats.by_commune, "14758"), 2);
    assert_eq!(count(&stats.by_year, "2026"), 2);
    let progress: Vec<(String, i32, bool)> = stats
        .targets
        .iter()
        .map(|p| (p.target.clone().unwrap().id, p.actual, p.met))
        .collect();
    assert_eq!(
        progress,
        [
            ("4-star-products".to_string(), 1, true),
            ("5-star-products".to_string(), 0, false),
            ("sales-point-communes".to_string(), 0, false),
            ("share-3-stars".to_string(), 66, false),
        ]
    );
    let none = w
        .promotion
        .get_statistics(statistics(2025))
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    assert!(none.targets.is_empty());
    for (province, year) in [("3", 2026), ("38", 1990)] {
        let err = w
            .promotion
            .get_statistics(GetStatisticsRequest {
                province_code: province.into(),
                year,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    let csv = w
        .promotion
        .export_catalog(ExportCatalogRequest {
            province_code: "38".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .csv;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("code,product_name") && lines[1].contains("Nem chua"),
        "{csv}"
    );
    let csv = w
        .promotion
        .export_statistics(ExportStatisticsRequest {
            province_code: "38".into(),
            year: 2026,
        })
        .await
        .unwrap()
        .into_inner()
        .csv;
    assert!(
        csv.contains("total,certified_products,2") && csv.contains("stars,4,1"),
        "{csv}"
    );
    assert!(
        csv.contains("target,provinces/38/targets/2026-4-star-products,1/1 met"),
        "{csv}"
    );
    let err = w
        .promotion
        .export_catalog(ExportCatalogRequest {
            province_code: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn targets_are_the_callers_province_on_its_deployment() {
    // Thanh Hóa's deployment (38), whatever the token says.
    let mut w = world().await;
    let officer = w.officer.clone();
    let phu_tho = w.env.token("province_officer", Some("25"), None);
    let target = |province: &str| Target {
        province_code: province.into(),
        year: 2026,
        id: "4-star-products".into(),
        kind: TargetKind::CertifiedProducts as i32,
        min_stars: 4,
        max_stars: 4,
        value: 10,
        ..Default::default()
    };
    // Named for Phú Thọ by Thanh Hóa's officer (refused, not replaced by 38),
    // and Phú Thọ's own officer, here.
    for (t, token) in [
        (target("25"), &officer),
        (target(""), &phu_tho),
        (target("25"), &phu_tho),
    ] {
        let err = w
            .promotion
            .set_target(authorized(
                SetTargetRequest {
                    target: Some(t.clone()),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (
                err.code(),
                tonic_types::StatusExt::get_details_error_info(&err).map(|i| i.reason)
            ),
            (Code::PermissionDenied, Some("OUTSIDE_DEPLOYMENT".to_string())),
            "{t:?}: {}",
            err.message()
        );
    }
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let written: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM promotion.targets), (SELECT count(*) FROM promotion.audit_events)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written, (0, 0), "a refusal writes nothing");
    for t in [target(""), target("38")] {
        let stored = w
            .promotion
            .set_target(authorized(SetTargetRequest { target: Some(t) }, &officer))
            .await
            .unwrap()
            .into_inner()
            .target
            .unwrap();
        assert_eq!(stored.name, "provinces/38/targets/2026-4-star-products");
    }
}

#[tokio::test]
async fn a_province_that_does_not_exist_has_no_statistics() {
    let mut w = world().await;
    // Rather than zeros: `99` has the form of a province code, but is none of the 34.
    let err = w
        .promotion
        .get_statistics(GetStatisticsRequest {
            province_code: "99".into(),
            year: 2026,
        })
        .await
        .unwrap_err();
    let bad = tonic_types::StatusExt::get_details_bad_request(&err).expect("field violations");
    assert_eq!(
        (
            err.code(),
            tonic_types::StatusExt::get_details_error_info(&err).map(|i| i.reason),
            bad.field_violations[0].field.as_str()
        ),
        (
            Code::InvalidArgument,
            Some("INVALID_FIELD".to_string()),
            "province_code"
        ),
        "{}",
        err.message()
    );
    let err = w
        .promotion
        .export_statistics(ExportStatisticsRequest {
            province_code: "99".into(),
            year: 2026,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = w
        .promotion
        .export_catalog(ExportCatalogRequest {
            province_code: "99".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Another province that exists has its (empty) figures.
    let other = w
        .promotion
        .get_statistics(GetStatisticsRequest {
            province_code: "25".into(),
            year: 2026,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    assert!(other.targets.is_empty());
}
