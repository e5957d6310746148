//! Producers over gRPC: every RPC's happy path and unhappy paths.

use crate::support::fixture;

use fixture::*;
use ocop_proto::registry::v1::*;
use ocop_testkit::authorized;
use tonic::Code;

#[tokio::test]
async fn create_get_update_delete_round() {
    let mut f = fixture().await;
    let created = f
        .create_subject(subject("Hợp tác xã Mật ong Hàm Rồng", "2801234567", HAM_RONG))
        .await
        .unwrap();
    assert!(created.name.starts_with("subjects/"));
    assert_eq!(created.province_code, "38");
    assert_eq!(created.state, SubjectState::Active as i32);
    assert_eq!(created.etag, "v1");
    assert!(created.create_time.is_some());

    let got = f.get_subject(&created.name).await.unwrap();
    assert_eq!(got, created);

    let mut change = created.clone();
    change.legal_name = "HTX Mật ong Hạc Thành".into();
    change.commune_code = HAC_THANH.into();
    let token = f.officer.clone();
    let updated = f
        .client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(change),
                update_mask: mask(&["legal_name", "commune_code"]),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    assert_eq!(updated.legal_name, "HTX Mật ong Hạc Thành");
    assert_eq!(updated.commune_code, HAC_THANH);
    assert_eq!(updated.phone, created.phone, "fields outside the mask are kept");
    assert_eq!(updated.etag, "v2");
    // The cache was warm with the old value: no stale read after the write.
    assert_eq!(
        f.get_subject(&created.name).await.unwrap().legal_name,
        "HTX Mật ong Hạc Thành"
    );

    let deleted = f
        .client
        .delete_subject(authorized(
            DeleteSubjectRequest {
                name: created.name.clone(),
                etag: updated.etag.clone(),
                force: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    assert!(deleted.delete_time.is_some());
    assert!(
        f.get_subject(&created.name).await.unwrap().delete_time.is_some(),
        "a deleted producer can still be read"
    );

    let audit = f
        .client
        .list_audit_events(authorized(
            ListAuditEventsRequest {
                filter: format!("resource = \"{}\"", created.name),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let methods: Vec<&str> = audit.iter().map(|e| e.method.as_str()).collect();
    assert_eq!(
        methods,
        vec!["DeleteSubject", "UpdateSubject", "CreateSubject"],
        "newest first"
    );
    assert_eq!(
        (audit[1].etag_before.as_str(), audit[1].etag_after.as_str()),
        ("v1", "v2")
    );
    assert_eq!(audit[2].actor, "tester");
    assert_eq!(audit[2].role, "province_officer");
}

#[tokio::test]
async fn create_refuses_bad_input_and_changes_nothing() {
    let mut f = fixture().await;
    let empty = f.create_subject(Subject::default()).await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    let got = fields(&empty);
    for field in [
        "subject.kind",
        "subject.legal_name",
        "subject.registration_number",
        "subject.representative.full_name",
        "subject.commune_code",
    ] {
        assert!(got.contains(&field.to_string()), "{field} missing in {got:?}");
    }

    let mut bad = subject("HTX", "2801234567", "20440");
    bad.phone = "call me".into();
    bad.email = "nobody".into();
    let err = f.create_subject(bad).await.unwrap_err();
    assert_eq!(
        fields(&err),
        vec!["subject.phone", "subject.email", "subject.commune_code"]
    );
    assert!(
        err.message().contains("today's commune is 20443"),
        "an old code is explained: {}",
        err.message()
    );

    let token = f.officer.clone();
    for (subject_id, request_id, field) in [("Bad_Id", "", "subject_id"), ("", "not-a-uuid", "request_id")] {
        let err = f
            .client
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(subject("HTX A", "2801234567", HAM_RONG)),
                    subject_id: subject_id.into(),
                    request_id: request_id.into(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()])
        );
    }
    let list = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(list.subjects.is_empty(), "nothing was written");
}

#[tokio::test]
async fn duplicates_are_already_exists_and_name_the_holder() {
    let mut f = fixture().await;
    let first = f
        .create_subject(subject("HTX A", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let err = f
        .create_subject(subject("HTX B", "2801234567", HAM_RONG))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::AlreadyExists, "REGISTRATION_NUMBER_TAKEN")
    );
    assert!(err.message().contains(&first.name), "{}", err.message());

    let token = f.officer.clone();
    let request = |number: &str| CreateSubjectRequest {
        subject: Some(subject("HTX C", number, HAM_RONG)),
        subject_id: "htx-c".into(),
        request_id: String::new(),
    };
    f.client
        .create_subject(authorized(request("2801234568"), &token))
        .await
        .unwrap();
    let err = f
        .client
        .create_subject(authorized(request("2801234569"), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("subjects/htx-c already exists"));
}

#[tokio::test]
async fn a_retried_create_returns_the_first_result() {
    let mut f = fixture().await;
    let token = f.officer.clone();
    let request_id = uuid::Uuid::new_v4().to_string();
    let make = || CreateSubjectRequest {
        subject: Some(subject("HTX Retry", "2809999999", HAM_RONG)),
        subject_id: String::new(),
        request_id: request_id.clone(),
    };
    let (mut c1, mut c2) = (f.client.clone(), f.client.clone());
    let (a, b) = tokio::join!(
        c1.create_subject(authorized(make(), &token)),
        c2.create_subject(authorized(make(), &token))
    );
    let (a, b) = (
        a.unwrap().into_inner().subject.unwrap(),
        b.unwrap().into_inner().subject.unwrap(),
    );
    assert_eq!(a.name, b.name, "concurrent retries agree");
    let again = f
        .client
        .create_subject(authorized(make(), &token))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    assert_eq!(again.name, a.name);
    let all = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(all.len(), 1, "one producer, not three");
}

#[tokio::test]
async fn writes_need_the_right_role_and_province() {
    let mut f = fixture().await;
    let cases = [
        (f.council.clone(), "ROLE_NOT_ALLOWED"),
        (f.national.clone(), "ROLE_NOT_ALLOWED"),
        (f.commune.clone(), "ROLE_NOT_ALLOWED"),
        (f.other_officer.clone(), "OUTSIDE_JURISDICTION"),
    ];
    for (token, why) in cases {
        let err = f
            .client
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(subject("HTX", "2801234567", HAM_RONG)),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, why));
    }
    // Permission comes before existence: a council member learns nothing about a missing producer.
    let token = f.council.clone();
    let err = f
        .client
        .delete_subject(authorized(
            DeleteSubjectRequest {
                name: "subjects/missing".into(),
                etag: "v1".into(),
                force: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let created = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let token = f.other_officer.clone();
    let mut change = created.clone();
    change.legal_name = "Taken over".into();
    let err = f
        .client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(change.clone()),
                update_mask: mask(&["legal_name"]),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    // Nor may an officer move a producer into another province.
    let token = f.officer.clone();
    change.commune_code = BA_DINH.into();
    let err = f
        .client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(change),
                update_mask: mask(&["commune_code"]),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(f.get_subject(&created.name).await.unwrap(), created, "nothing changed");
    let anonymous = f
        .client
        .get_subject(GetSubjectRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn get_unhappy_paths() {
    let mut f = fixture().await;
    let err = f.get_subject("subjects/nobody").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    for bad in ["", "subjects/", "subject/x", "subjects/A", "subjects/a/products/b"] {
        let err = f.get_subject(bad).await.unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec!["name".to_string()]),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn update_unhappy_paths() {
    let mut f = fixture().await;
    let created = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    f.create_subject(subject("HTX 2", "2801234568", HAM_RONG))
        .await
        .unwrap();
    let token = f.officer.clone();
    let mut stale = created.clone();
    stale.legal_name = "First".into();
    f.client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(stale.clone()),
                update_mask: mask(&["legal_name"]),
            },
            &token,
        ))
        .await
        .unwrap();
    let cases: Vec<(Subject, Option<prost_types::FieldMask>, Code, &str)> = vec![
        (stale.clone(), mask(&["legal_name"]), Code::Aborted, "STALE_ETAG"),
        (
            Subject {
                etag: String::new(),
                ..stale.clone()
            },
            mask(&["legal_name"]),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            Subject {
                etag: "v2".into(),
                ..stale.clone()
            },
            mask(&["province_code"]),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            Subject {
                etag: "v2".into(),
                ..stale.clone()
            },
            None,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            Subject {
                etag: "v2".into(),
                legal_name: String::new(),
                ..stale.clone()
            },
            mask(&["legal_name"]),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            Subject {
                etag: "v2".into(),
                registration_number: "2801234568".into(),
                ..stale.clone()
            },
            mask(&["registration_number"]),
            Code::AlreadyExists,
            "REGISTRATION_NUMBER_TAKEN",
        ),
        (
            Subject {
                name: "subjects/nobody".into(),
                ..stale.clone()
            },
            mask(&["legal_name"]),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            Subject {
                name: "nobody".into(),
                ..stale.clone()
            },
            mask(&["legal_name"]),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
    ];
    for (subject, update_mask, code, why) in cases {
        let err = f
            .client
            .update_subject(authorized(
                UpdateSubjectRequest {
                    subject: Some(subject.clone()),
                    update_mask: update_mask.clone(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{update_mask:?} {}",
            err.message()
        );
    }
    let now = f.get_subject(&created.name).await.unwrap();
    assert_eq!(
        (now.legal_name.as_str(), now.etag.as_str()),
        ("First", "v2"),
        "failed updates changed nothing"
    );
}

#[tokio::test]
async fn delete_refuses_while_products_exist_unless_forced() {
    let mut f = fixture().await;
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let p = f.create_product(&s.name, product("Mật ong Hàm Rồng")).await.unwrap();
    let token = f.officer.clone();
    let delete = |etag: &str, force: bool| DeleteSubjectRequest {
        name: s.name.clone(),
        etag: etag.into(),
        force,
    };
    let err = f
        .client
        .delete_subject(authorized(delete("v1", false), &token))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "HAS_PRODUCTS")
    );
    assert!(err.message().contains(&p.name));
    let err = f
        .client
        .delete_subject(authorized(delete("v9", true), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let err = f
        .client
        .delete_subject(authorized(delete("", true), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    f.client
        .delete_subject(authorized(delete("v1", true), &token))
        .await
        .unwrap();
    let gone = f
        .client
        .get_product(authorized(GetProductRequest { name: p.name.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(gone.delete_time.is_some(), "the product went with its producer");
    let err = f
        .client
        .delete_subject(authorized(delete("v2", true), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "already deleted");
    let listed = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert!(listed.is_empty());
    let with_deleted = f
        .client
        .list_subjects(authorized(
            ListSubjectsRequest {
                show_deleted: true,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(with_deleted.len(), 1);
}

#[tokio::test]
async fn list_filters_orders_and_pages() {
    let mut f = fixture().await;
    for (i, name) in ["Cơ sở Bánh", "An Phú", "Bảo Lâm", "Đông Sơn", "Ân Thi"]
        .iter()
        .enumerate()
    {
        let mut s = subject(
            name,
            &format!("280000000{i}"),
            if i % 2 == 0 { HAM_RONG } else { HAC_THANH },
        );
        if i == 4 {
            s.kind = SubjectKind::Enterprise as i32;
        }
        f.create_subject(s).await.unwrap();
    }
    let token = f.council.clone();
    let list = |filter: &str, order_by: &str, page_size: i32, page_token: &str| ListSubjectsRequest {
        filter: filter.into(),
        order_by: order_by.into(),
        page_size,
        page_token: page_token.into(),
        show_deleted: false,
    };
    let mut names = Vec::new();
    let mut token_ = String::new();
    loop {
        let page = f
            .client
            .list_subjects(authorized(list("province_code = 38", "legal_name", 2, &token_), &token))
            .await
            .unwrap()
            .into_inner();
        names.extend(page.subjects.into_iter().map(|s| s.legal_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token_ = page.next_page_token;
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names.len(), 5);
    assert_eq!(names, sorted);
    let hac_thanh = f
        .client
        .list_subjects(authorized(
            list(&format!("commune_code = {HAC_THANH}"), "", 0, ""),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hac_thanh.subjects.len(), 2);
    let enterprises = f
        .client
        .list_subjects(authorized(
            list("kind = enterprise AND state = active", "create_time desc", 0, ""),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(enterprises.subjects.len(), 1);
    let none = f
        .client
        .list_subjects(authorized(list("province_code = 01", "", 0, ""), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(none.subjects.is_empty());

    for (request, field) in [
        (list("kind = farm", "", 0, ""), "filter"),
        (list("colour = red", "", 0, ""), "filter"),
        (list("", "size", 0, ""), "order_by"),
        (list("", "", -5, ""), "page_size"),
        (list("", "", 0, "xyz"), "page_token"),
    ] {
        let err = f
            .client
            .list_subjects(authorized(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()]),
            "{request:?}"
        );
    }
    let first = f
        .client
        .list_subjects(authorized(list("", "legal_name", 2, ""), &token))
        .await
        .unwrap()
        .into_inner();
    let err = f
        .client
        .list_subjects(authorized(list("", "create_time", 2, &first.next_page_token), &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["page_token"], "a token is bound to its order");
}

#[tokio::test]
async fn search_ignores_case_and_diacritics() {
    let mut f = fixture().await;
    f.create_subject(subject("Hợp tác xã Nông nghiệp Đông Sơn", "2801111111", HAM_RONG))
        .await
        .unwrap();
    f.create_subject(subject("Công ty TNHH Mật ong Hàm Rồng", "2802222222", HAC_THANH))
        .await
        .unwrap();
    let token = f.council.clone();
    let search = |query: &str, filter: &str| SearchSubjectsRequest {
        query: query.into(),
        filter: filter.into(),
        ..Default::default()
    };
    let found = f
        .client
        .search_subjects(authorized(search("nong nghiep dong son", ""), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].registration_number, "2801111111");
    let by_number = f
        .client
        .search_subjects(authorized(search("2802222222", ""), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(by_number.len(), 1);
    let upper = f
        .client
        .search_subjects(authorized(search("MẬT ONG HAM RONG", "province_code = 38"), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(upper.len(), 1);
    let elsewhere = f
        .client
        .search_subjects(authorized(search("mat ong", "province_code = 01"), &token))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert!(elsewhere.is_empty());
    for (request, field) in [
        (search(" ", ""), "query"),
        (search("a", ""), "query"),
        (search("mat ong", "colour = red"), "filter"),
    ] {
        let err = f.client.search_subjects(authorized(request, &token)).await.unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()])
        );
    }
}

/// Audit and outbox rows in the registry schema: a refusal writes neither.
async fn writes(f: &Fixture) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(&f.env.config.database.url).await.unwrap();
    let counted =
        sqlx::query_as("SELECT (SELECT count(*) FROM registry.audit_events), (SELECT count(*) FROM registry.outbox)")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    counted
}

#[tokio::test]
async fn a_deployment_writes_only_its_own_province() {
    // Thanh Hóa's deployment (38), whatever the token says.
    let mut f = fixture().await;
    let before = writes(&f).await;
    let phu_tho = f.env.token("province_officer", Some("25"), None);
    let officer = f.officer.clone();
    for (token, who) in [(&phu_tho, "Phú Thọ's officer"), (&officer, "Thanh Hóa's officer")] {
        let err = f
            .client
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(subject("HTX Đà Bắc", "2501234567", DA_BAC)),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{who}: {}",
            err.message()
        );
        assert!(
            err.message().contains("this deployment serves province 38")
                && err
                    .message()
                    .contains("province 25's data is written on its own deployment"),
            "{}",
            err.message()
        );
    }
    // Nor may a producer of 38 be moved into 25 here.
    let created = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let before_move = writes(&f).await;
    let mut change = created.clone();
    change.commune_code = DA_BAC.into();
    let err = f
        .client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(change),
                update_mask: mask(&["commune_code"]),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT")
    );
    assert_eq!(f.get_subject(&created.name).await.unwrap(), created, "nothing changed");
    assert_eq!(writes(&f).await, before_move, "a refusal writes no audit or outbox row");
    assert_ne!(before, before_move, "the producer of 38 was written");
    let listed = f
        .client
        .list_subjects(authorized(ListSubjectsRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner()
        .subjects;
    assert_eq!(listed.len(), 1, "no producer of 25 was registered: {listed:?}");
}
