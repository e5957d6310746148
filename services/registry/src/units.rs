//! Administrative units: lookup, listing and resolution through the 2025
//! lineage, and the check of the commune codes other resources carry. The
//! SQL is in `store`.

mod store;

pub(crate) use store::communes_in_force;

use ocop_kit::cache::Cache;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result, date};
use ocop_proto::registry::v1::{AdministrativeUnit, CodeScheme, ResolveAdministrativeUnitResponse, UnitLevel};
use sqlx::PgPool;

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

pub(crate) fn check_code(field: &str, code: &str) -> Result<()> {
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
                store::fetch(&self.db, &key)
                    .await?
                    .ok_or_else(|| Error::not_found(key.name()))
            })
            .await
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
        let mut rows = store::page(&self.db, &filter, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(
            &mut rows,
            |r| format!("{}|{}|{}", r.scheme, r.level_rank, r.code),
            &query_id,
        );
        Ok((store::with_lineage(&self.db, rows).await?, next))
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
            if let Some(found) = store::fetch(
                &self.db,
                &UnitKey {
                    scheme: s,
                    code: code.to_owned(),
                },
            )
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
            unit = store::fetch(&self.db, &key)
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
        let provinces = store::provinces_of_district(&self.db, &parent, &unit.code).await?;
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
        let province = store::commune_province(&self.db, code, today).await?;
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
}
