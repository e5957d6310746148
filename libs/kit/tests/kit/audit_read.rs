//! The audit log's reader (`ocop_kit::audit::read`) against a real
//! PostgreSQL: newest first, filters pushed into SQL, keyset pages, and who
//! may read which province's rows.

use ocop_kit::audit::read::list;
use ocop_kit::auth::{Principal, Role};
use ocop_kit::{Error, ErrorKind};
use ocop_proto::audit::v1::{ListAuditEventsRequest, ListAuditEventsResponse};
use ocop_testkit::TestEnv;
use sqlx::PgPool;

/// A database with the `audit_events` table every service's migrations create,
/// and five rows: three of province 38, two of 25.
async fn log() -> (TestEnv, PgPool) {
    let env = TestEnv::new().await;
    let db = PgPool::connect(&env.config.database.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE audit_events (
             sequence      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             time          timestamptz NOT NULL DEFAULT now(),
             actor         text NOT NULL,
             role          text NOT NULL,
             request_id    text NOT NULL DEFAULT '',
             method        text NOT NULL,
             resource      text NOT NULL,
             province_code text NOT NULL DEFAULT '',
             etag_before   text NOT NULL DEFAULT '',
             etag_after    text NOT NULL DEFAULT '',
             traceparent   text NOT NULL DEFAULT ''
         );
         INSERT INTO audit_events (actor, role, method, resource, province_code, etag_after) VALUES
             ('an', 'province_officer', 'CreateSalesPoint', 'salesPoints/a', '38', 'v1'),
             ('binh', 'province_officer', 'CreateSalesPoint', 'salesPoints/b', '25', 'v1'),
             ('an', 'province_officer', 'UpdateSalesPoint', 'salesPoints/a', '38', 'v2'),
             ('chi', 'national_officer', 'IssueCertificate', 'certificates/25-X', '25', 'v1'),
             ('an', 'province_officer', 'DeleteSalesPoint', 'salesPoints/a', '38', 'v3');",
    )
    .execute(&db)
    .await
    .unwrap();
    (env, db)
}

fn who(role: Role, province: Option<&str>) -> Principal {
    Principal {
        subject: "tester".into(),
        role,
        province: province.map(str::to_owned),
        commune: None,
    }
}

fn request(filter: &str, page_size: i32, page_token: &str) -> ListAuditEventsRequest {
    ListAuditEventsRequest {
        page_size,
        page_token: page_token.into(),
        filter: filter.into(),
    }
}

fn names(page: &ListAuditEventsResponse) -> Vec<&str> {
    page.audit_events.iter().map(|e| e.name.as_str()).collect()
}

fn refusal(err: &Error) -> (ErrorKind, &'static str, Vec<String>) {
    let fields = err.violations().iter().map(|v| v.field.clone()).collect();
    (err.kind(), err.reason(), fields)
}

#[tokio::test]
async fn national_officers_read_everything_newest_first() {
    let (_env, db) = log().await;
    let national = who(Role::NationalOfficer, None);
    let page = list(&db, &national, &request("", 0, "")).await.unwrap();
    assert_eq!(
        names(&page),
        [
            "auditEvents/5",
            "auditEvents/4",
            "auditEvents/3",
            "auditEvents/2",
            "auditEvents/1"
        ]
    );
    assert!(page.next_page_token.is_empty());
    let newest = &page.audit_events[0];
    assert_eq!(
        (
            newest.actor.as_str(),
            newest.role.as_str(),
            newest.method.as_str(),
            newest.resource.as_str(),
            newest.province_code.as_str(),
            newest.etag_after.as_str()
        ),
        (
            "an",
            "province_officer",
            "DeleteSalesPoint",
            "salesPoints/a",
            "38",
            "v3"
        )
    );
    assert!(newest.time.is_some());

    let of_25 = list(&db, &national, &request("province_code = \"25\"", 0, ""))
        .await
        .unwrap();
    assert_eq!(names(&of_25), ["auditEvents/4", "auditEvents/2"]);
}

#[tokio::test]
async fn every_filter_field_is_pushed_into_the_query() {
    let (_env, db) = log().await;
    let national = who(Role::NationalOfficer, None);
    for (filter, expected) in [
        (
            "resource = \"salesPoints/a\"",
            vec!["auditEvents/5", "auditEvents/3", "auditEvents/1"],
        ),
        ("actor = chi", vec!["auditEvents/4"]),
        ("method = CreateSalesPoint", vec!["auditEvents/2", "auditEvents/1"]),
        (
            "method = CreateSalesPoint AND province_code = \"38\"",
            vec!["auditEvents/1"],
        ),
        ("actor = nobody", vec![]),
    ] {
        let page = list(&db, &national, &request(filter, 0, "")).await.unwrap();
        assert_eq!(names(&page), expected, "{filter}");
    }
    for bad in ["role = service", "actor = a OR actor = b", "actor"] {
        let err = list(&db, &national, &request(bad, 0, "")).await.unwrap_err();
        assert_eq!(
            refusal(&err),
            (ErrorKind::InvalidArgument, "INVALID_FIELD", vec!["filter".to_owned()]),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn province_officers_read_their_province_only() {
    let (_env, db) = log().await;
    let officer = who(Role::ProvinceOfficer, Some("38"));
    let page = list(&db, &officer, &request("", 0, "")).await.unwrap();
    assert_eq!(names(&page), ["auditEvents/5", "auditEvents/3", "auditEvents/1"]);
    let own = list(&db, &officer, &request("province_code = \"38\"", 0, ""))
        .await
        .unwrap();
    assert_eq!(names(&own), names(&page));
    // A filter that matches only another province's rows finds none of them.
    let issued = list(&db, &officer, &request("actor = chi", 0, "")).await.unwrap();
    assert!(issued.audit_events.is_empty());

    let err = list(&db, &officer, &request("province_code = \"25\"", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&err),
        (ErrorKind::PermissionDenied, "OUTSIDE_JURISDICTION", vec![])
    );
}

#[tokio::test]
async fn other_roles_read_nothing() {
    let (_env, db) = log().await;
    for role in [Role::CommuneOfficer, Role::CouncilMember, Role::Service] {
        let err = list(&db, &who(role, Some("38")), &request("", 0, ""))
            .await
            .unwrap_err();
        assert_eq!(
            refusal(&err),
            (ErrorKind::PermissionDenied, "ROLE_NOT_ALLOWED", vec![]),
            "{role:?}"
        );
    }
}

#[tokio::test]
async fn pages_follow_each_other_and_tokens_stay_with_their_filter() {
    let (_env, db) = log().await;
    let national = who(Role::NationalOfficer, None);
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = list(&db, &national, &request("", 2, &token)).await.unwrap();
        pages += 1;
        seen.extend(names(&page).into_iter().map(str::to_owned));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "auditEvents/5",
            "auditEvents/4",
            "auditEvents/3",
            "auditEvents/2",
            "auditEvents/1"
        ]
    );

    // A row added while paging does not shift the pages already served.
    let first = list(&db, &national, &request("", 2, "")).await.unwrap();
    sqlx::query("INSERT INTO audit_events (actor, role, method, resource) VALUES ('an', 'province_officer', 'X', 'y')")
        .execute(&db)
        .await
        .unwrap();
    let second = list(&db, &national, &request("", 2, &first.next_page_token))
        .await
        .unwrap();
    assert_eq!(names(&second), ["auditEvents/3", "auditEvents/2"]);

    let err = list(&db, &national, &request("actor = an", 2, &first.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(refusal(&err).2, ["page_token"], "a token of another filter");
    for damaged in [
        "%%%".to_owned(),
        "bm90IGpzb24".to_owned(),
        ocop_kit::paging::Page::next_token("not a sequence", ""),
    ] {
        let err = list(&db, &national, &request("", 2, &damaged)).await.unwrap_err();
        assert_eq!(
            refusal(&err),
            (
                ErrorKind::InvalidArgument,
                "INVALID_FIELD",
                vec!["page_token".to_owned()]
            ),
            "{damaged}"
        );
    }
}
