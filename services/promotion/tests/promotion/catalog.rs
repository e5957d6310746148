//! The catalog fed by the feeds: a certified product appears, follows its
//! renames, and leaves when its certificate is revoked; an expired
//! certificate never shows; the public listing refuses bad input.

use crate::support::world;

use ocop_proto::certification::v1::{
    IssueCertificateRequest, RevocationGround, RevocationReason, RevokeCertificateRequest,
};
use ocop_proto::promotion::v1::*;
use ocop_proto::registry::v1::{Product, UpdateProductRequest};
use ocop_testkit::authorized;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use tonic::Code;
use world::*;

#[tokio::test]
async fn a_certified_product_is_listed_until_its_certificate_is_revoked() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let new = |registration, name| NewProduct {
        commune: "14758",
        registration,
        name,
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, honey) = flows::product(&mut w.registry, &officer, new("2800000001", "Mật ong Như Xuân")).await;
    let (_, old) = flows::product(&mut w.registry, &officer, new("2800000002", "Chè lam cũ")).await;
    let current = flows::evaluate(
        &w.env,
        &mut w.evaluation,
        &officer,
        &[&honey],
        RoundPlan::province_2026(1, 4),
    )
    .await;
    let lapsed = flows::evaluate(
        &w.env,
        &mut w.evaluation,
        &officer,
        &[&old],
        RoundPlan {
            date: (2022, 8, 1),
            ..RoundPlan::province_2026(1, 4)
        },
    )
    .await;
    let issue = |result: &str, decision| IssueCertificateRequest {
        result: result.into(),
        decision_date: decision,
        ..Default::default()
    };
    // Expired since 2025: never listed, whatever the feed says.
    w.certification
        .issue_certificate(authorized(issue(&lapsed.results[0].name, date(2022, 9, 1)), &officer))
        .await
        .unwrap();
    let cert = w
        .certification
        .issue_certificate(authorized(issue(&current.results[0].name, date(2026, 6, 15)), &officer))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();

    let listed = w.until("the certified product appears", |e| !e.is_empty()).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!((entry.code.as_str(), entry.stars), (cert.code.as_str(), 4));
    assert_eq!(
        (entry.product_name.as_str(), entry.province_name.as_str()),
        ("Mật ong Như Xuân", "Tỉnh Thanh Hóa")
    );
    assert_eq!(entry.valid_until, date(2029, 6, 14));
    for (filter, query, expected) in [
        ("province_code = \"38\"", "", 1),
        ("province_code = \"01\"", "", 0),
        ("stars = 4 AND commune_code = \"14758\"", "", 1),
        ("group_code = \"my-pham\"", "", 0),
        ("", "mat ong nhu xuan", 1),
        ("", "MẬT ONG", 1),
        ("", "che lam", 0),
    ] {
        assert_eq!(w.catalog(filter, query).await.len(), expected, "{filter} / {query}");
    }
    for (filter, query) in [("stars = 2", ""), ("colour = \"red\"", ""), ("", &"x".repeat(201))] {
        let err = w
            .promotion
            .list_catalog(ListCatalogRequest {
                filter: filter.into(),
                query: query.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{filter}");
    }
    let err = w
        .promotion
        .list_catalog(ListCatalogRequest {
            page_token: "nonsense".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // A rename in the registry reaches the catalog through the registry's feed.
    let renamed = w
        .registry
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(Product {
                    display_name: "Mật ong bạc hà Như Xuân".into(),
                    ..honey.clone()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(renamed.product.is_some());
    w.until("the rename arrives", |e| {
        e.first().is_some_and(|e| e.product_name == "Mật ong bạc hà Như Xuân")
    })
    .await;

    // A sales point carries it; only certificates in force, 3 stars or more.
    let point = SalesPoint {
        display_name: "Điểm giới thiệu sản phẩm OCOP ga Thanh Hóa".into(),
        location_type: LocationType::StationAirportPort as i32,
        address: "Ga Thanh Hóa, đường Dương Đình Nghệ".into(),
        commune_code: "14758".into(),
        operator: "HTX Dịch vụ Hàm Rồng".into(),
        opening_date: date(2025, 10, 1),
        ..Default::default()
    };
    let create = |point: SalesPoint| CreateSalesPointRequest {
        sales_point: Some(point),
        request_id: String::new(),
    };
    let stranger = w.env.token("province_officer", Some("01"), None);
    let cases: Vec<(SalesPoint, &str, Code)> = vec![
        (SalesPoint::default(), officer.as_str(), Code::InvalidArgument),
        (
            SalesPoint {
                location_type: 0,
                ..point.clone()
            },
            officer.as_str(),
            Code::InvalidArgument,
        ),
        (
            SalesPoint {
                opening_date: date(2099, 1, 1),
                ..point.clone()
            },
            officer.as_str(),
            Code::InvalidArgument,
        ),
        (
            SalesPoint {
                commune_code: "00004".into(),
                ..point.clone()
            },
            officer.as_str(),
            Code::PermissionDenied,
        ),
        (point.clone(), stranger.as_str(), Code::PermissionDenied),
    ];
    for (p, token, code) in cases {
        let err = w
            .promotion
            .create_sales_point(authorized(create(p.clone()), token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{p:?}: {}", err.message());
    }
    let err = w
        .promotion
        .create_sales_point(authorized(create(SalesPoint::default()), &officer))
        .await
        .unwrap_err();
    let fields: Vec<String> = tonic_types::StatusExt::get_details_bad_request(&err)
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "sales_point.display_name",
            "sales_point.location_type",
            "sales_point.address",
            "sales_point.operator",
            "sales_point.commune_code",
            "sales_point.opening_date"
        ]
    );
    let station = w
        .promotion
        .create_sales_point(authorized(create(point.clone()), &officer))
        .await
        .unwrap()
        .into_inner()
        .sales_point
        .unwrap();
    assert_eq!(station.province_code, "38");
    let add = |certificate: &str, etag: &str| AddSalesPointProductRequest {
        sales_point: station.name.clone(),
        certificate: certificate.into(),
        etag: etag.into(),
    };
    let lapsed_code = w
        .certification
        .list_certificates(authorized(
            ocop_proto::certification::v1::ListCertificatesRequest {
                filter: "state = \"expired\"".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates[0]
        .name
        .clone();
    for (request, code, why) in [
        (
            add("certificates/38-ZZZZZZZZ", &station.etag),
            Code::FailedPrecondition,
            "NOT_CERTIFIED",
        ),
        (
            add(&lapsed_code, &station.etag),
            Code::FailedPrecondition,
            "NOT_CERTIFIED",
        ),
        (add(&cert.name, "v9"), Code::Aborted, "STALE_ETAG"),
        (add("38-ABC", &station.etag), Code::InvalidArgument, "INVALID_FIELD"),
    ] {
        let err = w
            .promotion
            .add_sales_point_product(authorized(request, &officer))
            .await
            .unwrap_err();
        let reason = tonic_types::StatusExt::get_details_error_info(&err)
            .map(|i| i.reason)
            .unwrap_or_default();
        assert_eq!((err.code(), reason.as_str()), (code, why), "{}", err.message());
    }
    let err = w
        .promotion
        .add_sales_point_product(authorized(add(&cert.name, &station.etag), &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let carrying = w
        .promotion
        .add_sales_point_product(authorized(add(&cert.name, &station.etag), &officer))
        .await
        .unwrap()
        .into_inner()
        .sales_point
        .unwrap();
    assert_eq!(carrying.products.len(), 1);
    assert!(!carrying.products[0].flagged);
    let err = w
        .promotion
        .add_sales_point_product(authorized(add(&cert.name, &carrying.etag), &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let listed = w
        .promotion
        .list_sales_points(authorized(
            ListSalesPointsRequest {
                filter: "location_type = station_airport_port AND province_code = \"38\"".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .sales_points;
    assert_eq!(listed, vec![carrying.clone()]);
    let err = w
        .promotion
        .list_sales_points(authorized(
            ListSalesPointsRequest {
                filter: "location_type = spaceport".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = w
        .promotion
        .get_sales_point(authorized(
            GetSalesPointRequest {
                name: "salesPoints/none".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    w.certification
        .revoke_certificate(authorized(
            RevokeCertificateRequest {
                name: cert.name.clone(),
                etag: cert.etag.clone(),
                reason: RevocationReason::ProducerRequest as i32,
                text: "Chủ thể ngừng sản xuất".into(),
                document: "Quyết định 45/QĐ-UBND".into(),
                ground: RevocationGround::ProductionStopped as i32,
                conclusion_document: "Xác nhận 3/XN-UBND của xã".into(),
                conclusion_date: cert.issue_date,
            },
            &officer,
        ))
        .await
        .unwrap();
    w.until("the revoked certificate leaves", |e| e.is_empty()).await;
    let flagged = w
        .promotion
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
    let carried = &flagged.products[0];
    assert!(carried.flagged, "{carried:?}");
    assert_eq!(carried.flag_reason, "the certificate was revoked");
    let err = w
        .promotion
        .remove_sales_point_product(authorized(
            RemoveSalesPointProductRequest {
                sales_point: flagged.name.clone(),
                certificate: "certificates/38-ZZZZZZZZ".into(),
                etag: flagged.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let emptied = w
        .promotion
        .remove_sales_point_product(authorized(
            RemoveSalesPointProductRequest {
                sales_point: flagged.name.clone(),
                certificate: cert.name.clone(),
                etag: flagged.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .sales_point
        .unwrap();
    assert!(emptied.products.is_empty());
}
