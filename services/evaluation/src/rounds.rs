//! Evaluation rounds (đợt) and their councils: who may open one at which
//! level, under which decision's criteria, and when.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::PROVINCE_CODES_2025;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{CouncilMember, CouncilRole, EvaluationRound, RoundLevel, RoundState};
use prost::Message;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use time::macros::date;

/// Decision 148/2023 replaced 1048/2019 on this day.
pub const DECISION_148: time::Date = date!(2023 - 02 - 24);
/// Decision 1489/2025 (commune assessment, no districts) took effect on this day.
pub const DECISION_1489: time::Date = date!(2025 - 07 - 06);
/// Filterable fields of `ListEvaluationRounds`.
pub const FILTER_FIELDS: &[&str] = &["level", "year", "province_code", "state"];

/// The columns of [`Row`].
macro_rules! round_columns {
    () => {
        "id, level, year, batch, province_code, decision_date, criteria_decision, state, council, advisory_team,
         version, create_time, update_time, cancel_reason"
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
struct Seat {
    user: String,
    role: String,
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
    /// `1048` or `148`.
    pub criteria_decision: String,
    /// `draft`, `open`, ...
    pub state: String,
    council: Json<Vec<Seat>>,
    advisory_team: Json<Vec<String>>,
    /// Its version (the etag's number).
    pub version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    cancel_reason: String,
}

fn level_str(level: RoundLevel) -> Option<&'static str> {
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

fn role_str(role: CouncilRole) -> Option<&'static str> {
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
        let state = match self.state.as_str() {
            "draft" => RoundState::Draft,
            "open" => RoundState::Open,
            "scoring" => RoundState::Scoring,
            "published" => RoundState::Published,
            _ => RoundState::Cancelled,
        };
        EvaluationRound {
            name: format!("evaluationRounds/{}", self.id),
            level: level as i32,
            year: self.year,
            batch: self.batch,
            province_code: self.province_code.clone(),
            decision_date: Some(date::to_proto(self.decision_date)),
            state: state as i32,
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
            etag: format!("v{}", self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            cancel_reason: self.cancel_reason.clone(),
        }
    }
}

/// The caller may run rounds of `level` in `province`: province officers of
/// that province, national officers for CENTRAL rounds.
pub fn require_organiser(who: &Principal, level: &str, province: &str) -> Result<()> {
    if level == "central" {
        return who.require(&[Role::NationalOfficer]);
    }
    who.require(&[Role::ProvinceOfficer])?;
    if who.province.as_deref() == Some(province) {
        return Ok(());
    }
    Err(Error::permission_denied(
        "OUTSIDE_JURISDICTION",
        format!(
            "rounds of province {province} are organised by its officers; your token is for {}",
            who.province.as_deref().unwrap_or("no province")
        ),
    ))
}

/// The round id of a name.
pub fn parse_name(field: &str, name: &str) -> Result<String> {
    name.strip_prefix("evaluationRounds/")
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("`{name}` is not a round name; expected `evaluationRounds/{{round}}`"),
            )
        })
}

/// Prepares a round in DRAFT.
pub async fn create(
    db: &PgPool,
    who: &Principal,
    round: &EvaluationRound,
    request_id: &str,
) -> Result<EvaluationRound> {
    let mut v = Violations::default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let level = level_str(round.level());
    if level.is_none() {
        v.push(
            "evaluation_round.level",
            "required: COMMUNE_ASSESSMENT, DISTRICT, PROVINCE or CENTRAL",
        );
    }
    let day = match &round.decision_date {
        Some(d) => date::from_proto("evaluation_round.decision_date", d)
            .map_err(|e| v.push("evaluation_round.decision_date", e.violations()[0].description.clone()))
            .ok(),
        None => {
            v.push(
                "evaluation_round.decision_date",
                "required: the round's date decides its criteria and powers",
            );
            None
        }
    };
    if let Some(day) = day
        && day.year() != round.year
    {
        v.push(
            "evaluation_round.year",
            format!("{} does not match decision_date {day}", round.year),
        );
    }
    if round.batch < 1 {
        v.push("evaluation_round.batch", "required: 1 or more");
    }
    let province = round.province_code.trim();
    match level {
        Some("central") if !province.is_empty() => {
            v.push("evaluation_round.province_code", "must be empty for a CENTRAL round")
        }
        Some(l) if l != "central" && !PROVINCE_CODES_2025.contains(&province) => v.push(
            "evaluation_round.province_code",
            format!("`{province}` is not one of the 34 province codes of Decision 19/2025"),
        ),
        _ => {}
    }
    let mut chairs = 0;
    let mut users = std::collections::HashSet::new();
    let mut seats = Vec::new();
    for (i, m) in round.council.iter().enumerate() {
        let field = format!("evaluation_round.council[{i}]");
        if m.user.trim().is_empty() {
            v.push(format!("{field}.user"), "required");
        } else if !users.insert(m.user.trim()) {
            v.push(format!("{field}.user"), format!("{} sits twice", m.user));
        }
        match role_str(m.role()) {
            Some(role) => {
                chairs += usize::from(role == "chair");
                seats.push(Seat {
                    user: m.user.trim().to_owned(),
                    role: role.into(),
                });
            }
            None => v.push(format!("{field}.role"), "required: CHAIR, MEMBER or SECRETARY"),
        }
    }
    if chairs > 1 {
        v.push("evaluation_round.council", "a council has one chair");
    }
    v.check()?;
    let (level, day) = (level.unwrap_or_default(), day.unwrap_or(DECISION_148));
    require_organiser(who, level, province)?;
    if level == "district" && day >= DECISION_1489 {
        return Err(Error::failed_precondition(
            "NO_DISTRICTS",
            format!(
                "districts were abolished on 2025-07-01 and Decision 1489/QĐ-TTg removed their rounds from {DECISION_1489}; open a PROVINCE round"
            ),
        ));
    }
    if level == "commune_assessment" && day < DECISION_1489 {
        return Err(Error::failed_precondition(
            "NO_COMMUNE_ASSESSMENT",
            format!("commune assessments exist from {DECISION_1489} (Decision 1489/QĐ-TTg); {day} is earlier"),
        ));
    }
    let criteria_decision = if day < DECISION_148 { "1048" } else { "148" };
    let id = format!(
        "{}-{}-{}-{}",
        if province.is_empty() { "tw" } else { province },
        level.replace('_', "-"),
        round.year,
        round.batch
    );
    let name = format!("evaluationRounds/{id}");
    let mut tx = db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateEvaluationRound", &name).await? {
        drop(tx);
        return get(db, &first).await;
    }
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO rounds (id, level, year, batch, province_code, decision_date, criteria_decision, state, council, advisory_team)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9) ON CONFLICT DO NOTHING RETURNING ",
        round_columns!()
    ))
    .bind(&id)
    .bind(level)
    .bind(round.year)
    .bind(round.batch)
    .bind(province)
    .bind(day)
    .bind(criteria_decision)
    .bind(Json(&seats))
    .bind(Json(&round.advisory_team))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::new(ErrorKind::AlreadyExists, "ALREADY_EXISTS", format!("{name} already exists: batch {} of {} for this level; use the next batch number", round.batch, round.year))
    })?;
    let proto = row.to_proto();
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    audit::record(
        &mut tx,
        who,
        change("CreateEvaluationRound", "created", &row, "", &proto, &request),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// One round.
pub async fn get(db: &PgPool, name: &str) -> Result<EvaluationRound> {
    Ok(fetch(db, &parse_name("name", name)?).await?.to_proto())
}

/// The row of a round; NOT_FOUND when missing.
pub async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!("SELECT ", round_columns!(), " FROM rounds WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("evaluationRounds/{id}")))
}

/// A page of rounds.
pub async fn list(
    db: &PgPool,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<EvaluationRound>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", round_columns!(), " FROM rounds WHERE TRUE"));
    if let Some(level) = filter.get("level") {
        if !["commune_assessment", "district", "province", "central"].contains(&level) {
            return Err(Error::invalid(
                "filter",
                format!("level `{level}` is not commune_assessment, district, province or central"),
            ));
        }
        sql.push(" AND level = ").push_bind(level.to_owned());
    }
    if let Some(year) = filter.get("year") {
        let year: i32 = year
            .parse()
            .map_err(|_| Error::invalid("filter", format!("year `{year}` is not a number")))?;
        sql.push(" AND year = ").push_bind(year);
    }
    if let Some(province) = filter.get("province_code") {
        sql.push(" AND province_code = ").push_bind(province.to_owned());
    }
    if let Some(state) = filter.get("state") {
        if !["draft", "open", "scoring", "published", "cancelled"].contains(&state) {
            return Err(Error::invalid(
                "filter",
                format!("state `{state}` is not draft, open, scoring, published or cancelled"),
            ));
        }
        sql.push(" AND state = ").push_bind(state.to_owned());
    }
    if let Some(after) = &page.after {
        sql.push(" AND id > ").push_bind(after.clone());
    }
    sql.push(" ORDER BY id LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut rows, |r| r.id.clone(), &query_id);
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// The current etag when `etag` matches it; INVALID_ARGUMENT or ABORTED otherwise.
pub(crate) fn check_version(name: &str, etag: &str, version: i64) -> Result<String> {
    ocop_kit::error::check_etag(name, etag, version)
}

/// The users on the council.
pub fn council_users(round: &Row) -> Vec<String> {
    round.council.iter().map(|s| s.user.clone()).collect()
}

/// The current etag of `round` when `etag` matches it (for other modules' transitions).
pub fn check_round_etag(name: &str, etag: &str, round: &Row) -> Result<String> {
    check_version(name, etag, round.version)
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
