//! E-commerce listings: where a certified product of the province is sold
//! online; only a product whose certificate is in the catalog is listed.

use ocop_kit::Result;
use ocop_kit::audit;
use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, ErrorKind};
use ocop_proto::promotion::v1::Listing;
use prost::Message;
use sqlx::PgPool;

use crate::catalog::in_force;
use crate::writes::{change, require_officer};

#[derive(sqlx::FromRow)]
struct ListingRow {
    id: String,
    platform: String,
    url: String,
    code: String,
    product: String,
    product_name: String,
    province_code: String,
    create_time: time::OffsetDateTime,
}

impl ListingRow {
    fn to_proto(&self) -> Listing {
        Listing {
            name: format!("listings/{}", self.id),
            platform: self.platform.clone(),
            url: self.url.clone(),
            certificate: format!("certificates/{}", self.code),
            product: self.product.clone(),
            product_name: self.product_name.clone(),
            province_code: self.province_code.clone(),
            create_time: Some(to_timestamp(self.create_time)),
        }
    }
}

const LISTING_COLUMNS: &str = "id, platform, url, code, product, product_name, province_code, create_time";

/// Records an e-commerce listing of a certified product of the caller's province.
pub async fn create_listing(db: &PgPool, here: &Jurisdiction, who: &Principal, listing: &Listing) -> Result<Listing> {
    let province = require_officer(who)?;
    let mut v = Violations::default();
    let platform = listing.platform.trim();
    if platform.is_empty() || platform.chars().count() > 100 {
        v.push("listing.platform", "required, up to 100 characters, e.g. \"Postmart\"");
    }
    let url = listing.url.trim();
    let host_ok = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| {
            rest.split('/')
                .next()
                .is_some_and(|h| h.contains('.') && !h.contains(' '))
        });
    if !host_ok || url.len() > 2000 || url.contains(char::is_whitespace) {
        v.push(
            "listing.url",
            "required: the product page's http(s) address, up to 2,000 characters",
        );
    }
    v.check()?;
    let mut tx = db.begin().await?;
    let (code, product, product_name, _, _, product_province) =
        in_force(&mut tx, "listing.certificate", &listing.certificate).await?;
    here.require_province(who, &product_province, &format!("the product of certificates/{code}"))?;
    let id = uuid::Uuid::now_v7().to_string();
    let row: Option<ListingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO listings (id, platform, url, code, product, product_name, province_code) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (url) DO NOTHING RETURNING {LISTING_COLUMNS}"
    )))
    .bind(&id)
    .bind(platform)
    .bind(url)
    .bind(&code)
    .bind(&product)
    .bind(&product_name)
    .bind(&province)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            "URL_LISTED",
            format!("{url} is already listed"),
        )
    })?;
    let proto = row.to_proto();
    audit::record(
        &mut tx,
        who,
        change(
            "CreateListing",
            "created",
            &proto.name,
            &province,
            "",
            "",
            proto.encode_to_vec(),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// Listings of a certificate (`certificates/{code}`), or all.
pub async fn list_listings(db: &PgPool, certificate: &str) -> Result<Vec<Listing>> {
    let rows: Vec<ListingRow> = if certificate.is_empty() {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LISTING_COLUMNS} FROM listings ORDER BY create_time, id LIMIT 500"
        )))
        .fetch_all(db)
        .await?
    } else {
        let code = certificate
            .strip_prefix("certificates/")
            .ok_or_else(|| Error::invalid("certificate", format!("`{certificate}` is not a certificate name")))?
            .to_uppercase();
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LISTING_COLUMNS} FROM listings WHERE code = $1 ORDER BY create_time, id"
        )))
        .bind(code)
        .fetch_all(db)
        .await?
    };
    Ok(rows.iter().map(ListingRow::to_proto).collect())
}
