//! Administrative units: lookup, listing and resolution through the 2025
//! lineage. Plain async functions over the registry schema; the gRPC adapter
//! in `grpc.rs` only translates.

use ocop_kit::cache::Cache;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result, date};
use ocop_proto::registry::v1::{
    AdministrativeUnit, CodeScheme, ResolveAdministrativeUnitResponse, Successor, UnitLevel,
};
use sqlx::{PgPool, Postgres, QueryBuilder};

/// Fields `ListAdministrativeUnits` can filter on.
pub const FILTER_FIELDS: &[&str] = &["scheme", "level", "parent", "province_code", "in_force_at"];
const PREFIX: &str = "administrativeUnits/";
/// The deepest lineage chain followed before giving up (guards against cycles in the data).
const MAX_HOPS: usize = 8;

/// The administrative-unit store.
#[derive(Clone)]
pub struct Units {
    db: PgPool,
    cache: Cache,
}

#[derive(sqlx::FromRow)]
struct Row {
    scheme: i16,
    code: String,
    level: String,
    level_rank: i16,
    name: String,
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

/// A unit's key: `(scheme, code)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitKey {
    /// 2004 or 2025.
    pub scheme: i16,
    /// The official code.
    pub code: String,
}

impl UnitKey {
    /// Its resource name.
    pub fn name(&self) -> String {
        format!("{PREFIX}{}-{}", self.scheme, self.code)
    }

    /// Parses `administrativeUnits/{scheme}-{code}`, naming `field` on error.
    pub fn parse(field: &str, name: &str) -> Result<UnitKey> {
        let bad = || {
            Error::invalid(
                field,
                format!(
                    "`{name}` is not an administrative unit name; expected `administrativeUnits/{{2004|2025}}-{{code}}`, e.g. `administrativeUnits/2025-38`"
                ),
            )
        };
        let (scheme, code) = name
            .strip_prefix(PREFIX)
            .and_then(|id| id.split_once('-'))
            .ok_or_else(bad)?;
        let scheme = match scheme {
            "2004" => 2004,
            "2025" => 2025,
            _ => return Err(bad()),
        };
        check_code(field, code)?;
        Ok(UnitKey {
            scheme,
            code: code.to_owned(),
        })
    }
}

fn check_code(field: &str, code: &str) -> Result<()> {
    if matches!(code.len(), 2 | 3 | 5) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("`{code}` is not a unit code: 2 digits (province), 3 (district) or 5 (commune)"),
        ))
    }
}

impl Units {
    /// Units over the registry pool and cache.
    pub fn new(db: PgPool, cache: Cache) -> Units {
        Units { db, cache }
    }

    /// One unit by resource name; served from the cache when warm (units
    /// change only when new reference data is shipped, which restarts the service).
    pub async fn get(&self, name: &str) -> Result<AdministrativeUnit> {
        let key = UnitKey::parse("name", name)?;
        self.cache
            .get_or_load(&format!("unit:{}-{}", key.scheme, key.code), || async {
                self.fetch(&key).await?.ok_or_else(|| Error::not_found(key.name()))
            })
            .await
    }

    async fn fetch(&self, key: &UnitKey) -> Result<Option<AdministrativeUnit>> {
        let row: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM administrative_units WHERE scheme = $1 AND code = $2"
        ))
        .bind(key.scheme)
        .bind(&key.code)
        .fetch_optional(&self.db)
        .await?;
        match row {
            Some(row) => Ok(self.with_lineage(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// A page of units matching `filter`, in scheme (newest first), level, code order.
    pub async fn list(
        &self,
        page_size: i32,
        page_token: &str,
        filter: &str,
    ) -> Result<(Vec<AdministrativeUnit>, String)> {
        let filter = Filter::parse(filter, FILTER_FIELDS)?;
        let query_id = filter.canonical();
        let page = Page::parse(page_size, page_token, &query_id)?;
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
            if !["province", "district", "commune"].contains(&level) {
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
        if let Some(after) = &page.after {
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
        sql.push(" ORDER BY -scheme, level_rank, code LIMIT ")
            .push_bind(page.fetch_limit());
        let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&self.db).await?;
        let next = page.finish(
            &mut rows,
            |r| format!("{}|{}|{}", r.scheme, r.level_rank, r.code),
            &query_id,
        );
        Ok((self.with_lineage(rows).await?, next))
    }

    /// Follows the lineage from `code` to the unit in force at `at` (today by
    /// default). Returns the unit and the resource names visited.
    pub async fn resolve(
        &self,
        code: &str,
        scheme: CodeScheme,
        at: Option<time::Date>,
    ) -> Result<(AdministrativeUnit, Vec<String>)> {
        check_code("code", code)?;
        let at = at.unwrap_or_else(date::today_vn);
        // Units change only with new reference data (which restarts the service
        // and reloads): an answer per (code, scheme, date) can be cached.
        let key = format!("resolve:{}:{code}:{at}", scheme as i32);
        let answer = self
            .cache
            .get_or_load(&key, || async {
                let (unit, path) = self.walk(code, scheme, at).await?;
                Ok(ResolveAdministrativeUnitResponse {
                    administrative_unit: Some(unit),
                    path,
                })
            })
            .await?;
        Ok((answer.administrative_unit.unwrap_or_default(), answer.path))
    }

    /// Follows the default successors from `code` to the unit in force at `at`.
    async fn walk(&self, code: &str, scheme: CodeScheme, at: time::Date) -> Result<(AdministrativeUnit, Vec<String>)> {
        let schemes: &[i16] = match scheme {
            CodeScheme::Unspecified => &[2025, 2004],
            CodeScheme::CodeScheme2004 => &[2004],
            CodeScheme::CodeScheme2025 => &[2025],
        };
        let mut unit = None;
        for &s in schemes {
            if let Some(found) = self
                .fetch(&UnitKey {
                    scheme: s,
                    code: code.to_owned(),
                })
                .await?
            {
                unit = Some(found);
                break;
            }
        }
        let mut unit = unit.ok_or_else(|| {
            Error::not_found(format!("administrative unit with code {code}")).with_metadata("code", code.to_owned())
        })?;
        let mut path = vec![unit.name.clone()];
        for _ in 0..MAX_HOPS {
            let from = unit
                .valid_from
                .as_ref()
                .map(|d| date::from_proto("valid_from", d))
                .transpose()?;
            let until = unit
                .valid_until
                .as_ref()
                .map(|d| date::from_proto("valid_until", d))
                .transpose()?;
            if from.is_some_and(|from| at < from) {
                return Err(Error::failed_precondition(
                    "UNIT_NOT_YET_IN_FORCE",
                    format!(
                        "{} ({}) came into force on {}, after {at}; resolve the code of the list in force at that date",
                        unit.name,
                        unit.display_name,
                        from.unwrap_or(at)
                    ),
                ));
            }
            if until.is_none_or(|until| at <= until) {
                return Ok((unit, path));
            }
            let until = until.unwrap_or(at);
            let next = match unit.successors.iter().find(|s| s.is_default) {
                Some(successor) => successor.unit.clone(),
                None => self.fallback_successor(&unit, until).await?,
            };
            let key = UnitKey::parse("successor", &next)?;
            unit = self
                .fetch(&key)
                .await?
                .ok_or_else(|| Error::internal(format!("lineage points to missing unit {next}")))?;
            path.push(unit.name.clone());
        }
        Err(Error::internal(format!(
            "lineage of {code} is longer than {MAX_HOPS} hops"
        )))
    }

    /// Where a ceased unit without a successor leads: for a district (they
    /// were abolished on 2025-07-01 without successors), its province, when
    /// the district's communes all went to one province; otherwise a refusal.
    async fn fallback_successor(&self, unit: &AdministrativeUnit, until: time::Date) -> Result<String> {
        let ceased = format!("{} ({}) ceased on {until}", unit.name, unit.display_name);
        let parent = match UnitKey::parse("parent", &unit.parent) {
            Ok(parent) if unit.level == UnitLevel::District as i32 => parent,
            _ => {
                return Err(Error::failed_precondition(
                    "UNIT_HAS_NO_SUCCESSOR",
                    format!("{ceased} and no successor is recorded"),
                ));
            }
        };
        // The 2025 provinces that the district's communes, and its province, went to.
        let provinces: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT t.province_code FROM unit_successors s
             JOIN administrative_units t ON t.scheme = s.to_scheme AND t.code = s.to_code
             WHERE s.from_scheme = $1 AND (s.from_code = $3 OR s.from_code IN
                 (SELECT code FROM administrative_units WHERE scheme = $1 AND level = 'commune' AND parent_code = $2))
             ORDER BY 1",
        )
        .bind(parent.scheme)
        .bind(&unit.code)
        .bind(&parent.code)
        .fetch_all(&self.db)
        .await?;
        match provinces.as_slice() {
            [_] => Ok(parent.name()),
            [] => Err(Error::failed_precondition(
                "UNIT_HAS_NO_SUCCESSOR",
                format!(
                    "{ceased} and no successor is recorded, for it or its communes; resolve one of its communes instead"
                ),
            )),
            several => Err(Error::failed_precondition(
                "UNIT_SUCCESSOR_AMBIGUOUS",
                format!(
                    "{ceased} without a successor, and its communes went to provinces {}: resolve one of its communes instead",
                    several.join(", ")
                ),
            )),
        }
    }

    /// Checks that `code` is a commune of the 2025 list in force today and
    /// returns its province. An old code is refused with today's code in the message.
    pub async fn commune_in_force(&self, field: &str, code: &str) -> Result<String> {
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                field,
                format!("`{code}` is not a commune code (5 digits of the 2025 list)"),
            ));
        }
        let today = date::today_vn();
        let province: Option<String> = sqlx::query_scalar(
            "SELECT province_code FROM administrative_units
             WHERE scheme = 2025 AND code = $1 AND level = 'commune' AND (valid_until IS NULL OR valid_until >= $2)",
        )
        .bind(code)
        .bind(today)
        .fetch_optional(&self.db)
        .await?;
        if let Some(province) = province {
            return Ok(province);
        }
        let hint = match self.resolve(code, CodeScheme::CodeScheme2004, Some(today)).await {
            Ok((unit, _)) => format!(
                "; it is an old (2004) code: today's commune is {} ({})",
                unit.code, unit.display_name
            ),
            Err(_) => String::new(),
        };
        Err(Error::invalid(
            field,
            format!("`{code}` is not a commune in force in the 2025 list{hint}"),
        ))
    }

    /// The units of `rows` with their successors and predecessors.
    async fn with_lineage(&self, rows: Vec<Row>) -> Result<Vec<AdministrativeUnit>> {
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
            .fetch_all(&self.db)
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
        .fetch_all(&self.db)
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
    let level = match row.level.as_str() {
        "province" => UnitLevel::Province,
        "district" => UnitLevel::District,
        _ => UnitLevel::Commune,
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
