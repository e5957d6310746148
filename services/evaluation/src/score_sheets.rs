//! Score sheets: one per council member per entry, answered against the
//! entry's pinned criteria set, saved as drafts, then submitted and locked.
//! A member sees only their own sheets until the round is published.

use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{Answer, ScoreSheet, SheetState};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::rounds;

mod body;
mod save;
mod submit;

pub use body::backfill;

ocop_kit::text_enum! {
    /// Where a score sheet is (`score_sheets.state`).
    pub enum State {
        /// Saved, and may be saved again.
        Draft = "draft",
        /// Submitted and locked.
        Submitted = "submitted",
    }
}

impl State {
    fn to_proto(self) -> SheetState {
        match self {
            State::Draft => SheetState::Draft,
            State::Submitted => SheetState::Submitted,
        }
    }
}
pub use save::save;
pub use submit::submit;

/// An answer as `score_sheets.answers` keeps it (JSON).
#[derive(serde::Serialize, serde::Deserialize, Clone)]
pub(crate) struct StoredAnswer {
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

    pub(crate) fn to_proto(&self) -> Answer {
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
    #[sqlx(try_from = "String")]
    state: State,
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
            state: self.state.to_proto() as i32,
            total: self.total,
            etag: ocop_kit::etag::of(self.version),
            update_time: Some(to_timestamp(self.update_time)),
            submit_time: self.submit_time.map(to_timestamp),
        }
    }
}

const COLUMNS: &str =
    "round_id, entry_id, member, criteria_set, answers, state, total, version, update_time, submit_time";

/// `(round, entry)` of `evaluationRounds/{r}/entries/{e}`.
fn parse_entry(field: &str, name: &str) -> Result<(String, String)> {
    crate::entries::parse_name(field, name)
}

/// `(round, entry, member)` of a sheet name.
fn parse_sheet(field: &str, name: &str) -> Result<(String, String, String)> {
    let pattern = "evaluationRounds/{round}/entries/{entry}/scoreSheets/{member}";
    let [round, entry, member] = ocop_kit::names::parse(field, name, pattern, "a score sheet name")?;
    Ok((round.to_owned(), entry.to_owned(), member.to_owned()))
}

/// The version an etag names (`v{n}`, exactly as sent), or -1, which no
/// sheet has, for anything else: a write guarded by it then touches nothing
/// and the refusal says why.
fn etag_version(etag: &str) -> i64 {
    ocop_kit::etag::version(etag).unwrap_or(-1)
}

/// Opens a sheet write's statement: `WITH round AS (…)`, the round locked
/// `FOR KEY SHARE`. Publishing and cancelling lock it `FOR UPDATE` (every
/// change of a round's state does, see `rounds::lock`), so a sheet write
/// either comes before one, and a publish counts it, or after, and finds the
/// round no longer scoring. Sheet writes do not block one another.
fn push_round(round_id: &str) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::new("WITH round AS (SELECT ");
    sql.push(rounds::round_columns!())
        .push(" FROM rounds WHERE id = ")
        .push_bind(round_id.to_owned())
        .push(" FOR KEY SHARE)");
    sql
}

/// The condition that `alias` (a `score_sheets` row) is `member`'s sheet on
/// entry `entry_id` of round `round_id`.
fn push_sheet_key(sql: &mut QueryBuilder<Postgres>, alias: &str, round_id: &str, entry_id: &str, member: &str) {
    sql.push(format!("{alias}.round_id = "))
        .push_bind(round_id.to_owned())
        .push(format!(" AND {alias}.entry_id = "))
        .push_bind(entry_id.to_owned())
        .push(format!(" AND {alias}.member = "))
        .push_bind(member.to_owned());
}

/// The condition that round `alias` is scoring and `member` sits on its
/// council: [`check_scoring`] in SQL.
fn push_scoring(sql: &mut QueryBuilder<Postgres>, alias: &str, member: &str) {
    sql.push(format!(
        "{alias}.state = 'scoring' AND {alias}.council @> jsonb_build_array(jsonb_build_object('user', "
    ))
    .push_bind(member.to_owned())
    .push("::text))");
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
    if round.state != rounds::State::Scoring {
        let why = if round.state == rounds::State::Published {
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

/// Now, to the microsecond PostgreSQL keeps, so that a sheet built before
/// its statement equals the sheet stored.
fn now_micros() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now)
}

/// SHEET_SUBMITTED: `name` is locked.
fn submitted_already(name: &str) -> Error {
    Error::failed_precondition("SHEET_SUBMITTED", format!("{name} is submitted and locked"))
}

/// A sheet: its member's own at any time; anyone's once the round is published.
pub async fn get(db: &PgPool, who: &Principal, name: &str) -> Result<ScoreSheet> {
    let (round_id, entry_id, member) = parse_sheet("name", name)?;
    let round = rounds::fetch(db, &round_id).await?;
    if member != who.subject && round.state != rounds::State::Published {
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
