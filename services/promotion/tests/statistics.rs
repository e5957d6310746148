//! Targets and statistics: counts by stars, group, producer kind, commune and
//! year, progress against each target, and the CSV exports.

#[path = "support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use ocop_proto::promotion::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
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
    let deadline = Instant::now() + Duration::from_secs(15);
    let stats = loop {
        let stats = w
            .promotion
            .get_statistics(statistics(2026))
            .await
            .unwrap()
            .into_inner()
            .statistics
            .unwrap();
        if stats.registered_products == 3 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "registered products: {}",
            stats.registered_products
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
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
