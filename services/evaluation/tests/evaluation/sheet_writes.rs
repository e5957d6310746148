//! Saving and submitting a sheet, each in one statement: what a submit writes
//! to the feed, what a refusal leaves untouched and in which order refusals
//! come, a publish in progress, and drafts saved before the sheet body
//! existed (migration 0011).

use crate::support::world;

use std::future::Future;
use std::time::Duration;

use ocop_proto::evaluation::v1::*;
use ocop_testkit::{authorized, poll};
use prost::Message;
use sqlx::PgPool;
use tonic::Code;
use world::*;

fn submit(name: &str, etag: &str) -> SubmitScoreSheetRequest {
    SubmitScoreSheetRequest {
        name: name.into(),
        etag: etag.into(),
        request_id: String::new(),
    }
}

fn save(entry: &str, answers: &[Answer], etag: &str) -> SaveScoreSheetRequest {
    SaveScoreSheetRequest {
        entry: entry.into(),
        answers: answers.to_vec(),
        etag: etag.into(),
    }
}

/// `answer` is a refusal with `code` and ErrorInfo reason `why`.
fn assert_refused<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, code: Code, why: &str, label: &str) {
    let err = answer.expect_err(label);
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (code, why),
        "{label}: {}",
        err.message()
    );
}

fn evaluation_db(w: &World) -> PgPool {
    ocop_kit::db::connect_lazy(&w.env.config.database, "evaluation").unwrap()
}

/// (outbox rows, audit rows) of `resource`.
async fn records(db: &PgPool, resource: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM outbox WHERE resource = $1), (SELECT count(*) FROM audit_events WHERE resource = $1)",
    )
    .bind(resource)
    .fetch_one(db)
    .await
    .unwrap()
}

/// A scoring 2026 round with one assessed entry, and that entry's full answers.
async fn scoring(w: &mut World) -> (EvaluationRound, Entry, Vec<Answer>) {
    let officer = w.officer.clone();
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (round, entries) = w.scoring_round(1, &[("14758", &product.name)]).await;
    let answers = full_answers(&w.pinned_set(&entries[0]).await);
    (round, entries[0].clone(), answers)
}

#[tokio::test]
async fn a_submit_writes_the_whole_sheet_to_the_feed_and_a_refusal_writes_nothing() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (round, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers).await;
    let chair = w.member("chu-tich");
    assert_eq!(records(&db, &sheet.name).await, (1, 1), "the save");

    let missing_sheet = format!("{}/scoreSheets/uy-vien-1", entry.name);
    let cases = [
        (
            submit(&sheet.name, ""),
            chair.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (submit(&sheet.name, "v9"), chair.clone(), Code::Aborted, "STALE_ETAG"),
        (submit(&sheet.name, "v01"), chair.clone(), Code::Aborted, "STALE_ETAG"),
        (
            submit(&sheet.name, "garbage"),
            chair.clone(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            submit(&sheet.name.replace(&round.name, "evaluationRounds/none"), "v1"),
            chair.clone(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            submit(&format!("{}/entries/none/scoreSheets/chu-tich", round.name), "v1"),
            chair.clone(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            submit(&missing_sheet, "v1"),
            w.member("uy-vien-1"),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            submit(&format!("{}/scoreSheets/la", entry.name), "v1"),
            w.member("la"),
            Code::PermissionDenied,
            "NOT_ON_COUNCIL",
        ),
        (
            submit("scoreSheets/chu-tich", "v1"),
            chair.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
    ];
    for (request, token, code, why) in cases {
        let label = format!("{} {}", request.name, request.etag);
        let err = w.evaluation.submit_score_sheet(authorized(request, &token)).await;
        assert_refused(err.map(drop), code, why, &label);
    }
    let not_found = w
        .evaluation
        .submit_score_sheet(authorized(submit(&missing_sheet, "v1"), &w.member("uy-vien-1")))
        .await
        .unwrap_err();
    assert!(not_found.message().contains(&missing_sheet), "{}", not_found.message());
    assert_eq!(records(&db, &sheet.name).await, (1, 1), "refusals write nothing");

    let submitted = w
        .evaluation
        .submit_score_sheet(authorized(submit(&sheet.name, &sheet.etag), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(
        (submitted.state(), submitted.etag.as_str(), submitted.total),
        (SheetState::Submitted, "v2", sheet.total)
    );
    assert_eq!(submitted.answers, answers);
    let (payload, province): (Vec<u8>, String) = sqlx::query_as(
        "SELECT o.payload, a.province_code FROM outbox o JOIN audit_events a USING (resource)
         WHERE o.resource = $1 AND a.method = 'SubmitScoreSheet' ORDER BY o.sequence DESC LIMIT 1",
    )
    .bind(&sheet.name)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        ScoreSheet::decode(payload.as_slice()).unwrap(),
        submitted,
        "the feed carries the whole sheet"
    );
    assert_eq!(province, "38");
    assert_eq!(records(&db, &sheet.name).await, (2, 2));
}

/// Locks the round as publishing does, lets `write` start, checks that it
/// waits for the lock, then publishes: `write` must be refused.
async fn refused_after_a_publish_in_progress<F>(db: &PgPool, round: &EvaluationRound, write: F) -> tonic::Status
where
    F: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let round_id = round.name.trim_start_matches("evaluationRounds/").to_owned();
    let mut publishing = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM rounds WHERE id = $1 FOR UPDATE")
        .bind(&round_id)
        .execute(&mut *publishing)
        .await
        .unwrap();
    let writing = tokio::spawn(write);
    // The write must be waiting on that lock, not racing past it.
    poll::until_ok(
        "the write to reach the round's lock",
        Duration::from_secs(10),
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE '%FOR KEY SHARE%'",
            )
            .fetch_one(db)
            .await
            .unwrap();
            assert!(
                !writing.is_finished(),
                "the write went past a round locked for publishing"
            );
            if waiting == 1 {
                Ok(())
            } else {
                Err(format!("{waiting} statements waiting"))
            }
        },
    )
    .await;
    sqlx::query("UPDATE rounds SET state = 'published', version = version + 1 WHERE id = $1")
        .bind(&round_id)
        .execute(&mut *publishing)
        .await
        .unwrap();
    publishing.commit().await.unwrap();
    writing.await.unwrap().unwrap_err()
}

#[tokio::test]
async fn a_submit_waits_for_a_publish_in_progress_and_is_refused_after_it() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (round, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers).await;
    let mut client = w.evaluation.clone();
    let request = authorized(submit(&sheet.name, &sheet.etag), &w.member("chu-tich"));
    let err = refused_after_a_publish_in_progress(&db, &round, async move {
        client.submit_score_sheet(request).await.map(drop)
    })
    .await;
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ROUND_NOT_SCORING"),
        "{}",
        err.message()
    );
    let (state, version): (String, i64) = sqlx::query_as("SELECT state, version FROM score_sheets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        (state.as_str(), version),
        ("draft", 1),
        "a sheet the publish did not count stays a draft"
    );
}

#[tokio::test]
async fn a_save_waits_for_a_publish_in_progress_and_is_refused_after_it() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (round, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers[..3]).await;
    let mut client = w.evaluation.clone();
    let request = authorized(save(&entry.name, &answers, &sheet.etag), &w.member("chu-tich"));
    let err =
        refused_after_a_publish_in_progress(
            &db,
            &round,
            async move { client.save_score_sheet(request).await.map(drop) },
        )
        .await;
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ROUND_NOT_SCORING")
    );
    let version: i64 = sqlx::query_scalar("SELECT version FROM score_sheets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(version, 1, "the draft is as it was when the round was published");
}

#[tokio::test]
async fn a_refused_save_writes_nothing_and_says_first_whether_the_caller_may_save() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (round, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers).await;
    let chair = w.member("chu-tich");
    let invalid = vec![Answer {
        criterion: "9.9".into(),
        options: vec![0],
    }];
    let cases = [
        (
            save(&entry.name, &invalid, ""),
            w.member("la"),
            Code::PermissionDenied,
            "NOT_ON_COUNCIL",
        ),
        (
            save(&entry.name, &invalid, &sheet.etag),
            chair.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            save(&format!("{}/entries/none", round.name), &answers, ""),
            chair.clone(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            save(&entry.name.replace(&round.name, "evaluationRounds/none"), &answers, ""),
            chair.clone(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            save(&entry.name, &answers, "v1"),
            w.member("uy-vien-1"),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            save(&entry.name, &answers, ""),
            chair.clone(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            save(&entry.name, &answers, "v7"),
            chair.clone(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            save(&entry.name, &answers, "garbage"),
            chair.clone(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            save(&entry.name, &answers, "v01"),
            chair.clone(),
            Code::Aborted,
            "STALE_ETAG",
        ),
        (
            save("entries/x", &answers, ""),
            chair.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
    ];
    for (request, token, code, why) in cases {
        let label = format!("{} {:?}", request.entry, request.etag);
        let err = w.evaluation.save_score_sheet(authorized(request, &token)).await;
        assert_refused(err.map(drop), code, why, &label);
    }
    assert_eq!(records(&db, &sheet.name).await, (1, 1), "refusals write nothing");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM score_sheets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 1);

    let saved = w
        .evaluation
        .save_score_sheet(authorized(save(&entry.name, &answers[..5], &sheet.etag), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!((saved.etag.as_str(), saved.answers.len()), ("v2", 5));
    let stored = w.sheet(&sheet.name, "chu-tich").await;
    assert_eq!(stored, saved, "the answer is the sheet as stored");
    let (audited, province): (i64, String) = sqlx::query_as(
        "SELECT count(*), min(province_code) FROM audit_events WHERE resource = $1 AND method = 'SaveScoreSheet'",
    )
    .bind(&sheet.name)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((audited, province.as_str()), (2, "38"));
}

#[tokio::test]
async fn drafts_saved_before_the_sheet_body_are_given_one_at_start() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (_, entry, answers) = scoring(&mut w).await;
    let full = w.draft(&entry.name, "chu-tich", &answers).await;
    let partial = w.draft(&entry.name, "uy-vien-1", &answers[..answers.len() - 2]).await;
    // As a draft of an older version of the service was stored.
    sqlx::query("UPDATE score_sheets SET body = NULL, unanswered = '{}'")
        .execute(&db)
        .await
        .unwrap();

    let err = w.submit(&full, "chu-tich", "").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SHEET_NEEDS_SAVE")
    );

    assert_eq!(ocop_evaluation::score_sheets::backfill(&db).await.unwrap(), 2);
    assert_eq!(
        ocop_evaluation::score_sheets::backfill(&db).await.unwrap(),
        0,
        "idempotent"
    );
    let submitted = w.submit(&full, "chu-tich", "").await.unwrap();
    assert_eq!(
        (submitted.total, submitted.answers.clone()),
        (full.total, answers.clone())
    );
    let stored = w.sheet(&full.name, "chu-tich").await;
    assert_eq!(stored, submitted);
    let last_two: Vec<String> = answers[answers.len() - 2..]
        .iter()
        .map(|a| a.criterion.clone())
        .collect();
    let err = w.submit(&partial, "uy-vien-1", "").await.unwrap_err();
    assert_eq!(reason(&err), "SHEET_INCOMPLETE");
    assert!(err.message().ends_with(&last_two.join(", ")), "{}", err.message());
}

#[tokio::test]
async fn a_draft_an_older_replica_changed_is_saved_again_before_it_is_submitted() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (_, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers).await;
    // What a replica of the version before migration 0011 writes: answers, not the body.
    sqlx::query("UPDATE score_sheets SET answers = '[]', total = 0, version = version + 1, update_time = now()")
        .execute(&db)
        .await
        .unwrap();
    let body_left: bool = sqlx::query_scalar("SELECT body IS NOT NULL FROM score_sheets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!body_left, "the stale body is dropped");
    let changed = w.sheet(&sheet.name, "chu-tich").await;
    let err = w.submit(&changed, "chu-tich", "").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SHEET_NEEDS_SAVE"),
        "{}",
        err.message()
    );

    let chair = w.member("chu-tich");
    let saved = w
        .evaluation
        .save_score_sheet(authorized(save(&entry.name, &answers, &changed.etag), &chair))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    let submitted = w.submit(&saved, "chu-tich", "").await.unwrap();
    assert_eq!((submitted.answers, submitted.total), (answers, sheet.total));
}

#[tokio::test]
async fn concurrent_submits_with_one_request_id_answer_as_one() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, first) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, second) = w.product("14797", "2801234568", "rau-cu-qua-hat-tuoi", &officer).await;
    let (_, entries) = w
        .scoring_round(1, &[("14758", &first.name), ("14797", &second.name)])
        .await;
    let answers = full_answers(&w.pinned_set(&entries[0]).await);
    let one = w.draft(&entries[0].name, "chu-tich", &answers).await;
    let other = w.draft(&entries[1].name, "chu-tich", &answers).await;
    let third = w.draft(&entries[1].name, "uy-vien-1", &answers).await;
    let tokens = [w.member("chu-tich"), w.member("uy-vien-1")];
    let evaluation = w.evaluation.clone();
    let request = |sheet: &ScoreSheet, id: &str| {
        let mut client = evaluation.clone();
        let token = &tokens[usize::from(sheet.member != "chu-tich")];
        let request = authorized(
            SubmitScoreSheetRequest {
                name: sheet.name.clone(),
                etag: sheet.etag.clone(),
                request_id: id.into(),
            },
            token,
        );
        tokio::spawn(async move {
            client
                .submit_score_sheet(request)
                .await
                .map(|r| r.into_inner().score_sheet)
        })
    };

    // The same request twice at once (a client's retry racing the first try): one answer.
    let id = "0b7d3c1e-1f4a-4c8e-9a55-6d2f1e0c7a31";
    let (a, b) = (request(&one, id), request(&one, id));
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    assert_eq!(a, b, "the retry gets the first answer");

    // One request_id on two sheets at once: one is submitted, the other refused.
    let id = "6a1e2f3c-8b7d-4e5f-a1b2-c3d4e5f60718";
    let (x, y) = (request(&other, id), request(&third, id));
    let outcomes = [x.await.unwrap(), y.await.unwrap()];
    let refused: Vec<&tonic::Status> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert_eq!(
        (refused[0].code(), reason(refused[0]).as_str()),
        (Code::FailedPrecondition, "REQUEST_ID_REUSED"),
        "{}",
        refused[0].message()
    );
}
