//! The OCOP cycle's steps 2 to 4: an idea registered at the commune and
//! reviewed, a business plan written, submitted and reviewed, and support
//! recorded on it. Every RPC's unhappy paths too.

use crate::support::fixture;

use fixture::*;
use ocop_proto::common::v1::Date;
use ocop_proto::registry::v1::*;
use ocop_testkit::authorized;
use tonic::Code;

/// A producer and product in Hàm Rồng (38), and an idea registered by the commune.
async fn with_idea(f: &mut Fixture) -> (Product, IdeaRegistration) {
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let p = f.create_product(&s.name, product("Mật ong Hàm Rồng")).await.unwrap();
    let commune = f.commune.clone();
    let idea = f
        .client
        .create_idea_registration(authorized(
            CreateIdeaRegistrationRequest {
                parent: p.name.clone(),
                idea_registration: Some(IdeaRegistration {
                    title: "Mật ong rừng đóng chai".into(),
                    description: "Bán tại chợ phường".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &commune,
        ))
        .await
        .unwrap()
        .into_inner()
        .idea_registration
        .unwrap();
    (p, idea)
}

fn review(name: &str, etag: &str, decision: ReviewDecision, reason: &str) -> ReviewIdeaRegistrationRequest {
    ReviewIdeaRegistrationRequest {
        name: name.into(),
        etag: etag.into(),
        decision: decision as i32,
        reason: reason.into(),
    }
}

#[tokio::test]
async fn idea_to_plan_to_support() {
    let mut f = fixture().await;
    let (p, idea) = with_idea(&mut f).await;
    assert_eq!(idea.state, IdeaState::Submitted as i32);
    assert_eq!(idea.commune_code, HAM_RONG, "defaults to the product's commune");
    let officer = f.officer.clone();
    let accepted = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Accept, "Tốt"),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .idea_registration
        .unwrap();
    assert_eq!(
        (accepted.state, accepted.reviewer.as_str()),
        (IdeaState::Accepted as i32, "tester")
    );
    assert!(accepted.review_time.is_some());

    let plan = BusinessPlan {
        idea: idea.name.clone(),
        title: "Phương án mật ong 2026".into(),
        summary: "Mở rộng đàn ong".into(),
        investment_vnd: 350_000_000,
        start_date: Some(Date {
            year: 2026,
            month: 1,
            day: 1,
        }),
        end_date: Some(Date {
            year: 2026,
            month: 12,
            day: 31,
        }),
        ..Default::default()
    };
    let draft = f
        .client
        .create_business_plan(authorized(
            CreateBusinessPlanRequest {
                parent: p.name.clone(),
                business_plan: Some(plan),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(
        (draft.state, draft.province_code.as_str()),
        (PlanState::Draft as i32, "38")
    );

    let mut edit = draft.clone();
    edit.investment_vnd = 400_000_000;
    let edited = f
        .client
        .update_business_plan(authorized(
            UpdateBusinessPlanRequest {
                business_plan: Some(edit),
                update_mask: mask(&["investment_vnd"]),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(edited.investment_vnd, 400_000_000);
    let submitted = f
        .client
        .submit_business_plan(authorized(
            SubmitBusinessPlanRequest {
                name: draft.name.clone(),
                etag: edited.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(submitted.state, PlanState::Submitted as i32);
    let reviewed = f
        .client
        .review_business_plan(authorized(
            ReviewBusinessPlanRequest {
                name: draft.name.clone(),
                etag: submitted.etag.clone(),
                decision: ReviewDecision::Accept as i32,
                reason: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(reviewed.state, PlanState::Accepted as i32);

    let record = SupportRecord {
        kind: SupportKind::Branding as i32,
        description: "Thiết kế nhãn".into(),
        provider: "Sở Công Thương".into(),
        amount_vnd: 20_000_000,
        date: Some(Date {
            year: 2026,
            month: 3,
            day: 15,
        }),
        ..Default::default()
    };
    let created = f
        .client
        .create_support_record(authorized(
            CreateSupportRecordRequest {
                parent: draft.name.clone(),
                support_record: Some(record),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .support_record
        .unwrap();
    assert!(created.name.starts_with(&format!("{}/supportRecords/", draft.name)));
    let council = f.council.clone();
    let listed = f
        .client
        .list_support_records(authorized(
            ListSupportRecordsRequest {
                parent: draft.name.clone(),
                ..Default::default()
            },
            &council,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.support_records, vec![created]);

    let plans = f
        .client
        .list_business_plans(authorized(
            ListBusinessPlansRequest {
                parent: "subjects/-/products/-".into(),
                filter: "state = accepted".into(),
                ..Default::default()
            },
            &council,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plans.business_plans.len(), 1);
    let ideas = f
        .client
        .list_idea_registrations(authorized(
            ListIdeaRegistrationsRequest {
                parent: p.name.clone(),
                filter: format!("commune_code = {HAM_RONG}"),
                ..Default::default()
            },
            &council,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ideas.idea_registrations.len(), 1);
    let got = f
        .client
        .get_business_plan(authorized(
            GetBusinessPlanRequest {
                name: draft.name.clone(),
            },
            &council,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(got, reviewed);

    // The product's cycle records hold its deletion back unless forced.
    let delete = |force: bool| DeleteProductRequest {
        name: p.name.clone(),
        etag: p.etag.clone(),
        force,
    };
    let err = f
        .client
        .delete_product(authorized(delete(false), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "HAS_CYCLE_RECORDS")
    );
    f.client
        .delete_product(authorized(delete(true), &officer))
        .await
        .unwrap();
    let kept = f
        .client
        .get_business_plan(authorized(
            GetBusinessPlanRequest {
                name: draft.name.clone(),
            },
            &council,
        ))
        .await
        .unwrap();
    assert_eq!(kept.into_inner().business_plan.unwrap(), reviewed, "history stays");
}

#[tokio::test]
async fn cycle_lists_refuse_foreign_page_tokens() {
    let mut f = fixture().await;
    let (p, _) = with_idea(&mut f).await;
    let token = f.council.clone();
    let bad = "bm90LWEtdG9rZW4".to_string();
    let ideas = ListIdeaRegistrationsRequest {
        parent: p.name.clone(),
        page_token: bad.clone(),
        ..Default::default()
    };
    let err = f
        .client
        .list_idea_registrations(authorized(ideas, &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["page_token"]);
    let plans = ListBusinessPlansRequest {
        parent: p.name.clone(),
        page_token: bad.clone(),
        ..Default::default()
    };
    let err = f
        .client
        .list_business_plans(authorized(plans, &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["page_token"]);
    let plans = ListBusinessPlansRequest {
        parent: p.name.clone(),
        page_size: -3,
        ..Default::default()
    };
    let err = f
        .client
        .list_business_plans(authorized(plans, &token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["page_size"]);
    let officer = f.officer.clone();
    let audit = ListAuditEventsRequest {
        page_token: bad,
        ..Default::default()
    };
    let err = f
        .client
        .list_audit_events(authorized(audit, &officer))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["page_token"]);
}

#[tokio::test]
async fn ideas_are_registered_and_reviewed_only_in_their_jurisdiction() {
    let mut f = fixture().await;
    let (p, idea) = with_idea(&mut f).await;
    // A commune officer of another commune.
    let elsewhere = f.env.token("commune_officer", Some("38"), Some(HAC_THANH));
    let make = |p: &str| CreateIdeaRegistrationRequest {
        parent: p.into(),
        idea_registration: Some(IdeaRegistration {
            title: "X".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = f
        .client
        .create_idea_registration(authorized(make(&p.name), &elsewhere))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    let council = f.council.clone();
    let err = f
        .client
        .create_idea_registration(authorized(make(&p.name), &council))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "ROLE_NOT_ALLOWED")
    );
    let err = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Accept, ""),
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let commune = f.commune.clone();
    let cases = [
        (make("subjects/x/products/missing"), Code::NotFound),
        (make("subjects/x"), Code::InvalidArgument),
        (
            CreateIdeaRegistrationRequest {
                parent: p.name.clone(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            CreateIdeaRegistrationRequest {
                parent: p.name.clone(),
                idea_registration: Some(IdeaRegistration {
                    title: "X".into(),
                    commune_code: BA_DINH.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
    ];
    for (request, code) in cases {
        let err = f
            .client
            .create_idea_registration(authorized(request.clone(), &commune))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}");
    }

    let officer = f.officer.clone();
    let err = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Reject, " "),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["reason".to_string()]),
        "a rejection says why"
    );
    let err = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Unspecified, ""),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["decision"]);
    let err = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, "v9", ReviewDecision::Accept, ""),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let rejected = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Reject, "Thiếu vùng nguyên liệu"),
            &commune,
        ))
        .await
        .unwrap()
        .into_inner()
        .idea_registration
        .unwrap();
    assert_eq!(rejected.state, IdeaState::Rejected as i32);
    let err = f
        .client
        .review_idea_registration(authorized(
            review(&idea.name, &rejected.etag, ReviewDecision::Accept, ""),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ALREADY_REVIEWED")
    );
    let err = f
        .client
        .get_idea_registration(authorized(
            GetIdeaRegistrationRequest {
                name: format!("{}/ideas/missing", p.name),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = f
        .client
        .list_idea_registrations(authorized(
            ListIdeaRegistrationsRequest {
                parent: "subjects/-/products/-".into(),
                filter: "state = lost".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn plans_follow_their_states_and_need_an_accepted_idea() {
    let mut f = fixture().await;
    let (p, idea) = with_idea(&mut f).await;
    let officer = f.officer.clone();
    let plan = |title: &str| BusinessPlan {
        idea: idea.name.clone(),
        title: title.into(),
        ..Default::default()
    };
    let create = |plan: BusinessPlan| CreateBusinessPlanRequest {
        parent: p.name.clone(),
        business_plan: Some(plan),
        ..Default::default()
    };
    let err = f
        .client
        .create_business_plan(authorized(create(plan("Sớm quá")), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "IDEA_NOT_ACCEPTED")
    );
    f.client
        .review_idea_registration(authorized(
            review(&idea.name, &idea.etag, ReviewDecision::Accept, ""),
            &officer,
        ))
        .await
        .unwrap();

    let bad_dates = BusinessPlan {
        start_date: Some(Date {
            year: 2026,
            month: 5,
            day: 1,
        }),
        end_date: Some(Date {
            year: 2026,
            month: 1,
            day: 1,
        }),
        investment_vnd: -1,
        ..plan("X")
    };
    let err = f
        .client
        .create_business_plan(authorized(create(bad_dates), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        vec!["business_plan.investment_vnd", "business_plan.end_date"]
    );
    let err = f
        .client
        .create_business_plan(authorized(
            create(BusinessPlan {
                idea: "subjects/x/products/y/ideas/z".into(),
                ..plan("X")
            }),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["business_plan.idea"]);
    let council = f.council.clone();
    let err = f
        .client
        .create_business_plan(authorized(create(plan("X")), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let other = f.other_officer.clone();
    let err = f
        .client
        .create_business_plan(authorized(create(plan("X")), &other))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );

    let draft = f
        .client
        .create_business_plan(authorized(create(plan("Phương án")), &officer))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    // Support needs an accepted plan.
    let record = SupportRecord {
        kind: SupportKind::Training as i32,
        description: "Tập huấn".into(),
        date: Some(Date {
            year: 2026,
            month: 2,
            day: 1,
        }),
        ..Default::default()
    };
    let err = f
        .client
        .create_support_record(authorized(
            CreateSupportRecordRequest {
                parent: draft.name.clone(),
                support_record: Some(record.clone()),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "PLAN_NOT_ACCEPTED")
    );
    let err = f
        .client
        .create_support_record(authorized(
            CreateSupportRecordRequest {
                parent: draft.name.clone(),
                support_record: Some(SupportRecord::default()),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        vec![
            "support_record.kind",
            "support_record.description",
            "support_record.date"
        ]
    );
    // A draft cannot be reviewed; a submitted plan cannot be edited.
    let review_plan = |etag: &str| ReviewBusinessPlanRequest {
        name: draft.name.clone(),
        etag: etag.into(),
        decision: ReviewDecision::Reject as i32,
        reason: "Chưa rõ thị trường".into(),
    };
    let err = f
        .client
        .review_business_plan(authorized(review_plan(&draft.etag), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "WRONG_PLAN_STATE")
    );
    let submitted = f
        .client
        .submit_business_plan(authorized(
            SubmitBusinessPlanRequest {
                name: draft.name.clone(),
                etag: draft.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    let err = f
        .client
        .submit_business_plan(authorized(
            SubmitBusinessPlanRequest {
                name: draft.name.clone(),
                etag: draft.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "stale etag");
    let err = f
        .client
        .update_business_plan(authorized(
            UpdateBusinessPlanRequest {
                business_plan: Some(BusinessPlan {
                    title: "Y".into(),
                    ..submitted.clone()
                }),
                update_mask: mask(&["title"]),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "WRONG_PLAN_STATE");
    let err = f
        .client
        .update_business_plan(authorized(
            UpdateBusinessPlanRequest {
                business_plan: Some(submitted.clone()),
                update_mask: mask(&["state"]),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["update_mask"]);
    let rejected = f
        .client
        .review_business_plan(authorized(review_plan(&submitted.etag), &officer))
        .await
        .unwrap()
        .into_inner()
        .business_plan
        .unwrap();
    assert_eq!(
        (rejected.state, rejected.review_reason.as_str()),
        (PlanState::Rejected as i32, "Chưa rõ thị trường")
    );
    for name in [format!("{}/plans/missing", p.name), "plans/x".into()] {
        let err = f
            .client
            .get_business_plan(authorized(GetBusinessPlanRequest { name: name.clone() }, &officer))
            .await
            .unwrap_err();
        assert!(matches!(err.code(), Code::NotFound | Code::InvalidArgument), "{name}");
        let err = f
            .client
            .list_support_records(authorized(
                ListSupportRecordsRequest {
                    parent: name.clone(),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap_err();
        assert!(matches!(err.code(), Code::NotFound | Code::InvalidArgument), "{name}");
    }
    let err = f
        .client
        .list_business_plans(authorized(
            ListBusinessPlansRequest {
                parent: "subjects/-".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
