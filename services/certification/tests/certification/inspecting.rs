//! Inspection and monitoring after certification (Decision 26/2026/QĐ-TTg
//! Điều 9): an inspection found non-compliant proposes a revocation that an
//! officer accepts (the certificate is revoked on ground b, resting on the
//! inspection's conclusion) or rejects; audit and change feed rows for each
//! step; every unhappy path with its status and reason, changing nothing.

use crate::support::{browser, inspections, world};

use inspections::*;
use ocop_proto::certification::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use time::Duration;
use tonic::Code;
use world::*;

#[tokio::test]
async fn a_non_compliant_inspection_leads_to_a_revocation() {
    let mut w = world().await;
    let product = w.product("Nem chua Thanh Hóa").await;
    let result = w.results(&[&product], RoundPlan::province_2026(1, 4)).await.remove(0);
    let cert = w.issue(issue_request(&result.name, day(2026, 6, 15))).await.unwrap();
    let officer = w.officer.clone();

    let open = w.inspect(&officer, periodic(&cert.name)).await.unwrap();
    assert!(
        open.name.starts_with(&format!("{}/inspections/", cert.name)),
        "{}",
        open.name
    );
    assert_eq!(
        (open.state(), open.kind()),
        (InspectionState::Open, InspectionKind::Periodic)
    );
    assert_eq!(
        (open.product.as_str(), open.province_code.as_str()),
        (product.name.as_str(), "38")
    );
    let got = w
        .certification
        .get_inspection(authorized(
            GetInspectionRequest {
                name: open.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .inspection
        .unwrap();
    assert_eq!(got, open);

    let concluded = w
        .conclude(outcome(&open, CheckResult::NonCompliant, CheckResult::Compliant))
        .await
        .unwrap();
    assert_eq!(
        (concluded.state(), concluded.outcome()),
        (InspectionState::Concluded, InspectionOutcome::NonCompliant)
    );
    let proposal = concluded.revocation_proposal.clone().unwrap();
    assert_eq!(
        (proposal.state(), proposal.ground()),
        (RevocationProposalState::Proposed, RevocationGround::CriteriaNotMet)
    );
    assert_eq!(
        w.verify(&cert.code).await.unwrap().status(),
        VerificationStatus::Valid,
        "proposed only"
    );

    let decided = w.review(&officer, review(&concluded, true)).await.unwrap();
    let inspection = decided.inspection.unwrap();
    let proposal = inspection.revocation_proposal.clone().unwrap();
    assert_eq!(
        (proposal.state(), proposal.reviewer.as_str(), proposal.document.as_str()),
        (RevocationProposalState::Accepted, "tester", "Quyết định 88/QĐ-UBND")
    );
    let revoked = decided.certificate.unwrap();
    assert_eq!(revoked.state(), CertificateState::Revoked);
    let revocation = revoked.revocation.clone().unwrap();
    assert_eq!(revocation.ground(), RevocationGround::CriteriaNotMet);
    assert_eq!(
        (
            revocation.conclusion_document.as_str(),
            revocation.conclusion_date,
            revocation.inspection.as_str()
        ),
        (
            "Kết luận 15/KL-VPĐP",
            concluded.conclusion_date,
            inspection.name.as_str()
        )
    );
    assert!(!revocation.late && revocation.days_after_conclusion == 0);
    let v = w.verify(&cert.code).await.unwrap();
    assert_eq!(
        (v.status(), v.revocation_ground()),
        (VerificationStatus::Revoked, RevocationGround::CriteriaNotMet)
    );
    let dom = browser::browse_page(&format!("http://{}/verify/{}", w.http, cert.code))
        .await
        .dom;
    assert!(
        dom.contains("Căn cứ thu hồi")
            && dom.contains(
                "Điểm b khoản 1 Điều 8 Quyết định 26/2026/QĐ-TTg: sản phẩm không còn đáp ứng Bộ tiêu chí OCOP"
            ),
        "{dom}"
    );
    assert_eq!(w.history(&cert.name).await, vec!["issued", "revoked"]);
    assert_eq!(
        w.outbox().await,
        vec![
            (cert.name.clone(), "issued".into()),
            (open.name.clone(), "created".into()),
            (open.name.clone(), "updated".into()),
            (open.name.clone(), "updated".into()),
            (cert.name.clone(), "revoked".into()),
        ]
    );
    let db = w.db().await;
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT method, resource FROM certification.audit_events ORDER BY sequence")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        audited[1..],
        [
            ("CreateInspection".to_owned(), open.name.clone()),
            ("RecordInspectionOutcome".to_owned(), open.name.clone()),
            ("ReviewRevocationProposal".to_owned(), open.name.clone()),
            ("ReviewRevocationProposal".to_owned(), cert.name.clone()),
        ]
    );

    // Listed under its certificate and among every certificate's.
    let listed = w.inspections(&cert.name, 0, "").await;
    assert_eq!(listed.inspections, vec![inspection.clone()]);
    let all = w.inspections("certificates/-", 0, "").await;
    assert_eq!(all.inspections, vec![inspection.clone()]);
    // A revoked certificate is inspected no more; its proposal is reviewed once.
    let err = w.inspect(&officer, periodic(&cert.name)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "CERTIFICATE_NOT_IN_FORCE")
    );
    let err = w.review(&officer, review(&inspection, false)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "PROPOSAL_ALREADY_REVIEWED")
    );
}

#[tokio::test]
async fn inspections_refuse_bad_input_and_the_wrong_people_and_change_nothing() {
    let mut w = world().await;
    let (a, b) = (w.product("Cam Vân Du").await, w.product("Bưởi Luận Văn").await);
    let results = w.results(&[&a, &b], RoundPlan::province_2026(1, 4)).await;
    let cert = w
        .issue(issue_request(&results[0].name, day(2026, 6, 15)))
        .await
        .unwrap();
    let other = w
        .issue(issue_request(&results[1].name, day(2026, 6, 15)))
        .await
        .unwrap();
    let officer = w.officer.clone();
    let today = ocop_kit::date::today_vn();
    let stranger = w.env.token("province_officer", Some("01"), None);
    let ministry = w.env.token("national_officer", None, None);
    let member = w.env.token("council_member", Some("38"), None);
    let with = |edit: fn(&mut Inspection)| {
        let mut request = periodic(&cert.name);
        edit(request.inspection.as_mut().unwrap());
        request
    };
    let before = w.written().await;

    let cases: Vec<(&str, CreateInspectionRequest, &str, Code, &str)> = vec![
        (
            "no kind",
            with(|i| i.kind = 0),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.kind",
        ),
        (
            "no date",
            with(|i| i.inspection_date = None),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.inspection_date",
        ),
        (
            "a day of no calendar",
            with(|i| i.inspection_date = day(2026, 2, 30)),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.inspection_date",
        ),
        (
            "no inspector",
            with(|i| i.inspector = String::new()),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.inspector",
        ),
        (
            "ad hoc without a reason",
            with(|i| i.kind = InspectionKind::AdHoc as i32),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.reason",
        ),
        (
            "before the certificate",
            with(|i| i.inspection_date = day(2026, 6, 1)),
            officer.as_str(),
            Code::InvalidArgument,
            "inspection.inspection_date",
        ),
        (
            "not a certificate",
            CreateInspectionRequest {
                parent: "certificates/nope".into(),
                ..periodic(&cert.name)
            },
            officer.as_str(),
            Code::InvalidArgument,
            "parent",
        ),
        (
            "a bad request_id",
            CreateInspectionRequest {
                request_id: "again".into(),
                ..periodic(&cert.name)
            },
            officer.as_str(),
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "no such certificate",
            periodic("certificates/38-00000000"),
            officer.as_str(),
            Code::NotFound,
            "",
        ),
        (
            "another province's officer",
            periodic(&cert.name),
            stranger.as_str(),
            Code::PermissionDenied,
            "",
        ),
        (
            "the ministry, for 4 stars",
            periodic(&cert.name),
            ministry.as_str(),
            Code::PermissionDenied,
            "",
        ),
        (
            "a council member",
            periodic(&cert.name),
            member.as_str(),
            Code::PermissionDenied,
            "",
        ),
    ];
    for (what, request, token, code, field) in cases {
        let err = w.inspect(token, request).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        if !field.is_empty() {
            assert_eq!(fields(&err), vec![field.to_owned()], "{what}: {}", err.message());
        }
    }
    let err = w
        .inspect(&officer, with(|i| i.inspection_date = day(2099, 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["inspection.inspection_date"]);
    let err = w.inspect(&ministry, periodic(&cert.name)).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_THE_COMPETENT_AUTHORITY");
    let err = w.inspect(&stranger, periodic(&cert.name)).await.unwrap_err();
    assert_eq!(reason(&err), "OUTSIDE_JURISDICTION");
    assert_eq!(w.written().await, before, "every refused creation changed nothing");

    // A retry with its request_id gets the first inspection.
    let retried = CreateInspectionRequest {
        request_id: "6c1f7e52-9a0b-4b8e-a3f1-0d2c4e6a8b10".into(),
        inspection: Some(Inspection {
            kind: InspectionKind::AdHoc as i32,
            reason: "Phản ánh của người tiêu dùng về nhãn hàng".into(),
            ..periodic(&cert.name).inspection.unwrap()
        }),
        ..periodic(&cert.name)
    };
    let open = w.inspect(&officer, retried.clone()).await.unwrap();
    assert_eq!(
        w.inspect(&officer, retried).await.unwrap(),
        open,
        "a retry is answered as the first time"
    );
    assert_eq!(
        (open.kind(), open.reason.as_str()),
        (InspectionKind::AdHoc, "Phản ánh của người tiêu dùng về nhãn hàng")
    );
    // Its audit row keeps the request_id, as every create's does (once, for the first attempt).
    let db = w.db().await;
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT request_id FROM certification.audit_events WHERE method = 'CreateInspection' AND resource = $1",
    )
    .bind(&open.name)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(kept, ["6c1f7e52-9a0b-4b8e-a3f1-0d2c4e6a8b10"]);

    let before = w.written().await;
    let good = outcome(&open, CheckResult::Compliant, CheckResult::NonCompliant);
    let cases: Vec<(&str, RecordInspectionOutcomeRequest, Code, Vec<&str>)> = vec![
        (
            "unset points",
            RecordInspectionOutcomeRequest {
                criteria: 0,
                product_information: 0,
                ..good.clone()
            },
            Code::InvalidArgument,
            vec!["criteria", "product_information"],
        ),
        (
            "nothing checked",
            RecordInspectionOutcomeRequest {
                criteria: CheckResult::NotChecked as i32,
                mark_use: CheckResult::NotChecked as i32,
                ..good.clone()
            },
            Code::InvalidArgument,
            vec!["criteria"],
        ),
        (
            "a finding without a report",
            RecordInspectionOutcomeRequest {
                report: String::new(),
                ..good.clone()
            },
            Code::InvalidArgument,
            vec!["report"],
        ),
        (
            "no conclusion",
            RecordInspectionOutcomeRequest {
                conclusion_document: String::new(),
                conclusion_date: None,
                ..good.clone()
            },
            Code::InvalidArgument,
            vec!["conclusion_document", "conclusion_date"],
        ),
        (
            "a conclusion before the inspection",
            RecordInspectionOutcomeRequest {
                conclusion_date: from_date(today - Duration::days(1)),
                ..good.clone()
            },
            Code::InvalidArgument,
            vec!["conclusion_date"],
        ),
        (
            "a stale etag",
            RecordInspectionOutcomeRequest {
                etag: "v7".into(),
                ..good.clone()
            },
            Code::Aborted,
            vec![],
        ),
        (
            "no such inspection",
            RecordInspectionOutcomeRequest {
                name: format!("{}/inspections/0190f2c4-0000-7000-8000-000000000000", cert.name),
                ..good.clone()
            },
            Code::NotFound,
            vec![],
        ),
        (
            "another certificate's inspection",
            RecordInspectionOutcomeRequest {
                name: open.name.replace(&cert.code, &other.code),
                ..good.clone()
            },
            Code::NotFound,
            vec![],
        ),
    ];
    for (what, request, code, expected) in cases {
        let err = w.conclude(request).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        assert_eq!(fields(&err), expected, "{what}");
    }
    let err = w.review(&officer, review(&open, true)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_REVOCATION_PROPOSAL"),
        "{}",
        err.message()
    );
    assert_eq!(w.written().await, before, "every refused outcome changed nothing");

    // Only the mark at fault: a misuse of the mark is proposed (ground d).
    let concluded = w.conclude(good.clone()).await.unwrap();
    assert_eq!(
        concluded.revocation_proposal.as_ref().unwrap().ground(),
        RevocationGround::MarkMisuse
    );
    let err = w
        .conclude(RecordInspectionOutcomeRequest {
            etag: concluded.etag.clone(),
            ..good
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "INSPECTION_CONCLUDED")
    );

    let before = w.written().await;
    for (what, request, token, code, why) in [
        (
            "acceptance without a decision",
            ReviewRevocationProposalRequest {
                document: String::new(),
                ..review(&concluded, true)
            },
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no words",
            ReviewRevocationProposalRequest {
                text: String::new(),
                ..review(&concluded, false)
            },
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a stale etag",
            review(&open, true),
            officer.as_str(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            "the ministry",
            review(&concluded, true),
            ministry.as_str(),
            Code::PermissionDenied,
            "NOT_THE_COMPETENT_AUTHORITY",
        ),
        (
            "another province's officer",
            review(&concluded, true),
            stranger.as_str(),
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
    ] {
        let err = w.review(token, request).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
    }
    assert_eq!(w.written().await, before, "every refused review changed nothing");

    // Rejected: closed, the certificate stays in force.
    let rejected = w.review(&officer, review(&concluded, false)).await.unwrap();
    assert!(rejected.certificate.is_none());
    let proposal = rejected.inspection.unwrap().revocation_proposal.unwrap();
    assert_eq!(
        (proposal.state(), proposal.document.as_str()),
        (RevocationProposalState::Rejected, "")
    );
    assert_eq!(w.get(&cert.name).await.state(), CertificateState::Active);

    // A compliant inspection proposes nothing.
    let second = w.inspect(&officer, periodic(&cert.name)).await.unwrap();
    let compliant = w
        .conclude(RecordInspectionOutcomeRequest {
            report: String::new(),
            ..outcome(&second, CheckResult::Compliant, CheckResult::Compliant)
        })
        .await
        .unwrap();
    assert_eq!(
        (compliant.outcome(), compliant.revocation_proposal.is_none()),
        (InspectionOutcome::Compliant, true)
    );
    let err = w.review(&officer, review(&compliant, true)).await.unwrap_err();
    assert_eq!(reason(&err), "NO_REVOCATION_PROPOSAL");

    // A proposal whose certificate was revoked meanwhile is not accepted.
    let third = w.inspect(&officer, periodic(&other.name)).await.unwrap();
    let third = w
        .conclude(outcome(&third, CheckResult::NonCompliant, CheckResult::NotChecked))
        .await
        .unwrap();
    w.certification
        .revoke_certificate(authorized(
            RevokeCertificateRequest {
                name: other.name.clone(),
                etag: other.etag.clone(),
                ground: RevocationGround::ProductionStopped as i32,
                text: "Chủ thể ngừng sản xuất".into(),
                document: "Quyết định 90/QĐ-UBND".into(),
                conclusion_document: "Xác nhận 4/XN-UBND của xã".into(),
                conclusion_date: from_date(today),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap();
    let err = w.review(&officer, review(&third, true)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "CERTIFICATE_NOT_IN_FORCE")
    );

    // Lists page by name, and refuse what is not a parent.
    let page = w.inspections("certificates/-", 2, "").await;
    assert_eq!(page.inspections.len(), 2);
    let rest = w.inspections("certificates/-", 2, &page.next_page_token).await;
    assert_eq!((rest.inspections.len(), rest.next_page_token.as_str()), (1, ""));
    let names: Vec<String> = page
        .inspections
        .iter()
        .chain(&rest.inspections)
        .map(|i| i.name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    assert_eq!(w.inspections(&cert.name, 0, "").await.inspections.len(), 2);
    for parent in ["certificates", "subjects/-", "certificates/38-00000000/inspections"] {
        let err = w
            .certification
            .list_inspections(authorized(
                ListInspectionsRequest {
                    parent: parent.into(),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{parent}");
    }
    let err = w
        .certification
        .get_inspection(authorized(
            GetInspectionRequest {
                name: format!("{}/inspections/0190f2c4-0000-7000-8000-000000000000", cert.name),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
