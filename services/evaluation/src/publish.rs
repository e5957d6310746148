//! Publishing a round: every entry's result computed at once from the
//! submitted sheets and the pinned set (rules in `results.rs`), stored, and
//! served; and recomputed on demand to show that it is reproducible.

use std::collections::HashMap;

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::to_timestamp;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{Answer, EvaluationResult as EntryResult, EvaluationRound, PartMean};
use prost::Message;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};

use ocop_kit::config::EvaluationConfig;

use crate::nominations::{self, StoredDecision};
use crate::rules::results::{self, Outcome};
use crate::score_sheets::StoredAnswer;
use crate::{criteria, rounds};

/// What a result states about its entry besides the scores: fixed when the
/// entry was made and the round created, copied onto the result so that the
/// published row stands on its own (certification and the feeds read it).
#[derive(sqlx::FromRow, Clone)]
struct Facts {
    round_id: String,
    entry_id: String,
    product: String,
    subject: String,
    province_code: String,
    commune_code: String,
    subgroup_code: String,
    group_code: String,
    criteria_set: String,
    level: String,
    decision_date: time::Date,
    /// 26/2026's `(T)-(X)-(STT)-year`, from the entry.
    product_code: String,
    /// The entry's registry dossier.
    product_dossier: String,
    /// The rules it was rated under.
    regime: String,
    /// Decided by the council's written opinions (Điều 7.6).
    written_opinions: bool,
    /// Re-rating: the application the entry consumed.
    re_rating_application: String,
}

/// The facts of a round's entries, with their knock-outs.
const ENTRY_FACTS: &str = "SELECT e.round_id, e.id AS entry_id, e.product, e.subject, e.province_code, e.commune_code,
        e.subgroup_code, c.group_code, e.criteria_set, r.level, r.decision_date, e.product_code, e.product_dossier,
        e.regime, r.written_opinions, e.re_rating_application, e.disqualifications
    FROM entries e JOIN criteria_sets c ON c.id = e.criteria_set JOIN rounds r ON r.id = e.round_id";

#[derive(sqlx::FromRow)]
struct EntryRow {
    #[sqlx(flatten)]
    facts: Facts,
    disqualifications: Json<Vec<String>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    facts: Facts,
    mean_tenths: i64,
    part_means: Json<Vec<(String, i64)>>,
    band_stars: i32,
    stars: i32,
    recognised_stars: i32,
    certifiable: bool,
    nominated: bool,
    rescore: bool,
    reasons: Json<Vec<String>>,
    sheets: i32,
    spread_limit: i32,
    publish_time: time::OffsetDateTime,
    approval: Option<Json<StoredDecision>>,
    proposal: Option<Json<StoredDecision>>,
    province_stars: i32,
}

const COLUMNS: &str =
    "round_id, entry_id, product, subject, province_code, commune_code, subgroup_code, group_code, criteria_set,
    level, decision_date, product_code, mean_tenths, part_means, band_stars, stars, recognised_stars, certifiable,
    nominated, rescore, reasons, sheets, spread_limit, publish_time, product_dossier, regime, approval, proposal,
    province_stars, written_opinions, re_rating_application";

fn to_proto(
    facts: &Facts,
    outcome: &Outcome,
    sheets: usize,
    publish_time: Option<time::OffsetDateTime>,
    province_stars: i32,
) -> EntryResult {
    let mut level = ocop_proto::evaluation::v1::EvaluationRound::default();
    level.set_level(rounds::level_of(&facts.level));
    EntryResult {
        name: format!("evaluationRounds/{}/entries/{}/result", facts.round_id, facts.entry_id),
        product: facts.product.clone(),
        subject: facts.subject.clone(),
        province_code: facts.province_code.clone(),
        commune_code: facts.commune_code.clone(),
        subgroup_code: facts.subgroup_code.clone(),
        group_code: facts.group_code.clone(),
        criteria_set: format!("criteriaSets/{}", facts.criteria_set),
        level: level.level,
        decision_date: Some(ocop_kit::date::to_proto(facts.decision_date)),
        mean: outcome.mean_tenths as f64 / 10.0,
        part_means: outcome
            .part_means_tenths
            .iter()
            .map(|(part, t)| PartMean {
                part: part.clone(),
                mean: *t as f64 / 10.0,
            })
            .collect(),
        band_stars: outcome.band_stars,
        stars: outcome.stars,
        recognised_stars: outcome.recognised_stars,
        certifiable: outcome.certifiable,
        nominated: outcome.nominated,
        rescore: outcome.rescore,
        reasons: outcome.reasons.clone(),
        sheets: sheets as i32,
        publish_time: publish_time.map(to_timestamp),
        product_code: facts.product_code.clone(),
        product_dossier: facts.product_dossier.clone(),
        regime: facts.regime.clone(),
        province_stars,
        written_opinions: facts.written_opinions,
        re_rating_application: facts.re_rating_application.clone(),
        ..Default::default()
    }
}

/// Decision 26/2026 Điều 7.4: the stars the province may certify on a CENTRAL
/// result below 90, with the reason said on the result.
fn with_province_stars(facts: &Facts, outcome: &mut Outcome, disqualifications: &[String]) -> i32 {
    let stars = nominations::province_stars(&facts.level, &facts.regime, outcome, !disqualifications.is_empty());
    if stars > 0 {
        outcome.reasons.push(nominations::province_stars_reason(stars));
    }
    stars
}

impl Row {
    fn to_proto(&self) -> EntryResult {
        let outcome = Outcome {
            mean_tenths: self.mean_tenths,
            part_means_tenths: self.part_means.0.clone(),
            band_stars: self.band_stars,
            stars: self.stars,
            recognised_stars: self.recognised_stars,
            certifiable: self.certifiable,
            nominated: self.nominated,
            rescore: self.rescore,
            reasons: self.reasons.0.clone(),
        };
        let mut proto = to_proto(
            &self.facts,
            &outcome,
            self.sheets as usize,
            Some(self.publish_time),
            self.province_stars,
        );
        proto.approval = self.approval.as_ref().map(|a| a.to_proto());
        proto.proposal = self.proposal.as_ref().map(|p| p.to_proto());
        proto
    }
}

/// The submitted sheets of a round, per entry.
async fn submitted<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    round_id: &str,
) -> Result<HashMap<String, Vec<(String, Vec<Answer>)>>> {
    let rows: Vec<(String, String, Json<Vec<StoredAnswer>>)> = sqlx::query_as(
        "SELECT entry_id, member, answers FROM score_sheets WHERE round_id = $1 AND state = 'submitted' ORDER BY member",
    )
    .bind(round_id)
    .fetch_all(db)
    .await?;
    let mut by_entry: HashMap<String, Vec<(String, Vec<Answer>)>> = HashMap::new();
    for (entry, member, answers) in rows {
        let answers = answers.iter().map(StoredAnswer::to_proto).collect();
        by_entry.entry(entry).or_default().push((member, answers));
    }
    Ok(by_entry)
}

/// Publishes every entry's result at once, once each has a quorum of sheets.
pub async fn publish(
    db: &PgPool,
    sets: &criteria::PinnedSets,
    rules: &EvaluationConfig,
    here: &ocop_kit::jurisdiction::Jurisdiction,
    who: &Principal,
    name: &str,
    etag: &str,
) -> Result<(EvaluationRound, Vec<EntryResult>)> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let id = rounds::parse_name("name", name)?;
    let mut tx = db.begin().await?;
    let round = rounds::lock_round(&mut tx, &id).await?;
    rounds::require_organiser(here, who, &round.level, &round.province_code)?;
    let before = rounds::check_round_etag(name, etag, &round)?;
    if round.state != rounds::State::Scoring {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!("{name} is {}; a round is published from scoring", round.state),
        ));
    }
    let council = rounds::council_users(&round);
    // `evaluation.quorum` of the seats (2/3 by default), rounded up.
    let (numerator, denominator) = rules.quorum_fraction().unwrap_or((2, 3));
    let quorum = (council.len() * numerator).div_ceil(denominator);
    let entries: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ENTRY_FACTS} WHERE e.round_id = $1 ORDER BY e.id"
    )))
    .bind(&id)
    .fetch_all(&mut *tx)
    .await?;
    let sheets = submitted(&mut *tx, &id).await?;
    let mut short = Vec::new();
    for entry in &entries {
        let done: Vec<&String> = sheets
            .get(&entry.facts.entry_id)
            .map(|s| s.iter().map(|(m, _)| m).collect())
            .unwrap_or_default();
        if done.len() < quorum {
            let missing: Vec<&str> = council
                .iter()
                .filter(|u| !done.contains(u))
                .map(String::as_str)
                .collect();
            short.push(format!(
                "{} ({}): {} of {quorum} sheets needed; not yet submitted by {}",
                entry.facts.product,
                entry.facts.entry_id,
                done.len(),
                missing.join(", ")
            ));
        }
    }
    if !short.is_empty() {
        return Err(Error::failed_precondition(
            "QUORUM_NOT_MET",
            format!("{name} cannot be published: {}", short.join("; ")),
        ));
    }
    let mut published = Vec::new();
    for entry in &entries {
        let facts = &entry.facts;
        let set = sets.get(&mut *tx, &facts.criteria_set).await?;
        let answers: Vec<Vec<Answer>> = sheets
            .get(&facts.entry_id)
            .map(|s| s.iter().map(|(_, a)| a.clone()).collect())
            .unwrap_or_default();
        let mut outcome = results::compute(
            &set,
            &answers,
            &round.level,
            round.decision_date,
            rules.spread_limit_points,
            &entry.disqualifications,
        );
        let province_stars = with_province_stars(facts, &mut outcome, &entry.disqualifications);
        sqlx::query(
            "INSERT INTO results (round_id, entry_id, product, subject, province_code, commune_code, subgroup_code, group_code,
                criteria_set, level, decision_date, mean_tenths, part_means, band_stars, stars, recognised_stars, certifiable,
                nominated, rescore, reasons, sheets, spread_limit, product_code, product_dossier, regime, province_stars,
                written_opinions, re_rating_application)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
                $24, $25, $26, $27, $28)",
        )
        .bind(&facts.round_id)
        .bind(&facts.entry_id)
        .bind(&facts.product)
        .bind(&facts.subject)
        .bind(&facts.province_code)
        .bind(&facts.commune_code)
        .bind(&facts.subgroup_code)
        .bind(&facts.group_code)
        .bind(&facts.criteria_set)
        .bind(&facts.level)
        .bind(facts.decision_date)
        .bind(outcome.mean_tenths)
        .bind(Json(&outcome.part_means_tenths))
        .bind(outcome.band_stars)
        .bind(outcome.stars)
        .bind(outcome.recognised_stars)
        .bind(outcome.certifiable)
        .bind(outcome.nominated)
        .bind(outcome.rescore)
        .bind(Json(&outcome.reasons))
        .bind(answers.len() as i32)
        .bind(rules.spread_limit_points)
        .bind(&facts.product_code)
        .bind(&facts.product_dossier)
        .bind(&facts.regime)
        .bind(province_stars)
        .bind(facts.written_opinions)
        .bind(&facts.re_rating_application)
        .execute(&mut *tx)
        .await?;
        published.push(to_proto(
            facts,
            &outcome,
            answers.len(),
            Some(time::OffsetDateTime::now_utc()),
            province_stars,
        ));
    }
    let row =
        sqlx::query("UPDATE rounds SET state = 'published', version = version + 1, update_time = now() WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    debug_assert_eq!(row.rows_affected(), 1);
    let round = rounds::fetch(&mut *tx, &id).await?.to_proto();
    for result in &published {
        let change = Change {
            method: "PublishEvaluationRound",
            kind: "created",
            resource: &result.name,
            province: &result.province_code,
            etag_before: "",
            etag_after: "",
            request_id: "",
            payload: result.encode_to_vec(),
        };
        audit::record(&mut tx, who, change).await?;
    }
    let change = Change {
        method: "PublishEvaluationRound",
        kind: "updated",
        resource: &round.name,
        province: &round.province_code,
        etag_before: &before,
        etag_after: &round.etag,
        request_id: "",
        payload: round.encode_to_vec(),
    };
    audit::record(&mut tx, who, change).await?;
    tx.commit().await?;
    Ok((round, published))
}

pub(crate) fn parse_result(field: &str, name: &str) -> Result<(String, String)> {
    let pattern = "evaluationRounds/{round}/entries/{entry}/result";
    let [round, entry] = ocop_kit::names::parse(field, name, pattern, "a result name")?;
    Ok((round.to_owned(), entry.to_owned()))
}

/// One published result.
pub async fn get(db: &PgPool, name: &str) -> Result<EntryResult> {
    let (round_id, entry_id) = parse_result("name", name)?;
    let row = fetch(db, &round_id, &entry_id).await?;
    Ok(row.ok_or_else(|| Error::not_found(name))?.to_proto())
}

/// A published result as served, read with `db` (a transaction's, too).
pub(crate) async fn fetch_proto<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    round_id: &str,
    entry_id: &str,
) -> Result<Option<EntryResult>> {
    Ok(fetch(db, round_id, entry_id).await?.map(|r| r.to_proto()))
}

async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, round_id: &str, entry_id: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM results WHERE round_id = $1 AND entry_id = $2"
    )))
    .bind(round_id)
    .bind(entry_id)
    .fetch_optional(db)
    .await?)
}

/// A page of published results; `nominated_only` for ListNominations.
pub async fn list(
    db: &PgPool,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
    nominated_only: bool,
) -> Result<(Vec<EntryResult>, String)> {
    let round = if parent == "evaluationRounds/-" {
        None
    } else {
        Some(rounds::parse_name("parent", parent)?)
    };
    let fields: &[&str] = if nominated_only {
        &["province_code", "group_code", "subgroup_code"]
    } else {
        &[
            "stars",
            "certifiable",
            "group_code",
            "subgroup_code",
            "province_code",
            "commune_code",
        ]
    };
    let filter = Filter::parse(filter, fields)?;
    let query_id = format!("{parent}|{nominated_only}|{}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM results WHERE TRUE"));
    if let Some(round) = round {
        sql.push(" AND round_id = ").push_bind(round);
    }
    if nominated_only {
        sql.push(" AND nominated");
    }
    if let Some(stars) = filter.get("stars") {
        let stars: i32 = stars
            .parse()
            .ok()
            .filter(|s| (0..=5).contains(s))
            .ok_or_else(|| Error::invalid("filter", format!("stars `{stars}` is not 0 to 5")))?;
        sql.push(" AND recognised_stars = ").push_bind(stars);
    }
    if let Some(certifiable) = filter.get("certifiable") {
        let certifiable: bool = certifiable
            .parse()
            .map_err(|_| Error::invalid("filter", format!("certifiable `{certifiable}` is not true or false")))?;
        sql.push(" AND certifiable = ").push_bind(certifiable);
    }
    filter.push_equal(
        &mut sql,
        &["group_code", "subgroup_code", "province_code", "commune_code"],
    );
    if let Some(after) = &page.after {
        let (r, e) = after
            .split_once('/')
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (round_id, entry_id) > (")
            .push_bind(r.to_owned())
            .push(", ")
            .push_bind(e.to_owned())
            .push(")");
    }
    sql.push(" ORDER BY round_id, entry_id LIMIT ")
        .push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(
        &mut rows,
        |r| format!("{}/{}", r.facts.round_id, r.facts.entry_id),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// Recomputes a published result from its stored sheets and pinned set.
pub async fn recompute(db: &PgPool, sets: &criteria::PinnedSets, name: &str) -> Result<(EntryResult, bool)> {
    let (round_id, entry_id) = parse_result("name", name)?;
    let stored = fetch(db, &round_id, &entry_id)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    let entry: EntryRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ENTRY_FACTS} WHERE e.round_id = $1 AND e.id = $2"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .fetch_one(db)
    .await?;
    let round = rounds::fetch(db, &round_id).await?;
    let set = sets.get(db, &entry.facts.criteria_set).await?;
    let sheets = submitted(db, &round_id).await?;
    let answers: Vec<Vec<Answer>> = sheets
        .get(&entry_id)
        .map(|s| s.iter().map(|(_, a)| a.clone()).collect())
        .unwrap_or_default();
    // The spread limit it was published with, whatever the setting is today.
    let mut outcome = results::compute(
        &set,
        &answers,
        &round.level,
        round.decision_date,
        stored.spread_limit,
        &entry.disqualifications,
    );
    let province_stars = with_province_stars(&entry.facts, &mut outcome, &entry.disqualifications);
    let mut again = to_proto(&entry.facts, &outcome, answers.len(), None, province_stars);
    let stored = stored.to_proto();
    // Recorded later, not computed: the approval and proposal are the province's.
    again.publish_time = stored.publish_time;
    again.approval = stored.approval.clone();
    again.proposal = stored.proposal.clone();
    let identical = again == stored;
    Ok((again, identical))
}
