//! The public catalog: a read model of the certificates in force, kept by
//! two followers (certification and registry feeds), read by ListCatalog.

use ocop_kit::date::{self, today_vn};
use ocop_kit::filter::Filter;
use ocop_kit::paging::{self, Page};
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::{Certificate, CertificateState};
use ocop_proto::feed::v1::Change;
use ocop_proto::promotion::v1::{CatalogEntry, ListCatalogRequest, ListCatalogResponse};
use ocop_proto::registry::v1::{Product, Subject};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use crate::service::{PUBLIC_FRESH, PUBLIC_KEEP, Promotion};

/// Applies one certification change: a certificate in force is listed (or
/// refreshed); a superseded, revoked or expired one leaves the catalog.
pub async fn apply_certification(tx: &mut PgConnection, change: &Change) -> Result<()> {
    // Certificates only: not their re-rating applications and inspections
    // (`certificates/{code}/...`), which the same feed carries.
    let certificate = change.resource.strip_prefix("certificates/");
    if certificate.is_none_or(|code| code.contains('/')) {
        return Ok(());
    }
    let cert = Certificate::decode(change.payload.as_slice()).map_err(Error::internal)?;
    let (issue, until) = match (&cert.issue_date, &cert.valid_until) {
        (Some(i), Some(u)) => (date::from_proto("issue_date", i)?, date::from_proto("valid_until", u)?),
        _ => return Err(Error::internal(format!("{} arrived without its dates", cert.name))),
    };
    if cert.state() != CertificateState::Active {
        sqlx::query("DELETE FROM catalog WHERE code = $1")
            .bind(&cert.code)
            .execute(&mut *tx)
            .await?;
        let reason = match cert.state() {
            CertificateState::Revoked => "the certificate was revoked",
            CertificateState::Superseded => "the certificate was replaced; add the new one",
            _ => "the certificate expired",
        };
        crate::sales_points::flag(tx, &cert.code, reason).await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO catalog (code, product, product_name, subject, subject_name, province_code, province_name,
             commune_code, group_code, stars, issue_date, valid_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (code) DO UPDATE SET stars = EXCLUDED.stars, valid_until = EXCLUDED.valid_until,
             update_time = now()",
    )
    .bind(&cert.code)
    .bind(&cert.product)
    .bind(&cert.product_name)
    .bind(&cert.subject)
    .bind(&cert.subject_name)
    .bind(&cert.province_code)
    .bind(&cert.province_name)
    .bind(&cert.commune_code)
    .bind(&cert.group_code)
    .bind(cert.stars)
    .bind(issue)
    .bind(until)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Applies one registry change: the current names of listed products and producers.
pub async fn apply_registry(tx: &mut PgConnection, change: &Change) -> Result<()> {
    let parts: Vec<&str> = change.resource.split('/').collect();
    match parts.as_slice() {
        ["subjects", _] => {
            let subject = Subject::decode(change.payload.as_slice()).map_err(Error::internal)?;
            sqlx::query(
                "UPDATE catalog SET subject_name = $2, update_time = now() WHERE subject = $1 AND subject_name <> $2",
            )
            .bind(&change.resource)
            .bind(&subject.legal_name)
            .execute(&mut *tx)
            .await?;
        }
        ["subjects", _, "products", _] => {
            let product = Product::decode(change.payload.as_slice()).map_err(Error::internal)?;
            sqlx::query(
                "UPDATE catalog SET product_name = $2, update_time = now() WHERE product = $1 AND product_name <> $2",
            )
            .bind(&change.resource)
            .bind(&product.display_name)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    code: String,
    product: String,
    product_name: String,
    subject: String,
    subject_name: String,
    province_code: String,
    province_name: String,
    commune_code: String,
    group_code: String,
    stars: i32,
    issue_date: time::Date,
    valid_until: time::Date,
}

impl Row {
    fn to_proto(&self) -> CatalogEntry {
        CatalogEntry {
            name: format!("catalog/{}", self.code),
            certificate: format!("certificates/{}", self.code),
            code: self.code.clone(),
            product: self.product.clone(),
            product_name: self.product_name.clone(),
            subject: self.subject.clone(),
            subject_name: self.subject_name.clone(),
            province_code: self.province_code.clone(),
            province_name: self.province_name.clone(),
            commune_code: self.commune_code.clone(),
            group_code: self.group_code.clone(),
            stars: self.stars,
            issue_date: Some(date::to_proto(self.issue_date)),
            valid_until: Some(date::to_proto(self.valid_until)),
        }
    }
}

/// ListCatalog, as the public reads it: a page is reused for up to
/// [`PUBLIC_KEEP`] across callers (keyed by the whole request), and what
/// expired since it was loaded is dropped from it.
pub async fn list_public(svc: &Promotion, r: ListCatalogRequest) -> Result<ListCatalogResponse> {
    let key = format!(
        "catalog:{:x}",
        ocop_kit::fnv1a(format!("{}|{}|{}|{}", r.page_size, r.page_token, r.filter, r.query).as_bytes())
    );
    let db = svc.db.clone();
    let mut page = svc
        .cache
        .get_or_refresh(&key, PUBLIC_FRESH, PUBLIC_KEEP, move || async move {
            let (entries, next_page_token) = list(&db, r.page_size, &r.page_token, &r.filter, &r.query).await?;
            Ok(ListCatalogResponse {
                entries,
                next_page_token,
            })
        })
        .await?;
    // A page cached just before midnight must not show what expired at it.
    let today = date::to_proto(today_vn());
    page.entries.retain(|e| {
        e.valid_until
            .as_ref()
            .is_some_and(|u| (u.year, u.month, u.day) >= (today.year, today.month, today.day))
    });
    Ok(page)
}

/// Filterable fields of ListCatalog.
pub const FILTER_FIELDS: &[&str] = &["province_code", "commune_code", "group_code", "stars"];

/// A page of the catalog as of today.
pub async fn list(
    db: &PgPool,
    page_size: i32,
    page_token: &str,
    filter: &str,
    query: &str,
) -> Result<(Vec<CatalogEntry>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query = query.trim();
    if query.chars().count() > 200 {
        return Err(Error::invalid(
            "query",
            "up to 200 characters of a product's or producer's name",
        ));
    }
    let query_id = format!("{}|{query}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let after = page.after_key::<3>()?;
    // Read-time expiry: nothing past its last valid day, whatever the feed has said.
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT code, product, product_name, subject, subject_name, province_code, province_name, commune_code,
             group_code, stars, issue_date, valid_until FROM catalog WHERE valid_until >= ",
    );
    sql.push_bind(today_vn());
    filter.push_equal(&mut sql, &["province_code", "commune_code", "group_code"]);
    if let Some(stars) = filter.stars()? {
        sql.push(" AND stars = ").push_bind(stars);
    }
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(10)
    {
        sql.push(" AND search LIKE '%' || fold(")
            .push_bind(word.to_owned())
            .push(") || '%'");
    }
    // Keyset: after the previous page's last row in (stars DESC, product_name, code).
    if let Some([stars, name, code]) = after {
        let stars: i32 = stars
            .parse()
            .map_err(|_| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (stars < ")
            .push_bind(stars)
            .push(" OR (stars = ")
            .push_bind(stars)
            .push(" AND (product_name, code) > (")
            .push_bind(name)
            .push(", ")
            .push_bind(code)
            .push(")))");
    }
    sql.push(" ORDER BY stars DESC, product_name, code LIMIT ")
        .push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(
        &mut rows,
        |r| paging::key([&r.stars.to_string(), &r.product_name, &r.code]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// A certificate in the catalog today: (code, product, product name, subject, subject name, province).
pub(crate) async fn in_force(
    tx: &mut PgConnection,
    field: &str,
    certificate: &str,
) -> Result<(String, String, String, String, String, String)> {
    let code = certificate
        .strip_prefix("certificates/")
        .filter(|c| !c.is_empty() && !c.contains('/'))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("`{certificate}` is not a certificate name; expected `certificates/{{code}}`"),
            )
        })?
        .to_uppercase();
    let row: Option<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT product, product_name, subject, subject_name, province_code FROM catalog WHERE code = $1 AND valid_until >= $2",
    )
    .bind(&code)
    .bind(today_vn())
    .fetch_optional(&mut *tx)
    .await?;
    let (product, product_name, subject, subject_name, province) = row.ok_or_else(|| {
        Error::failed_precondition(
            "NOT_CERTIFIED",
            format!(
                "certificates/{code} is not a certificate in force here; only certified OCOP products are promoted"
            ),
        )
    })?;
    Ok((code, product, product_name, subject, subject_name, province))
}
