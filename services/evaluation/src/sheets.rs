//! Score sheets: one per council member per entry, answered against the
//! entry's pinned criteria set, saved as drafts, then submitted and locked.
//! A member sees only their own sheets until the round is published.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::idempotency;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{Answer, ScoreSheet, SheetState};
use prost::Message;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

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
    let stored: Vec<StoredAnswer> = answers
        .iter()
        .map(|a| StoredAnswer {
            criterion: a.criterion.clone(),
            options: a.options.clone(),
        })
        .collect();
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
            .push("INSERT INTO score_sheets (round_id, entry_id, member, criteria_set, answers, state, total, update_time) VALUES (")
            .push_bind(round_id)
            .push(", ")
            .push_bind(entry_id)
            .push(", ")
            .push_bind(member)
            .push(", ")
            .push_bind(set_id)
            .push(", ")
            .push_bind(after.answers)
            .push(", 'draft', ")
            .push_bind(points.total)
            .push(", ")
            .push_bind(now)
            .push(") ON CONFLICT DO NOTHING RETURNING 1)"),
        Some(version) => sql
            .push("UPDATE score_sheets SET answers = ")
            .push_bind(after.answers)
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
    audit::push_record(&mut sql, who, change, "changed");
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

/// What saving and submitting read first, in one query: the round, the
/// entry's pinned set and assessment, and the member's sheet as it is now.
#[derive(sqlx::FromRow)]
struct Snapshot {
    #[sqlx(flatten)]
    round: rounds::Row,
    pinned_set: Option<String>,
    assessed: bool,
    sheet_answers: Option<Json<Vec<StoredAnswer>>>,
    sheet_state: Option<String>,
    sheet_version: Option<i64>,
}

async fn snapshot(db: &PgPool, round_id: &str, entry_id: &str, member: &str) -> Result<Snapshot> {
    let snapshot: Option<Snapshot> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {}, e.criteria_set AS pinned_set, e.commune_assessment IS NOT NULL AS assessed,
             s.answers AS sheet_answers, s.state AS sheet_state, s.version AS sheet_version
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

/// Submits and locks the caller's sheet; every criterion must be answered.
/// A retry carrying the same `request_id` gets the first answer back.
///
/// Two round trips: one read, then one statement that flips the sheet only if
/// nobody changed it since (its version) and writes the audit, outbox and
/// request_id rows with it, so no transaction is held open across the network.
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
    let snapshot = snapshot(db, &round_id, &entry_id, &member).await?;
    check_scoring(&snapshot.round, who, &round_id)?;
    let pinned = snapshot
        .pinned_set
        .ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}/entries/{entry_id}")))?;
    let (Some(answers), Some(state), Some(version)) =
        (snapshot.sheet_answers, snapshot.sheet_state, snapshot.sheet_version)
    else {
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
    let set = sets.get(db, &pinned).await?;
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

    // The sheet after the change, known before it is made: the statement sets
    // exactly these values (PostgreSQL keeps microseconds).
    let now = now_micros();
    let after = Row {
        round_id: round_id.clone(),
        entry_id: entry_id.clone(),
        member: member.clone(),
        criteria_set: pinned,
        answers: Json(Vec::new()),
        state: "submitted".into(),
        total: points.total,
        version: version + 1,
        update_time: now,
        submit_time: Some(now),
    };
    let mut proto = after.to_proto();
    proto.answers = answers;
    let response = proto.encode_to_vec();
    let mut sql =
        QueryBuilder::<Postgres>::new("WITH changed AS (UPDATE score_sheets SET state = 'submitted', total = ");
    sql.push_bind(points.total)
        .push(", version = version + 1, update_time = ")
        .push_bind(now)
        .push(", submit_time = ")
        .push_bind(now)
        .push(" WHERE round_id = ")
        .push_bind(round_id)
        .push(" AND entry_id = ")
        .push_bind(entry_id)
        .push(" AND member = ")
        .push_bind(member)
        .push(" AND version = ")
        .push_bind(version)
        .push(" AND state = 'draft' RETURNING 1)");
    if let Some(id) = request_id {
        sql.push(", claimed AS (INSERT INTO request_ids (request_id, method, resource, response) SELECT ")
            .push_bind(id)
            .push(", 'SubmitScoreSheet', ")
            .push_bind(name.to_owned())
            .push(", ")
            .push_bind(response)
            .push(" FROM changed)");
    }
    let change = Change {
        method: "SubmitScoreSheet",
        kind: "updated",
        resource: &proto.name,
        province: &snapshot.round.province_code,
        etag_before: &current,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audit::push_record(&mut sql, who, change, "changed");
    sql.push(" SELECT count(*) FROM changed");
    let changed: i64 = sql.build_query_scalar().fetch_one(db).await?;
    if changed == 0 {
        // Someone got there first: a concurrent retry of this very request, or another change.
        if let Some(first) = idempotency::replay(db, request_id, "SubmitScoreSheet", name).await? {
            return ScoreSheet::decode(first.as_slice()).map_err(Error::internal);
        }
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed while it was being submitted (etag {current}); read it again"),
        ));
    }
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
