//! Administrative units over gRPC, against a real PostgreSQL and Redis.

use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
use ocop_testkit::{TestApp, TestEnv, authorized};
use sqlx::Connection;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

struct Fixture {
    env: TestEnv,
    app: TestApp,
    client: RegistryServiceClient<Channel>,
    token: String,
}

async fn fixture() -> Fixture {
    let env = TestEnv::new().await;
    let app = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    let client = RegistryServiceClient::new(app.channel().await);
    let token = env.token("province_officer", Some("38"), None);
    Fixture {
        env,
        app,
        client,
        token,
    }
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

fn violation_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn get_returns_a_province_with_its_names() {
    let mut f = fixture().await;
    let unit = f
        .client
        .get_administrative_unit(authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-38".into(),
            },
            &f.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .administrative_unit
        .unwrap();
    assert_eq!(unit.display_name, "Tỉnh Thanh Hóa");
    assert_eq!(unit.level, UnitLevel::Province as i32);
    assert_eq!(unit.province_code, "38");
    assert!(unit.valid_until.is_none());
    assert!(unit.parent.is_empty());

    let old = f
        .client
        .get_administrative_unit(authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2004-49".into(),
            },
            &f.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .administrative_unit
        .unwrap();
    assert!(old.display_name.contains("Quảng Nam"), "{}", old.display_name);
    assert_eq!(
        old.successors,
        vec![Successor {
            unit: "administrativeUnits/2025-48".into(),
            is_default: true
        }]
    );
    // The other way: Đà Nẵng (2025) was formed from Quảng Nam and the old Đà Nẵng.
    let da_nang = f
        .client
        .get_administrative_unit(authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-48".into(),
            },
            &f.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .administrative_unit
        .unwrap();
    assert_eq!(
        da_nang.predecessors,
        ["administrativeUnits/2004-48", "administrativeUnits/2004-49"]
    );
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn get_unhappy_paths() {
    let mut f = fixture().await;
    let missing = f
        .client
        .get_administrative_unit(authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-99".into(),
            },
            &f.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "administrativeUnits/2025-99 does not exist");

    for bad in [
        "",
        "units/2025-38",
        "administrativeUnits/2019-38",
        "administrativeUnits/2025-3a",
        "administrativeUnits/2025-1234",
    ] {
        let err = f
            .client
            .get_administrative_unit(authorized(GetAdministrativeUnitRequest { name: bad.into() }, &f.token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(violation_fields(&err), vec!["name"], "{bad}");
    }

    let anonymous = f
        .client
        .get_administrative_unit(GetAdministrativeUnitRequest {
            name: "administrativeUnits/2025-38".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(reason(&anonymous), "TOKEN_MISSING");

    let expired = f.env.signer.issue("x", "service", None, None, -600).unwrap();
    let err = f
        .client
        .get_administrative_unit(authorized(
            GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-38".into(),
            },
            &expired,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::Unauthenticated, "TOKEN_EXPIRED")
    );
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn list_pages_through_the_34_provinces_without_gaps() {
    let mut f = fixture().await;
    let filter = r#"scheme = 2025 AND level = province"#.to_string();
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let page = f
            .client
            .list_administrative_units(authorized(
                ListAdministrativeUnitsRequest {
                    page_size: 10,
                    page_token: token.clone(),
                    filter: filter.clone(),
                },
                &f.token,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.administrative_units.into_iter().map(|u| u.code));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 34);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in code order, no duplicates");
    assert_eq!(seen.first().map(String::as_str), Some("01"));

    let communes = f
        .client
        .list_administrative_units(authorized(
            ListAdministrativeUnitsRequest {
                page_size: 500,
                filter: r#"parent = "administrativeUnits/2025-38" AND in_force_at = "2026-01-01""#.into(),
                ..Default::default()
            },
            &f.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(communes.administrative_units.len() > 100, "Thanh Hóa has 166 communes");
    assert!(
        communes
            .administrative_units
            .iter()
            .all(|u| u.province_code == "38" && u.level == UnitLevel::Commune as i32)
    );
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn list_unhappy_paths() {
    let mut f = fixture().await;
    let cases = [
        (
            ListAdministrativeUnitsRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListAdministrativeUnitsRequest {
                page_token: "garbage".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            ListAdministrativeUnitsRequest {
                filter: "colour = red".into(),
                ..Default::default()
            },
            "filter",
        ),
        (
            ListAdministrativeUnitsRequest {
                filter: "level = village".into(),
                ..Default::default()
            },
            "filter",
        ),
        (
            ListAdministrativeUnitsRequest {
                filter: "in_force_at = 2025-13-01".into(),
                ..Default::default()
            },
            "filter",
        ),
        (
            ListAdministrativeUnitsRequest {
                filter: "scheme = 1999".into(),
                ..Default::default()
            },
            "filter",
        ),
    ];
    for (request, field) in cases {
        let err = f
            .client
            .list_administrative_units(authorized(request.clone(), &f.token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(violation_fields(&err), vec![field], "{request:?}");
    }
    // A token is bound to its filter.
    let first = f
        .client
        .list_administrative_units(authorized(
            ListAdministrativeUnitsRequest {
                page_size: 2,
                filter: "level = province".into(),
                ..Default::default()
            },
            &f.token,
        ))
        .await
        .unwrap()
        .into_inner();
    let err = f
        .client
        .list_administrative_units(authorized(
            ListAdministrativeUnitsRequest {
                page_size: 2,
                filter: "level = commune".into(),
                page_token: first.next_page_token,
            },
            &f.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(violation_fields(&err), vec!["page_token"]);
    f.app.stop().await.unwrap();
}

async fn resolve(
    f: &mut Fixture,
    code: &str,
    scheme: CodeScheme,
    at: Option<(i32, i32, i32)>,
) -> Result<ResolveAdministrativeUnitResponse, tonic::Status> {
    let at = at.map(|(year, month, day)| ocop_proto::common::v1::Date { year, month, day });
    f.client
        .resolve_administrative_unit(authorized(
            ResolveAdministrativeUnitRequest {
                code: code.into(),
                scheme: scheme as i32,
                at,
            },
            &f.token,
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn resolve_follows_the_lineage() {
    let mut f = fixture().await;
    // Quảng Nam (49) merged into Đà Nẵng (48) on 2025-07-01.
    let r = resolve(&mut f, "49", CodeScheme::Unspecified, None).await.unwrap();
    assert_eq!(r.administrative_unit.unwrap().name, "administrativeUnits/2025-48");
    assert_eq!(
        r.path,
        vec!["administrativeUnits/2004-49", "administrativeUnits/2025-48"]
    );
    // Before the merger, Quảng Nam was itself in force.
    let r = resolve(&mut f, "49", CodeScheme::Unspecified, Some((2024, 5, 1)))
        .await
        .unwrap();
    assert_eq!(r.path, vec!["administrativeUnits/2004-49"]);
    // A code of both lists: the 2025 one by default, the 2004 one on request.
    let r = resolve(&mut f, "38", CodeScheme::Unspecified, None).await.unwrap();
    assert_eq!(r.path, vec!["administrativeUnits/2025-38"]);
    let r = resolve(&mut f, "38", CodeScheme::CodeScheme2004, None).await.unwrap();
    assert_eq!(
        r.path,
        vec!["administrativeUnits/2004-38", "administrativeUnits/2025-38"]
    );
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn resolve_unhappy_paths() {
    let mut f = fixture().await;
    let err = resolve(&mut f, "3a", CodeScheme::Unspecified, None).await.unwrap_err();
    assert_eq!(
        (err.code(), violation_fields(&err)),
        (Code::InvalidArgument, vec!["code".to_string()])
    );
    let err = resolve(&mut f, "99", CodeScheme::Unspecified, None).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = resolve(&mut f, "38", CodeScheme::Unspecified, Some((2025, 2, 30)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), violation_fields(&err)),
        (Code::InvalidArgument, vec!["at".to_string()])
    );
    // A 2025 unit did not exist in 2024.
    let err = resolve(&mut f, "48", CodeScheme::CodeScheme2025, Some((2024, 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "UNIT_NOT_YET_IN_FORCE")
    );
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn resolve_takes_an_abolished_district_to_its_province() {
    let mut f = fixture().await;
    // Districts were abolished without successors (Cẩm Thủy, 2004-390 in
    // Thanh Hóa), but their whole territory went to one province.
    let r = resolve(&mut f, "390", CodeScheme::CodeScheme2004, None).await.unwrap();
    let unit = r.administrative_unit.unwrap();
    assert_eq!(
        (unit.name.as_str(), unit.level()),
        ("administrativeUnits/2025-38", UnitLevel::Province)
    );
    assert_eq!(
        r.path,
        vec![
            "administrativeUnits/2004-390",
            "administrativeUnits/2004-38",
            "administrativeUnits/2025-38"
        ]
    );
    // While it was in force, it is its own answer.
    let r = resolve(&mut f, "390", CodeScheme::CodeScheme2004, Some((2024, 1, 1)))
        .await
        .unwrap();
    assert_eq!(r.path, vec!["administrativeUnits/2004-390"]);
    f.app.stop().await.unwrap();
}

#[tokio::test]
async fn resolve_refuses_a_district_whose_communes_went_to_several_provinces() {
    let mut f = fixture().await;
    // No such district exists in the shipped data: give Cẩm Thủy (Thanh Hóa) a
    // commune that went to Hà Nội.
    let mut db = sqlx::PgConnection::connect(&f.env.config.database.url).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO registry.administrative_units (scheme, code, level, name, parent_code, province_code, valid_until)
             VALUES (2004, '99999', 'commune', 'Xã Thử', '390', '38', '2025-06-30');
         INSERT INTO registry.unit_successors (from_scheme, from_code, to_scheme, to_code, is_default)
             VALUES (2004, '99999', 2025, '00004', true);",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let err = resolve(&mut f, "390", CodeScheme::CodeScheme2004, None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "UNIT_SUCCESSOR_AMBIGUOUS")
    );
    assert!(
        err.message().contains("01, 38") && err.message().contains("resolve one of its communes"),
        "{}",
        err.message()
    );
    f.app.stop().await.unwrap();
}
