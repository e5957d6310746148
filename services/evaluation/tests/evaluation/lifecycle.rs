//! Cancelling a round, resubmitting a sheet with the same request_id, and
//! finding published results by group and commune.

use crate::support::world;

use ocop_proto::evaluation::v1::*;
use ocop_testkit::authorized;
use tonic::Code;
use world::*;

fn cancel(name: &str, etag: &str, reason: &str) -> CancelEvaluationRoundRequest {
    CancelEvaluationRoundRequest {
        name: name.into(),
        etag: etag.into(),
        reason: reason.into(),
    }
}

#[tokio::test]
async fn a_round_is_cancelled_with_its_reason_until_it_is_published() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let draft = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    let why = "Hội đồng không đủ thành viên; tổ chức lại đợt 2";

    let cases = [
        (
            cancel(&draft.name, &draft.etag, "  "),
            officer.clone(),
            Code::InvalidArgument,
        ),
        (
            cancel(&draft.name, &draft.etag, &"x".repeat(1001)),
            officer.clone(),
            Code::InvalidArgument,
        ),
        (cancel(&draft.name, "", why), officer.clone(), Code::InvalidArgument),
        (cancel(&draft.name, "v99", why), officer.clone(), Code::Aborted),
        (
            cancel("rounds/1", &draft.etag, why),
            officer.clone(),
            Code::InvalidArgument,
        ),
        (
            cancel("evaluationRounds/none", "v1", why),
            officer.clone(),
            Code::NotFound,
        ),
        (
            cancel(&draft.name, &draft.etag, why),
            w.member("chu-tich"),
            Code::PermissionDenied,
        ),
        (
            cancel(&draft.name, &draft.etag, why),
            w.env.token("province_officer", Some("01"), None),
            Code::PermissionDenied,
        ),
    ];
    for (request, token, code) in cases {
        let err = w
            .evaluation
            .cancel_evaluation_round(authorized(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}: {err:?}");
    }
    let unchanged = w
        .evaluation
        .get_evaluation_round(authorized(
            GetEvaluationRoundRequest {
                name: draft.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    assert_eq!(unchanged, draft, "refused requests change nothing");

    let cancelled = w
        .evaluation
        .cancel_evaluation_round(authorized(cancel(&draft.name, &draft.etag, why), &officer))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    assert_eq!(cancelled.state(), RoundState::Cancelled);
    assert_eq!(cancelled.cancel_reason, why);
    assert_ne!(cancelled.etag, draft.etag);
    let err = w
        .evaluation
        .cancel_evaluation_round(authorized(cancel(&draft.name, &cancelled.etag, why), &officer))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "WRONG_ROUND_STATE")
    );
    let err = w
        .evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: draft.name.clone(),
                etag: cancelled.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "WRONG_ROUND_STATE")
    );

    // A scoring round, cancelled: its sheets are closed and it never publishes.
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (scoring, entries) = w.scoring_round(2, &[("14758", &product.name)]).await;
    let cancelled = w
        .evaluation
        .cancel_evaluation_round(authorized(cancel(&scoring.name, &scoring.etag, why), &officer))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let token = w.member("chu-tich");
    let err = w
        .evaluation
        .save_score_sheet(authorized(
            SaveScoreSheetRequest {
                entry: entries[0].name.clone(),
                answers: Vec::new(),
                etag: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "ROUND_NOT_SCORING");
    assert!(err.message().contains("cancelled"), "{}", err.message());
    let err = w
        .evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: scoring.name.clone(),
                etag: cancelled.etag,
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "WRONG_ROUND_STATE");
}

#[tokio::test]
async fn a_resubmitted_sheet_answers_as_the_first_time_and_results_are_found_by_group_and_commune() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (subject, first) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, second) = w.product("14797", "2801234568", "rau-cu-qua-hat-tuoi", &officer).await;
    let (round, entries) = w
        .scoring_round(1, &[("14758", &first.name), ("14797", &second.name)])
        .await;
    let answers = full_answers(&w.pinned_set(&entries[0]).await);

    let sheet = w.draft(&entries[0].name, "chu-tich", &answers).await;
    let request_id = "5f0c6a4e-8a43-4f1e-9d7b-0d5c3c1e2a10";
    let err = w.submit(&sheet, "chu-tich", "not-a-uuid").await.unwrap_err();
    assert_eq!(fields(&err), vec!["request_id"]);
    let submitted = w.submit(&sheet, "chu-tich", request_id).await.unwrap();
    assert_eq!(submitted.state(), SheetState::Submitted);
    let stored = w.sheet(&sheet.name, "chu-tich").await;
    assert_eq!(stored, submitted, "the answer is the sheet as stored");
    let retried = w.submit(&sheet, "chu-tich", request_id).await.unwrap();
    assert_eq!(retried, submitted, "a retry gets the first answer");
    let err = w.submit(&sheet, "chu-tich", "").await.unwrap_err();
    assert_eq!(
        reason(&err),
        "SHEET_SUBMITTED",
        "without its request_id it is a second submit"
    );
    let other = w.draft(&entries[1].name, "chu-tich", &answers).await;
    let err = w.submit(&other, "chu-tich", request_id).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "REQUEST_ID_REUSED")
    );
    let still_draft = w.sheet(&other.name, "chu-tich").await;
    assert_eq!(still_draft, other, "a refused submit changes nothing");
    w.submit(&other, "chu-tich", "").await.unwrap();
    for user in ["uy-vien-1", "thu-ky"] {
        for entry in &entries {
            let sheet = w.draft(&entry.name, user, &answers).await;
            w.submit(&sheet, user, "").await.unwrap();
        }
    }
    let published = w
        .evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    let result = published.results.iter().find(|r| r.product == first.name).unwrap();
    assert_eq!(result.subject, subject.name);
    assert_eq!(result.commune_code, "14758");
    assert_eq!(result.level(), RoundLevel::Province);
    assert_eq!(result.decision_date, round.decision_date);
    assert!(!result.group_code.is_empty());

    let list = |filter: String| ListResultsRequest {
        parent: "evaluationRounds/-".into(),
        filter,
        ..Default::default()
    };
    let found = |r: ListResultsResponse| {
        let mut products: Vec<String> = r.results.into_iter().map(|r| r.product).collect();
        products.sort();
        products
    };
    let mut cases = vec![
        ("commune_code = \"14758\"".to_string(), vec![first.name.clone()]),
        ("commune_code = \"14797\"".to_string(), vec![second.name.clone()]),
        (
            format!("group_code = \"{}\"", result.group_code),
            vec![first.name.clone(), second.name.clone()],
        ),
        ("group_code = \"my-pham\"".to_string(), vec![]),
        (
            format!("group_code = \"{}\" AND commune_code = \"14797\"", result.group_code),
            vec![second.name.clone()],
        ),
    ];
    for (filter, mut expected) in cases.drain(..) {
        expected.sort();
        let got = found(
            w.evaluation
                .list_results(authorized(list(filter.clone()), &officer))
                .await
                .unwrap()
                .into_inner(),
        );
        assert_eq!(got, expected, "{filter}");
    }
    let err = w
        .evaluation
        .list_results(authorized(list("district_code = \"1\"".into()), &officer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let again = w
        .evaluation
        .recompute_result(authorized(
            RecomputeResultRequest {
                name: result.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.identical, "{again:?}");

    let published_round = published.evaluation_round.unwrap();
    let err = w
        .evaluation
        .cancel_evaluation_round(authorized(
            cancel(&round.name, &published_round.etag, "sai sót"),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "WRONG_ROUND_STATE")
    );
    assert!(err.message().contains("published"), "{}", err.message());
}
