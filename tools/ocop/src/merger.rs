//! `ocop export-province` / `ocop import-province`: a province's whole
//! dataset moved into another deployment when provinces merge (63 became 34
//! on 2025-07-01).
//!
//! Export reads every service's schema in one repeatable-read snapshot: the
//! entities, the audit logs, each resource's latest change-feed entry, and
//! the certificate signing keys, marked retired. Import checks the whole
//! file first, maps every administrative unit code to today's through the
//! registry's lineage, then writes everything in one transaction: rows keep
//! their names (a name already present is left alone), audit rows are
//! appended, the feed entries are appended to the importing deployment's
//! feeds (so its catalog and the national mirror learn of the new rows), and
//! the file's checksum is recorded, so the same file imported again changes
//! nothing. Old certificates stay verifiable: their rows come along, and
//! their retired key is listed by `GetSigningKeys` for offline checks.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::Path;

use ocop_kit::config::Config;
use ocop_kit::dataset::{Dataset, Table};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::province_file;

/// Every service's dataset, in an order that satisfies their foreign keys
/// (each service declares its own tables: `ocop_kit::dataset`). Read models
/// (the catalog) are not carried: the importing deployment rebuilds them
/// from the feed entries.
const DATASETS: [&Dataset; 4] = [
    &ocop_registry::DATASET,
    &ocop_evaluation::DATASET,
    &ocop_certification::DATASET,
    &ocop_promotion::DATASET,
];

/// Every table carried, `schema.table`, in order.
fn tables() -> Vec<(String, &'static Table)> {
    DATASETS.iter().flat_map(|d| d.qualified()).collect()
}

/// Feeds whose latest entry per resource travels with the data.
fn feeds() -> impl Iterator<Item = &'static str> {
    DATASETS.iter().map(|d| d.schema)
}

/// Columns holding an administrative unit's code, mapped on import.
const UNIT_COLUMNS: &[&str] = &["commune_code", "origin_commune_code", "province_code"];

/// Prints `message` on a terminal only (progress is noise in a log).
fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{message}");
    }
}

/// The columns of `table` an insert may name: not generated, not an
/// identity the database numbers itself (audit sequences are re-numbered).
async fn columns(db: &mut PgConnection, table: &str) -> anyhow::Result<Vec<String>> {
    let (schema, name) = table.split_once('.').expect("schema.table");
    Ok(sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' AND is_identity = 'NO'
         ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(&mut *db)
    .await?)
}

fn quoted(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the deployment's dataset to `file`.
pub(crate) async fn export(config: &Config, file: &Path) -> anyhow::Result<()> {
    let province = config
        .deployment
        .province_code
        .clone()
        .ok_or_else(|| anyhow::anyhow!("only a province's deployment is exported (deployment.province_code)"))?;
    let db = PgPool::connect(&config.database.url).await?;
    let mut tx = db.begin().await?;
    // One snapshot for every table: the file is consistent even while the services write.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let exported_at: String =
        sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
            .fetch_one(&mut *tx)
            .await?;
    let mut sections = Vec::new();
    let tables = tables();
    let total = tables.len() + DATASETS.len();
    for (i, (table, carried)) in tables.iter().enumerate() {
        let cols = columns(&mut tx, table).await?;
        anyhow::ensure!(
            !cols.is_empty(),
            "table {table} does not exist: run `ocop migrate` first"
        );
        let select = format!(
            "SELECT {} FROM {table}",
            cols.iter()
                .map(|c| match carried.exported_as.iter().find(|(name, _)| name == c) {
                    Some((name, expression)) => format!("{expression} AS \"{name}\""),
                    None => format!("\"{c}\""),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (json, rows): (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(jsonb_agg(to_jsonb(t)), '[]')::text, count(*) FROM ({select}) t"
        )))
        .fetch_one(&mut *tx)
        .await?;
        progress(&format!("[{}/{total}] {table}: {rows} rows", i + 1));
        sections.push((table.to_string(), json, rows as usize));
    }
    for (i, schema) in feeds().enumerate() {
        // The latest entry per resource; a committed one the sequencer has
        // not numbered yet (no position) is the newest.
        let (json, rows): (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(jsonb_agg(to_jsonb(t)), '[]')::text, count(*) FROM (
                 SELECT DISTINCT ON (resource) resource, change, payload, traceparent FROM {schema}.outbox
                 ORDER BY resource, position DESC NULLS FIRST, sequence DESC) t"
        )))
        .fetch_one(&mut *tx)
        .await?;
        progress(&format!(
            "[{}/{total}] {schema} feed: {rows} resources",
            tables.len() + i + 1
        ));
        sections.push((format!("{schema}.outbox"), json, rows as usize));
    }
    tx.commit().await?;
    let bytes = province_file::write(&province, &config.auth.issuer, &exported_at, &sections);
    // Written beside, then renamed: a crash never leaves a half file under the name.
    let partial = file.with_extension("partial");
    std::fs::write(&partial, &bytes)?;
    std::fs::rename(&partial, file)?;
    let rows: usize = sections.iter().map(|s| s.2).sum();
    println!(
        "exported province {province}: {rows} rows in {} sections, {} bytes, to {}",
        sections.len(),
        bytes.len(),
        file.display()
    );
    Ok(())
}

/// Today's code of every unit code in `codes`, through the lineage; an
/// error names the codes the reference data does not know.
pub(crate) async fn today_codes(db: &PgPool, codes: &BTreeSet<String>) -> anyhow::Result<HashMap<String, String>> {
    let codes: Vec<&String> = codes.iter().collect();
    // A code of the 2025 list is read as one (the registry stores only
    // those); any other as a 2004 code. Then default successors are followed
    // until a unit in force today.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH RECURSIVE start AS (
             SELECT c, COALESCE((SELECT 2025::smallint FROM registry.administrative_units
                                 WHERE scheme = 2025 AND code = c), 2004::smallint) AS scheme
             FROM unnest($1::text[]) AS c),
         walk AS (
             SELECT s.c, u.scheme, u.code, u.valid_until, 0 AS hops
             FROM start s JOIN registry.administrative_units u ON u.scheme = s.scheme AND u.code = s.c
             UNION ALL
             SELECT w.c, u.scheme, u.code, u.valid_until, w.hops + 1
             FROM walk w
             JOIN registry.unit_successors l ON l.from_scheme = w.scheme AND l.from_code = w.code AND l.is_default
             JOIN registry.administrative_units u ON u.scheme = l.to_scheme AND u.code = l.to_code
             WHERE w.valid_until IS NOT NULL AND w.valid_until < current_date AND w.hops < 10)
         SELECT DISTINCT ON (c) c, code FROM walk
         WHERE valid_until IS NULL OR valid_until >= current_date
         ORDER BY c, hops",
    )
    .bind(&codes)
    .fetch_all(db)
    .await?;
    let map: HashMap<String, String> = rows.into_iter().collect();
    let unknown: Vec<&str> = codes
        .iter()
        .filter(|c| !map.contains_key(c.as_str()))
        .map(|c| c.as_str())
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "these administrative unit codes have no unit in force today in the reference data: {}; update the registry's reference data first",
        unknown.join(", ")
    );
    Ok(map)
}

/// Replaces every unit code in `rows` with today's.
fn map_units(rows: &mut [Value], today: &HashMap<String, String>) {
    for row in rows {
        for column in UNIT_COLUMNS {
            if let Some(Value::String(code)) = row.get_mut(*column)
                && let Some(now) = today.get(code.as_str())
            {
                *code = now.clone();
            }
        }
    }
}

/// Loads `file` into the deployment's database.
pub(crate) async fn import(config: &Config, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut checked = province_file::read(&bytes)
        .map_err(|why| anyhow::anyhow!("{} is refused, nothing was written: {why}", file.display()))?;
    let manifest = &checked.manifest;
    let tables = tables();
    let expected_sections: Vec<String> = tables
        .iter()
        .map(|(t, _)| t.clone())
        .chain(feeds().map(|s| format!("{s}.outbox")))
        .collect();
    for (section, expected) in manifest.sections.iter().zip(&expected_sections) {
        anyhow::ensure!(
            section.table == *expected,
            "{} is refused, nothing was written: section {} is {}, this version expects {expected}",
            file.display(),
            section.table,
            section.table
        );
    }
    anyhow::ensure!(
        manifest.sections.len() == expected_sections.len(),
        "{} is refused, nothing was written: {} sections, this version expects {}",
        file.display(),
        manifest.sections.len(),
        expected_sections.len()
    );
    progress(&format!(
        "checked {}: province {} exported {} by {}",
        file.display(),
        manifest.province_code,
        manifest.exported_at,
        manifest.source
    ));
    let db = PgPool::connect(&config.database.url).await?;
    let mut codes = BTreeSet::new();
    for rows in &checked.sections[..tables.len()] {
        for row in rows {
            for column in UNIT_COLUMNS {
                if let Some(Value::String(code)) = row.get(*column)
                    && !code.is_empty()
                {
                    codes.insert(code.clone());
                }
            }
        }
    }
    let today = today_codes(&db, &codes).await?;
    let moved = today.iter().filter(|(from, to)| from != to).count();

    let mut tx = db.begin().await?;
    let first: Option<String> = sqlx::query_scalar(
        "INSERT INTO registry.province_imports (sha256, province_code, source, exported_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
    )
    .bind(&checked.sha256)
    .bind(&manifest.province_code)
    .bind(&manifest.source)
    .bind(&manifest.exported_at)
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        let when: String =
            sqlx::query_scalar("SELECT import_time::text FROM registry.province_imports WHERE sha256 = $1")
                .bind(&checked.sha256)
                .fetch_one(&mut *tx)
                .await?;
        println!("{} was already imported on {when}: nothing changed", file.display());
        return Ok(());
    }
    let (mut inserted, mut kept) = (0u64, 0u64);
    let total = checked.sections.len();
    let names: Vec<String> = manifest.sections.iter().map(|s| s.table.clone()).collect();
    for (i, (table, rows)) in names.iter().zip(checked.sections.iter_mut()).enumerate() {
        map_units(rows, &today);
        let count = rows.len() as u64;
        let rows = Value::Array(std::mem::take(rows));
        let written = if let Some(schema) = table.strip_suffix(".outbox") {
            // Appended to this deployment's feed, numbered by its sequencer.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {schema}.outbox (resource, change, payload, traceparent)
                 SELECT resource, change, decode(substr(payload, 3), 'hex'), traceparent
                 FROM jsonb_to_recordset($1::jsonb) AS t(resource text, change text, payload text, traceparent text)"
            )))
            .bind(&rows)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            let cols = quoted(&columns(&mut tx, table).await?);
            let conflict = tables
                .iter()
                .find(|(name, _)| name == table)
                .map_or("DO NOTHING", |(_, t)| t.on_conflict);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb) \
                 ON CONFLICT {conflict}"
            )))
            .bind(&rows)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        inserted += written;
        kept += count.saturating_sub(written);
        progress(&format!("[{}/{total}] {table}: {written} of {count} written", i + 1));
    }
    tx.commit().await?;
    println!(
        "imported province {} ({} exported {}): {inserted} rows written, {kept} already present and left alone, {moved} unit codes mapped to today's",
        manifest.province_code, manifest.source, manifest.exported_at
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_table_of_every_service_is_carried_or_left_out_with_a_reason() {
        let env = ocop_testkit::TestEnv::new().await;
        let specs = [
            ocop_registry::spec(),
            ocop_evaluation::spec(),
            ocop_certification::spec(),
            ocop_promotion::spec(),
        ];
        let mut wrong = Vec::new();
        for (spec, dataset) in specs.iter().zip(DATASETS) {
            let pool = ocop_kit::db::connect_lazy(&env.config.database, dataset.schema).unwrap();
            ocop_kit::db::migrate(&pool, dataset.schema, spec.migrations)
                .await
                .unwrap();
            wrong.extend(ocop_kit::dataset::unlisted(&pool, dataset).await.unwrap());
        }
        assert!(
            wrong.is_empty(),
            "a new table must be placed in its service's dataset.rs: {wrong:#?}"
        );
    }

    #[tokio::test]
    async fn old_units_map_to_todays_through_the_lineage() {
        let env = ocop_testkit::TestEnv::new().await;
        let pool = ocop_kit::db::connect_lazy(&env.config.database, "registry").unwrap();
        let spec = ocop_registry::spec();
        ocop_kit::db::migrate(&pool, "registry", spec.migrations).await.unwrap();
        (spec.prepare.unwrap())(pool.clone()).await.unwrap();

        let codes = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<BTreeSet<_>>();
        // Quảng Nam (2004: 49) is Đà Nẵng (48) today; a code of today stays.
        let today = today_codes(&pool, &codes(&["49", "48", "20335", "14758"]))
            .await
            .unwrap();
        assert_eq!(today["49"], "48");
        assert_eq!(today["48"], "48");
        assert_eq!(today["20335"], "20335");
        assert_eq!(today["14758"], "14758");
        let mut rows = vec![serde_json::json!({"province_code": "49", "commune_code": "20335", "name": "49"})];
        map_units(&mut rows, &today);
        assert_eq!(
            rows[0],
            serde_json::json!({"province_code": "48", "commune_code": "20335", "name": "49"})
        );

        let err = today_codes(&pool, &codes(&["99999", "49"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("99999") && !err.contains("49,"), "{err}");
    }
}
