//! Evaluation rounds (đợt) and their councils: who may open one at which
//! level, under which decision's criteria, and when.

mod store;
pub mod transitions;

pub(crate) use store::round_columns;
pub use store::{Row, State, council_users, fetch, level_of, lock_round, qualified_columns, seat_of, seats};
use store::{Seat, level_str, role_str};
pub(crate) use store::{change, lock};

use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::PROVINCE_CODES_2025;
use ocop_kit::create::{Begun, Create};
use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::EvaluationRound;

use crate::rules::batches;
use ocop_kit::regime::{self, CommuneStep, DECISION_1489, Regime};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

/// Filterable fields of `ListEvaluationRounds`.
pub const FILTER_FIELDS: &[&str] = &["level", "year", "province_code", "state"];

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
    let create = Create {
        method: "CreateEvaluationRound",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(db, &first).await,
    };
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
    create.commit(tx, who, &row.province_code, &proto.etag, &proto).await?;
    Ok(proto)
}

/// One round.
pub async fn get(db: &PgPool, name: &str) -> Result<EvaluationRound> {
    Ok(fetch(db, &parse_name("name", name)?).await?.to_proto())
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

/// The current etag of `round` when `etag` matches it (for other modules' transitions).
pub fn check_round_etag(name: &str, etag: &str, round: &Row) -> Result<String> {
    check_version(name, etag, round.version)
}
