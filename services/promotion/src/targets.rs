//! Targets from the provinces' OCOP plans (certified products, their share,
//! communes with a sales point), set by the province's officers.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::promotion::v1::{Target, TargetKind};
use prost::Message;
use sqlx::PgPool;

/// The stored name of a target kind (none for UNSPECIFIED).
pub(crate) fn kind_str(kind: TargetKind) -> Option<&'static str> {
    Some(match kind {
        TargetKind::Unspecified => return None,
        TargetKind::CertifiedProducts => "certified_products",
        TargetKind::CertifiedSharePercent => "certified_share_percent",
        TargetKind::SalesPointCommunes => "sales_point_communes",
    })
}

/// The kind a stored name stands for.
pub(crate) fn kind_of(kind: &str) -> TargetKind {
    match kind {
        "certified_products" => TargetKind::CertifiedProducts,
        "certified_share_percent" => TargetKind::CertifiedSharePercent,
        _ => TargetKind::SalesPointCommunes,
    }
}

/// Sets (creates or replaces) a target of the caller's province, on its
/// deployment (`target.province_code`, when sent, must be that province).
pub async fn set_target(db: &PgPool, here: &Jurisdiction, who: &Principal, target: &Target) -> Result<Target> {
    who.require(&[Role::ProvinceOfficer])?;
    if who.province.is_none() {
        return Err(Error::permission_denied("NO_PROVINCE", "your token names no province"));
    }
    let province = here.require_named(who, &target.province_code, "the target")?;
    let mut v = Violations::default();
    if !(2019..=2100).contains(&target.year) {
        v.push("target.year", "a plan year from 2019 to 2100");
    }
    let id = target.id.trim();
    if id.is_empty()
        || id.len() > 63
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        v.push("target.id", "1 to 63 of a-z, 0-9 and '-', e.g. `4-star-products`");
    }
    let kind = kind_str(target.kind());
    if kind.is_none() {
        v.push(
            "target.kind",
            "required: CERTIFIED_PRODUCTS, CERTIFIED_SHARE_PERCENT or SALES_POINT_COMMUNES",
        );
    }
    let (min, max) = match target.kind() {
        TargetKind::CertifiedProducts => (target.min_stars, target.max_stars),
        TargetKind::CertifiedSharePercent => (target.min_stars, 5),
        _ => (3, 5),
    };
    if kind != Some("sales_point_communes") && (!(3..=5).contains(&min) || !(min..=5).contains(&max)) {
        v.push(
            "target.min_stars",
            "stars from 3 to 5, and max_stars from min_stars to 5",
        );
    }
    let limit = if target.kind() == TargetKind::CertifiedSharePercent {
        100
    } else {
        100_000
    };
    if !(0..=limit).contains(&target.value) {
        v.push("target.value", format!("0 to {limit}"));
    }
    if target.description.chars().count() > 500 {
        v.push("target.description", "up to 500 characters");
    }
    v.check()?;
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO targets (province_code, year, id, kind, min_stars, max_stars, value, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (province_code, year, id) DO UPDATE SET kind = EXCLUDED.kind, min_stars = EXCLUDED.min_stars,
             max_stars = EXCLUDED.max_stars, value = EXCLUDED.value, description = EXCLUDED.description, update_time = now()",
    )
    .bind(&province)
    .bind(target.year)
    .bind(id)
    .bind(kind)
    .bind(min)
    .bind(max)
    .bind(target.value)
    .bind(target.description.trim())
    .execute(&mut *tx)
    .await?;
    let stored = Target {
        name: format!("provinces/{province}/targets/{}-{id}", target.year),
        province_code: province.clone(),
        year: target.year,
        id: id.to_owned(),
        kind: target.kind,
        min_stars: min,
        max_stars: max,
        value: target.value,
        description: target.description.trim().to_owned(),
    };
    let change = Change {
        method: "SetTarget",
        kind: "updated",
        resource: &stored.name,
        province: &province,
        etag_before: "",
        etag_after: "",
        request_id: "",
        payload: stored.encode_to_vec(),
    };
    audit::record(&mut tx, who, change).await?;
    tx.commit().await?;
    Ok(stored)
}
