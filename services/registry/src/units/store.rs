//! The SQL of administrative units: `administrative_units` and
//! `unit_successors`, the row type and the lineage read with it.

use ocop_kit::filter::Filter;
use ocop_kit::{Error, Result, date};
use ocop_proto::registry::v1::{AdministrativeUnit, CodeScheme, Successor, UnitLevel};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::{UnitKey, check_code};
use ocop_kit::text_enum;

text_enum! {
    /// The level of a unit (districts exist in the 2004 list only).
    pub enum Level {
        /// Tỉnh, thành phố.
        Province = "province",
        /// Huyện, quận (until 2025-07-01).
        District = "district",
        /// Xã, phường, đặc khu.
        Commune = "commune",
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub scheme: i16,
    pub code: String,
    #[sqlx(try_from = "String")]
    level: Level,
    pub level_rank: i16,
    pub name: String,
    parent_code: Option<String>,
    province_code: String,
    valid_from: Option<time::Date>,
    valid_until: Option<time::Date>,
}

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "scheme, code, level, level_rank, name, parent_code, province_code, valid_from, valid_until"
    };
}
const COLUMNS: &str = columns!();

/// The unit `key`, with its lineage, if any.
pub(super) async fn fetch(db: &PgPool, key: &UnitKey) -> Result<Option<AdministrativeUnit>> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM administrative_units WHERE scheme = $1 AND code = $2"
    ))
    .bind(key.scheme)
    .bind(&key.code)
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) => Ok(with_lineage(db, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// A page of the units matching `filter` after cursor `after`, in scheme
/// (newest first), level, code order; INVALID_ARGUMENT for a filter value
/// that names no scheme, level, unit or date.
pub(super) async fn page(db: &PgPool, filter: &Filter, after: Option<&str>, limit: i64) -> Result<Vec<Row>> {
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM administrative_units WHERE TRUE"));
    if let Some(scheme) = filter.get("scheme") {
        let scheme: i16 = match scheme {
            "2004" => 2004,
            "2025" => 2025,
            other => {
                return Err(Error::invalid(
                    "filter",
                    format!("scheme `{other}` is not 2004 or 2025"),
                ));
            }
        };
        sql.push(" AND scheme = ").push_bind(scheme);
    }
    if let Some(level) = filter.get("level") {
        if Level::parse(level).is_none() {
            return Err(Error::invalid(
                "filter",
                format!("level `{level}` is not province, district or commune"),
            ));
        }
        sql.push(" AND level = ").push_bind(level.to_owned());
    }
    if let Some(parent) = filter.get("parent") {
        let parent = UnitKey::parse("filter", parent)?;
        sql.push(" AND scheme = ")
            .push_bind(parent.scheme)
            .push(" AND parent_code = ")
            .push_bind(parent.code);
    }
    if let Some(province) = filter.get("province_code") {
        check_code("filter", province)?;
        sql.push(" AND province_code = ").push_bind(province.to_owned());
    }
    if let Some(at) = filter.get("in_force_at") {
        let at = date::parse_iso("filter", at)?;
        sql.push(" AND (valid_from IS NULL OR valid_from <= ")
            .push_bind(at)
            .push(") AND (valid_until IS NULL OR valid_until >= ")
            .push_bind(at)
            .push(")");
    }
    if let Some(after) = after {
        let (scheme, rank, code) = parse_cursor(after)
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (-scheme, level_rank, code) > (")
            .push_bind(-scheme)
            .push(", ")
            .push_bind(rank)
            .push(", ")
            .push_bind(code)
            .push(")");
    }
    sql.push(" ORDER BY -scheme, level_rank, code LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}

/// The units of `rows` with their successors and predecessors.
pub(super) async fn with_lineage(db: &PgPool, rows: Vec<Row>) -> Result<Vec<AdministrativeUnit>> {
    let ceased: Vec<&Row> = rows.iter().filter(|r| r.valid_until.is_some()).collect();
    let mut links: Vec<(i16, String, i16, String, bool)> = Vec::new();
    if !ceased.is_empty() {
        let schemes: Vec<i16> = ceased.iter().map(|r| r.scheme).collect();
        let codes: Vec<&str> = ceased.iter().map(|r| r.code.as_str()).collect();
        links = sqlx::query_as(
            "SELECT from_scheme, from_code, to_scheme, to_code, is_default FROM unit_successors
             WHERE (from_scheme, from_code) IN (SELECT * FROM UNNEST($1::smallint[], $2::text[]))
             ORDER BY is_default DESC, to_code",
        )
        .bind(&schemes)
        .bind(&codes)
        .fetch_all(db)
        .await?;
    }
    // Predecessors of every unit asked for (a unit in force has them too).
    let (schemes, codes): (Vec<i16>, Vec<&str>) = rows.iter().map(|r| (r.scheme, r.code.as_str())).unzip();
    let before: Vec<(i16, String, i16, String)> = sqlx::query_as(
        "SELECT to_scheme, to_code, from_scheme, from_code FROM unit_successors
         WHERE is_default AND (to_scheme, to_code) IN (SELECT * FROM UNNEST($1::smallint[], $2::text[]))
         ORDER BY from_scheme, from_code",
    )
    .bind(&schemes)
    .bind(&codes)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let predecessors = before
                .iter()
                .filter(|b| b.0 == row.scheme && b.1 == row.code)
                .map(|b| {
                    UnitKey {
                        scheme: b.2,
                        code: b.3.clone(),
                    }
                    .name()
                })
                .collect();
            let successors = links
                .iter()
                .filter(|l| l.0 == row.scheme && l.1 == row.code)
                .map(|l| Successor {
                    unit: UnitKey {
                        scheme: l.2,
                        code: l.3.clone(),
                    }
                    .name(),
                    is_default: l.4,
                })
                .collect();
            to_proto(row, successors, predecessors)
        })
        .collect())
}

fn parse_cursor(cursor: &str) -> Option<(i16, i16, String)> {
    let mut parts = cursor.splitn(3, '|');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.to_owned(),
    ))
}

fn to_proto(row: Row, successors: Vec<Successor>, predecessors: Vec<String>) -> AdministrativeUnit {
    let level = match row.level {
        Level::Province => UnitLevel::Province,
        Level::District => UnitLevel::District,
        Level::Commune => UnitLevel::Commune,
    };
    let scheme = if row.scheme == 2004 {
        CodeScheme::CodeScheme2004
    } else {
        CodeScheme::CodeScheme2025
    };
    AdministrativeUnit {
        name: UnitKey {
            scheme: row.scheme,
            code: row.code.clone(),
        }
        .name(),
        scheme: scheme as i32,
        level: level as i32,
        code: row.code,
        display_name: row.name,
        parent: row
            .parent_code
            .map(|p| {
                UnitKey {
                    scheme: row.scheme,
                    code: p,
                }
                .name()
            })
            .unwrap_or_default(),
        province_code: row.province_code,
        valid_from: row.valid_from.map(date::to_proto),
        valid_until: row.valid_until.map(date::to_proto),
        successors,
        predecessors,
    }
}

/// The `(code, province_code)` of every commune of the 2025 list in force (an import's check).
pub(crate) async fn communes_in_force(db: &PgPool) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT code, province_code FROM administrative_units WHERE scheme = 2025 AND level = 'commune' AND valid_until IS NULL",
    )
    .fetch_all(db)
    .await?)
}

/// The 2025 provinces that district `district` of province `parent`, and
/// its communes, went to (where a ceased district without a successor leads).
pub(super) async fn provinces_of_district(db: &PgPool, parent: &UnitKey, district: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT t.province_code FROM unit_successors s
         JOIN administrative_units t ON t.scheme = s.to_scheme AND t.code = s.to_code
         WHERE s.from_scheme = $1 AND (s.from_code = $3 OR s.from_code IN
             (SELECT code FROM administrative_units WHERE scheme = $1 AND level = 'commune' AND parent_code = $2))
         ORDER BY 1",
    )
    .bind(parent.scheme)
    .bind(district)
    .bind(&parent.code)
    .fetch_all(db)
    .await?)
}

/// The province of `code`, if it is a commune of the 2025 list in force on `day`.
pub(super) async fn commune_province(db: &PgPool, code: &str, day: time::Date) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT province_code FROM administrative_units
         WHERE scheme = 2025 AND code = $1 AND level = 'commune' AND (valid_until IS NULL OR valid_until >= $2)",
    )
    .bind(code)
    .bind(day)
    .fetch_optional(db)
    .await?)
}
