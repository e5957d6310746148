//! The criteria-set store: loads the sheets shipped in `data/criteria/`,
//! versions them, and serves them.

use ocop_kit::bounded::Bounded;
use ocop_kit::date;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::regime::Sheets;
use ocop_kit::taxonomy::{self, Scored};
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CriteriaSet, Decision};
use prost::Message;
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::rules::criteria_sheets::{self, SourceSheet};

/// The sheets shipped with the service: (file name, contents).
pub const SHIPPED: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/criteria_files.rs"));

/// Filterable fields of `ListCriteriaSets`.
pub const FILTER_FIELDS: &[&str] = &["decision", "group_code", "subgroup_code", "in_force_at"];

/// What storing a sheet did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// First version of its product set.
    Created(String),
    /// Identical to the current version: nothing changed.
    Unchanged(String),
    /// The current version was unused and has been replaced in place.
    Replaced(String),
    /// The current version was used: this is a new version.
    NewVersion(String),
}

/// The key of a decision in `criteria_sets.decision`, `rounds.criteria_decision`
/// and set ids.
pub fn decision_key(decision: i32) -> &'static str {
    if decision == Decision::Decision262026 as i32 {
        "2026"
    } else if decision == Decision::Decision1482023 as i32 {
        "148"
    } else {
        "1048"
    }
}

/// The key of the decision whose sheets a regime scores on.
pub fn sheets_key(sheets: Sheets) -> &'static str {
    match sheets {
        Sheets::D1048 => "1048",
        Sheets::D148 => "148",
        Sheets::D26_2026 => "2026",
    }
}

/// The product set a product classified as `subgroup` is scored on in a
/// round of `decision` (a [`decision_key`]). 1048 sets carry the registry's
/// codes of their time. 148 and 26/2026 sets are those of 26/2026 Phụ lục I,
/// and a product classified under the earlier taxonomy is scored on the set
/// `ocop_kit::taxonomy` maps its code to; a removed set is refused
/// (`PRODUCT_SET_REMOVED`), since no sheet can score it.
pub fn scored_subgroup(decision: &str, subgroup: &str, product: &str) -> Result<String> {
    if decision == "1048" {
        return Ok(subgroup.to_owned());
    }
    match taxonomy::scored_as(subgroup) {
        Scored::Current(set) | Scored::Mapped(set, _) => Ok(set.code.to_owned()),
        // Not a code of either taxonomy: NO_CRITERIA_SET says so when pinning.
        Scored::Unknown => Ok(subgroup.to_owned()),
        Scored::Removed(legacy) => Err(Error::failed_precondition(
            "PRODUCT_SET_REMOVED",
            format!(
                "{product} is classified as `{subgroup}`, a product set with no sheet since Decision 148/2023 ({}); \
                 reclassify it in the registry under a set of 26/2026 Phụ lục I (ListProductGroups) before entering it",
                legacy.why
            ),
        )
        .with_metadata("subgroup_code", subgroup.to_owned())),
    }
}

/// Checks a sheet (JSON text) and stores it, versioning as needed.
pub async fn store(db: &PgPool, file: &str, json: &str) -> std::result::Result<Stored, Vec<String>> {
    let source: SourceSheet =
        serde_json::from_str(json).map_err(|e| vec![format!("{file}: not a criteria sheet: {e}")])?;
    let checked = criteria_sheets::check(source)
        .map_err(|problems| problems.into_iter().map(|p| format!("{file}: {p}")).collect::<Vec<_>>())?;
    store_set(db, checked.set)
        .await
        .map_err(|e| vec![format!("{file}: {e}")])
}

async fn store_set(db: &PgPool, set: CriteriaSet) -> Result<Stored> {
    let content = set.encode_to_vec();
    let fingerprint = format!("{:016x}", ocop_kit::fnv1a(&content));
    let decision = decision_key(set.decision);
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('evaluation.criteria_sets'))")
        .execute(&mut *tx)
        .await?;
    let current: Option<(String, i32, String, bool)> = sqlx::query_as(
        "SELECT id, version, fingerprint, used FROM criteria_sets WHERE decision = $1 AND subgroup_code = $2
         ORDER BY version DESC LIMIT 1",
    )
    .bind(decision)
    .bind(&set.subgroup_code)
    .fetch_optional(&mut *tx)
    .await?;
    let from = set
        .in_force_from
        .as_ref()
        .map(|d| date::from_proto("in_force_from", d))
        .transpose()?;
    let until = set
        .in_force_until
        .as_ref()
        .map(|d| date::from_proto("in_force_until", d))
        .transpose()?;
    let outcome = match current {
        Some((id, _, stored, _)) if stored == fingerprint => Stored::Unchanged(id),
        Some((id, _, _, false)) => {
            sqlx::query("UPDATE criteria_sets SET content = $2, fingerprint = $3, in_force_from = $4, in_force_until = $5 WHERE id = $1")
                .bind(&id)
                .bind(&content)
                .bind(&fingerprint)
                .bind(from)
                .bind(until)
                .execute(&mut *tx)
                .await?;
            Stored::Replaced(id)
        }
        previous => {
            let version = previous.map(|(_, v, _, _)| v + 1).unwrap_or(1);
            let id = format!("{decision}-{}-v{version}", set.subgroup_code);
            sqlx::query(
                "INSERT INTO criteria_sets (id, decision, group_code, subgroup_code, version, content, fingerprint, in_force_from, in_force_until)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(decision)
            .bind(&set.group_code)
            .bind(&set.subgroup_code)
            .bind(version)
            .bind(&content)
            .bind(&fingerprint)
            .bind(from)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            if version == 1 {
                Stored::Created(id)
            } else {
                Stored::NewVersion(id)
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Loads every shipped sheet; fails (naming every problem) if one is refused.
pub async fn load_shipped(db: PgPool) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (file, json) in SHIPPED {
        if let Err(p) = store(&db, file, json).await {
            problems.extend(p);
        }
    }
    anyhow::ensure!(problems.is_empty(), "criteria sheets refused:\n{}", problems.join("\n"));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    version: i32,
    content: Vec<u8>,
    used: bool,
    create_time: time::OffsetDateTime,
}

impl Row {
    fn to_proto(&self) -> Result<CriteriaSet> {
        let mut set = CriteriaSet::decode(self.content.as_slice()).map_err(Error::internal)?;
        set.name = format!("criteriaSets/{}", self.id);
        set.version = self.version;
        set.used = self.used;
        set.create_time = Some(date::to_timestamp(self.create_time));
        Ok(set)
    }
}

/// One set by name.
pub async fn get<'e, E: sqlx::PgExecutor<'e>>(db: E, name: &str) -> Result<CriteriaSet> {
    let id = name
        .strip_prefix("criteriaSets/")
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .ok_or_else(|| Error::invalid("name", format!("`{name}` is not a criteria set name; expected `criteriaSets/{{id}}`, e.g. `criteriaSets/2026-ruou-trang-v1`")))?;
    let row: Option<Row> =
        sqlx::query_as("SELECT id, version, content, used, create_time FROM criteria_sets WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    row.ok_or_else(|| Error::not_found(name))?.to_proto()
}

/// Sets pinned by an entry, decoded once per process, and which set each
/// entry pins. A pinned set is marked used, and a used set's content never
/// changes (a trigger refuses it; a correction is a new version); an entry's
/// pin is fixed when it is made, and entries are never deleted. So neither
/// copy can go stale. Scoring reads the pinned set on every save: this keeps
/// a ~40 KB decode and a round trip off that path.
#[derive(Clone)]
pub struct PinnedSets {
    /// The sets themselves: a few hundred at most (every published version).
    sets: Arc<RwLock<HashMap<String, Arc<CriteriaSet>>>>,
    /// `{round}/{entry}` → set id, bounded: entries grow with every round.
    pins: Arc<Bounded<String, String>>,
}

/// Entries' pins remembered per process; past this many the oldest go first.
const PINS: usize = 100_000;

impl Default for PinnedSets {
    fn default() -> Self {
        PinnedSets {
            sets: Default::default(),
            pins: Arc::new(Bounded::new(PINS)),
        }
    }
}

impl PinnedSets {
    /// The pinned set `id`, from memory or (first time) from the database.
    pub async fn get<'e, E: sqlx::PgExecutor<'e>>(&self, db: E, id: &str) -> Result<Arc<CriteriaSet>> {
        if let Some(set) = self.sets.read().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(set.clone());
        }
        let set = Arc::new(get(db, &format!("criteriaSets/{id}")).await?);
        if set.used {
            self.sets
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_owned(), set.clone());
        }
        Ok(set)
    }

    /// The id of the set entry `entry_id` of round `round_id` pins; `None`
    /// when there is no such entry.
    pub async fn pin_of(&self, db: &PgPool, round_id: &str, entry_id: &str) -> Result<Option<String>> {
        let key = format!("{round_id}/{entry_id}");
        if let Some(id) = self.pins.get(&key) {
            return Ok(Some(id));
        }
        let id: Option<String> = sqlx::query_scalar("SELECT criteria_set FROM entries WHERE round_id = $1 AND id = $2")
            .bind(round_id)
            .bind(entry_id)
            .fetch_optional(db)
            .await?;
        if let Some(id) = &id {
            self.pins.insert(key, id.clone());
        }
        Ok(id)
    }
}

/// A page of sets.
pub async fn list(db: &PgPool, page_size: i32, page_token: &str, filter: &str) -> Result<(Vec<CriteriaSet>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql =
        QueryBuilder::<Postgres>::new("SELECT id, version, content, used, create_time FROM criteria_sets WHERE TRUE");
    if let Some(decision) = filter.get("decision") {
        if !["1048", "148", "2026"].contains(&decision) {
            return Err(Error::invalid(
                "filter",
                format!("decision `{decision}` is not 1048, 148 or 2026 (26/2026)"),
            ));
        }
        sql.push(" AND decision = ").push_bind(decision.to_owned());
    }
    filter.push_equal(&mut sql, &["group_code", "subgroup_code"]);
    if let Some(at) = filter.get("in_force_at") {
        let at = date::parse_iso("filter", at)?;
        sql.push(" AND in_force_from <= ")
            .push_bind(at)
            .push(" AND (in_force_until IS NULL OR in_force_until >= ")
            .push_bind(at)
            .push(")");
    }
    if let Some(after) = &page.after {
        sql.push(" AND id > ").push_bind(after.clone());
    }
    sql.push(" ORDER BY id LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut rows, |r| r.id.clone(), &query_id);
    rows.iter()
        .map(Row::to_proto)
        .collect::<Result<Vec<_>>>()
        .map(|sets| (sets, next))
}

#[cfg(test)]
mod tests;
