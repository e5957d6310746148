//! The SQL of rounds: the row type, its columns, reading and locking a round.

use ocop_kit::audit::Change;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::regime::Regime;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CouncilMember, CouncilRole, EvaluationRound, RoundLevel, RoundState};
use prost::Message;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::rules::batches;

ocop_kit::text_enum! {
    /// Where a round is in its life (`rounds.state`): DRAFT → OPEN → SCORING →
    /// PUBLISHED, or CANCELLED before publication.
    pub enum State {
        /// Being set up: its council and dates may change.
        Draft = "draft",
        /// Taking entries.
        Open = "open",
        /// The council scores; no more entries.
        Scoring = "scoring",
        /// Results computed and served.
        Published = "published",
        /// Stopped before publication.
        Cancelled = "cancelled",
    }
}

impl State {
    fn to_proto(self) -> RoundState {
        match self {
            State::Draft => RoundState::Draft,
            State::Open => RoundState::Open,
            State::Scoring => RoundState::Scoring,
            State::Published => RoundState::Published,
            State::Cancelled => RoundState::Cancelled,
        }
    }

    /// Whether entries and their checklists and reports may still change
    /// (the round is open or scoring).
    pub fn takes_entry_changes(self) -> bool {
        matches!(self, State::Open | State::Scoring)
    }
}

/// The columns of [`Row`].
macro_rules! round_columns {
    () => {
        "id, level, year, batch, province_code, decision_date, criteria_decision, state, council, advisory_team,
         version, create_time, update_time, cancel_reason, batch_basis, written_opinions"
    };
}
pub(crate) use round_columns;

/// The columns of [`Row`], qualified by `alias` (for joins).
pub fn qualified_columns(alias: &str) -> String {
    round_columns!()
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Seat {
    pub(super) user: String,
    pub(super) role: String,
}

/// A row of `rounds`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    /// Round id.
    pub id: String,
    /// `province`, `central`, ...
    pub level: String,
    year: i32,
    batch: i32,
    /// Province of the round; empty for CENTRAL.
    pub province_code: String,
    /// The round's date.
    pub decision_date: time::Date,
    /// `1048`, `148` or `2026`: the sheets of the regime in force on its date.
    pub criteria_decision: String,
    /// Where it is in its life.
    #[sqlx(try_from = "String")]
    pub state: State,
    council: Json<Vec<Seat>>,
    advisory_team: Json<Vec<String>>,
    /// Its version (the etag's number).
    pub version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    cancel_reason: String,
    batch_basis: String,
    /// Decided by the council's written opinions (Điều 7.6): re-rating entries only.
    pub written_opinions: bool,
}

pub(super) fn level_str(level: RoundLevel) -> Option<&'static str> {
    match level {
        RoundLevel::Unspecified => None,
        RoundLevel::CommuneAssessment => Some("commune_assessment"),
        RoundLevel::District => Some("district"),
        RoundLevel::Province => Some("province"),
        RoundLevel::Central => Some("central"),
    }
}

/// The proto level of a stored `level`.
pub fn level_of(level: &str) -> RoundLevel {
    match level {
        "commune_assessment" => RoundLevel::CommuneAssessment,
        "district" => RoundLevel::District,
        "province" => RoundLevel::Province,
        _ => RoundLevel::Central,
    }
}

pub(super) fn role_str(role: CouncilRole) -> Option<&'static str> {
    match role {
        CouncilRole::Unspecified => None,
        CouncilRole::Chair => Some("chair"),
        CouncilRole::Member => Some("member"),
        CouncilRole::Secretary => Some("secretary"),
    }
}

impl Row {
    /// The proto form.
    pub fn to_proto(&self) -> EvaluationRound {
        let level = level_of(&self.level);
        EvaluationRound {
            name: format!("evaluationRounds/{}", self.id),
            level: level as i32,
            year: self.year,
            batch: self.batch,
            province_code: self.province_code.clone(),
            decision_date: Some(date::to_proto(self.decision_date)),
            state: self.state.to_proto() as i32,
            council: self
                .council
                .iter()
                .map(|s| CouncilMember {
                    user: s.user.clone(),
                    role: match s.role.as_str() {
                        "chair" => CouncilRole::Chair,
                        "secretary" => CouncilRole::Secretary,
                        _ => CouncilRole::Member,
                    } as i32,
                })
                .collect(),
            advisory_team: self.advisory_team.0.clone(),
            criteria_decision: self.criteria_decision.clone(),
            etag: ocop_kit::etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            cancel_reason: self.cancel_reason.clone(),
            proposed_before: self.batch_window().map(|w| date::to_proto(w.proposed_before)),
            decided_before: self.batch_window().and_then(|w| w.decided_before).map(date::to_proto),
            batch_basis: self.batch_basis.clone(),
            written_opinions: self.written_opinions,
        }
    }

    /// Decision 26/2026 Điều 5: the cut-off and deadline of its batch, for a
    /// PROVINCE or CENTRAL round decided under 26/2026.
    pub fn batch_window(&self) -> Option<batches::Window> {
        if Regime::on(self.decision_date) != Regime::D26_2026 || !matches!(self.level.as_str(), "province" | "central")
        {
            return None;
        }
        if self.batch >= batches::FIRST_ADDITIONAL {
            return Some(batches::additional(self.decision_date));
        }
        batches::window(&self.level, self.year, self.batch)
    }

    /// "batch 2 of 2026 (…)", for messages.
    pub fn batch_name(&self) -> String {
        batches::describe(&self.level, self.year, self.batch)
    }
}

/// The row of a round; NOT_FOUND when missing.
pub async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!("SELECT ", round_columns!(), " FROM rounds WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("evaluationRounds/{id}")))
}

/// The users on the council.
pub fn council_users(round: &Row) -> Vec<String> {
    round.council.iter().map(|s| s.user.clone()).collect()
}

/// Locks a round row inside a transaction.
pub async fn lock_round(tx: &mut PgConnection, id: &str) -> Result<Row> {
    lock(tx, id).await
}

/// The council's seats: (user, role).
pub fn seats(round: &Row) -> impl Iterator<Item = (&str, &str)> {
    round.council.iter().map(|s| (s.user.as_str(), s.role.as_str()))
}

/// The council seat of `user`, if any.
pub fn seat_of(round: &Row, user: &str) -> Option<String> {
    round.council.iter().find(|s| s.user == user).map(|s| s.role.clone())
}

pub(crate) async fn lock(tx: &mut PgConnection, id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        round_columns!(),
        " FROM rounds WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.ok_or_else(|| Error::not_found(format!("evaluationRounds/{id}")))
}

pub(crate) fn change<'a>(
    method: &'static str,
    kind: &'static str,
    row: &'a Row,
    before: &'a str,
    proto: &'a EvaluationRound,
    request_id: &'a str,
) -> Change<'a> {
    Change {
        method,
        kind,
        resource: &proto.name,
        province: &row.province_code,
        etag_before: before,
        etag_after: &proto.etag,
        request_id,
        payload: proto.encode_to_vec(),
    }
}
