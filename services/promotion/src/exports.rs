//! The province's catalog and statistics as CSV (UTF-8, header row), for
//! the people who report on the programme.

use ocop_kit::Result;
use ocop_kit::date::today_vn;
use ocop_proto::promotion::v1::Statistics;
use sqlx::PgPool;

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
