//! Score sheets: one per council member per entry, answered against the
//! entry's pinned criteria set, saved as drafts, then submitted and locked.
//! A member sees only their own sheets until the round is published.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{Answer, ScoreSheet, SheetState};
use prost::Message;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::{criteria, rounds, scoring};

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct StoredAnswer {
    criterion: String,
    options: Vec<i32>,
}

#[derive(sqlx::FromRow)]
struct Row {
    round_id: String,
    entry_id: String,
    member: String,
    criteria_set: String,
    answers: Json<Vec<StoredAnswer>>,
    state: String,
    total: i32,
    version: i64,
    update_time: time::OffsetDateTime,
    submit_time: Option<time::OffsetDateTime>,
}

impl Row {
    fn to_proto(&self) -> ScoreSheet {
        ScoreSheet {
            name: format!(
                "evaluationRounds/{}/entries/{}/scoreSheets/{}",
                self.round_id, self.entry_id, self.member
            ),
            member: self.member.clone(),
            criteria_set: format!("criteriaSets/{}", self.criteria_set),
            answers: self
                .answers
                .iter()
                .map(|a| Answer {
                    criterion: a.criterion.clone(),
                    options: a.options.clone(),
                })
                .collect(),
            state: if self.state == "submitted" {
                SheetState::Submitted
            } else {
                SheetState::Draft
            } as i32,
            total: self.total,
            etag: format!("v{}", self.version),
            update_time: Some(to_timestamp(self.update_time)),
            submit_time: self.submit_time.map(to_timestamp),
        }
    }
}

const COLUMNS: &str =
    "round_id, entry_id, member, criteria_set, answers, state, total, version, update_time, submit_time";

/// `(round, entry)` of `evaluationRounds/{r}/entries/{e}`.
fn parse_entry(field: &str, name: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["evaluationRounds", round, "entries", entry] if !round.is_empty() && !entry.is_empty() => {
            Ok((round.to_string(), entry.to_string()))
        }
        _ => Err(Error::invalid(
            field,
            format!("`{name}` is not an entry name; expected `evaluationRounds/{{round}}/entries/{{entry}}`"),
        )),
    }
}

/// `(round, entry, member)` of a sheet name.
fn parse_sheet(field: &str, name: &str) -> Result<(String, String, String)> {
    let (entry_part, member) = name
        .rsplit_once("/scoreSheets/")
        .filter(|(_, m)| !m.is_empty() && !m.contains('/'))
        .ok_or_else(|| Error::invalid(field, format!("`{name}` is not a score sheet name; expected `evaluationRounds/{{r}}/entries/{{e}}/scoreSheets/{{member}}`")))?;
    let (round, entry) = parse_entry(field, entry_part)?;
    Ok((round, entry, member.to_owned()))
}

/// The round (SCORING) and the caller's seat on its council, or the refusal.
async fn scoring_round(db: &PgPool, who: &Principal, round_id: &str) -> Result<rounds::Row> {
    let round = rounds::fetch(db, round_id).await?;
    if rounds::seat_of(&round, &who.subject).is_none() {
        return Err(Error::permission_denied(
            "NOT_ON_COUNCIL",
            format!(
                "{} does not sit on the council of evaluationRounds/{round_id}",
                who.subject
            ),
        ));
    }
    if round.state != "scoring" {
        let why = if round.state == "published" {
            "its results are published: sheets are final"
        } else {
            "sheets are taken while it is scoring"
        };
        return Err(Error::failed_precondition(
            "ROUND_NOT_SCORING",
            format!("evaluationRounds/{round_id} is {}; {why}", round.state),
        ));
    }
    Ok(round)
}

/// Saves the caller's draft sheet for `entry`.
pub async fn save(
    db: &PgPool,
    sets: &criteria::PinnedSets,
    who: &Principal,
    entry: &str,
    answers: &[Answer],
    etag: &str,
) -> Result<ScoreSheet> {
    let (round_id, entry_id) = parse_entry("entry", entry)?;
    let round = scoring_round(db, who, &round_id).await?;
    let entry_row = crate::entries::fetch(db, &round_id, &entry_id).await?;
    // Decision 1489/2025: a provincial entry is scored after its commune's assessment.
    if round.level == "province"
        && round.decision_date >= rounds::DECISION_1489
        && entry_row.commune_assessment.is_none()
    {
        return Err(Error::failed_precondition(
            "COMMUNE_ASSESSMENT_MISSING",
            format!(
                "{entry} has no commune assessment yet; from 2025-07-06 the commune assesses its 4 criteria before the province scores"
            ),
        ));
    }
    let set_id = entry_row.criteria_set.clone();
    let set = sets.get(db, &set_id).await?;
    let points = scoring::score(&set, answers)
        .map_err(|v| v.into_error().unwrap_or_else(|| Error::internal("empty violations")))?;
    let stored: Vec<StoredAnswer> = answers
        .iter()
        .map(|a| StoredAnswer {
            criterion: a.criterion.clone(),
            options: a.options.clone(),
        })
        .collect();

    let mut tx = db.begin().await?;
    let current: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, state FROM score_sheets WHERE round_id = $1 AND entry_id = $2 AND member = $3 FOR UPDATE",
    )
    .bind(&round_id)
    .bind(&entry_id)
    .bind(&who.subject)
    .fetch_optional(&mut *tx)
    .await?;
    let name = format!("{entry}/scoreSheets/{}", who.subject);
    let before = match &current {
        None if !etag.is_empty() => return Err(Error::not_found(&name)),
        None => String::new(),
        Some((_, state)) if state == "submitted" => {
            return Err(Error::failed_precondition(
                "SHEET_SUBMITTED",
                format!("{name} is submitted and locked"),
            ));
        }
        Some((version, _)) => {
            let current = format!("v{version}");
            if etag != current {
                return Err(Error::new(
                    ErrorKind::Aborted,
                    "STALE_ETAG",
                    format!("{name} changed since you read it (etag `{etag}`, now {current}); read it again"),
                ));
            }
            current
        }
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO score_sheets (round_id, entry_id, member, criteria_set, answers, state, total)
         VALUES ($1, $2, $3, $4, $5, 'draft', $6)
         ON CONFLICT (round_id, entry_id, member) DO UPDATE SET answers = EXCLUDED.answers, total = EXCLUDED.total,
             version = score_sheets.version + 1, update_time = now()
         RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(&who.subject)
    .bind(&set_id)
    .bind(Json(&stored))
    .bind(points.total)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    record(&mut tx, who, "SaveScoreSheet", &round.province_code, &before, &proto).await?;
    tx.commit().await?;
    Ok(proto)
}

/// What submitting reads before its transaction: the entry's pinned set and
/// the sheet as it is now.
#[derive(sqlx::FromRow)]
struct Snapshot {
    criteria_set: String,
    answers: Option<Json<Vec<StoredAnswer>>>,
    state: Option<String>,
    version: Option<i64>,
}

/// Submits and locks the caller's sheet; every criterion must be answered.
/// A retry carrying the same `request_id` gets the first answer back.
pub async fn submit(
    db: &PgPool,
    sets: &criteria::PinnedSets,
    who: &Principal,
    name: &str,
    etag: &str,
    request_id: &str,
) -> Result<ScoreSheet> {
    let (round_id, entry_id, member) = parse_sheet("name", name)?;
    let request_id = idempotency::parse("request_id", request_id)?;
    if member != who.subject {
        return Err(Error::permission_denied(
            "NOT_YOUR_SHEET",
            format!("{name} belongs to {member}; members submit their own sheets"),
        ));
    }
    if let Some(first) = idempotency::replay(db, request_id, "SubmitScoreSheet", name).await? {
        return ScoreSheet::decode(first.as_slice()).map_err(Error::internal);
    }
    let round = scoring_round(db, who, &round_id).await?;
    // Everything is read and checked before the transaction, which then only
    // flips the sheet if nobody changed it meanwhile (its version): a submit
    // holds one pooled connection for three statements, never while waiting
    // for another (32 members at once would deadlock a pool of 8).
    let snapshot: Option<Snapshot> = sqlx::query_as(
        "SELECT e.criteria_set, s.answers, s.state, s.version FROM entries e
         LEFT JOIN score_sheets s ON s.round_id = e.round_id AND s.entry_id = e.id AND s.member = $3
         WHERE e.round_id = $1 AND e.id = $2",
    )
    .bind(&round_id)
    .bind(&entry_id)
    .bind(&member)
    .fetch_optional(db)
    .await?;
    let snapshot =
        snapshot.ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}/entries/{entry_id}")))?;
    let (Some(answers), Some(state), Some(version)) = (snapshot.answers, snapshot.state, snapshot.version) else {
        return Err(Error::not_found(name));
    };
    // Said before the etag: "already submitted" is what a late retry needs to hear.
    if state == "submitted" {
        return Err(Error::failed_precondition(
            "SHEET_SUBMITTED",
            format!("{name} is already submitted"),
        ));
    }
    let current = rounds::check_version(name, etag, version)?;
    let set = sets.get(db, &snapshot.criteria_set).await?;
    let answers: Vec<Answer> = answers
        .iter()
        .map(|a| Answer {
            criterion: a.criterion.clone(),
            options: a.options.clone(),
        })
        .collect();
    let points = scoring::score(&set, &answers)
        .map_err(|v| v.into_error().unwrap_or_else(|| Error::internal("empty violations")))?;
    if !points.unanswered.is_empty() {
        return Err(Error::failed_precondition(
            "SHEET_INCOMPLETE",
            format!(
                "{name} leaves {} criteria unanswered: {}",
                points.unanswered.len(),
                points.unanswered.join(", ")
            ),
        ));
    }

    let mut tx = db.begin().await?;
    if let Claim::Done(..) = idempotency::claim(&mut tx, request_id, "SubmitScoreSheet", name).await? {
        // A concurrent retry committed first: answer as it did.
        drop(tx);
        let first = idempotency::replay(db, request_id, "SubmitScoreSheet", name).await?;
        return ScoreSheet::decode(first.unwrap_or_default().as_slice()).map_err(Error::internal);
    }
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE score_sheets SET state = 'submitted', total = $4, version = version + 1, update_time = now(), submit_time = now()
         WHERE round_id = $1 AND entry_id = $2 AND member = $3 AND version = $5 AND state = 'draft' RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(&member)
    .bind(points.total)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed while it was being submitted (etag {current}); read it again"),
        ));
    };
    let proto = row.to_proto();
    idempotency::store_response(&mut tx, request_id, &proto.encode_to_vec()).await?;
    record(&mut tx, who, "SubmitScoreSheet", &round.province_code, &current, &proto).await?;
    tx.commit().await?;
    Ok(proto)
}

/// A sheet: its member's own at any time; anyone's once the round is published.
pub async fn get(db: &PgPool, who: &Principal, name: &str) -> Result<ScoreSheet> {
    let (round_id, entry_id, member) = parse_sheet("name", name)?;
    let round = rounds::fetch(db, &round_id).await?;
    if member != who.subject && round.state != "published" {
        return Err(Error::permission_denied(
            "SHEET_NOT_YOURS",
            format!("{name} belongs to {member}; other members' sheets are shown once the round is published"),
        ));
    }
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM score_sheets WHERE round_id = $1 AND entry_id = $2 AND member = $3"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(&member)
    .fetch_optional(db)
    .await?;
    Ok(row.ok_or_else(|| Error::not_found(name))?.to_proto())
}

async fn record(
    tx: &mut sqlx::PgConnection,
    who: &Principal,
    method: &'static str,
    province: &str,
    before: &str,
    proto: &ScoreSheet,
) -> Result<()> {
    let kind = if before.is_empty() { "created" } else { "updated" };
    let change = Change {
        method,
        kind,
        resource: &proto.name,
        province,
        etag_before: before,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audit::record(tx, who, change).await
}
