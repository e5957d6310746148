//! Producers' dossiers (Decision 26/2026 Điều 6.1, Mẫu 01 and 02): recorded
//! as the commune receives them, read back as recorded, listed; every
//! refusal named, and writing nothing.

use crate::support::fixture;

use fixture::*;
use ocop_proto::common::v1::Date;
use ocop_proto::registry::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::dossier_of;
use tonic::Code;

/// Audit and outbox rows in the registry schema.
async fn written(f: &Fixture) -> (i64, i64) {
    let db = sqlx::PgPool::connect(&f.env.config.database.url).await.unwrap();
    let counts =
        sqlx::query_as("SELECT (SELECT count(*) FROM registry.audit_events), (SELECT count(*) FROM registry.outbox)")
            .fetch_one(&db)
            .await
            .unwrap();
    db.close().await;
    counts
}

fn create(parent: &str, dossier: ProductDossier) -> CreateProductDossierRequest {
    CreateProductDossierRequest {
        parent: parent.into(),
        product_dossier: Some(dossier),
        ..Default::default()
    }
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

#[tokio::test]
async fn a_dossier_is_recorded_as_the_commune_receives_it_and_read_back_whole() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Hàm Rồng", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let p = f.create_product(&s.name, product("Mật ong Hàm Rồng")).await.unwrap();
    let commune = f.commune.clone();
    let filed = ProductDossier {
        received_date: day(2026, 9, 8),
        ..dossier_of(&p, DossierKind::FirstRating, (2026, 9, 7))
    };
    let stored = f
        .client
        .create_product_dossier(authorized(
            CreateProductDossierRequest {
                product_dossier_id: "mau-01-2026".into(),
                ..create(&p.name, filed.clone())
            },
            &commune,
        ))
        .await
        .unwrap()
        .into_inner()
        .product_dossier
        .unwrap();
    assert_eq!(stored.name, format!("{}/dossiers/mau-01-2026", p.name));
    assert_eq!(
        (
            stored.kind(),
            stored.commune_code.as_str(),
            stored.province_code.as_str(),
            stored.subgroup_code.as_str(),
            stored.received_by.as_str()
        ),
        (
            DossierKind::FirstRating,
            HAM_RONG,
            "38",
            p.subgroup_code.as_str(),
            "tester"
        )
    );
    assert_eq!(
        (stored.submitted_date, stored.received_date),
        (day(2026, 9, 7), day(2026, 9, 8))
    );
    assert_eq!(stored.registration, filed.registration, "Mẫu 01 as filed");
    assert_eq!(stored.self_assessment, filed.self_assessment, "Mẫu 02 as filed");
    let read = f
        .client
        .get_product_dossier(authorized(
            GetProductDossierRequest {
                name: stored.name.clone(),
            },
            &f.council.clone(),
        ))
        .await
        .unwrap()
        .into_inner()
        .product_dossier
        .unwrap();
    assert_eq!(read, stored);

    // An upgrade, by the province, its receipt defaulting to its filing.
    let officer = f.officer.clone();
    let upgrade = f
        .client
        .create_product_dossier(authorized(
            create(&p.name, dossier_of(&p, DossierKind::Upgrade, (2026, 10, 1))),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .product_dossier
        .unwrap();
    assert_eq!(upgrade.received_date, day(2026, 10, 1));
    assert_eq!(upgrade.recognised_certificate, "certificates/TEST");
    assert_eq!(upgrade.changes.len(), 1);

    let list = |filter: &str| ListProductDossiersRequest {
        parent: "subjects/-/products/-".into(),
        filter: filter.into(),
        ..Default::default()
    };
    for (filter, expected) in [
        ("", vec![stored.name.clone(), upgrade.name.clone()]),
        ("kind = upgrade", vec![upgrade.name.clone()]),
        ("commune_code = \"14797\"", vec![]),
        (
            "province_code = \"38\" AND kind = first_rating",
            vec![stored.name.clone()],
        ),
    ] {
        let page = f
            .client
            .list_product_dossiers(authorized(list(filter), &officer))
            .await
            .unwrap()
            .into_inner();
        let names: Vec<String> = page.product_dossiers.into_iter().map(|d| d.name).collect();
        assert_eq!(names, expected, "{filter}");
    }
    for bad in ["kind = renewal", "colour = red"] {
        let err = f
            .client
            .list_product_dossiers(authorized(list(bad), &officer))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec!["filter".to_string()])
        );
    }
    let mine = f
        .client
        .list_product_dossiers(authorized(
            ListProductDossiersRequest {
                parent: p.name.clone(),
                page_size: 1,
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.product_dossiers.len(), 1);
    assert!(!mine.next_page_token.is_empty(), "one per page");
}

#[tokio::test]
async fn a_dossier_that_breaks_a_rule_is_refused_naming_it_and_writes_nothing() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Hàm Rồng", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let p = f.create_product(&s.name, product("Mật ong Hàm Rồng")).await.unwrap();
    let commune = f.commune.clone();
    let good = dossier_of(&p, DossierKind::FirstRating, (2026, 9, 7));
    let before = written(&f).await;

    let field_cases: Vec<(&str, ProductDossier, Vec<&str>)> = vec![
        (
            "nothing",
            ProductDossier::default(),
            vec![
                "product_dossier.kind",
                "product_dossier.submitted_date",
                "product_dossier.registration",
                "product_dossier.self_assessment",
            ],
        ),
        (
            "received before it was submitted",
            ProductDossier {
                received_date: day(2026, 9, 6),
                ..good.clone()
            },
            vec!["product_dossier.received_date"],
        ),
        (
            "filed in the future",
            ProductDossier {
                submitted_date: day(2099, 1, 1),
                ..good.clone()
            },
            vec!["product_dossier.submitted_date"],
        ),
        (
            "no undertaking, no signature, no representative",
            ProductDossier {
                registration: Some(RegistrationForm {
                    declaration_accepted: false,
                    signature: None,
                    representative_name: String::new(),
                    ..good.registration.clone().unwrap()
                }),
                self_assessment: Some(SelfAssessment {
                    legal_representative: Some(LegalRepresentative {
                        sex: Sex::Unspecified as i32,
                        ..Default::default()
                    }),
                    ..good.self_assessment.clone().unwrap()
                }),
                ..good.clone()
            },
            vec![
                "product_dossier.registration.representative_name",
                "product_dossier.registration.declaration_accepted",
                "product_dossier.registration.signature",
                "product_dossier.self_assessment.legal_representative.full_name",
                "product_dossier.self_assessment.legal_representative.sex",
            ],
        ),
        (
            "a first rating naming a recognised version",
            ProductDossier {
                recognised_certificate: "certificates/38-ABC".into(),
                ..good.clone()
            },
            vec!["product_dossier.recognised_certificate"],
        ),
        (
            "an upgrade without its certificate or its changes",
            ProductDossier {
                kind: DossierKind::Upgrade as i32,
                ..good.clone()
            },
            vec!["product_dossier.recognised_certificate", "product_dossier.changes"],
        ),
        (
            "an upgrade's change without evidence",
            ProductDossier {
                changes: vec![DossierChange {
                    aspect: ChangeAspect::Technology as i32,
                    description: "Máy sấy lạnh".into(),
                    evidence: Vec::new(),
                }],
                ..dossier_of(&p, DossierKind::Upgrade, (2026, 9, 7))
            },
            vec!["product_dossier.changes[0].evidence"],
        ),
        (
            "a re-rating without its updates",
            ProductDossier {
                changes: Vec::new(),
                ..dossier_of(&p, DossierKind::ReRating, (2026, 9, 7))
            },
            vec!["product_dossier.changes"],
        ),
    ];
    for (what, dossier, expected) in field_cases {
        let err = f
            .client
            .create_product_dossier(authorized(create(&p.name, dossier), &commune))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert_eq!(fields(&err), expected, "{what}");
    }

    let hac_thanh = f.env.token("commune_officer", Some("38"), Some(HAC_THANH));
    let hanoi = f.other_officer.clone();
    let council = f.council.clone();
    let cases = [
        (
            "a council member",
            create(&p.name, good.clone()),
            council,
            Code::PermissionDenied,
            "",
        ),
        (
            "another commune's officer",
            create(&p.name, good.clone()),
            hac_thanh,
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
        (
            "another province's officer",
            create(&p.name, good.clone()),
            hanoi,
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
        (
            "no such product",
            create(&format!("{}/products/none", s.name), good.clone()),
            commune.clone(),
            Code::NotFound,
            "",
        ),
        (
            "a bad parent",
            create("products/x", good.clone()),
            commune.clone(),
            Code::InvalidArgument,
            "",
        ),
    ];
    for (what, request, token, code, why) in cases {
        let err = f
            .client
            .create_product_dossier(authorized(request, &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{what}: {err:?}");
        if !why.is_empty() {
            assert_eq!(reason(&err), why, "{what}");
        }
    }
    assert_eq!(written(&f).await, before, "every refusal wrote nothing");

    // A retry with its request_id answers as the first time; the same id again is taken.
    let retried = CreateProductDossierRequest {
        product_dossier_id: "mau-01".into(),
        request_id: "1f0c6a4e-8a43-4f1e-9d7b-0d5c3c1e2a10".into(),
        ..create(&p.name, good.clone())
    };
    let first = f
        .client
        .create_product_dossier(authorized(retried.clone(), &commune))
        .await
        .unwrap()
        .into_inner();
    let again = f
        .client
        .create_product_dossier(authorized(retried.clone(), &commune))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let err = f
        .client
        .create_product_dossier(authorized(
            CreateProductDossierRequest {
                request_id: String::new(),
                ..retried
            },
            &commune,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::AlreadyExists, "ALREADY_EXISTS")
    );
    let err = f
        .client
        .get_product_dossier(authorized(
            GetProductDossierRequest {
                name: format!("{}/dossiers/none", p.name),
            },
            &commune,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
