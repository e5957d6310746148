//! Rounds and entries, with the registry running beside the evaluation
//! service: the entry check goes over gRPC with the caller's token.

use crate::support::world;

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::{Subject, SubjectState, UpdateSubjectRequest};
use ocop_testkit::authorized;
use tonic::Code;
use world::*;

/// Moves `product` and its producer to Phường Ba Đình, Hà Nội (01), behind
/// the registry's back (before anything read it, so nothing is cached).
async fn move_to_hanoi(w: &World, product: &ocop_proto::registry::v1::Product) {
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let subject = product
        .name
        .split("/products/")
        .next()
        .unwrap()
        .trim_start_matches("subjects/");
    for sql in [
        "UPDATE registry.subjects SET commune_code = '00004', province_code = '01' WHERE id = $1",
        "UPDATE registry.products SET origin_commune_code = '00004', province_code = '01' WHERE subject_id = $1",
    ] {
        sqlx::query(sql).bind(subject).execute(&db).await.unwrap();
    }
    db.close().await;
}

#[tokio::test]
async fn a_province_round_takes_entries_checked_with_the_registry() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, vegetables) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, honey) = w
        .product(
            "14797",
            "2801234568",
            "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
            &officer,
        )
        .await;
    // This deployment registers no product of Hà Nội (01): one left from
    // before it owned exactly its province, moved there in the database.
    let (_, hanoi) = w.product("14758", "0101234567", "rau-cu-qua-hat-tuoi", &officer).await;
    move_to_hanoi(&w, &hanoi).await;

    let round = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    assert_eq!(
        (round.name.as_str(), round.state, round.criteria_decision.as_str()),
        ("evaluationRounds/38-province-2026-1", RoundState::Draft as i32, "2026")
    );
    let err = w.enter(&round.name, &vegetables.name).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ROUND_NOT_OPEN")
    );
    let open = w
        .evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    assert_eq!(open.state, RoundState::Open as i32);

    let entry = w.enter(&round.name, &vegetables.name).await.unwrap();
    assert_eq!(entry.criteria_set, "criteriaSets/2026-rau-cu-qua-hat-tuoi-v1");
    assert_eq!(entry.province_code, "38");
    assert_eq!(entry.dossier.len(), 16);
    assert!(entry.dossier.iter().all(|d| d.status == DocumentStatus::Missing as i32));
    assert_eq!(entry.dossier.iter().filter(|d| d.mandatory).count(), 5);
    let item = |document: &str, status: DocumentStatus, note: &str| UpdateDossierItemRequest {
        entry: entry.name.clone(),
        document: document.into(),
        status: status as i32,
        note: note.into(),
    };
    let checked = w
        .evaluation
        .update_dossier_item(authorized(
            item("business_plan", DocumentStatus::Accepted, ""),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    let plan = checked.dossier.iter().find(|d| d.document == "business_plan").unwrap();
    assert_eq!((plan.status, plan.mandatory), (DocumentStatus::Accepted as i32, true));
    for (request, field) in [
        (item("test_results", DocumentStatus::Rejected, ""), "note"),
        (item("horoscope", DocumentStatus::Submitted, ""), "document"),
        (item("awards", DocumentStatus::Unspecified, ""), "status"),
    ] {
        let err = w
            .evaluation
            .update_dossier_item(authorized(request, &officer))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()])
        );
    }
    let outsider = w.env.token("province_officer", Some("01"), None);
    let err = w
        .evaluation
        .update_dossier_item(authorized(item("awards", DocumentStatus::Submitted, ""), &outsider))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let set = w
        .evaluation
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entry.criteria_set.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    assert!(set.used, "an entry pins its set for good");

    let err = w.enter(&round.name, &vegetables.name).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::AlreadyExists, "ALREADY_ENTERED")
    );
    // Honey registered under 1048's set is scored on 26/2026's (tests/evaluation/decision_2026.rs
    // enters every earlier set and the refused ones).
    let err = w.enter(&round.name, &hanoi.name).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "OUTSIDE_ROUND_JURISDICTION")
    );
    let err = w
        .enter(&round.name, "subjects/nobody/products/nothing")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w.enter(&round.name, "products/x").await.unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["entry.product".to_string()])
    );
    let err = w
        .enter("evaluationRounds/38-province-2026-9", &vegetables.name)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A suspended producer's product cannot enter.
    let (suspended, pickles) = w.product("14758", "2801234569", "rau-cu-qua-hat-tuoi", &officer).await;
    w.registry
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(Subject {
                    state: SubjectState::Suspended as i32,
                    ..suspended
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["state".into()],
                }),
            },
            &officer,
        ))
        .await
        .unwrap();
    let err = w.enter(&round.name, &pickles.name).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SUBJECT_NOT_ACTIVE")
    );

    let listed = w
        .evaluation
        .list_entries(authorized(
            ListEntriesRequest {
                parent: round.name.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.entries, vec![checked], "as last updated");

    // Under 1048 (a 2022 round), the honey sheet exists.
    let old = w
        .create_round(province_round(2022, 1, full_council()), &officer)
        .await
        .unwrap();
    assert_eq!(old.criteria_decision, "1048");
    w.evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: old.name.clone(),
                etag: old.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let entry = w.enter(&old.name, &honey.name).await.unwrap();
    assert_eq!(
        entry.criteria_set,
        "criteriaSets/1048-mat-ong-cac-san-pham-tu-mat-ong-mat-khac-v1"
    );
}

#[tokio::test]
async fn rounds_follow_the_rules_of_their_level_and_date() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let err = w.create_round(EvaluationRound::default(), &officer).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // The province is checked against the level, once the level is known.
    assert_eq!(
        fields(&err),
        vec![
            "evaluation_round.level",
            "evaluation_round.decision_date",
            "evaluation_round.batch"
        ]
    );
    let mut wrong_year = province_round(2026, 1, vec![]);
    wrong_year.year = 2025;
    let err = w.create_round(wrong_year, &officer).await.unwrap_err();
    assert_eq!(fields(&err), vec!["evaluation_round.year"]);
    let err = w
        .create_round(
            province_round(
                2026,
                1,
                vec![
                    seat("a", CouncilRole::Chair),
                    seat("b", CouncilRole::Chair),
                    seat("a", CouncilRole::Member),
                ],
            ),
            &officer,
        )
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        vec!["evaluation_round.council[2].user", "evaluation_round.council"]
    );

    let district = EvaluationRound {
        level: RoundLevel::District as i32,
        ..province_round(2026, 1, vec![])
    };
    let err = w.create_round(district.clone(), &officer).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_DISTRICTS")
    );
    let district_2024 = EvaluationRound {
        year: 2024,
        decision_date: Some(Date {
            year: 2024,
            month: 3,
            day: 1,
        }),
        ..district
    };
    assert_eq!(
        w.create_round(district_2024, &officer).await.unwrap().criteria_decision,
        "148"
    );
    let commune = EvaluationRound {
        level: RoundLevel::CommuneAssessment as i32,
        year: 2024,
        decision_date: Some(Date {
            year: 2024,
            month: 3,
            day: 1,
        }),
        ..province_round(2024, 1, vec![])
    };
    let err = w.create_round(commune, &officer).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_COMMUNE_ASSESSMENT")
    );

    let central = EvaluationRound {
        level: RoundLevel::Central as i32,
        province_code: String::new(),
        ..province_round(2026, 1, vec![])
    };
    let err = w.create_round(central.clone(), &officer).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "central rounds belong to the ministry"
    );
    let national = w.env.token("national_officer", None, None);
    assert_eq!(
        w.create_round(central.clone(), &national).await.unwrap().name,
        "evaluationRounds/tw-central-2026-1"
    );
    let err = w
        .create_round(
            EvaluationRound {
                province_code: "38".into(),
                ..central
            },
            &national,
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["evaluation_round.province_code"]);

    let hanoi = w.env.token("province_officer", Some("01"), None);
    let err = w
        .create_round(province_round(2026, 1, vec![]), &hanoi)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    let council = w.env.token("council_member", Some("38"), None);
    let err = w
        .create_round(province_round(2026, 1, vec![]), &council)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let small = w
        .create_round(
            province_round(2026, 1, vec![seat("chu-tich", CouncilRole::Chair)]),
            &officer,
        )
        .await
        .unwrap();
    let err = w
        .create_round(province_round(2026, 1, vec![]), &officer)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let open = |etag: &str| OpenEvaluationRoundRequest {
        name: small.name.clone(),
        etag: etag.into(),
    };
    let err = w
        .evaluation
        .open_evaluation_round(authorized(open(&small.etag), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "COUNCIL_INCOMPLETE")
    );
    let err = w
        .evaluation
        .open_evaluation_round(authorized(open("v9"), &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let err = w
        .evaluation
        .open_evaluation_round(authorized(open(""), &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let list = |filter: &str| ListEvaluationRoundsRequest {
        filter: filter.into(),
        ..Default::default()
    };
    let rounds = w
        .evaluation
        .list_evaluation_rounds(authorized(list("province_code = 38 AND year = 2026"), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rounds.evaluation_rounds.len(), 1);
    for bad in ["level = village", "year = soon", "state = lost", "colour = red"] {
        let err = w
            .evaluation
            .list_evaluation_rounds(authorized(list(bad), &officer))
            .await
            .unwrap_err();
        assert_eq!(fields(&err), vec!["filter"], "{bad}");
    }
    let err = w
        .evaluation
        .get_evaluation_round(authorized(
            GetEvaluationRoundRequest {
                name: "rounds/x".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = w
        .evaluation
        .get_evaluation_round(authorized(
            GetEvaluationRoundRequest {
                name: "evaluationRounds/none".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .evaluation
        .list_entries(authorized(
            ListEntriesRequest {
                parent: "evaluationRounds/none".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// A complete set of answers for `set`: the best option of each single-choice
/// criterion, the first option of each additive one.

#[tokio::test]
async fn members_score_their_own_sheets_on_the_pinned_set() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, vegetables) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    // Under Decision 1489 (from 2025-07-06), whose commune assesses 4 criteria.
    let round = EvaluationRound {
        decision_date: Some(Date {
            year: 2025,
            month: 9,
            day: 1,
        }),
        ..province_round(2025, 1, full_council())
    };
    let round = w.create_round(round, &officer).await.unwrap();
    let err = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "WRONG_ROUND_STATE");
    let open = w
        .evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let err = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: open.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_ENTRIES")
    );
    let entry = w.enter(&round.name, &vegetables.name).await.unwrap();

    let chair = w
        .env
        .signer
        .issue("chu-tich", "council_member", Some("38"), None, 600)
        .unwrap();
    let member = w
        .env
        .signer
        .issue("uy-vien-1", "council_member", Some("38"), None, 600)
        .unwrap();
    let stranger = w
        .env
        .signer
        .issue("nguoi-la", "council_member", Some("38"), None, 600)
        .unwrap();
    let save = |answers: Vec<Answer>, etag: &str| SaveScoreSheetRequest {
        entry: entry.name.clone(),
        answers,
        etag: etag.into(),
    };
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(vec![], ""), &chair))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ROUND_NOT_SCORING"),
        "no sheets while entries are open"
    );
    w.evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: open.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap();

    let set = w
        .evaluation
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entry.criteria_set.clone(),
            },
            &chair,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    let answers = full_answers(&set);
    // From 2025-07-06 the commune assesses before the province scores.
    let early = save(answers[..3].to_vec(), "");
    let err = w
        .evaluation
        .save_score_sheet(authorized(early, &chair))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "COMMUNE_ASSESSMENT_MISSING")
    );
    let err = w.assess(&entry.name, "14797").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION"),
        "another commune's officer"
    );
    let clerk = w
        .env
        .signer
        .issue("can-bo-xa", "commune_officer", Some("38"), Some("14758"), 600)
        .unwrap();
    let empty = RecordCommuneAssessmentRequest {
        name: entry.name.clone(),
        commune_assessment: Some(CommuneAssessment::default()),
    };
    let err = w
        .evaluation
        .record_commune_assessment(authorized(empty, &clerk))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["commune_assessment.report"]);
    let by_province = RecordCommuneAssessmentRequest {
        name: entry.name.clone(),
        commune_assessment: None,
    };
    let err = w
        .evaluation
        .record_commune_assessment(authorized(by_province, &officer))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "the province does not record the commune's assessment"
    );
    let assessed = w.assess(&entry.name, "14758").await.unwrap();
    assert!(assessed.commune_assessment.unwrap().local_origin);
    let draft = w
        .evaluation
        .save_score_sheet(authorized(save(answers[..3].to_vec(), ""), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(
        (draft.state, draft.criteria_set.as_str()),
        (SheetState::Draft as i32, entry.criteria_set.as_str())
    );
    assert!(draft.total > 0);

    // Unhappy paths: another set's criterion, two options for one choice, stale etag, strangers.
    let foreign = vec![Answer {
        criterion: "9.9".into(),
        options: vec![0],
    }];
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(foreign, &draft.etag), &chair))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["answers[0].criterion".to_string()])
    );
    let single = set.parts[0].sections[0]
        .criteria
        .iter()
        .find(|c| c.scoring == Scoring::SingleChoice as i32)
        .unwrap();
    let two = vec![Answer {
        criterion: single.code.clone(),
        options: vec![0, 1],
    }];
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(two, &draft.etag), &chair))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["answers[0].options"]);
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(answers.clone(), "v9"), &chair))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(answers.clone(), ""), &stranger))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "NOT_ON_COUNCIL")
    );
    let err = w
        .evaluation
        .save_score_sheet(authorized(
            SaveScoreSheetRequest {
                entry: "entries/x".into(),
                ..Default::default()
            },
            &chair,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["entry"]);

    // Submitting needs every criterion; then the sheet is locked.
    let submit = |name: &str, etag: &str| SubmitScoreSheetRequest {
        name: name.into(),
        etag: etag.into(),
        ..Default::default()
    };
    let err = w
        .evaluation
        .submit_score_sheet(authorized(submit(&draft.name, &draft.etag), &chair))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SHEET_INCOMPLETE")
    );
    let full = w
        .evaluation
        .save_score_sheet(authorized(save(answers.clone(), &draft.etag), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    let err = w
        .evaluation
        .submit_score_sheet(authorized(submit(&full.name, &full.etag), &member))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "SHEET_NOT_YOURS")
    );
    let submitted = w
        .evaluation
        .submit_score_sheet(authorized(submit(&full.name, &full.etag), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(submitted.state, SheetState::Submitted as i32);
    assert!(submitted.submit_time.is_some());
    let err = w
        .evaluation
        .save_score_sheet(authorized(save(answers.clone(), &submitted.etag), &chair))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SHEET_SUBMITTED")
    );
    let err = w
        .evaluation
        .submit_score_sheet(authorized(submit(&full.name, &submitted.etag), &chair))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SHEET_SUBMITTED");

    // A member sees only their own sheets before publication.
    let own = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: full.name.clone(),
            },
            &chair,
        ))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(own, submitted);
    let err = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: full.name.clone(),
            },
            &member,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "SHEET_NOT_YOURS")
    );
    let err = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: format!("{}/scoreSheets/uy-vien-1", entry.name),
            },
            &member,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: "scoreSheets/x".into(),
            },
            &member,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn publishing_needs_a_quorum_and_gives_every_result_at_once() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, first) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, second) = w.product("14797", "2801234568", "rau-cu-qua-hat-tuoi", &officer).await;
    let round = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    let open = w
        .evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let e1 = w.enter(&round.name, &first.name).await.unwrap();
    let e2 = w.enter(&round.name, &second.name).await.unwrap();
    let scoring = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: open.etag,
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();

    w.commune_step(&round, &e1, "14758").await;
    w.commune_step(&round, &e2, "14797").await;
    let reason_text = "1.1: nguyên liệu không rõ nguồn gốc";
    let knock = DisqualifyEntryRequest {
        name: e2.name.clone(),
        reason: reason_text.into(),
    };
    let knocked = w
        .evaluation
        .disqualify_entry(authorized(knock, &officer))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(knocked.disqualifications, vec![reason_text.to_string()]);
    let blank = DisqualifyEntryRequest {
        name: e2.name.clone(),
        reason: " ".into(),
    };
    let err = w
        .evaluation
        .disqualify_entry(authorized(blank, &officer))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["reason"]);
    let stranger = w.env.token("province_officer", Some("01"), None);
    let other = DisqualifyEntryRequest {
        name: e2.name.clone(),
        reason: "x".into(),
    };
    let err = w
        .evaluation
        .disqualify_entry(authorized(other, &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let missing = DisqualifyEntryRequest {
        name: format!("{}/entries/none", round.name),
        reason: "x".into(),
    };
    let err = w
        .evaluation
        .disqualify_entry(authorized(missing, &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let set = w
        .evaluation
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: e1.criteria_set.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    let answers = full_answers(&set);
    let token = |user: &str| {
        w.env
            .signer
            .issue(user, "council_member", Some("38"), None, 600)
            .unwrap()
    };
    let (chair, member) = (token("chu-tich"), token("uy-vien-1"));
    for (who, entry) in [(&chair, &e1), (&chair, &e2), (&member, &e1)] {
        let draft = w
            .evaluation
            .save_score_sheet(authorized(
                SaveScoreSheetRequest {
                    entry: entry.name.clone(),
                    answers: answers.clone(),
                    etag: String::new(),
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .score_sheet
            .unwrap();
        w.evaluation
            .submit_score_sheet(authorized(
                SubmitScoreSheetRequest {
                    name: draft.name,
                    etag: draft.etag,
                    ..Default::default()
                },
                who,
            ))
            .await
            .unwrap();
    }
    let publish = |etag: &str| PublishEvaluationRoundRequest {
        name: round.name.clone(),
        etag: etag.into(),
    };
    let err = w
        .evaluation
        .publish_evaluation_round(authorized(publish(&scoring.etag), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "QUORUM_NOT_MET")
    );
    assert!(
        err.message().contains(&second.name) && err.message().contains("uy-vien-1, thu-ky"),
        "{}",
        err.message()
    );
    let council = token("thu-ky");
    let err = w
        .evaluation
        .publish_evaluation_round(authorized(publish(&scoring.etag), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "members do not publish");

    let draft = w
        .evaluation
        .save_score_sheet(authorized(
            SaveScoreSheetRequest {
                entry: e2.name.clone(),
                answers: answers.clone(),
                etag: String::new(),
            },
            &member,
        ))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    w.evaluation
        .submit_score_sheet(authorized(
            SubmitScoreSheetRequest {
                name: draft.name,
                etag: draft.etag,
                ..Default::default()
            },
            &member,
        ))
        .await
        .unwrap();
    let published = w
        .evaluation
        .publish_evaluation_round(authorized(publish(&scoring.etag), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.evaluation_round.unwrap().state, RoundState::Published as i32);
    assert_eq!(published.results.len(), 2);
    let result = &published.results[0];
    assert!(result.mean >= 90.0, "best answers: {result:?}");
    assert_eq!(
        (result.band_stars, result.stars, result.recognised_stars),
        (5, 5, 4),
        "{:?}",
        result.reasons
    );
    assert!(result.certifiable && result.nominated && !result.rescore);
    assert_eq!(result.sheets, 2);

    let name = format!("{}/result", e1.name);
    let got = w
        .evaluation
        .get_result(authorized(GetResultRequest { name: name.clone() }, &officer))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(got.mean, result.mean);
    let again = w
        .evaluation
        .recompute_result(authorized(RecomputeResultRequest { name: name.clone() }, &officer))
        .await
        .unwrap()
        .into_inner();
    assert!(
        again.identical,
        "recomputed from the stored sheets and pinned set: {:?} vs {:?}",
        again.result, got
    );
    let four = w
        .evaluation
        .list_results(authorized(
            ListResultsRequest {
                parent: round.name.clone(),
                filter: "stars = 4 AND certifiable = true".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(four.results.len(), 1, "the disqualified entry is not certifiable");
    let knocked_out = w
        .evaluation
        .get_result(authorized(
            GetResultRequest {
                name: format!("{}/result", e2.name),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert!(!knocked_out.certifiable && !knocked_out.nominated);
    assert!(knocked_out.reasons.iter().any(|r| r.starts_with("disqualified: 1.1")));
    let nominations = w
        .evaluation
        .list_nominations(authorized(
            ListNominationsRequest {
                filter: "province_code = 38".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nominations.results.len(), 1, "the disqualified entry is not nominated");

    // After publication: sheets are final and visible to the council.
    let err = w
        .evaluation
        .save_score_sheet(authorized(
            SaveScoreSheetRequest {
                entry: e1.name.clone(),
                answers,
                etag: String::new(),
            },
            &council,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "ROUND_NOT_SCORING");
    assert!(err.message().contains("published"));
    let other = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: format!("{}/scoreSheets/chu-tich", e1.name),
            },
            &member,
        ))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(other.state, SheetState::Submitted as i32);
    let err = w
        .evaluation
        .publish_evaluation_round(authorized(publish("v9"), &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);

    // Unhappy paths of the result reads.
    let err = w
        .evaluation
        .get_result(authorized(
            GetResultRequest {
                name: format!("{}/entries/none/result", round.name),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .evaluation
        .get_result(authorized(
            GetResultRequest {
                name: "results/x".into(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["name"]);
    for filter in ["stars = 9", "certifiable = maybe", "colour = red"] {
        let err = w
            .evaluation
            .list_results(authorized(
                ListResultsRequest {
                    parent: "evaluationRounds/-".into(),
                    filter: filter.into(),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(fields(&err), vec!["filter"], "{filter}");
    }
    let err = w
        .evaluation
        .list_nominations(authorized(
            ListNominationsRequest {
                filter: "stars = 5".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["filter"]);
    let err = w
        .evaluation
        .recompute_result(authorized(
            RecomputeResultRequest {
                name: format!("{}/entries/none/result", round.name),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn the_quorum_is_the_deployments_to_set() {
    let mut w = world_with(|config| config.evaluation.quorum = "3/3".into()).await;
    let officer = w.officer.clone();
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let round = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    let open = w
        .evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let entry = w.enter(&round.name, &product.name).await.unwrap();
    let scoring = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: open.etag,
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    w.commune_step(&round, &entry, "14758").await;
    let set = w
        .evaluation
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entry.criteria_set.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    for user in ["chu-tich", "uy-vien-1"] {
        let token = w
            .env
            .signer
            .issue(user, "council_member", Some("38"), None, 600)
            .unwrap();
        let draft = w
            .evaluation
            .save_score_sheet(authorized(
                SaveScoreSheetRequest {
                    entry: entry.name.clone(),
                    answers: full_answers(&set),
                    etag: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .score_sheet
            .unwrap();
        w.evaluation
            .submit_score_sheet(authorized(
                SubmitScoreSheetRequest {
                    name: draft.name,
                    etag: draft.etag,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap();
    }
    // 2 of 3 is the default quorum, but this deployment asks for all 3.
    let err = w
        .evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name.clone(),
                etag: scoring.etag,
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "QUORUM_NOT_MET");
    assert!(
        err.message()
            .contains("2 of 3 sheets needed; not yet submitted by thu-ky"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_deployment_runs_rounds_of_its_own_province_only() {
    // Thanh Hóa's deployment (38), whatever the token says.
    let mut w = world().await;
    let phu_tho = w.env.token("province_officer", Some("25"), None);
    let officer = w.officer.clone();
    let round = EvaluationRound {
        province_code: "25".into(),
        ..province_round(2026, 1, full_council())
    };
    for (token, who) in [(&phu_tho, "Phú Thọ's officer"), (&officer, "Thanh Hóa's officer")] {
        let err = w.create_round(round.clone(), token).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "OUTSIDE_DEPLOYMENT"),
            "{who}: {}",
            err.message()
        );
        assert!(
            err.message().contains("this deployment serves province 38"),
            "{}",
            err.message()
        );
    }
    let db = sqlx::PgPool::connect(&w.env.config.database.url).await.unwrap();
    let written: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM evaluation.rounds), (SELECT count(*) FROM evaluation.audit_events),
                (SELECT count(*) FROM evaluation.outbox)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0), "a refusal writes nothing");
    // The deployment's own rounds, and the ministry's central ones, still open.
    let own = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    assert_eq!(own.name, "evaluationRounds/38-province-2026-1");
    let national = w.env.token("national_officer", None, None);
    let central = EvaluationRound {
        level: RoundLevel::Central as i32,
        province_code: String::new(),
        ..province_round(2026, 1, full_council())
    };
    assert_eq!(
        w.create_round(central, &national).await.unwrap().name,
        "evaluationRounds/tw-central-2026-1"
    );
}
