//! Saving a draft: one statement, one round trip, like [`super::submit`].
//!
//! The answers are checked against the entry's pinned set first, in the
//! process (the pin and the set are remembered, see
//! [`criteria::PinnedSets`]). The statement then locks the round against a
//! concurrent publish or cancel, writes the sheet only if the caller may, and
//! returns what it saw, so that a refusal is explained from that snapshot.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{Answer, ScoreSheet};
use prost::Message;
use sqlx::PgPool;
use sqlx::types::Json;

use super::{
    Row, State, StoredAnswer, body, check_scoring, etag_version, now_micros, parse_entry, push_round, push_scoring,
    push_sheet_key, submitted_already,
};
use crate::rules::scoring;
use crate::{criteria, rounds};

/// What the caller's save found: the round, the entry's pin and assessment,
/// and the caller's sheet, before any write; and whether it was saved.
#[derive(sqlx::FromRow)]
struct Seen {
    #[sqlx(flatten)]
    round: rounds::Row,
    pinned_set: Option<String>,
    assessed: bool,
    commune_step: Option<String>,
    sheet_state: Option<String>,
    sheet_version: Option<i64>,
    saved: bool,
}

/// Saves the caller's draft sheet for `entry`: a new one when `etag` is
/// empty, else the version `etag` names.
pub async fn save(
    db: &PgPool,
    sets: &criteria::PinnedSets,
    who: &Principal,
    entry: &str,
    answers: &[Answer],
    etag: &str,
) -> Result<ScoreSheet> {
    let (round_id, entry_id) = parse_entry("entry", entry)?;
    let member = who.subject.clone();
    // Refusals decided before the statement still say first whether the caller may save.
    let refuse = |invalid| async {
        let seen = read(db, &round_id, &entry_id, &member).await?;
        Err(explain(seen, who, entry, etag, invalid))
    };
    let Some(set_id) = sets.pin_of(db, &round_id, &entry_id).await? else {
        return refuse(None).await;
    };
    let set = sets.get(db, &set_id).await?;
    let points = match scoring::score(&set, answers) {
        Ok(points) => points,
        Err(violations) => return refuse(violations.into_error()).await,
    };
    let before = (!etag.is_empty()).then(|| etag_version(etag));
    let now = now_micros();
    let after = Row {
        round_id: round_id.clone(),
        entry_id: entry_id.clone(),
        member: member.clone(),
        criteria_set: set_id.clone(),
        answers: Json(answers.iter().map(StoredAnswer::of).collect()),
        state: State::Draft,
        total: points.total,
        version: before.map_or(1, |v| v.saturating_add(1)),
        update_time: now,
        submit_time: None,
    };
    let proto = after.to_proto();

    let mut sql = push_round(&round_id);
    sql.push(format!(
        ", entry AS (SELECT criteria_set, {} AS assessed, commune_step FROM entries WHERE round_id = ",
        commune_done("entries")
    ))
    .push_bind(round_id.clone())
    .push(" AND id = ")
    .push_bind(entry_id.clone())
    .push("), sheet AS (SELECT state, version FROM score_sheets s WHERE ");
    push_sheet_key(&mut sql, "s", &round_id, &entry_id, &member);
    // The rules `explain` checks before the sheet's own, as one condition.
    sql.push("), allowed AS (SELECT 1 FROM round r, entry e WHERE ");
    push_scoring(&mut sql, "r", &member);
    sql.push(" AND e.assessed), changed AS (");
    let sheet_body = body::body(&set_id, answers.to_vec(), points.total);
    match before {
        None => sql
            .push("INSERT INTO score_sheets (round_id, entry_id, member, criteria_set, answers, body, unanswered, state, total, update_time) SELECT ")
            .push_bind(round_id)
            .push(", ")
            .push_bind(entry_id)
            .push(", ")
            .push_bind(member)
            .push(", ")
            .push_bind(set_id)
            .push(", ")
            .push_bind(after.answers)
            .push(", ")
            .push_bind(sheet_body)
            .push(", ")
            .push_bind(points.unanswered)
            .push(", 'draft', ")
            .push_bind(points.total)
            .push(", ")
            .push_bind(now)
            .push(" FROM allowed ON CONFLICT DO NOTHING RETURNING 1)"),
        Some(version) => {
            sql.push("UPDATE score_sheets SET answers = ")
                .push_bind(after.answers)
                .push(", body = ")
                .push_bind(sheet_body)
                .push(", unanswered = ")
                .push_bind(points.unanswered)
                .push(", total = ")
                .push_bind(points.total)
                .push(", version = version + 1, update_time = ")
                .push_bind(now)
                .push(" WHERE ");
            push_sheet_key(&mut sql, "score_sheets", &round_id, &entry_id, &member);
            sql.push(" AND version = ")
                .push_bind(version)
                .push(" AND state = 'draft' AND EXISTS (SELECT 1 FROM allowed) RETURNING 1)")
        }
    };
    let change = Change {
        method: "SaveScoreSheet",
        kind: if before.is_none() { "created" } else { "updated" },
        resource: &proto.name,
        province: "",
        etag_before: etag,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    let decided = audit::FromGate {
        province: Some("(SELECT province_code FROM round)"),
        payload_tail: None,
    };
    audit::push_record(&mut sql, who, change, "changed", decided);
    sql.push(
        " SELECT round.*, entry.criteria_set AS pinned_set, COALESCE(entry.assessed, false) AS assessed,
             entry.commune_step, sheet.state AS sheet_state, sheet.version AS sheet_version, EXISTS (SELECT 1 FROM changed) AS saved
         FROM round LEFT JOIN entry ON true LEFT JOIN sheet ON true",
    );
    let seen: Option<Seen> = sql.build_query_as().fetch_optional(db).await?;
    let seen = seen.ok_or_else(|| Error::not_found(format!("evaluationRounds/{}", after.round_id)))?;
    if seen.saved {
        return Ok(proto);
    }
    Err(explain(seen, who, entry, etag, None))
}

/// What a save of the caller's sheet would find, written nothing: for the
/// refusals decided before the statement (no such entry, invalid answers).
async fn read(db: &PgPool, round_id: &str, entry_id: &str, member: &str) -> Result<Seen> {
    let seen: Option<Seen> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {}, e.criteria_set AS pinned_set, COALESCE({}, false) AS assessed, e.commune_step,
             s.state AS sheet_state, s.version AS sheet_version, false AS saved
         FROM rounds r
         LEFT JOIN entries e ON e.round_id = r.id AND e.id = $2
         LEFT JOIN score_sheets s ON s.round_id = r.id AND s.entry_id = $2 AND s.member = $3
         WHERE r.id = $1",
        rounds::qualified_columns("r"),
        commune_done("e")
    )))
    .bind(round_id)
    .bind(entry_id)
    .bind(member)
    .fetch_optional(db)
    .await?;
    seen.ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}")))
}

/// Whether the entry (`alias`) has what its commune step asks before it is
/// scored, as SQL: under 1489 (from 2025-07-06) the commune's assessment of
/// its 4 criteria, under 26/2026 the commune's report (Mẫu 03). The step was
/// decided when the entry was made (`entries/admission.rs`).
fn commune_done(alias: &str) -> String {
    format!(
        "({alias}.commune_step = 'none'
          OR ({alias}.commune_step = 'four_criteria' AND {alias}.commune_assessment IS NOT NULL)
          OR ({alias}.commune_step = 'report' AND {alias}.commune_report IS NOT NULL))"
    )
}

/// Why a save wrote nothing, in the order a caller needs it: the council and
/// round, the entry, its assessment, the answers (`invalid`), then the sheet
/// and its etag.
fn explain(seen: Seen, who: &Principal, entry: &str, etag: &str, invalid: Option<Error>) -> Error {
    if let Err(e) = check_scoring(&seen.round, who, &seen.round.id) {
        return e;
    }
    if seen.pinned_set.is_none() {
        return Error::not_found(entry);
    }
    if !seen.assessed {
        if seen.commune_step.as_deref() == Some("report") {
            return Error::failed_precondition(
                "COMMUNE_REPORT_MISSING",
                format!(
                    "{entry} has no commune report yet; under Decision 26/2026 the commune reports on the dossier (Mẫu 03) and proposes it before the province scores"
                ),
            );
        }
        return Error::failed_precondition(
            "COMMUNE_ASSESSMENT_MISSING",
            format!(
                "{entry} has no commune assessment yet; from 2025-07-06 the commune assesses its 4 criteria before the province scores"
            ),
        );
    }
    if let Some(invalid) = invalid {
        return invalid;
    }
    let name = format!("{entry}/scoreSheets/{}", who.subject);
    match (seen.sheet_state.as_deref(), seen.sheet_version) {
        (None, _) if !etag.is_empty() => Error::not_found(&name),
        (Some(state), _) if State::parse(state) == Some(State::Submitted) => submitted_already(&name),
        (Some(_), Some(version)) if etag_version(etag) != version => Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed since you read it (etag `{etag}`, now v{version}); read it again"),
        ),
        // Every rule held in the snapshot, yet the sheet had moved by the time it was written.
        _ => Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed while it was being saved; read it again"),
        ),
    }
}
