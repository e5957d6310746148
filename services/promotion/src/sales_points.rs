//! OCOP sales points (Decision 950/QĐ-BCT): where they are, who runs them,
//! and the products they carry. Only a product with a certificate of 3 stars
//! or more in force may be added (checked against the catalog); when that
//! certificate lapses, the product is flagged at every sales point carrying it.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::client::{Bearer, Remote, TracedChannel, with_token};
use ocop_kit::create::{Begun, Create};
use ocop_kit::date::{self, today_vn};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::promotion::v1::SalesPoint;
use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

mod store;

use store::{COLUMNS, Row, carried, fetch, location_of, location_str};

const REGISTRY: Remote = Remote {
    service: "registry",
    refused: "REGISTRY_REFUSED",
    unavailable: "REGISTRY_UNAVAILABLE",
};

fn parse_name(field: &str, name: &str) -> Result<String> {
    let [id] = ocop_kit::names::parse(field, name, "salesPoints/{id}", "a sales point name")?;
    Ok(id.to_owned())
}

/// Province officers act on their province's sales points, on its deployment.
fn require_province(here: &Jurisdiction, who: &Principal, province: &str) -> Result<()> {
    who.require(&[Role::ProvinceOfficer])?;
    here.require_province(who, province, "the sales point")
}

/// Registers a sales point in the caller's province.
pub async fn create(
    db: &PgPool,
    registry: &RegistryServiceClient<TracedChannel>,
    here: &Jurisdiction,
    who: &Principal,
    bearer: &Bearer,
    point: &SalesPoint,
    request_id: &str,
) -> Result<SalesPoint> {
    who.require(&[Role::ProvinceOfficer])?;
    let request_id = idempotency::parse("request_id", request_id)?;
    let mut v = Violations::default();
    let name = point.display_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        v.push("sales_point.display_name", "required, up to 200 characters");
    }
    let location = location_str(point.location_type());
    if location.is_none() {
        v.push(
            "sales_point.location_type",
            "required: one of the 8 kinds of Decision 950/QĐ-BCT (station, highway stop, market, tourist site, craft village, trade centre, fair centre, post office)",
        );
    }
    let (address, operator) = (point.address.trim(), point.operator.trim());
    if address.is_empty() || address.chars().count() > 500 {
        v.push("sales_point.address", "required, up to 500 characters");
    }
    if operator.is_empty() || operator.chars().count() > 200 {
        v.push("sales_point.operator", "required, up to 200 characters: who runs it");
    }
    let commune = point.commune_code.trim();
    if commune.len() != 5 || !commune.bytes().all(|b| b.is_ascii_digit()) {
        v.push("sales_point.commune_code", "required: a 5-digit 2025 commune code");
    }
    let opening = match &point.opening_date {
        Some(d) => match date::from_proto("sales_point.opening_date", d) {
            Ok(d) if d > today_vn() => {
                v.push(
                    "sales_point.opening_date",
                    "is in the future; register a sales point once it opens",
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => return Err(e),
        },
        None => {
            v.push("sales_point.opening_date", "required");
            None
        }
    };
    v.check()?;
    // The commune's province, from the registry, with the caller's token.
    let unit_name = format!("administrativeUnits/2025-{commune}");
    let unit = registry
        .clone()
        .get_administrative_unit(with_token(
            GetAdministrativeUnitRequest {
                name: unit_name.clone(),
            },
            bearer,
        ))
        .await
        .map_err(|s| REGISTRY.error(s, &unit_name, "sales_point.commune_code"))?
        .into_inner()
        .administrative_unit
        .unwrap_or_default();
    if unit.valid_until.is_some() {
        return Err(Error::invalid(
            "sales_point.commune_code",
            format!(
                "{commune} ({}) is no longer in force; use today's commune",
                unit.display_name
            ),
        ));
    }
    require_province(here, who, &unit.province_code)?;

    let id = uuid::Uuid::now_v7().to_string();
    let resource = format!("salesPoints/{id}");
    let create = Create {
        method: "CreateSalesPoint",
        name: &resource,
        request_id,
    };
    let mut tx = match create.begin(db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(db, &first).await,
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sales_points (id, display_name, location_type, address, commune_code, province_code, operator, opening_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    )))
    .bind(&id)
    .bind(name)
    .bind(location)
    .bind(address)
    .bind(commune)
    .bind(&unit.province_code)
    .bind(operator)
    .bind(opening)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto(&[]);
    create.commit(tx, who, &row.province_code, &proto.etag, &proto).await?;
    Ok(proto)
}

async fn record(
    tx: &mut PgConnection,
    who: &Principal,
    method: &'static str,
    kind: &'static str,
    province: &str,
    before: &str,
    proto: &SalesPoint,
) -> Result<()> {
    let change = Change {
        method,
        kind,
        resource: &proto.name,
        province,
        etag_before: before,
        etag_after: &proto.etag,
        request_id: "",
        payload: proto.encode_to_vec(),
    };
    audit::record(tx, who, change).await
}

/// One sales point with what it carries.
pub async fn get(db: &PgPool, name: &str) -> Result<SalesPoint> {
    let id = parse_name("name", name)?;
    let row = fetch(db, &id, false).await?;
    let carried = carried(db, std::slice::from_ref(&id)).await?;
    Ok(row.to_proto(&carried))
}

/// Filterable fields of ListSalesPoints.
pub const FILTER_FIELDS: &[&str] = &["province_code", "commune_code", "location_type"];

/// A page of sales points, by province, commune and id.
pub async fn list(db: &PgPool, page_size: i32, page_token: &str, filter: &str) -> Result<(Vec<SalesPoint>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM sales_points WHERE TRUE"));
    filter.push_equal(&mut sql, &["province_code", "commune_code"]);
    if let Some(kind) = filter.get("location_type") {
        let known = location_str(location_of(&kind.to_lowercase())).ok_or_else(|| {
            Error::invalid(
                "filter",
                format!("location_type `{kind}` is not one of the 8 kinds, e.g. post_office"),
            )
        })?;
        sql.push(" AND location_type = ").push_bind(known);
    }
    if let Some(after) = &page.after {
        let (p, c, id) = after
            .split('|')
            .collect::<Vec<_>>()
            .try_into()
            .map(|[p, c, id]: [&str; 3]| (p.to_owned(), c.to_owned(), id.to_owned()))
            .map_err(|_| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (province_code, commune_code, id) > (")
            .push_bind(p)
            .push(", ")
            .push_bind(c)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" ORDER BY province_code, commune_code, id LIMIT ")
        .push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(
        &mut rows,
        |r| format!("{}|{}|{}", r.province_code, r.commune_code, r.id),
        &query_id,
    );
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let carried = carried(db, &ids).await?;
    Ok((rows.iter().map(|r| r.to_proto(&carried)).collect(), next))
}

/// Adds a product by its certificate: 3 stars or more, in force (per the catalog).
pub async fn add_product(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    certificate: &str,
    etag: &str,
) -> Result<SalesPoint> {
    // Permission before existence: a role that may not write learns nothing
    // of which sales points exist.
    who.require(&[Role::ProvinceOfficer])?;
    let id = parse_name("sales_point", name)?;
    let code = certificate
        .strip_prefix("certificates/")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "certificate",
                format!("`{certificate}` is not a certificate name; expected `certificates/{{code}}`"),
            )
        })?
        .to_uppercase();
    let mut tx = db.begin().await?;
    let row = fetch(&mut *tx, &id, true).await?;
    require_province(here, who, &row.province_code)?;
    let before = ocop_kit::etag::check("etag", etag, name, row.version)?;
    let listed: Option<(String, String, i32)> =
        sqlx::query_as("SELECT product, product_name, stars FROM catalog WHERE code = $1 AND valid_until >= $2")
            .bind(&code)
            .bind(today_vn())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((product, product_name, stars)) = listed else {
        return Err(Error::failed_precondition(
            "NOT_CERTIFIED",
            format!(
                "certificates/{code} is not a certificate in force here; a sales point carries only products with a 3-star or better certificate in force"
            ),
        ));
    };
    if stars < 3 {
        return Err(Error::failed_precondition(
            "NOT_CERTIFIED",
            format!("certificates/{code} has {stars} stars; a sales point carries 3 stars or more"),
        ));
    }
    let added = sqlx::query(
        "INSERT INTO sales_point_products (sales_point, code, product, product_name, stars) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(&code)
    .bind(&product)
    .bind(&product_name)
    .bind(stars)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_CARRIED",
            format!("{name} already carries certificates/{code}"),
        ));
    }
    bump(tx, who, &id, "AddSalesPointProduct", &before).await
}

/// Removes a product (flagged or not).
pub async fn remove_product(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    certificate: &str,
    etag: &str,
) -> Result<SalesPoint> {
    // Permission before existence: a role that may not write learns nothing
    // of which sales points exist.
    who.require(&[Role::ProvinceOfficer])?;
    let id = parse_name("sales_point", name)?;
    let code = certificate
        .strip_prefix("certificates/")
        .unwrap_or(certificate)
        .to_uppercase();
    let mut tx = db.begin().await?;
    let row = fetch(&mut *tx, &id, true).await?;
    require_province(here, who, &row.province_code)?;
    let before = ocop_kit::etag::check("etag", etag, name, row.version)?;
    let removed = sqlx::query("DELETE FROM sales_point_products WHERE sales_point = $1 AND code = $2")
        .bind(&id)
        .bind(&code)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(Error::not_found(format!("{name}/products/{code}")));
    }
    bump(tx, who, &id, "RemoveSalesPointProduct", &before).await
}

async fn bump(
    mut tx: sqlx::Transaction<'_, Postgres>,
    who: &Principal,
    id: &str,
    method: &'static str,
    before: &str,
) -> Result<SalesPoint> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE sales_points SET version = version + 1, update_time = now() WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let carried = carried(&mut *tx, &[id.to_owned()]).await?;
    let proto = row.to_proto(&carried);
    record(&mut tx, who, method, "updated", &row.province_code, before, &proto).await?;
    tx.commit().await?;
    Ok(proto)
}

/// Flags the products carried under `code` (its certificate left the catalog).
pub async fn flag(tx: &mut PgConnection, code: &str, reason: &str) -> Result<()> {
    sqlx::query("UPDATE sales_point_products SET flag_reason = $2 WHERE code = $1 AND flag_reason IS NULL")
        .bind(code)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
