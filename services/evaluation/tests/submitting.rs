//! Submitting a sheet in one statement: what it writes to the feed, what a
//! refusal leaves untouched, a publish in progress, and drafts saved before
//! the sheet body existed (migration 0011).

#[path = "support/world.rs"]
mod world;

use std::time::Duration;

use ocop_proto::evaluation::v1::*;
use ocop_testkit::authorized;
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
        let err = w
            .evaluation
            .submit_score_sheet(authorized(request, &token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{label}: {}",
            err.message()
        );
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

#[tokio::test]
async fn a_submit_waits_for_a_publish_in_progress_and_is_refused_after_it() {
    let mut w = world().await;
    let db = evaluation_db(&w);
    let (round, entry, answers) = scoring(&mut w).await;
    let sheet = w.draft(&entry.name, "chu-tich", &answers).await;
    let round_id = round.name.trim_start_matches("evaluationRounds/").to_owned();

    // What publishing does first: lock the round.
    let mut publishing = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM rounds WHERE id = $1 FOR UPDATE")
        .bind(&round_id)
        .execute(&mut *publishing)
        .await
        .unwrap();
    let mut client = w.evaluation.clone();
    let request = authorized(submit(&sheet.name, &sheet.etag), &w.member("chu-tich"));
    let submitting = tokio::spawn(async move { client.submit_score_sheet(request).await });
    // The submit must be waiting on that lock, not racing past it.
    let mut waited = Duration::ZERO;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if waiting == 1 {
            break;
        }
        assert!(
            !submitting.is_finished(),
            "the submit went past a round locked for publishing"
        );
        assert!(
            waited < Duration::from_secs(10),
            "the submit never reached the round's lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    sqlx::query("UPDATE rounds SET state = 'published', version = version + 1 WHERE id = $1")
        .bind(&round_id)
        .execute(&mut *publishing)
        .await
        .unwrap();
    publishing.commit().await.unwrap();

    let err = submitting.await.unwrap().unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "ROUND_NOT_SCORING"),
        "{}",
        err.message()
    );
    let state: String = sqlx::query_scalar("SELECT state FROM score_sheets WHERE round_id = $1")
        .bind(&round_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(state, "draft", "a sheet the publish did not count stays a draft");
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

    assert_eq!(ocop_evaluation::sheets::backfill(&db).await.unwrap(), 2);
    assert_eq!(ocop_evaluation::sheets::backfill(&db).await.unwrap(), 0, "idempotent");
    let submitted = w.submit(&full, "chu-tich", "").await.unwrap();
    assert_eq!(
        (submitted.total, submitted.answers.clone()),
        (full.total, answers.clone())
    );
    let stored = w
        .evaluation
        .get_score_sheet(authorized(
            GetScoreSheetRequest {
                name: full.name.clone(),
            },
            &w.member("chu-tich"),
        ))
        .await
        .unwrap()
        .into_inner()
        .score_sheet
        .unwrap();
    assert_eq!(stored, submitted);
    let last_two: Vec<String> = answers[answers.len() - 2..]
        .iter()
        .map(|a| a.criterion.clone())
        .collect();
    let err = w.submit(&partial, "uy-vien-1", "").await.unwrap_err();
    assert_eq!(reason(&err), "SHEET_INCOMPLETE");
    assert!(err.message().ends_with(&last_two.join(", ")), "{}", err.message());
}
