//! E-commerce listings: where a certified product of the province is sold
//! online; only a product whose certificate is in the catalog is listed.

use ocop_kit::Result;
use ocop_kit::auth::Principal;
use ocop_kit::create::Create;
use ocop_kit::date::to_timestamp;
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::paging::{self, Page};
use ocop_kit::{Error, ErrorKind};
use ocop_proto::promotion::v1::Listing;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::catalog::in_force;
use crate::writes::require_officer;

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
    let create = Create {
        method: "CreateListing",
        name: &proto.name,
        request_id: None,
    };
    create.commit(tx, who, &province, "", &proto).await?;
    Ok(proto)
}

/// A page of the listings of a certificate (`certificates/{code}`), or of
/// all, oldest first.
pub async fn list_listings(
    db: &PgPool,
    certificate: &str,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<Listing>, String)> {
    let code = match certificate {
        "" => None,
        name => Some(
            name.strip_prefix("certificates/")
                .ok_or_else(|| Error::invalid("certificate", format!("`{name}` is not a certificate name")))?
                .to_uppercase(),
        ),
    };
    let query_id = format!("listings|{}", code.as_deref().unwrap_or("-"));
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {LISTING_COLUMNS} FROM listings WHERE TRUE"));
    if let Some(code) = code {
        sql.push(" AND code = ").push_bind(code);
    }
    // Keyset: after the previous page's last listing in (create_time, id).
    if let Some([created, id]) = page.after_key::<2>()? {
        let created = created
            .parse::<i128>()
            .ok()
            .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (create_time, id) > (")
            .push_bind(created)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" ORDER BY create_time, id LIMIT ")
        .push_bind(page.fetch_limit());
    let mut rows: Vec<ListingRow> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(
        &mut rows,
        |r| paging::key([&r.create_time.unix_timestamp_nanos().to_string(), &r.id]),
        &query_id,
    );
    Ok((rows.iter().map(ListingRow::to_proto).collect(), next))
}
