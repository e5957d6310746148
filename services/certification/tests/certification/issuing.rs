//! Issuing certificates from published results: the happy path, every
//! refusal, the three regimes of authority, and gap-free decision numbers
//! under concurrent issuance.

use crate::support::world;

use ocop_proto::certification::v1::*;
use ocop_proto::evaluation::v1::RoundLevel;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use tonic::Code;
use world::*;

#[tokio::test]
async fn a_4_star_provincial_result_becomes_a_certificate() {
    let mut w = world().await;
    let product = w.product("Nem chua Thanh Hóa").await;
    let results = w.results(&[&product], RoundPlan::province_2026(1, 4)).await;
    let result = &results[0];
    assert_eq!((result.recognised_stars, result.certifiable), (4, true), "{result:?}");

    let request_id = "0b6f3c1e-5a2d-4c3b-8e7f-1a2b3c4d5e6f";
    let request = IssueCertificateRequest {
        request_id: request_id.into(),
        ..issue_request(&result.name, day(2026, 6, 15))
    };
    let cert = w.issue(request.clone()).await.unwrap();
    assert_eq!(cert.stars, 4);
    assert_eq!(cert.issuing_level(), IssuingLevel::Province);
    assert_eq!(cert.state(), CertificateState::Active);
    assert_eq!(cert.kind(), IssueKind::New);
    assert_eq!(cert.authority, "administrativeUnits/2025-38");
    assert_eq!(cert.authority_name, "Ủy ban nhân dân tỉnh Thanh Hóa");
    assert_eq!(cert.province_name, "Tỉnh Thanh Hóa");
    assert_eq!(
        (cert.product.as_str(), cert.product_name.as_str()),
        (product.name.as_str(), "Nem chua Thanh Hóa")
    );
    assert_eq!(cert.subject, result.subject);
    assert_eq!(cert.decision_number, 1);
    assert_eq!(cert.decision_reference, "1/2026/QĐ-UBND-OCOP");
    assert_eq!(cert.issue_date, day(2026, 6, 15), "defaults to the decision date");
    assert_eq!(cert.valid_until, day(2029, 6, 14), "36 months, through the day before");
    assert!(cert.code.starts_with("38-") && cert.code.len() == 11, "{}", cert.code);
    assert!(
        cert.qr_payload
            .starts_with(&format!("http://127.0.0.1:9053/verify/{}?d=", cert.code))
    );
    assert_eq!(
        w.issue(request).await.unwrap(),
        cert,
        "a retry gets the first certificate"
    );
    let err = w
        .issue(issue_request(&result.name, day(2026, 6, 15)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::AlreadyExists, "RESULT_ALREADY_CERTIFIED")
    );
    assert!(err.message().contains(&cert.name), "{}", err.message());
    assert_eq!(w.history(&cert.name).await, vec!["issued"]);

    let officer = w.officer.clone();
    let listed = w
        .certification
        .list_certificates(authorized(
            ListCertificatesRequest {
                filter: format!("product = \"{}\" AND state = \"active\"", product.name),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.certificates, vec![cert.clone()]);
    for filter in [
        "stars = \"7\"",
        "state = \"lost\"",
        "issuing_level = \"commune\"",
        "colour = \"red\"",
    ] {
        let err = w
            .certification
            .list_certificates(authorized(
                ListCertificatesRequest {
                    filter: filter.into(),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{filter}");
    }
    let err = w
        .certification
        .get_certificate(authorized(
            GetCertificateRequest {
                name: "certificates/38-00000000".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .certification
        .get_certificate(authorized(
            GetCertificateRequest {
                name: "certificates/abc".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["name"]);
    let err = w
        .certification
        .get_certificate(GetCertificateRequest {
            name: cert.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "only verification is public");
}

#[tokio::test]
async fn issuing_is_refused_with_the_rule_named() {
    let mut w = world().await;
    let good = w.product("Mật ong").await;
    let knocked = w.product("Rau an toàn").await;
    let pending = w.product("Nước mắm").await;
    let results = w.results(&[&good], RoundPlan::province_2026(1, 4)).await;
    let good_result = results[0].name.clone();
    let knocked_result = w
        .results(
            &[&knocked],
            RoundPlan {
                disqualify: true,
                ..RoundPlan::province_2026(2, 4)
            },
        )
        .await[0]
        .name
        .clone();
    let officer = w.officer.clone();
    let unpublished = ocop_testkit::flows::evaluate(
        &w.env,
        &mut w.evaluation,
        &officer,
        &[&pending],
        RoundPlan {
            publish: false,
            ..RoundPlan::province_2026(3, 4)
        },
    )
    .await
    .result_names[0]
        .clone();

    let june = day(2026, 6, 15);
    let cases: Vec<(&str, IssueCertificateRequest, Code, &str)> = vec![
        (
            "not a result name",
            issue_request("results/1", june),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no decision date",
            issue_request(&good_result, None),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a future decision",
            issue_request(&good_result, day(2099, 1, 1)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "issued before the decision",
            IssueCertificateRequest {
                issue_date: day(2026, 6, 1),
                ..issue_request(&good_result, june)
            },
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a decision before the round",
            issue_request(&good_result, day(2026, 5, 1)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a bad request_id",
            IssueCertificateRequest {
                request_id: "again".into(),
                ..issue_request(&good_result, june)
            },
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a district named for a province issuance",
            IssueCertificateRequest {
                district_code: "380".into(),
                ..issue_request(&good_result, june)
            },
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no such round",
            issue_request("evaluationRounds/none/entries/none/result", june),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            "not published",
            issue_request(&unpublished, june),
            Code::FailedPrecondition,
            "RESULT_NOT_PUBLISHED",
        ),
        (
            "knocked out",
            issue_request(&knocked_result, june),
            Code::FailedPrecondition,
            "NOT_CERTIFIABLE",
        ),
        (
            "a district after 2025-07-05",
            IssueCertificateRequest {
                issuing_level: IssuingLevel::District as i32,
                district_code: "380".into(),
                ..issue_request(&good_result, june)
            },
            Code::FailedPrecondition,
            "AUTHORITY_NOT_IN_FORCE",
        ),
        (
            "the ministry, on a provincial deployment",
            IssueCertificateRequest {
                issuing_level: IssuingLevel::Central as i32,
                ..issue_request(&good_result, june)
            },
            Code::FailedPrecondition,
            "CENTRAL_ONLY_NATIONALLY",
        ),
    ];
    for (what, request, code, why) in cases {
        let err = w.issue(request).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
    }
    let err = w.issue(issue_request(&knocked_result, june)).await.unwrap_err();
    assert!(
        err.message().contains("an toàn thực phẩm"),
        "the knock-out is named: {}",
        err.message()
    );
    let err = w.issue(issue_request(&unpublished, june)).await.unwrap_err();
    assert!(err.message().contains("not published"), "{}", err.message());

    let national = w.env.token("national_officer", None, None);
    let central = IssueCertificateRequest {
        issuing_level: IssuingLevel::Central as i32,
        ..issue_request(&good_result, june)
    };
    let err = w.issue_as(central, &national).await.unwrap_err();
    assert_eq!(reason(&err), "CENTRAL_ONLY_NATIONALLY", "{}", err.message());
    let stranger = w.env.token("province_officer", Some("01"), None);
    let err = w
        .issue_as(issue_request(&good_result, june), &stranger)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    let member = w
        .env
        .signer
        .issue("chu-tich", "council_member", Some("38"), None, 600)
        .unwrap();
    let err = w
        .issue_as(issue_request(&good_result, june), &member)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let officer = w.officer.clone();
    let none = w
        .certification
        .list_certificates(authorized(ListCertificatesRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner();
    assert!(none.certificates.is_empty(), "every refusal changed nothing");
    let first = w.issue(issue_request(&good_result, june)).await.unwrap();
    assert_eq!(first.decision_number, 1, "refused issues used no number");
}

#[tokio::test]
async fn authority_follows_the_decision_date_in_each_regime() {
    let mut w = world().await;
    let (a, b, c) = (
        w.product("Chè lam").await,
        w.product("Bánh gai").await,
        w.product("Cam Vân Du").await,
    );
    // 2022, Decision 1048: the province certifies 3 and 4 stars.
    let r2022 = w
        .results(
            &[&a],
            RoundPlan {
                date: (2022, 8, 1),
                ..RoundPlan::province_2026(1, 4)
            },
        )
        .await;
    let cert = w.issue(issue_request(&r2022[0].name, day(2022, 9, 1))).await.unwrap();
    assert_eq!((cert.stars, cert.issuing_level()), (4, IssuingLevel::Province));
    assert_eq!(cert.decision_reference, "1/2022/QĐ-UBND-OCOP");
    // Before 2025-07-01 the province of the day decided: Thanh Hóa's 2004 unit.
    assert_eq!(cert.authority, "administrativeUnits/2004-38");
    assert_eq!(cert.authority_name, "Ủy ban nhân dân tỉnh Thanh Hóa");
    assert_eq!(
        cert.state(),
        CertificateState::Expired,
        "issued 2022-09-01, expired from 2025-09-01: read as expired without any sweep"
    );

    // 2024, Decision 148: a district certifies 3 stars, the province does not.
    let r2024 = w
        .results(
            &[&b],
            RoundPlan {
                level: RoundLevel::District,
                date: (2024, 3, 1),
                ..RoundPlan::province_2026(1, 3)
            },
        )
        .await;
    assert_eq!(r2024[0].recognised_stars, 3, "{:?}", r2024[0]);
    let err = w
        .issue(issue_request(&r2024[0].name, day(2024, 5, 1)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "STARS_NOT_IN_AUTHORITY", "{}", err.message());
    assert!(err.message().contains("Decision 148/QĐ-TTg"), "{}", err.message());
    let district = |code: &str| IssueCertificateRequest {
        issuing_level: IssuingLevel::District as i32,
        district_code: code.into(),
        ..issue_request(&r2024[0].name, day(2024, 5, 1))
    };
    for (code, why) in [("38", "not 3 digits"), ("001", "a district of Hà Nội")] {
        let err = w.issue(district(code)).await.unwrap_err();
        assert_eq!(fields(&err), vec!["district_code"], "{why}: {}", err.message());
    }
    let cert = w.issue(district("380")).await.unwrap();
    assert_eq!((cert.stars, cert.issuing_level()), (3, IssuingLevel::District));
    assert_eq!(cert.authority, "administrativeUnits/2004-380");
    assert_eq!(cert.authority_name, "Ủy ban nhân dân thành phố Thanh Hóa");
    assert_eq!(cert.decision_number, 1, "each authority numbers its own decisions");
    assert_eq!(cert.state(), CertificateState::Active);

    // 2026, Decision 1489: the province certifies 3 stars again.
    let r2026 = w.results(&[&c], RoundPlan::province_2026(1, 3)).await;
    let cert = w.issue(issue_request(&r2026[0].name, day(2026, 7, 1))).await.unwrap();
    assert_eq!((cert.stars, cert.issuing_level()), (3, IssuingLevel::Province));
    assert_eq!(cert.decision_reference, "1/2026/QĐ-UBND-OCOP");
}

#[tokio::test]
async fn concurrent_issuance_never_duplicates_or_skips_a_decision_number() {
    let mut w = world().await;
    let mut products = Vec::new();
    for i in 0..12 {
        products.push(w.product(&format!("Sản phẩm {i}")).await);
    }
    let refs: Vec<&_> = products.iter().collect();
    let results = w.results(&refs, RoundPlan::province_2026(1, 4)).await;
    let mut tasks = Vec::new();
    for result in &results {
        let (mut client, token, name) = (w.certification.clone(), w.officer.clone(), result.name.clone());
        tasks.push(tokio::spawn(async move {
            client
                .issue_certificate(authorized(issue_request(&name, day(2026, 6, 15)), &token))
                .await
                .map(|r| r.into_inner().certificate.unwrap().decision_number)
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_deployment_certifies_its_own_province_only() {
    // Thanh Hóa's (38) result, and beside Thanh Hóa's certification service
    // one configured for Phú Thọ (25) on the same registry and evaluation.
    let mut w = world().await;
    let product = w.product("Chè lam").await;
    let results = w.results(&[&product], RoundPlan::province_2026(1, 4)).await;
    let result = results[0].name.clone();
    w.env.config.deployment.province_code = Some("25".into());
    let phu_tho_app = w
        .env
        .spawn(ocop_certification::spec(), ocop_certification::routes)
        .await;
    let mut phu_tho = ocop_proto::certification::v1::certification_service_client::CertificationServiceClient::new(
        phu_tho_app.channel().await,
    );
    let phu_tho_officer = w.env.token("province_officer", Some("25"), None);
    for (token, who) in [
        (&w.officer, "Thanh Hóa's officer"),
        (&phu_tho_officer, "Phú Thọ's officer"),
    ] {
        let err = phu_tho
            .issue_certificate(authorized(issue_request(&result, day(2026, 6, 15)), token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{who}: {}",
            err.message()
        );
        assert!(
            err.message()
                .contains("this deployment serves province 25; province 38's data is written on its own deployment"),
            "{}",
            err.message()
        );
    }
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let written: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM certification.certificates), (SELECT count(*) FROM certification.audit_events),
                (SELECT count(*) FROM certification.outbox)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0), "a refusal writes nothing");
    // Thanh Hóa's own deployment certifies it, with the first number.
    let cert = w.issue(issue_request(&result, day(2026, 6, 15))).await.unwrap();
    assert_eq!(cert.decision_reference, "1/2026/QĐ-UBND-OCOP");
    phu_tho_app.stop().await.unwrap();
}

#[tokio::test]
async fn a_district_certifies_only_its_own_products() {
    let mut w = world().await;
    // Phường Hàm Rồng (14758) was formed from communes of Thành phố Thanh Hóa (380).
    let product = w.product("Bánh gai").await;
    let results = w
        .results(
            &[&product],
            RoundPlan {
                level: RoundLevel::District,
                date: (2024, 3, 1),
                ..RoundPlan::province_2026(1, 3)
            },
        )
        .await;
    let district = |code: &str| IssueCertificateRequest {
        issuing_level: IssuingLevel::District as i32,
        district_code: code.into(),
        ..issue_request(&results[0].name, day(2024, 5, 1))
    };
    // Thị xã Bỉm Sơn (381) and Huyện Ngọc Lặc (389): Thanh Hóa's, not the product's.
    for other in ["381", "389"] {
        let err = w.issue(district(other)).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str(), fields(&err)),
            (
                Code::InvalidArgument,
                "INVALID_FIELD",
                vec!["district_code".to_string()]
            ),
            "{other}: {}",
            err.message()
        );
        assert!(
            err.message()
                .contains("not the district of the product's commune 14758")
                && err.message().contains("administrativeUnits/2004-380"),
            "{}",
            err.message()
        );
    }
    let cert = w.issue(district("380")).await.unwrap();
    assert_eq!(cert.authority, "administrativeUnits/2004-380");
    assert_eq!(cert.decision_number, 1, "the refusals used no number");
}
