//! CSV import and export, and the audit log they leave.

use crate::support::fixture;

use fixture::*;
use ocop_proto::registry::v1::*;
use ocop_testkit::{TestEnv, authorized};
use tonic::Code;

const HEADER: &str = "subject_id,registration_number,subject_kind,legal_name,representative_name,representative_is_woman,representative_is_ethnic_minority,phone,email,address,commune_code,subject_state,product_id,product_name,group_code,subgroup_code,description,origin_commune_code,raw_material_area,product_state,standards";

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.into_bytes()
}

fn good_file() -> Vec<u8> {
    csv(&[
        "htx-ham-rong,2801234567,cooperative,HTX Mật ong Hàm Rồng,Lê Thị Lan,true,false,0237 385 1234,,Thôn 1,14758,active,mat-ong,Mật ong rừng,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,\"Mật ong, rừng tự nhiên\",,Núi Hàm Rồng,active,food_safety_certificate|12/ATTP|Sở Y tế|2028-01-31",
        "htx-ham-rong,2801234567,cooperative,HTX Mật ong Hàm Rồng,Lê Thị Lan,true,false,0237 385 1234,,Thôn 1,14758,active,sap-ong,Sáp ong,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,,14797,,active,",
        ",2809876543,household_business,Hộ kinh doanh Nem chua,Trần Văn Hùng,false,true,,,,14797,,,,,,,,,,",
    ])
}

async fn import(
    f: &mut Fixture,
    token: &str,
    body: Vec<u8>,
    validate_only: bool,
) -> Result<ImportSubjectsProductsResponse, tonic::Status> {
    f.client
        .import_subjects_products(authorized(
            ImportSubjectsProductsRequest {
                csv: body,
                validate_only,
                request_id: String::new(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn import_then_export_round_trips_into_an_empty_deployment() {
    let mut f = fixture().await;
    let token = f.officer.clone();
    let dry = import(&mut f, &token, good_file(), true).await.unwrap();
    assert_eq!((dry.subjects_created, dry.products_created, dry.rows), (2, 2, 3));
    let none = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(none.subjects.is_empty(), "validate_only writes nothing");

    let report = import(&mut f, &token, good_file(), false).await.unwrap();
    assert_eq!(
        (report.subjects_created, report.products_created, report.rows),
        (2, 2, 3)
    );
    let honey = f
        .client
        .get_product(authorized(
            GetProductRequest {
                name: "subjects/htx-ham-rong/products/mat-ong".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(honey.description, "Mật ong, rừng tự nhiên");
    assert_eq!(honey.standards[0].number, "12/ATTP");
    assert_eq!(honey.origin_commune_code, "14758");

    // Importing the same file again changes nothing.
    let again = import(&mut f, &token, good_file(), false).await.unwrap();
    assert_eq!(
        (again.subjects_created, again.subjects_unchanged, again.products_created),
        (0, 2, 0)
    );

    let export = f
        .client
        .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.rows, 3);

    // Into another, empty deployment: the same producers and products, names included.
    let other = TestEnv::new().await;
    let app = other.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    let mut client = ocop_proto::registry::v1::registry_service_client::RegistryServiceClient::new(app.channel().await);
    let officer = other.token("province_officer", Some("38"), None);
    let report = client
        .import_subjects_products(authorized(
            ImportSubjectsProductsRequest {
                csv: export.csv.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.subjects_created, report.products_created), (2, 2));
    let second = client
        .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        String::from_utf8(second.csv).unwrap(),
        String::from_utf8(export.csv).unwrap(),
        "export → import → export is stable"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_file_reports_every_problem_by_row_and_column_and_writes_nothing() {
    let mut f = fixture().await;
    let token = f.officer.clone();
    let file = csv(&[
        ",2801234567,cooperative,HTX A,Lan,true,false,,,,14758,,,,,,,,,,",
        ",2801234568,farm,HTX B,Lan,maybe,false,,,,20440,,,,,,,,,,",
        ",2801234567,cooperative,HTX A changed,Lan,true,false,,,,14758,,,,,,,,,,",
        ",2801234569,enterprise,Công ty C,Hùng,false,false,,,,14758,,p1,,thuc-pham,ruou-trang,,,,sold,nonsense|x",
    ]);
    let err = import(&mut f, &token, file, false).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::InvalidArgument, "INVALID_IMPORT")
    );
    let got = fields(&err);
    for expected in [
        "rows[3].subject_kind",
        "rows[3].representative_is_woman",
        "rows[3].commune_code",
        "rows[4].registration_number",
        "rows[5].product_name",
        "rows[5].product_state",
        "rows[5].standards",
        "rows[5].subgroup_code",
    ] {
        assert!(got.contains(&expected.to_string()), "{expected} missing from {got:?}");
    }
    assert!(err.message().contains("nothing was imported"));
    let none = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(none.subjects.is_empty(), "all or nothing");

    for (body, why) in [
        (b"registration_number,legal_name\n1,2".to_vec(), "header"),
        (HEADER.as_bytes().to_vec(), "no rows"),
    ] {
        let err = import(&mut f, &token, body, false).await.unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec!["csv".to_string()]),
            "{why}"
        );
    }
}

#[tokio::test]
async fn import_is_for_the_officers_of_the_rows_province() {
    let mut f = fixture().await;
    let other = f.other_officer.clone();
    let err = import(&mut f, &other, good_file(), false).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    assert!(err.message().contains("lines 2, 3, 4"), "{}", err.message());
    let council = f.council.clone();
    let err = import(&mut f, &council, good_file(), false).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = f
        .client
        .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let officer = f.officer.clone();
    let err = f
        .client
        .export_subjects_products(authorized(
            ExportSubjectsProductsRequest {
                province_code: "01".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
}

#[tokio::test]
async fn a_retried_import_with_its_request_id_does_not_import_twice() {
    let mut f = fixture().await;
    let token = f.officer.clone();
    // No ids in the file: without request_id a second run would add products again.
    let file = csv(&[
        ",2801234567,cooperative,HTX A,Lan,true,false,,,,14758,,,Mật ong,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,,,,,",
    ]);
    let request_id = uuid::Uuid::new_v4().to_string();
    let send = || ImportSubjectsProductsRequest {
        csv: file.clone(),
        validate_only: false,
        request_id: request_id.clone(),
    };
    let first = f
        .client
        .import_subjects_products(authorized(send(), &token))
        .await
        .unwrap()
        .into_inner();
    let second = f
        .client
        .import_subjects_products(authorized(send(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second, "the retry gets the first answer");
    let products = f
        .client
        .list_products(authorized(
            ListProductsRequest {
                parent: "subjects/-".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(products.products.len(), 1);
}

#[tokio::test]
async fn the_audit_log_is_per_province_and_filtered() {
    let mut f = fixture().await;
    let token = f.officer.clone();
    import(&mut f, &token, good_file(), false).await.unwrap();
    let events = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                page_size: 2,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(events.audit_events.len(), 2);
    assert!(
        events
            .audit_events
            .iter()
            .all(|e| e.method == "ImportSubjectsProducts" && e.province_code == "38")
    );
    let rest = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                page_size: 10,
                page_token: events.next_page_token,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.audit_events.len(), 2, "two producers and two products");

    let national = f.national.clone();
    let all = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                filter: "method = ImportSubjectsProducts".into(),
                ..Default::default()
            },
            &national,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.audit_events.len(), 4);
    let other = f.other_officer.clone();
    let theirs = f
        .client
        .list_audit_events(authorized(ListAuditEventsRequest::default(), &other))
        .await
        .unwrap()
        .into_inner();
    assert!(
        theirs.audit_events.is_empty(),
        "Hà Nội's officer sees nothing of Thanh Hóa"
    );
    let err = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                filter: "province_code = 38".into(),
                ..Default::default()
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let council = f.council.clone();
    let err = f
        .client
        .list_audit_events(authorized(ListAuditEventsRequest::default(), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                filter: "who = me".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Append-only, even for someone with the database password.
    let pool = sqlx::PgPool::connect(&f.env.config.database.url).await.unwrap();
    let err = sqlx::query("DELETE FROM registry.audit_events")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn an_import_writes_only_this_deployments_province() {
    // Thanh Hóa's deployment (38): a file of Phú Thọ's (25) producers is
    // refused, even from Phú Thọ's officer.
    let mut f = fixture().await;
    let phu_tho = f.env.token("province_officer", Some("25"), None);
    let file = csv(&[
        ",2501234567,cooperative,HTX Đà Bắc,Lan,true,false,,,,04831,,,Chè,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,,,,,",
    ]);
    for validate_only in [true, false] {
        let err = import(&mut f, &phu_tho, file.clone(), validate_only).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("serves province 38") && err.message().contains("lines 2"),
            "{}",
            err.message()
        );
    }
    // A producer of 38 whose product comes from a commune of 25.
    let token = f.officer.clone();
    let file = csv(&[
        ",2801234567,cooperative,HTX A,Lan,true,false,,,,14758,,,Mật ong,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,,04831,,,",
    ]);
    let err = import(&mut f, &token, file, false).await.unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["rows[2].origin_commune_code".to_string()]),
        "{}",
        err.message()
    );
    let pool = sqlx::PgPool::connect(&f.env.config.database.url).await.unwrap();
    let written: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM registry.subjects), (SELECT count(*) FROM registry.audit_events),
                (SELECT count(*) FROM registry.outbox)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0), "a refused file writes nothing");
}

#[tokio::test]
async fn imported_cells_pass_the_boundary_checks_decomposed_text_composed_and_nul_refused() {
    use unicode_normalization::UnicodeNormalization;
    let mut f = fixture().await;
    let token = f.officer.clone();
    let nfd: String = "HTX Mật ong Như Xuân".nfd().collect();
    let bad = csv(&[&format!(
        ",2801234567,cooperative,{nfd},Lê Thị Lan,true,false,,,,14758,,mat-ong,Mật ong,thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,\"Ngon\0\",,,active,"
    )]);
    let status = import(&mut f, &token, bad, false).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(fields(&status), ["rows[2].description"], "{status:?}");
    assert!(status.message().contains("U+0000"), "{}", status.message());

    let good = csv(&[&format!(
        ",2801234567,cooperative,{nfd},Lê Thị Lan,true,false,,,,14758,,,,,,,,,,"
    )]);
    import(&mut f, &token, good, false).await.unwrap();
    let listed = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(
        listed.iter().map(|s| s.legal_name.as_str()).collect::<Vec<_>>(),
        ["HTX Mật ong Như Xuân"],
        "stored composed (NFC)"
    );
}
