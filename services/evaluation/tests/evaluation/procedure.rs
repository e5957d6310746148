//! Decision 26/2026's procedure on rounds and entries, with the registry
//! beside the evaluation service: batches and their cut-offs (Điều 5), the
//! producer's dossier and the transition of Điều 12, and the commune's report
//! within 15 working days (Điều 7.2, Mẫu 03). Every refusal is named and
//! writes nothing.

use crate::support::{procedure, world};

use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::DossierKind;
use ocop_testkit::authorized;
use ocop_testkit::flows;
use procedure::*;
use tonic::Code;
use world::*;

#[tokio::test]
async fn a_round_shows_its_batch_cut_off_and_deadline_and_is_decided_within_them() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let national = w.env.token("national_officer", None, None);
    let second = w
        .create_round(round(RoundLevel::Province, 2, (2026, 11, 20)), &officer)
        .await
        .unwrap();
    assert_eq!(
        (second.proposed_before, second.decided_before),
        (Some(day(2026, 10, 30)), Some(day(2026, 12, 30)))
    );
    let central = w
        .create_round(round(RoundLevel::Central, 1, (2026, 9, 15)), &national)
        .await
        .unwrap();
    assert_eq!(
        (central.proposed_before, central.decided_before),
        (Some(day(2026, 7, 30)), Some(day(2026, 9, 30)))
    );
    let extra = w
        .create_round(round(RoundLevel::Province, 3, (2026, 7, 10)), &officer)
        .await
        .unwrap();
    assert_eq!(
        (
            extra.proposed_before,
            extra.decided_before,
            extra.batch_basis.is_empty()
        ),
        (Some(day(2026, 7, 10)), None, false),
        "an additional batch takes what was proposed before its decision"
    );
    let before = w
        .create_round(round(RoundLevel::Province, 1, (2025, 9, 1)), &officer)
        .await
        .unwrap();
    assert_eq!(
        (before.proposed_before, before.decided_before),
        (None, None),
        "1489 had no batches"
    );

    let written = w.written().await;
    let cases = [
        (
            "batch 1 decided after 30/6",
            round(RoundLevel::Province, 1, (2026, 7, 1)),
            "evaluation_round.decision_date",
        ),
        (
            "central batch 2 decided after 30/3",
            round(RoundLevel::Central, 2, (2027, 4, 2)),
            "evaluation_round.decision_date",
        ),
        (
            "an additional batch without its basis",
            EvaluationRound {
                batch_basis: String::new(),
                ..round(RoundLevel::Province, 4, (2026, 8, 1))
            },
            "evaluation_round.batch_basis",
        ),
        (
            "a statutory batch naming a basis",
            EvaluationRound {
                batch_basis: "Quyết định 45/QĐ-UBND".into(),
                ..round(RoundLevel::Province, 1, (2027, 6, 1))
            },
            "evaluation_round.batch_basis",
        ),
    ];
    for (what, bad, field) in cases {
        let token = if bad.level() == RoundLevel::Central {
            &national
        } else {
            &officer
        };
        let err = w.create_round(bad, token).await.unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()]),
            "{what}: {}",
            err.message()
        );
    }
    let err = w
        .create_round(round(RoundLevel::Province, 1, (2026, 7, 1)), &officer)
        .await
        .unwrap_err();
    assert!(
        err.message()
            .contains("batch 1 of 2026 (communes' proposals before 2026-04-30, decided before 2026-06-30)"),
        "{}",
        err.message()
    );
    assert_eq!(w.written().await, written, "a refused round writes nothing");
}

#[tokio::test]
async fn an_entry_whose_dossier_came_after_the_cut_off_is_refused_with_the_batch_it_belongs_to() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, other) = w.product("14797", "2801234568", "rau-cu-qua-hat-tuoi", &officer).await;
    // Received on Monday 2026-05-25, after batch 1's cut-off (30/4).
    let dossier = w.file(&product, DossierKind::FirstRating, (2026, 5, 25), None).await;
    let late = w.file(&product, DossierKind::FirstRating, (2026, 11, 25), None).await;
    let first = w.open(round(RoundLevel::Province, 1, (2026, 6, 20)), &officer).await;
    let second = w.open(round(RoundLevel::Province, 2, (2026, 11, 20)), &officer).await;
    let written = w.written().await;

    let err = w.enter_with(&first.name, &product, &dossier.name).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ENTRY_AFTER_CUT_OFF")
    );
    assert!(
        err.message().contains(
            "received by its commune on 2026-05-25: batch 1 of 2026 (communes' proposals before 2026-04-30, decided \
             before 2026-06-30) takes proposals before 2026-04-30"
        ),
        "{}",
        err.message()
    );
    assert!(
        err.message()
            .contains("it belongs to batch 2 of 2026 (communes' proposals before 2026-10-30"),
        "{}",
        err.message()
    );
    assert_eq!(
        (metadata(&err, "belongs_to_year"), metadata(&err, "belongs_to_batch")),
        ("2026".into(), "2".into())
    );
    for (what, dossier, code, why, field) in [
        (
            "another product's dossier",
            format!("{}/dossiers/x", other.name),
            Code::InvalidArgument,
            "INVALID_FIELD",
            "entry.product_dossier",
        ),
        (
            "no such dossier",
            format!("{}/dossiers/none", product.name),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
            "",
        ),
        (
            "a dossier received after the round's decision",
            late.name.clone(),
            Code::FailedPrecondition,
            "DOSSIER_AFTER_ROUND",
            "",
        ),
    ] {
        let err = w.enter_with(&second.name, &product, &dossier).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        assert_eq!(reason(&err), why, "{what}");
        if !field.is_empty() {
            assert_eq!(fields(&err), vec![field.to_string()], "{what}");
        }
    }
    assert_eq!(w.written().await, written, "a refused entry writes nothing");

    let entry = w.enter_with(&second.name, &product, &dossier.name).await.unwrap();
    assert_eq!(
        (
            entry.product_dossier.as_str(),
            entry.dossier_kind(),
            entry.regime.as_str(),
            entry.commune_step(),
            entry.criteria_set.as_str(),
        ),
        (
            dossier.name.as_str(),
            DossierKind::FirstRating,
            "26/2026",
            CommuneStep::Report,
            "criteriaSets/2026-rau-cu-qua-hat-tuoi-v1"
        )
    );
    assert_eq!(entry.dossier_submitted, Some(day(2026, 5, 25)));
    assert_eq!(
        entry.commune_report_due,
        Some(day(2026, 6, 15)),
        "15 working days after Monday 25/5"
    );
    assert!(entry.commune_report_overdue, "no report, and 2026-06-15 is past");
}

#[tokio::test]
async fn the_commune_reports_within_15_working_days_and_the_province_sees_what_is_overdue() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let mut products = Vec::new();
    for (i, commune) in ["14758", "14758", "14797"].iter().enumerate() {
        products.push(
            w.product(commune, &format!("280123456{i}"), "rau-cu-qua-hat-tuoi", &officer)
                .await
                .1,
        );
    }
    let round_2 = w.open(round(RoundLevel::Province, 2, (2026, 11, 20)), &officer).await;
    let mut entries = Vec::new();
    // Received on Monday 7/9 (due 28/9), Thursday 1/10 (due 22/10), Monday 26/10 (due 16/11).
    for (product, received) in products.iter().zip([(2026, 9, 7), (2026, 10, 1), (2026, 10, 26)]) {
        let dossier = w.file(product, DossierKind::FirstRating, received, None).await;
        entries.push(w.enter_with(&round_2.name, product, &dossier.name).await.unwrap());
    }
    let due: Vec<_> = entries.iter().map(|e| e.commune_report_due).collect();
    assert_eq!(
        due,
        vec![Some(day(2026, 9, 28)), Some(day(2026, 10, 22)), Some(day(2026, 11, 16))]
    );
    // An additional batch of 2026-12-01 with a dossier received 25/11: due 16/12, not yet overdue.
    let (_, fresh) = w.product("14758", "2801234569", "rau-cu-qua-hat-tuoi", &officer).await;
    let extra = w.open(round(RoundLevel::Province, 3, (2026, 12, 1)), &officer).await;
    let dossier = w.file(&fresh, DossierKind::FirstRating, (2026, 11, 25), None).await;
    let pending = w.enter_with(&extra.name, &fresh, &dossier.name).await.unwrap();
    assert_eq!(
        (pending.commune_report_due, pending.commune_report_overdue),
        (Some(day(2026, 12, 16)), false)
    );

    let on_time = w.report(&entries[0].name, "14758", day(2026, 9, 28)).await.unwrap();
    let report = on_time.commune_report.clone().unwrap();
    assert_eq!(
        (report.report_date, report.late, on_time.commune_report_overdue),
        (Some(day(2026, 9, 28)), false, false)
    );
    assert_eq!(report.recorded_by, "can-bo-xa");
    assert_eq!(on_time.proposed_date, Some(day(2026, 9, 28)));
    let late = w.report(&entries[1].name, "14758", day(2026, 10, 23)).await.unwrap();
    assert!(
        late.commune_report.unwrap().late && late.commune_report_overdue,
        "issued the day after its due day"
    );

    let names = |entries: Vec<Entry>| entries.into_iter().map(|e| e.name).collect::<Vec<_>>();
    let overdue = w.entries(&round_2.name, "commune_report_overdue = true").await;
    assert_eq!(names(overdue), vec![entries[1].name.clone(), entries[2].name.clone()]);
    let in_time = w.entries(&round_2.name, "commune_report_overdue = false").await;
    assert_eq!(names(in_time), vec![entries[0].name.clone()]);
    let everywhere = w
        .entries(
            "evaluationRounds/-",
            "commune_report_overdue = false AND commune_code = \"14758\"",
        )
        .await;
    assert_eq!(names(everywhere), vec![entries[0].name.clone(), pending.name.clone()]);
    let officer_token = officer.clone();
    let err = w
        .evaluation
        .list_entries(authorized(
            ListEntriesRequest {
                parent: round_2.name.clone(),
                filter: "commune_report_overdue = soon".into(),
                ..Default::default()
            },
            &officer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["filter".to_string()])
    );

    // Every refusal of RecordCommuneReport, writing nothing.
    let clerk = |w: &World, commune: &str| {
        w.env
            .signer
            .issue("can-bo-xa", "commune_officer", Some("38"), Some(commune), 600)
            .unwrap()
    };
    let request = |entry: &Entry, report: Option<CommuneReport>| RecordCommuneReportRequest {
        name: entry.name.clone(),
        commune_report: report,
    };
    let good = || Some(flows::commune_report(day(2026, 10, 28)));
    let written = w.written().await;
    let cases = [
        (
            "the province",
            request(&entries[2], good()),
            officer.clone(),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            vec![],
        ),
        (
            "another commune",
            request(&entries[2], good()),
            clerk(&w, "14758"),
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
            vec![],
        ),
        (
            "an empty report",
            request(&entries[2], Some(CommuneReport::default())),
            clerk(&w, "14797"),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec![
                "commune_report.local_materials",
                "commune_report.local_labour",
                "commune_report.idea_origin",
                "commune_report.local_identity",
                "commune_report.proposal_reference",
                "commune_report.signed_by",
                "commune_report.report_date",
            ],
        ),
        (
            "no report",
            request(&entries[2], None),
            clerk(&w, "14797"),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["commune_report"],
        ),
        (
            "a report in the future",
            request(&entries[2], Some(flows::commune_report(day(2099, 1, 1)))),
            clerk(&w, "14797"),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["commune_report.report_date"],
        ),
        (
            "a report before the dossier was received",
            request(&entries[2], Some(flows::commune_report(day(2026, 10, 23)))),
            clerk(&w, "14797"),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["commune_report.report_date"],
        ),
        (
            "a proposal after the cut-off",
            request(&entries[2], Some(flows::commune_report(day(2026, 10, 30)))),
            clerk(&w, "14797"),
            Code::FailedPrecondition,
            "ENTRY_AFTER_CUT_OFF",
            vec![],
        ),
        (
            "a second report",
            request(&entries[0], good()),
            clerk(&w, "14758"),
            Code::FailedPrecondition,
            "COMMUNE_REPORT_RECORDED",
            vec![],
        ),
        (
            "no such entry",
            RecordCommuneReportRequest {
                name: format!("{}/entries/none", round_2.name),
                commune_report: good(),
            },
            clerk(&w, "14797"),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
            vec![],
        ),
    ];
    for (what, request, token, code, why, expected) in cases {
        let err = w
            .evaluation
            .record_commune_report(authorized(request, &token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
        let expected: Vec<String> = expected.into_iter().map(String::from).collect();
        assert_eq!(fields(&err), expected, "{what}");
    }
    let err = w
        .evaluation
        .record_commune_report(authorized(
            request(&entries[2], Some(flows::commune_report(day(2026, 10, 30)))),
            &clerk(&w, "14797"),
        ))
        .await
        .unwrap_err();
    assert!(
        err.message().contains("it belongs to batch 1 of 2027"),
        "{}",
        err.message()
    );
    // Under 26/2026 the report replaces the 4 criteria.
    let err = w.assess(&entries[2].name, "14797").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "WRONG_COMMUNE_STEP")
    );
    assert!(err.message().contains("RecordCommuneReport"), "{}", err.message());
    assert_eq!(w.written().await, written, "every refusal wrote nothing");
    let unchanged = w.entries(&round_2.name, "").await;
    assert!(unchanged[2].commune_report.is_none());

    // The province scores only a reported entry.
    let scoring = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round_2.name.clone(),
                etag: round_2.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let set = w.pinned_set(&entries[2]).await;
    let err = w
        .evaluation
        .save_score_sheet(authorized(
            SaveScoreSheetRequest {
                entry: entries[2].name.clone(),
                answers: full_answers(&set),
                etag: String::new(),
            },
            &w.member("chu-tich"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "COMMUNE_REPORT_MISSING")
    );
    w.report(&entries[2].name, "14797", day(2026, 10, 29)).await.unwrap();
    let sheet = w.draft(&entries[2].name, "chu-tich", &full_answers(&set)).await;
    assert_eq!(sheet.state(), SheetState::Draft);
    assert_eq!(scoring.state(), RoundState::Scoring);
}

#[tokio::test]
async fn a_dossier_filed_before_26_2026_is_rated_under_148_until_its_transition_deadline_and_refused_after() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let first = w.file(&product, DossierKind::FirstRating, (2026, 5, 10), None).await;
    let renewal = w.file(&product, DossierKind::ReRating, (2026, 5, 10), None).await;
    let on_deadline = w.open(round(RoundLevel::Province, 2, (2026, 7, 20)), &officer).await;
    let after = w.open(round(RoundLevel::Province, 3, (2026, 7, 21)), &officer).await;
    let renewal_deadline = w.open(round(RoundLevel::Province, 4, (2026, 6, 20)), &officer).await;

    let written = w.written().await;
    for (round, dossier, deadline) in [(&after, &first, "2026-07-20"), (&on_deadline, &renewal, "2026-06-20")] {
        let err = w.enter_with(&round.name, &product, &dossier.name).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::FailedPrecondition, "TRANSITION_EXPIRED"),
            "{}",
            err.message()
        );
        assert!(err.message().contains(deadline), "{}", err.message());
        assert!(err.message().contains("2026-05-10"), "{}", err.message());
        assert_eq!(metadata(&err, "deadline"), deadline);
    }
    assert_eq!(w.written().await, written, "a refused entry writes nothing");

    let renewed = w
        .enter_with(&renewal_deadline.name, &product, &renewal.name)
        .await
        .unwrap();
    assert_eq!(
        (renewed.regime.as_str(), renewed.dossier_kind()),
        ("148/1489", DossierKind::ReRating)
    );
    // Rated on 2026-07-20 under the 2021–2025 rules: the 148 sheet, the commune's 4 criteria.
    let entry = w.enter_with(&on_deadline.name, &product, &first.name).await.unwrap();
    assert_eq!(
        (entry.regime.as_str(), entry.commune_step(), entry.criteria_set.as_str()),
        (
            "148/1489",
            CommuneStep::FourCriteria,
            "criteriaSets/148-rau-cu-qua-hat-tuoi-v1"
        )
    );
    assert_eq!((entry.product_code.as_str(), entry.commune_report_due), ("", None));
    let err = w.report(&entry.name, "14758", day(2026, 6, 1)).await.unwrap_err();
    assert_eq!(reason(&err), "WRONG_COMMUNE_STEP");
    w.assess(&entry.name, "14758").await.unwrap();
    // Without a dossier, nothing shows when it was filed: the rules of the day.
    let (_, paper) = w.product("14797", "2801234568", "rau-cu-qua-hat-tuoi", &officer).await;
    let today = w.enter_with(&on_deadline.name, &paper, "").await.unwrap();
    assert_eq!(
        (today.regime.as_str(), today.commune_step()),
        ("26/2026", CommuneStep::Report)
    );
    w.report(&today.name, "14797", day(2026, 7, 1)).await.unwrap();

    let evaluated = {
        let scoring = w
            .evaluation
            .start_scoring(authorized(
                StartScoringRequest {
                    name: on_deadline.name.clone(),
                    etag: on_deadline.etag.clone(),
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .evaluation_round
            .unwrap();
        for e in [&entry, &today] {
            let answers = flows::answers_for(&w.pinned_set(e).await, 4);
            for user in ["chu-tich", "uy-vien-1", "thu-ky"] {
                let sheet = w.draft(&e.name, user, &answers).await;
                w.submit(&sheet, user, "").await.unwrap();
            }
        }
        w.evaluation
            .publish_evaluation_round(authorized(
                PublishEvaluationRoundRequest {
                    name: on_deadline.name.clone(),
                    etag: scoring.etag,
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let result = evaluated.results.iter().find(|r| r.product == product.name).unwrap();
    assert_eq!(
        (
            result.regime.as_str(),
            result.criteria_set.as_str(),
            result.product_dossier.as_str()
        ),
        (
            "148/1489",
            "criteriaSets/148-rau-cu-qua-hat-tuoi-v1",
            first.name.as_str()
        )
    );
    assert_eq!(result.decision_date, Some(day(2026, 7, 20)));
    assert!(result.certifiable, "{:?}", result.reasons);
}

#[tokio::test]
async fn the_commune_cannot_report_once_its_round_is_cancelled_or_published() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let mut products = Vec::new();
    for i in 0..2 {
        products.push(
            w.product("14758", &format!("280765432{i}"), "rau-cu-qua-hat-tuoi", &officer)
                .await
                .1,
        );
    }
    let cancelled = w.open(round(RoundLevel::Province, 2, (2026, 11, 20)), &officer).await;
    let published = w.open(round(RoundLevel::Province, 3, (2026, 12, 1)), &officer).await;
    let dossier = w.file(&products[0], DossierKind::FirstRating, (2026, 9, 7), None).await;
    let unreported = w
        .enter_with(&cancelled.name, &products[0], &dossier.name)
        .await
        .unwrap();
    let dossier = w.file(&products[1], DossierKind::FirstRating, (2026, 9, 7), None).await;
    let reported = w
        .enter_with(&published.name, &products[1], &dossier.name)
        .await
        .unwrap();

    let cancelled = w
        .evaluation
        .cancel_evaluation_round(authorized(
            CancelEvaluationRoundRequest {
                name: cancelled.name.clone(),
                etag: cancelled.etag.clone(),
                reason: "Hội đồng không đủ thành viên".into(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    assert_eq!(cancelled.state(), RoundState::Cancelled);

    // The second round runs to its results: reported, scored, published.
    w.report(&reported.name, "14758", day(2026, 9, 28)).await.unwrap();
    let scoring = w
        .evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: published.name.clone(),
                etag: published.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let set = w.pinned_set(&reported).await;
    for user in ["chu-tich", "uy-vien-1", "thu-ky"] {
        let sheet = w.draft(&reported.name, user, &full_answers(&set)).await;
        w.submit(&sheet, user, "").await.unwrap();
    }
    w.evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: scoring.name.clone(),
                etag: scoring.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap();

    let written = w.written().await;
    let before = (
        w.entries(&cancelled.name, "").await,
        w.entries(&published.name, "").await,
    );
    // A published round's entry already has its report: the round's state is
    // what refuses it, before the report is looked at.
    for (entry, state) in [(&unreported, "cancelled"), (&reported, "published")] {
        let err = w.report(&entry.name, "14758", day(2026, 10, 1)).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::FailedPrecondition, "WRONG_ROUND_STATE"),
            "{state}: {}",
            err.message()
        );
        assert!(
            err.message().contains(&format!("is {state}")) && err.message().contains("while it is open or scoring"),
            "{}",
            err.message()
        );
    }
    assert_eq!(w.written().await, written, "a refused report writes nothing");
    let after = (
        w.entries(&cancelled.name, "").await,
        w.entries(&published.name, "").await,
    );
    assert_eq!(after, before, "nor changes an entry");
    assert!(after.0[0].commune_report.is_none());
}
