//! Fairs with booths and e-commerce listings: only certified products, one
//! producer per booth, the caller's province.

use crate::support::world;

use ocop_proto::promotion::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use tonic::Code;
use tonic_types::StatusExt;
use world::*;

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

#[tokio::test]
async fn fairs_and_listings_show_only_certified_products() {
    let mut w = world().await;
    let (tea, rice) = (w.product("Chè Xuân Thành").await, w.product("Gạo Hoằng Hóa").await);
    let tea_cert = w.certify(&tea, RoundPlan::province_2026(1, 4), date(2026, 6, 15)).await;
    let rice_cert = w
        .certify(&rice, RoundPlan::province_2026(2, 3), date(2026, 6, 15))
        .await;
    w.until("both certificates listed", |e| e.len() == 2).await;
    let officer = w.officer.clone();
    let stranger = w.env.token("province_officer", Some("01"), None);

    let fair = Fair {
        display_name: "Hội chợ OCOP Thanh Hóa 2026".into(),
        start_date: date(2026, 12, 10),
        end_date: date(2026, 12, 14),
        place: "Quảng trường Lam Sơn".into(),
        organiser: "Sở Công Thương Thanh Hóa".into(),
        ..Default::default()
    };
    let err = w
        .promotion
        .create_fair(authorized(
            CreateFairRequest {
                fair: Some(Fair {
                    end_date: date(2026, 12, 1),
                    place: String::new(),
                    ..fair.clone()
                }),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    let fields: Vec<String> = err
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["fair.place", "fair.end_date"]);
    let member = w
        .env
        .signer
        .issue("x", "council_member", Some("38"), None, 600)
        .unwrap();
    let err = w
        .promotion
        .create_fair(authorized(
            CreateFairRequest {
                fair: Some(fair.clone()),
            },
            &member,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let created = w
        .promotion
        .create_fair(authorized(CreateFairRequest { fair: Some(fair) }, &officer))
        .await
        .unwrap()
        .into_inner()
        .fair
        .unwrap();
    assert_eq!(created.province_code, "38");

    let booth = |label: &str, certificates: Vec<String>| Booth {
        label: label.into(),
        certificates,
        ..Default::default()
    };
    let add = |b: Booth, etag: &str| AddFairBoothRequest {
        fair: created.name.clone(),
        booth: Some(b),
        etag: etag.into(),
    };
    for (request, token, code, why) in [
        (
            add(booth("", vec![tea_cert.name.clone()]), &created.etag),
            &officer,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            add(booth("A1", vec![]), &created.etag),
            &officer,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            add(
                booth("A1", vec![tea_cert.name.clone(), rice_cert.name.clone()]),
                &created.etag,
            ),
            &officer,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            add(booth("A1", vec!["certificates/38-ZZZZZZZZ".into()]), &created.etag),
            &officer,
            Code::FailedPrecondition,
            "NOT_CERTIFIED",
        ),
        (
            add(booth("A1", vec![tea_cert.name.clone()]), "v9"),
            &officer,
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            add(booth("A1", vec![tea_cert.name.clone()]), &created.etag),
            &stranger,
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
    ] {
        let err = w
            .promotion
            .add_fair_booth(authorized(request, token))
            .await
            .unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (code, why), "{}", err.message());
    }
    let with_booth = w
        .promotion
        .add_fair_booth(authorized(
            add(booth("A1", vec![tea_cert.name.clone()]), &created.etag),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .fair
        .unwrap();
    assert_eq!(with_booth.booths.len(), 1);
    assert_eq!(
        with_booth.booths[0].subject,
        tea.name.rsplit_once("/products/").unwrap().0
    );
    let err = w
        .promotion
        .add_fair_booth(authorized(
            add(booth("A1", vec![rice_cert.name.clone()]), &with_booth.etag),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "BOOTH_TAKEN");
    let got = w
        .promotion
        .get_fair(authorized(
            GetFairRequest {
                name: created.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .fair
        .unwrap();
    assert_eq!(got, with_booth);
    let listed = w
        .promotion
        .list_fairs(authorized(ListFairsRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner()
        .fairs;
    assert_eq!(listed, vec![with_booth]);
    let err = w
        .promotion
        .get_fair(authorized(
            GetFairRequest {
                name: "fairs/none".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let listing = |url: &str, certificate: &str| CreateListingRequest {
        listing: Some(Listing {
            platform: "Postmart".into(),
            url: url.into(),
            certificate: certificate.into(),
            ..Default::default()
        }),
    };
    for (request, token, code) in [
        (
            listing("postmart.vn/che", &tea_cert.name),
            &officer,
            Code::InvalidArgument,
        ),
        (
            listing("https://postmart.vn/x", "certificates/38-ZZZZZZZZ"),
            &officer,
            Code::FailedPrecondition,
        ),
        (
            listing("https://postmart.vn/che", &tea_cert.name),
            &stranger,
            Code::PermissionDenied,
        ),
    ] {
        let err = w
            .promotion
            .create_listing(authorized(request, token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{}", err.message());
    }
    let created = w
        .promotion
        .create_listing(authorized(
            listing("https://postmart.vn/che-xuan-thanh", &tea_cert.name),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .listing
        .unwrap();
    assert_eq!(created.product, tea.name);
    let err = w
        .promotion
        .create_listing(authorized(
            listing("https://postmart.vn/che-xuan-thanh", &tea_cert.name),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let of_tea = w
        .promotion
        .list_listings(authorized(
            ListListingsRequest {
                certificate: tea_cert.name.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .listings;
    assert_eq!(of_tea, vec![created]);
    let err = w
        .promotion
        .list_listings(authorized(
            ListListingsRequest {
                certificate: "38-ABC".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_fair_is_organised_by_this_deployments_province() {
    // Thanh Hóa's deployment (38), whatever the token says.
    let mut w = world().await;
    let officer = w.officer.clone();
    let phu_tho = w.env.token("province_officer", Some("25"), None);
    let fair = Fair {
        display_name: "Hội chợ OCOP 2026".into(),
        start_date: date(2026, 12, 10),
        end_date: date(2026, 12, 14),
        place: "Quảng trường".into(),
        organiser: "Sở Công Thương".into(),
        ..Default::default()
    };
    let cases = [
        // Named for Phú Thọ by Thanh Hóa's officer: refused, not replaced by 38.
        (
            Fair {
                province_code: "25".into(),
                ..fair.clone()
            },
            &officer,
        ),
        (fair.clone(), &phu_tho),
        (
            Fair {
                province_code: "25".into(),
                ..fair.clone()
            },
            &phu_tho,
        ),
    ];
    for (f, token) in cases {
        let err = w
            .promotion
            .create_fair(authorized(CreateFairRequest { fair: Some(f.clone()) }, token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{f:?}: {}",
            err.message()
        );
    }
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let written: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM promotion.fairs), (SELECT count(*) FROM promotion.audit_events),
                (SELECT count(*) FROM promotion.outbox)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0), "a refusal writes nothing");
    // Its own province, named or not.
    for f in [
        fair.clone(),
        Fair {
            province_code: "38".into(),
            ..fair
        },
    ] {
        let created = w
            .promotion
            .create_fair(authorized(CreateFairRequest { fair: Some(f) }, &officer))
            .await
            .unwrap()
            .into_inner()
            .fair
            .unwrap();
        assert_eq!(created.province_code, "38");
    }
}

#[tokio::test]
async fn sales_points_are_this_deployments_province() {
    // Thanh Hóa's deployment (38): a sales point in Phú Thọ (25) is not its own.
    let mut w = world().await;
    let officer = w.officer.clone();
    let phu_tho = w.env.token("province_officer", Some("25"), None);
    let point = SalesPoint {
        display_name: "Điểm bán OCOP Đà Bắc".into(),
        location_type: LocationType::CraftVillage as i32,
        address: "Xã Đà Bắc".into(),
        commune_code: "04831".into(),
        operator: "HTX Đà Bắc".into(),
        opening_date: date(2025, 10, 1),
        ..Default::default()
    };
    for token in [&phu_tho, &officer] {
        let err = w
            .promotion
            .create_sales_point(authorized(
                CreateSalesPointRequest {
                    sales_point: Some(point.clone()),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{}",
            err.message()
        );
    }
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let written: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM promotion.sales_points), (SELECT count(*) FROM promotion.audit_events),
                (SELECT count(*) FROM promotion.outbox)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0), "a refusal writes nothing");
}
