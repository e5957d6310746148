//! A sheet in two encoded halves, so that submitting can write the whole
//! sheet to the change feed without reading it first.
//!
//! The *body* is what saving decides and submitting keeps: the criteria set,
//! the answers and the total. It is stored encoded in `score_sheets.body`.
//! The *head* is what every write changes: name, member, state, etag and
//! times, encoded by the writer. Both are `ScoreSheet` messages with disjoint
//! fields, and protobuf decodes concatenated messages as one merged message
//! (<https://protobuf.dev/programming-guides/encoding/#last-one-wins>), so
//! `head || body` in SQL is the encoded sheet.

use ocop_kit::date::to_timestamp;
use ocop_proto::evaluation::v1::{Answer, ScoreSheet, SheetState};
use prost::Message;
use sqlx::PgPool;
use sqlx::types::Json;

use super::StoredAnswer;
use crate::criteria;
use crate::rules::scoring;

/// The encoded body of a sheet on `set_id` with these answers and total.
pub(crate) fn body(set_id: &str, answers: Vec<Answer>, total: i32) -> Vec<u8> {
    ScoreSheet {
        criteria_set: format!("criteriaSets/{set_id}"),
        answers,
        total,
        ..Default::default()
    }
    .encode_to_vec()
}

/// The head of `name` (`…/scoreSheets/{member}`) at `version`.
pub(crate) fn head(
    name: &str,
    member: &str,
    state: SheetState,
    version: i64,
    update_time: time::OffsetDateTime,
    submit_time: Option<time::OffsetDateTime>,
) -> ScoreSheet {
    ScoreSheet {
        name: name.to_owned(),
        member: member.to_owned(),
        state: state as i32,
        etag: ocop_kit::etag::of(version),
        update_time: Some(to_timestamp(update_time)),
        submit_time: submit_time.map(to_timestamp),
        ..Default::default()
    }
}

/// Gives every draft saved before migration 0011 its body and unanswered
/// criteria, scored on its pinned set as a save would. Idempotent; runs at
/// start, before the service serves. Submitted sheets need neither. Returns
/// how many drafts it filled.
pub async fn backfill(db: &PgPool) -> anyhow::Result<u64> {
    type Old = (String, String, String, String, i64, Json<Vec<StoredAnswer>>);
    let old: Vec<Old> = sqlx::query_as(
        "SELECT round_id, entry_id, member, criteria_set, version, answers FROM score_sheets
         WHERE body IS NULL AND state = 'draft'",
    )
    .fetch_all(db)
    .await?;
    let sets = criteria::PinnedSets::default();
    let mut filled = 0;
    for (round_id, entry_id, member, set_id, version, answers) in &old {
        let set = sets.get(db, set_id).await?;
        let answers: Vec<Answer> = answers.iter().map(StoredAnswer::to_proto).collect();
        let points = match scoring::score(&set, &answers) {
            Ok(points) => points,
            // Cannot happen to a draft saved on this very set (a used set's
            // content never changes); if it does, that draft alone stays
            // without a body and its member is asked to save it again.
            Err(violations) => {
                tracing::warn!(
                    sheet = %format!("evaluationRounds/{round_id}/entries/{entry_id}/scoreSheets/{member}"),
                    problems = %violations.into_error().map(|e| e.message().to_owned()).unwrap_or_default(),
                    "a draft no longer scores on its set; left for its member to save again"
                );
                continue;
            }
        };
        // At the version read: a save made meanwhile brought its own body.
        filled += sqlx::query(
            "UPDATE score_sheets SET body = $5, unanswered = $6
             WHERE round_id = $1 AND entry_id = $2 AND member = $3 AND version = $4 AND body IS NULL AND state = 'draft'",
        )
        .bind(round_id)
        .bind(entry_id)
        .bind(member)
        .bind(version)
        .bind(body(set_id, answers, points.total))
        .bind(&points.unanswered)
        .execute(db)
        .await?
        .rows_affected();
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_body_concatenated_decode_as_the_whole_sheet() {
        let at = time::macros::datetime!(2026-03-02 08:30:00.123456 UTC);
        let answers = vec![
            Answer {
                criterion: "1.1".into(),
                options: vec![2],
            },
            Answer {
                criterion: "2.3".into(),
                options: vec![0, 1],
            },
        ];
        let name = "evaluationRounds/r/entries/e/scoreSheets/chu-tich";
        let mut bytes = head(name, "chu-tich", SheetState::Submitted, 3, at, Some(at)).encode_to_vec();
        bytes.extend(body("1048-gia-vi-khac-v1", answers.clone(), 57));
        let whole = ScoreSheet {
            name: name.into(),
            member: "chu-tich".into(),
            criteria_set: "criteriaSets/1048-gia-vi-khac-v1".into(),
            answers,
            state: SheetState::Submitted as i32,
            total: 57,
            etag: "v3".into(),
            update_time: Some(to_timestamp(at)),
            submit_time: Some(to_timestamp(at)),
        };
        assert_eq!(ScoreSheet::decode(bytes.as_slice()).unwrap(), whole);
    }
}
