//! Targets from the provinces' OCOP plans and the figures they are measured
//! against: products with a certificate in force by stars, group, producer
//! kind, commune and year of issue, registered products, sales points.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::PROVINCE_CODES_2025;
use ocop_kit::date::today_vn;
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::feed::v1::Change as FeedChange;
use ocop_proto::promotion::v1::{Count, FeedLag, Statistics, Target, TargetKind, TargetProgress};
use ocop_proto::registry::v1::{Product, Subject};
use prost::Message;
use sqlx::{PgConnection, PgPool};

/// Keeps the registered products and producers (registry feed).
pub async fn apply_registry(tx: &mut PgConnection, change: &FeedChange) -> Result<()> {
    let parts: Vec<&str> = change.resource.split('/').collect();
    match parts.as_slice() {
        ["subjects", _] => {
            let subject = Subject::decode(change.payload.as_slice()).map_err(Error::internal)?;
            let kind = subject
                .kind()
                .as_str_name()
                .trim_start_matches("SUBJECT_KIND_")
                .to_lowercase();
            sqlx::query(
                "INSERT INTO producers (subject, kind, province_code) VALUES ($1, $2, $3)
                 ON CONFLICT (subject) DO UPDATE SET kind = EXCLUDED.kind, province_code = EXCLUDED.province_code",
            )
            .bind(&change.resource)
            .bind(kind)
            .bind(&subject.province_code)
            .execute(&mut *tx)
            .await?;
        }
        ["subjects", subject, "products", _] => {
            let product = Product::decode(change.payload.as_slice()).map_err(Error::internal)?;
            sqlx::query(
                "INSERT INTO registered_products (product, subject, province_code, group_code, deleted)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (product) DO UPDATE SET province_code = EXCLUDED.province_code,
                     group_code = EXCLUDED.group_code, deleted = EXCLUDED.deleted",
            )
            .bind(&change.resource)
            .bind(format!("subjects/{subject}"))
            .bind(&product.province_code)
            .bind(&product.group_code)
            .bind(product.delete_time.is_some() || change.kind == "deleted")
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

fn kind_str(kind: TargetKind) -> Option<&'static str> {
    Some(match kind {
        TargetKind::Unspecified => return None,
        TargetKind::CertifiedProducts => "certified_products",
        TargetKind::CertifiedSharePercent => "certified_share_percent",
        TargetKind::SalesPointCommunes => "sales_point_communes",
    })
}

fn kind_of(kind: &str) -> TargetKind {
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

/// Every breakdown in one pass over the province's certificates in force
/// (one product counted once, under its best certificate): (section, key, products).
async fn breakdowns(db: &PgPool, province: &str) -> Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "WITH products AS (
             SELECT DISTINCT ON (c.product) c.product, c.stars::text AS stars, c.group_code, c.commune_code,
                    extract(year FROM c.issue_date)::int::text AS year, COALESCE(p.kind, 'unknown') AS kind
             FROM catalog c LEFT JOIN producers p ON p.subject = c.subject
             WHERE c.province_code = $1 AND c.valid_until >= $2
             ORDER BY c.product, c.stars DESC)
         SELECT CASE WHEN GROUPING(stars) = 0 THEN 'stars' WHEN GROUPING(group_code) = 0 THEN 'group'
                     WHEN GROUPING(kind) = 0 THEN 'kind' WHEN GROUPING(commune_code) = 0 THEN 'commune' ELSE 'year' END,
                COALESCE(stars, group_code, kind, commune_code, year), count(*)
         FROM products GROUP BY GROUPING SETS ((stars), (group_code), (kind), (commune_code), (year)) ORDER BY 1, 2",
    )
    .bind(province)
    .bind(today_vn())
    .fetch_all(db)
    .await?)
}

fn section(rows: &[(String, String, i64)], name: &str) -> Vec<Count> {
    rows.iter()
        .filter(|(s, _, _)| s == name)
        .map(|(_, key, n)| Count {
            key: key.clone(),
            products: *n as i32,
        })
        .collect()
}

/// INVALID_ARGUMENT unless `province` is one of the 34 province codes of
/// 2025: a province that does not exist has no figures, not zero ones.
pub fn check_province(province: &str) -> Result<()> {
    if province.len() != 2 || !province.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "province_code",
            format!("`{province}` is not a 2-digit 2025 province code"),
        ));
    }
    if !PROVINCE_CODES_2025.contains(&province) {
        return Err(Error::invalid(
            "province_code",
            format!(
                "`{province}` is not one of the 34 province codes of 2025 ({})",
                PROVINCE_CODES_2025.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A province's figures today, with its targets for `year` (0: every year).
pub async fn statistics(db: &PgPool, province: &str, year: i32) -> Result<Statistics> {
    check_province(province)?;
    if year != 0 && !(2019..=2100).contains(&year) {
        return Err(Error::invalid(
            "year",
            format!("{year} is not a plan year (2019 to 2100, or 0 for all)"),
        ));
    }
    let today = today_vn();
    let (registered, certified, sales_points): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM registered_products WHERE province_code = $1 AND NOT deleted),
                (SELECT count(DISTINCT product) FROM catalog WHERE province_code = $1 AND valid_until >= $2),
                (SELECT count(*) FROM sales_points WHERE province_code = $1)",
    )
    .bind(province)
    .bind(today)
    .fetch_one(db)
    .await?;
    let targets: Vec<(i32, String, String, i32, i32, i32, String)> = sqlx::query_as(
        "SELECT year, id, kind, min_stars, max_stars, value, description FROM targets
         WHERE province_code = $1 AND ($2 = 0 OR year = $2) ORDER BY year, id",
    )
    .bind(province)
    .bind(year)
    .fetch_all(db)
    .await?;
    let mut progress = Vec::new();
    for (year, id, kind, min, max, value, description) in targets {
        let actual: i64 = match kind.as_str() {
            "certified_products" => sqlx::query_scalar(
                "SELECT count(DISTINCT product) FROM catalog WHERE province_code = $1 AND valid_until >= $2 AND stars BETWEEN $3 AND $4",
            )
            .bind(province)
            .bind(today)
            .bind(min)
            .bind(max)
            .fetch_one(db)
            .await?,
            "certified_share_percent" => {
                let reached: i64 = sqlx::query_scalar(
                    "SELECT count(DISTINCT c.product) FROM catalog c JOIN registered_products r ON r.product = c.product AND NOT r.deleted
                     WHERE c.province_code = $1 AND c.valid_until >= $2 AND c.stars >= $3",
                )
                .bind(province)
                .bind(today)
                .bind(min)
                .fetch_one(db)
                .await?;
                if registered == 0 { 0 } else { reached * 100 / registered }
            }
            _ => sqlx::query_scalar("SELECT count(DISTINCT commune_code) FROM sales_points WHERE province_code = $1")
                .bind(province)
                .fetch_one(db)
                .await?,
        };
        let target = Target {
            name: format!("provinces/{province}/targets/{year}-{id}"),
            province_code: province.to_owned(),
            year,
            id,
            kind: kind_of(&kind) as i32,
            min_stars: min,
            max_stars: max,
            value,
            description,
        };
        progress.push(TargetProgress {
            met: actual >= i64::from(value),
            actual: actual as i32,
            target: Some(target),
        });
    }
    let rows = breakdowns(db, province).await?;
    Ok(Statistics {
        province_code: province.to_owned(),
        registered_products: registered as i32,
        certified_products: certified as i32,
        by_stars: section(&rows, "stars"),
        by_group: section(&rows, "group"),
        by_producer_kind: section(&rows, "kind"),
        by_commune: section(&rows, "commune"),
        by_year: section(&rows, "year"),
        sales_points: sales_points as i32,
        targets: progress,
        feeds: lag_of(province),
    })
}

/// On the national deployment, the state of the province's feeds followed
/// here (empty elsewhere: a province follows its own services only).
fn lag_of(province: &str) -> Vec<FeedLag> {
    let prefix = format!("{province}/");
    ocop_kit::follow::contact::all()
        .into_iter()
        .filter(|(source, _)| source.starts_with(&prefix))
        .map(|(source, c)| FeedLag {
            source,
            sequence: c.sequence,
            connected: c.connected,
            last_contact_time: Some(ocop_kit::date::to_timestamp(c.last_contact)),
        })
        .collect()
}

/// The catalog of a province as CSV (UTF-8, header row), in force today.
pub async fn catalog_csv(db: &PgPool, province: &str) -> Result<String> {
    type CsvRow = (String, String, String, String, String, i32, time::Date, time::Date);
    let rows: Vec<CsvRow> = sqlx::query_as(
        "SELECT code, product_name, subject_name, commune_code, group_code, stars, issue_date, valid_until FROM catalog
         WHERE province_code = $1 AND valid_until >= $2 ORDER BY stars DESC, product_name, code",
    )
    .bind(province)
    .bind(today_vn())
    .fetch_all(db)
    .await?;
    let mut out = String::from("code,product_name,subject_name,commune_code,group_code,stars,issue_date,valid_until\n");
    for (code, product, subject, commune, group, stars, issue, until) in rows {
        out.push_str(
            &[
                code,
                csv_field(&product),
                csv_field(&subject),
                commune,
                group,
                stars.to_string(),
                issue.to_string(),
                until.to_string(),
            ]
            .join(","),
        );
        out.push('\n');
    }
    Ok(out)
}

/// Statistics as CSV: one `section,key,products` row per count, then the targets.
pub fn statistics_csv(stats: &Statistics) -> String {
    let mut out = String::from("section,key,value\n");
    out.push_str(&format!("total,registered_products,{}\n", stats.registered_products));
    out.push_str(&format!("total,certified_products,{}\n", stats.certified_products));
    out.push_str(&format!("total,sales_points,{}\n", stats.sales_points));
    for (section, counts) in [
        ("stars", &stats.by_stars),
        ("group", &stats.by_group),
        ("producer_kind", &stats.by_producer_kind),
        ("commune", &stats.by_commune),
        ("year", &stats.by_year),
    ] {
        for c in counts {
            out.push_str(&format!("{section},{},{}\n", csv_field(&c.key), c.products));
        }
    }
    for p in &stats.targets {
        let t = p.target.clone().unwrap_or_default();
        out.push_str(&format!(
            "target,{},{}/{}{}\n",
            csv_field(&t.name),
            p.actual,
            t.value,
            if p.met { " met" } else { "" }
        ));
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
