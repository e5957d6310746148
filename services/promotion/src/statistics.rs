//! The figures the provinces' targets are measured against: products with a
//! certificate in force by stars, group, producer kind, commune and year of
//! issue, registered products, sales points (targets themselves are in
//! [`crate::targets`], the CSV forms in [`crate::exports`]).

use ocop_kit::config::PROVINCE_CODES_2025;
use ocop_kit::date::today_vn;
use ocop_kit::{Error, Result};
use ocop_proto::feed::v1::Change as FeedChange;
use ocop_proto::promotion::v1::{
    Count, FeedLag, GetStatisticsRequest, GetStatisticsResponse, Statistics, Target, TargetProgress,
};
use ocop_proto::registry::v1::{Product, Subject};
use prost::Message;
use sqlx::{PgConnection, PgPool};

use crate::service::{PUBLIC_FRESH, PUBLIC_KEEP, Promotion};

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
            kind: crate::targets::kind_of(&kind) as i32,
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

/// GetStatistics, as the public reads it: an answer is reused for up to
/// [`PUBLIC_KEEP`] across callers.
pub async fn get_public(svc: &Promotion, r: GetStatisticsRequest) -> Result<GetStatisticsResponse> {
    check_province(&r.province_code)?;
    let db = svc.db.clone();
    let key = format!("statistics:{}:{}", r.province_code, r.year);
    svc.cache
        .get_or_refresh(&key, PUBLIC_FRESH, PUBLIC_KEEP, move || async move {
            Ok(GetStatisticsResponse {
                statistics: Some(statistics(&db, &r.province_code, r.year).await?),
            })
        })
        .await
}
