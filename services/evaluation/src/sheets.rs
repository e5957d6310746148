//! Score sheets: one per council member per entry, answered against the
//! entry's pinned criteria set, saved as drafts, then submitted and locked.
//! A member sees only their own sheets until the round is published.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{Answer, ScoreSheet, SheetState};
use prost::Message;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::{criteria, rounds, scoring};

mod body;
mod submit;

pub use body::backfill;
pub use submit::submit;

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct StoredAnswer {
    criterion: String,
    options: Vec<i32>,
}

impl StoredAnswer {
    fn of(answer: &Answer) -> StoredAnswer {
        StoredAnswer {
            criterion: answer.criterion.clone(),
            options: answer.options.clone(),
        }
    }

    fn to_proto(&self) -> Answer {
        Answer {
            criterion: self.criterion.clone(),
            options: self.options.clone(),
        }
    }
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
            answers: self.answers.iter().map(StoredAnswer::to_proto).collect(),
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

/// The caller sits on the round's council and the round is SCORING.
fn check_scoring(round: &rounds::Row, who: &Principal, round_id: &str) -> Result<()> {
    if rounds::seat_of(round, &who.subject).is_none() {
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
    Ok(())
}

/// Saves the caller's draft sheet for `entry`, in two round trips like
/// [`submit`]: one read, one guarded statement with its audit and outbox rows.
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
    let snapshot = snapshot(db, &round_id, &entry_id, &member).await?;
    check_scoring(&snapshot.round, who, &round_id)?;
    let Some(set_id) = snapshot.pinned_set else {
        return Err(Error::not_found(entry));
    };
    // Decision 1489/2025: a provincial entry is scored after its commune's assessment.
    if snapshot.round.level == "province" && snapshot.round.decision_date >= rounds::DECISION_1489 && !snapshot.assessed
    {
        return Err(Error::failed_precondition(
            "COMMUNE_ASSESSMENT_MISSING",
            format!(
                "{entry} has no commune assessment yet; from 2025-07-06 the commune assesses its 4 criteria before the province scores"
            ),
        ));
    }
    let set = sets.get(db, &set_id).await?;
    let points = scoring::score(&set, answers)
        .map_err(|v| v.into_error().unwrap_or_else(|| Error::internal("empty violations")))?;
    let name = format!("{entry}/scoreSheets/{member}");
    let before = match (snapshot.sheet_state.as_deref(), snapshot.sheet_version) {
        (None, _) if !etag.is_empty() => return Err(Error::not_found(&name)),
        (None, _) | (_, None) => None,
        (Some("submitted"), _) => {
            return Err(Error::failed_precondition(
                "SHEET_SUBMITTED",
                format!("{name} is submitted and locked"),
            ));
        }
        (Some(_), Some(version)) => {
            let current = format!("v{version}");
            if etag != current {
                return Err(Error::new(
                    ErrorKind::Aborted,
                    "STALE_ETAG",
                    format!("{name} changed since you read it (etag `{etag}`, now {current}); read it again"),
                ));
            }
            Some(version)
        }
    };
    let stored: Vec<StoredAnswer> = answers.iter().map(StoredAnswer::of).collect();
    let sheet_body = body::body(&set_id, answers.to_vec(), points.total);
    let now = now_micros();
    let after = Row {
        round_id: round_id.clone(),
        entry_id: entry_id.clone(),
        member: member.clone(),
        criteria_set: set_id.clone(),
        answers: Json(stored),
        state: "draft".into(),
        total: points.total,
        version: before.map_or(1, |v| v + 1),
        update_time: now,
        submit_time: None,
    };
    let proto = after.to_proto();
    let mut sql = QueryBuilder::<Postgres>::new("WITH changed AS (");
    match before {
        None => sql
            .push("INSERT INTO score_sheets (round_id, entry_id, member, criteria_set, answers, body, unanswered, state, total, update_time) VALUES (")
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
            .push(") ON CONFLICT DO NOTHING RETURNING 1)"),
        Some(version) => sql
            .push("UPDATE score_sheets SET answers = ")
            .push_bind(after.answers)
            .push(", body = ")
            .push_bind(sheet_body)
            .push(", unanswered = ")
            .push_bind(points.unanswered)
            .push(", total = ")
            .push_bind(points.total)
            .push(", version = version + 1, update_time = ")
            .push_bind(now)
            .push(" WHERE round_id = ")
            .push_bind(round_id)
            .push(" AND entry_id = ")
            .push_bind(entry_id)
            .push(" AND member = ")
            .push_bind(member)
            .push(" AND version = ")
            .push_bind(version)
            .push(" AND state = 'draft' RETURNING 1)"),
    };
    let etag_before = before.map(|v| format!("v{v}")).unwrap_or_default();
    let change = Change {
        method: "SaveScoreSheet",
        kind: if before.is_none() { "created" } else { "updated" },
        resource: &proto.name,
        province: &snapshot.round.province_code,
        etag_before: &etag_before,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audit::push_record(&mut sql, who, change, "changed", audit::FromGate::default());
    sql.push(" SELECT count(*) FROM changed");
    let changed: i64 = sql.build_query_scalar().fetch_one(db).await?;
    if changed == 0 {
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed while it was being saved; read it again"),
        ));
    }
    Ok(proto)
}

/// Now, to the microsecond PostgreSQL keeps, so that a sheet built before
/// its statement equals the sheet stored.
fn now_micros() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now)
}

/// What saving reads first, in one query: the round, the
/// entry's pinned set and assessment, and the member's sheet as it is now.
#[derive(sqlx::FromRow)]
struct Snapshot {
    #[sqlx(flatten)]
    round: rounds::Row,
    pinned_set: Option<String>,
    assessed: bool,
    sheet_state: Option<String>,
    sheet_version: Option<i64>,
}

async fn snapshot(db: &PgPool, round_id: &str, entry_id: &str, member: &str) -> Result<Snapshot> {
    let snapshot: Option<Snapshot> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {}, e.criteria_set AS pinned_set, e.commune_assessment IS NOT NULL AS assessed,
             s.state AS sheet_state, s.version AS sheet_version
         FROM rounds r
         LEFT JOIN entries e ON e.round_id = r.id AND e.id = $2
         LEFT JOIN score_sheets s ON s.round_id = r.id AND s.entry_id = $2 AND s.member = $3
         WHERE r.id = $1",
        rounds::qualified_columns("r")
    )))
    .bind(round_id)
    .bind(entry_id)
    .bind(member)
    .fetch_optional(db)
    .await?;
    snapshot.ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}")))
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
