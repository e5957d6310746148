//! Evaluation rounds (đợt) and their councils: who may open one at which
//! level, under which decision's criteria, and when.

pub mod transitions;

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::PROVINCE_CODES_2025;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CouncilMember, CouncilRole, EvaluationRound, RoundLevel, RoundState};

use crate::rules::batches;
use ocop_kit::regime::{self, CommuneStep, DECISION_1489, Regime};
use prost::Message;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

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

/// Filterable fields of `ListEvaluationRounds`.
pub const FILTER_FIELDS: &[&str] = &["level", "year", "province_code", "state"];

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

/// Decision 26/2026 Điều 5: a statutory batch (1 or 2) of a PROVINCE or
/// CENTRAL round under it is decided within its window; an additional one
/// (3 or more) names the regulation and plan that provide for it, and only
/// it does.
fn check_batch(v: &mut Violations, round: &EvaluationRound, level: &str, day: time::Date) {
    let basis = round.batch_basis.trim();
    let under_26_2026 = Regime::on(day) == Regime::D26_2026 && matches!(level, "province" | "central");
    let (year, batch) = (round.year, round.batch);
    if !under_26_2026 || batch < batches::FIRST_ADDITIONAL {
        if !basis.is_empty() {
            v.push(
                "evaluation_round.batch_basis",
                "only an additional batch (3 or more, under Decision 26/2026) names a basis; leave it empty",
            );
        }
    } else if basis.is_empty() {
        v.push(
            "evaluation_round.batch_basis",
            format!(
                "required for an additional batch: under Decision 26/2026 (Điều 5) the batches are {} and {}; \
                 another needs the council's regulation and the evaluation plan that provide for it",
                batches::describe(level, year, 1),
                batches::describe(level, year, 2)
            ),
        );
    }
    let Some(batches::Window {
        decided_before: Some(before),
        decided_from: Some(from),
        ..
    }) = under_26_2026.then(|| batches::window(level, year, batch)).flatten()
    else {
        return;
    };
    if day < from || day >= before {
        v.push(
            "evaluation_round.decision_date",
            format!(
                "{day} is outside {}: it is decided from {from} and before {before}",
                batches::describe(level, year, batch)
            ),
        );
    }
}

/// The caller may run rounds of `level` in `province`: province officers of
/// that province, on its own deployment (`here`); national officers for
/// CENTRAL rounds.
pub fn require_organiser(here: &Jurisdiction, who: &Principal, level: &str, province: &str) -> Result<()> {
    if level == "central" {
        return who.require(&[Role::NationalOfficer]);
    }
    who.require(&[Role::ProvinceOfficer])?;
    here.require_province(who, province, &format!("a round of province {province}"))
}

/// The round id of a name.
pub fn parse_name(field: &str, name: &str) -> Result<String> {
    const ROUND: &str = "evaluationRounds/{round}";
    let [id] = ocop_kit::names::parse(field, name, ROUND, "a round name")?;
    // Round ids are made here: lower-case letters, digits and dashes.
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(ocop_kit::names::invalid(field, name, ROUND, "a round name"));
    }
    Ok(id.to_owned())
}

/// Prepares a round in DRAFT.
pub async fn create(
    db: &PgPool,
    here: &Jurisdiction,
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
    if let (Some(level), Some(day)) = (level, day)
        && round.batch >= 1
        && day.year() == round.year
    {
        check_batch(&mut v, round, level, day);
    }
    // Only 26/2026 lets a council decide without meeting, and only on re-rating.
    if let (Some(level), Some(day)) = (level, day)
        && round.written_opinions
        && (Regime::on(day) != Regime::D26_2026 || !matches!(level, "province" | "central"))
    {
        v.push(
            "evaluation_round.written_opinions",
            format!(
                "a council decides by written opinions only when re-rating under Decision 26/2026 (Điều 7.6), \
                 in a PROVINCE or CENTRAL round decided from {}; {day} is a {level} round under {}",
                regime::DECISION_26_2026,
                Regime::on(day).name()
            ),
        );
    }
    v.check()?;
    let (level, day) = (level.unwrap_or_default(), day.unwrap_or(regime::DECISION_148));
    require_organiser(here, who, level, province)?;
    if level == "district" && day >= DECISION_1489 {
        return Err(Error::failed_precondition(
            "NO_DISTRICTS",
            format!(
                "districts were abolished on 2025-07-01 and Decision 1489/QĐ-TTg removed their rounds from {DECISION_1489}; open a PROVINCE round"
            ),
        ));
    }
    if level == "commune_assessment" && Regime::on(day).commune_step() == CommuneStep::None {
        return Err(Error::failed_precondition(
            "NO_COMMUNE_ASSESSMENT",
            format!("commune assessments exist from {DECISION_1489} (Decision 1489/QĐ-TTg); {day} is earlier"),
        ));
    }
    // The regime table decides the sheets: 1048, 148 (also under 1489), 26/2026.
    let criteria_decision = crate::criteria::sheets_key(Regime::on(day).sheets());
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
        "INSERT INTO rounds (id, level, year, batch, province_code, decision_date, criteria_decision, state, council, advisory_team,
            batch_basis, written_opinions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING ",
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
    .bind(round.batch_basis.trim())
    .bind(round.written_opinions)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::already_exists(
            &name,
            format_args!("batch {} of {} is taken for this level; use the next batch number", round.batch, round.year),
        )
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
    filter.push_equal(&mut sql, &["province_code"]);
    if let Some(state) = filter.get("state") {
        let Some(state) = State::parse(state) else {
            return Err(Error::invalid(
                "filter",
                format!("state `{state}` is not {}", State::texts().join(", ")),
            ));
        };
        sql.push(" AND state = ").push_bind(state.as_str());
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
    ocop_kit::etag::check("etag", etag, name, version)
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
