//! Who issues a certificate, and the names it carries, as the registry
//! knows them: the ministry, the province of the day (before the merger of
//! 2025-07-01, the 2004 province of the product's commune), or the district
//! whose committee decided (2023–2025), checked against the product's commune.

use ocop_kit::client::{Bearer, Remote, TracedChannel, with_token};
use ocop_kit::date;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::EvaluationResult;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    AdministrativeUnit, CodeScheme, GetAdministrativeUnitRequest, GetProductRequest, GetSubjectRequest,
    ResolveAdministrativeUnitRequest, UnitLevel,
};

use crate::rules::authority::Level;
use crate::service::Certification;

const REGISTRY: Remote = Remote {
    service: "registry",
    refused: "REGISTRY_REFUSED",
    unavailable: "REGISTRY_UNAVAILABLE",
};

/// The ministry, as an issuing authority.
const MINISTRY: (&str, &str) = ("ministries/mae", "Bộ Nông nghiệp và Môi trường");

/// Who issues, and their name.
pub struct Authority {
    /// Its resource name.
    pub name: String,
    /// Its name as written.
    pub display: String,
}

fn committee(unit: &str) -> String {
    // "Tỉnh Thanh Hóa" → "Ủy ban nhân dân tỉnh Thanh Hóa"
    let mut chars = unit.chars();
    let lowered: String = chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default();
    format!("Ủy ban nhân dân {lowered}")
}

/// The day the 63 provinces became 34 (Resolution 202/2025/QH15).
const PROVINCES_MERGED: time::Date = time::macros::date!(2025 - 07 - 01);

/// The registry's unit `name`.
async fn unit(
    registry: &mut RegistryServiceClient<TracedChannel>,
    bearer: &Bearer,
    name: &str,
) -> Result<AdministrativeUnit> {
    Ok(registry
        .get_administrative_unit(with_token(
            GetAdministrativeUnitRequest { name: name.to_owned() },
            bearer,
        ))
        .await
        .map_err(|s| REGISTRY.error(s, name, "result"))?
        .into_inner()
        .administrative_unit
        .unwrap_or_default())
}

/// The authority of a `level` decision of `day` for a product of
/// `province` and `commune` (and, for a district, `district`).
pub(super) async fn authority_of(
    svc: &Certification,
    bearer: &Bearer,
    level: Level,
    province: &str,
    commune: &str,
    district: &str,
    day: time::Date,
) -> Result<Authority> {
    let mut registry = svc.registry.clone();
    match level {
        Level::Central => Ok(Authority {
            name: MINISTRY.0.into(),
            display: MINISTRY.1.into(),
        }),
        Level::Province => {
            // Before the merger of 2025-07-01 the province of the day decided:
            // the 2004 province of the product's commune (a Tam Kỳ product
            // certified in 2024 was Quảng Nam's, not today's Đà Nẵng's).
            let old = if day < PROVINCES_MERGED {
                let commune = unit(&mut registry, bearer, &format!("administrativeUnits/2025-{commune}")).await?;
                match commune.predecessors.first() {
                    Some(before) => Some(unit(&mut registry, bearer, before).await?.province_code),
                    None => None,
                }
            } else {
                None
            };
            let name = match old {
                Some(code) => format!("administrativeUnits/2004-{code}"),
                None => format!("administrativeUnits/2025-{province}"),
            };
            let unit = unit(&mut registry, bearer, &name).await?;
            Ok(Authority {
                display: committee(&unit.display_name),
                name,
            })
        }
        Level::District => {
            if district.len() != 3 || !district.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    "district_code",
                    format!(
                        "`{district}` is not a 3-digit 2004 district code; a DISTRICT issuance names the district whose committee decided"
                    ),
                ));
            }
            let resolve = |code: &str, at: Option<time::Date>| ResolveAdministrativeUnitRequest {
                code: code.to_owned(),
                scheme: CodeScheme::CodeScheme2004 as i32,
                at: at.map(date::to_proto),
            };
            let unit = registry
                .resolve_administrative_unit(with_token(resolve(district, Some(day)), bearer))
                .await
                .map_err(|s| REGISTRY.error(s, &format!("district {district}"), "district_code"))?
                .into_inner()
                .administrative_unit
                .unwrap_or_default();
            if unit.level() != UnitLevel::District {
                return Err(Error::invalid(
                    "district_code",
                    format!("{district} was not a district on {day} (it resolves to {})", unit.name),
                ));
            }
            let today_province = registry
                .resolve_administrative_unit(with_token(resolve(&unit.province_code, None), bearer))
                .await
                .map_err(|s| REGISTRY.error(s, &unit.province_code, "district_code"))?
                .into_inner()
                .administrative_unit
                .unwrap_or_default();
            if today_province.code != province {
                return Err(Error::invalid(
                    "district_code",
                    format!(
                        "{} is in province {}, not in the product's province {province}",
                        unit.display_name, unit.province_code
                    ),
                ));
            }
            // A district decided for its own products only: the district of a
            // 2004 commune that the product's (2025) commune was formed from.
            // (`self::`: `unit` is the district here.)
            let today_commune =
                self::unit(&mut registry, bearer, &format!("administrativeUnits/2025-{commune}")).await?;
            let mut theirs: Vec<String> = Vec::new();
            let mut own = false;
            for before in &today_commune.predecessors {
                let parent = self::unit(&mut registry, bearer, before).await?.parent;
                own = parent == unit.name;
                if own {
                    break;
                }
                if !theirs.contains(&parent) {
                    theirs.push(parent);
                }
            }
            if !own {
                let was = if theirs.is_empty() {
                    "no 2004 commune is recorded for it, so its district cannot be told".to_owned()
                } else {
                    format!("its 2004 communes were in {}", theirs.join(", "))
                };
                return Err(Error::invalid(
                    "district_code",
                    format!(
                        "{} ({}) is not the district of the product's commune {commune}: {was}; name the product's own district",
                        unit.display_name, unit.name
                    ),
                ));
            }
            Ok(Authority {
                display: committee(&unit.display_name),
                name: unit.name,
            })
        }
    }
}

/// The names a certificate carries, as the registry has them on its day.
pub struct Names {
    /// The product's display name.
    pub product: String,
    /// The producer's legal name.
    pub subject: String,
    /// The province's display name (empty when the result names none).
    pub province: String,
}

/// Product, producer and province names as they are today.
pub(super) async fn names(svc: &Certification, bearer: &Bearer, result: &EvaluationResult) -> Result<Names> {
    let mut registry = svc.registry.clone();
    let product = registry
        .get_product(with_token(
            GetProductRequest {
                name: result.product.clone(),
            },
            bearer,
        ))
        .await
        .map_err(|s| REGISTRY.error(s, &result.product, "result"))?
        .into_inner()
        .product
        .unwrap_or_default();
    let subject = registry
        .get_subject(with_token(
            GetSubjectRequest {
                name: result.subject.clone(),
            },
            bearer,
        ))
        .await
        .map_err(|s| REGISTRY.error(s, &result.subject, "result"))?
        .into_inner()
        .subject
        .unwrap_or_default();
    let province = if result.province_code.is_empty() {
        String::new()
    } else {
        let name = format!("administrativeUnits/2025-{}", result.province_code);
        registry
            .get_administrative_unit(with_token(GetAdministrativeUnitRequest { name: name.clone() }, bearer))
            .await
            .map_err(|s| REGISTRY.error(s, &name, "result"))?
            .into_inner()
            .administrative_unit
            .unwrap_or_default()
            .display_name
    };
    Ok(Names {
        product: product.display_name,
        subject: subject.legal_name,
        province,
    })
}
