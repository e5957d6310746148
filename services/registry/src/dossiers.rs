//! Producers' dossiers for evaluation (Decision 26/2026 Điều 6.1 and 7.1):
//! Mẫu 01 and Mẫu 02, first rating, upgrade or re-rating, recorded as the
//! commune receives them. The evaluation service reads a dossier when the
//! product enters a round: its kind and submission date decide the rules it
//! is rated under (Điều 12), its receipt starts the commune's 15 working days.

mod forms;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::{Jurisdiction, OUTSIDE_JURISDICTION};
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::ProductDossier;
use prost::Message;
use sqlx::{Postgres, QueryBuilder};

use crate::audit::{self, Change};
use crate::ids::{self, parse_path, product_name};
use crate::listing::{Order, push_product_parent};
use crate::service::Registry;

pub use forms::{kind_of, kind_str};

const COLLECTIONS: &[&str] = &["subjects", "products", "dossiers"];
/// Filterable fields of `ListProductDossiers`.
pub const FILTER_FIELDS: &[&str] = &["kind", "commune_code", "province_code"];

macro_rules! dossier_columns {
    () => {
        "subject_id, product_id, id, kind, submitted_date, received_date, receipt_number, received_by, commune_code,
         province_code, subgroup_code, forms, create_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    subject_id: String,
    product_id: String,
    id: String,
    kind: String,
    submitted_date: time::Date,
    received_date: time::Date,
    receipt_number: String,
    received_by: String,
    commune_code: String,
    province_code: String,
    subgroup_code: String,
    forms: Vec<u8>,
    create_time: time::OffsetDateTime,
}

impl Row {
    fn to_proto(&self) -> Result<ProductDossier> {
        let forms = ProductDossier::decode(self.forms.as_slice())
            .map_err(|e| Error::internal(format!("stored forms of dossier {} do not decode: {e}", self.id)))?;
        Ok(ProductDossier {
            name: dossier_name(&self.subject_id, &self.product_id, &self.id),
            kind: kind_of(&self.kind) as i32,
            submitted_date: Some(date::to_proto(self.submitted_date)),
            received_date: Some(date::to_proto(self.received_date)),
            receipt_number: self.receipt_number.clone(),
            received_by: self.received_by.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            subgroup_code: self.subgroup_code.clone(),
            // Never changed once recorded.
            etag: "v1".into(),
            create_time: Some(to_timestamp(self.create_time)),
            ..forms
        })
    }
}

/// `subjects/{s}/products/{p}/dossiers/{d}`.
pub fn dossier_name(subject: &str, product: &str, id: &str) -> String {
    format!("{}/dossiers/{id}", product_name(subject, product))
}

/// Records a dossier of the product `parent` as its commune received it.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    parent: &str,
    dossier: &ProductDossier,
    dossier_id: &str,
    request_id: &str,
) -> Result<ProductDossier> {
    who.require(&[Role::CommuneOfficer, Role::ProvinceOfficer])?;
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], false)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("product_dossier_id", dossier_id)
        .map_err(|e| v.push("product_dossier_id", e.message()))
        .unwrap_or_default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let dates = forms::check(dossier, date::today_vn(), &mut v);
    let product: Option<(String, String, String, Option<time::OffsetDateTime>)> = sqlx::query_as(
        "SELECT origin_commune_code, province_code, subgroup_code, delete_time FROM products
             WHERE subject_id = $1 AND id = $2",
    )
    .bind(&ids[0])
    .bind(&ids[1])
    .fetch_optional(&svc.db)
    .await?;
    let (commune, province, subgroup) = match product {
        Some((commune, province, subgroup, None)) => (commune, province, subgroup),
        _ => return Err(Error::not_found(product_name(&ids[0], &ids[1]))),
    };
    require_dossier_jurisdiction(&svc.here, who, &province, &commune)?;
    v.check()?;
    let dates = dates.ok_or_else(|| Error::internal("a checked dossier has its dates"))?;
    let kind = kind_str(dossier.kind()).unwrap_or_default();

    let name = dossier_name(&ids[0], &ids[1], &id);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateProductDossier", &name).await? {
        drop(tx);
        return get(svc, &first).await;
    }
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO dossiers (subject_id, product_id, id, kind, submitted_date, received_date, receipt_number,
                received_by, commune_code, province_code, subgroup_code, forms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING ",
        dossier_columns!()
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&id)
    .bind(kind)
    .bind(dates.submitted)
    .bind(dates.received)
    .bind(dossier.receipt_number.trim())
    .bind(&who.subject)
    .bind(&commune)
    .bind(&province)
    .bind(&subgroup)
    .bind(forms::forms(dossier).encode_to_vec())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{name} already exists; choose another id"),
        )
    })?;
    let proto = row.to_proto()?;
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    let change = Change {
        method: "CreateProductDossier",
        kind: "created",
        resource: &proto.name,
        province: &row.province_code,
        etag_before: "",
        etag_after: &proto.etag,
        request_id: &request,
        payload: proto.encode_to_vec(),
    };
    audit::record(&mut tx, who, change).await?;
    tx.commit().await?;
    Ok(proto)
}

/// One dossier; on the national deployment, a province's as mirrored.
pub async fn get(svc: &Registry, name: &str) -> Result<ProductDossier> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        dossier_columns!(),
        " FROM dossiers WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&svc.db)
    .await?;
    match row {
        Some(row) => row.to_proto(),
        None => ocop_kit::mirror::find(&svc.db, name)
            .await?
            .ok_or_else(|| Error::not_found(name)),
    }
}

/// A page of dossiers of `parent` (`subjects/-/products/-` for all), oldest first.
pub async fn list(
    svc: &Registry,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<ProductDossier>, String)> {
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], true)?;
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = format!("{parent}|{}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", dossier_columns!(), " FROM dossiers WHERE TRUE"));
    push_product_parent(&mut sql, &ids);
    if let Some(kind) = filter.get("kind") {
        if !["first_rating", "upgrade", "re_rating"].contains(&kind) {
            return Err(Error::invalid(
                "filter",
                format!("kind `{kind}` is not first_rating, upgrade or re_rating"),
            ));
        }
        sql.push(" AND kind = ").push_bind(kind.to_owned());
    }
    for field in ["commune_code", "province_code"] {
        if let Some(value) = filter.get(field) {
            sql.push(format!(" AND {field} = ")).push_bind(value.to_owned());
        }
    }
    let keys = ["subject_id", "product_id", "id"];
    if let Some(after) = &page.after {
        Order::CreateAsc.push_after(&mut sql, "id", &keys, after)?;
    }
    Order::CreateAsc.push_order(&mut sql, "id", &keys);
    sql.push(" LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&svc.db).await?;
    let next = page.finish(
        &mut rows,
        |r| Order::CreateAsc.cursor(r.create_time, &r.id, &[&r.subject_id, &r.product_id, &r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect::<Result<_>>()?, next))
}

/// Dossiers are filed with the commune (Điều 7.1): its officers record them,
/// and the province's, on the province's own deployment.
fn require_dossier_jurisdiction(here: &Jurisdiction, who: &Principal, province: &str, commune: &str) -> Result<()> {
    here.require_serves(province)?;
    let allowed = match who.role {
        Role::CommuneOfficer => who.commune.as_deref() == Some(commune),
        Role::ProvinceOfficer => who.province.as_deref() == Some(province),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let theirs = match (&who.commune, &who.province) {
        (Some(c), _) => format!("commune {c}"),
        (None, Some(p)) => format!("province {p}"),
        _ => "no jurisdiction".into(),
    };
    Err(Error::permission_denied(
        OUTSIDE_JURISDICTION,
        format!(
            "the product's dossiers are recorded by the officers of commune {commune} or of province {province}; your token is for {theirs}"
        ),
    ))
}
