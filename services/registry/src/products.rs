//! Products of a producer: create, read, list, update, soft delete, search,
//! and the taxonomy they are classified in.

use ocop_kit::auth::Principal;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{Product, ProductGroup, ProductState, Standard, StandardType};
use prost::Message;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::access::{require_province, require_writer};
use crate::audit::{self, Change};
use crate::fields::check_mask;
use crate::ids::{self, check_etag, etag, product_name, subject_name};
use crate::listing::{Order, push_state};
use crate::search;
use crate::service::Registry;
use crate::subjects;
use ocop_kit::idempotency::{self, Claim};

/// Filterable fields of `ListProducts`.
pub const FILTER_FIELDS: &[&str] = &["province_code", "commune_code", "group_code", "subgroup_code", "state"];
/// Fields `UpdateProduct` may change.
pub const UPDATABLE: &[&str] = &[
    "display_name",
    "group_code",
    "subgroup_code",
    "description",
    "origin_commune_code",
    "raw_material_area",
    "standards",
    "state",
];

macro_rules! product_columns {
    () => {
        "subject_id, id, display_name, group_code, subgroup_code, description, origin_commune_code, province_code,
         raw_material_area, standards, state, version, create_time, update_time, delete_time"
    };
}
pub(crate) use product_columns;

/// A standard as stored in the `standards` JSON column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredStandard {
    #[serde(rename = "type")]
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub valid_until: Option<String>,
}

/// A row of `products`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub subject_id: String,
    pub id: String,
    pub display_name: String,
    pub group_code: String,
    pub subgroup_code: String,
    pub description: String,
    pub origin_commune_code: String,
    pub province_code: String,
    pub raw_material_area: String,
    pub standards: Json<Vec<StoredStandard>>,
    pub state: String,
    pub version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    delete_time: Option<time::OffsetDateTime>,
}

const STANDARD_TYPES: &[(StandardType, &str)] = &[
    (StandardType::FoodSafetyCertificate, "food_safety_certificate"),
    (StandardType::Vietgap, "vietgap"),
    (StandardType::Iso22000, "iso_22000"),
    (StandardType::QualityDeclaration, "quality_declaration"),
    (StandardType::Haccp, "haccp"),
    (StandardType::Organic, "organic"),
    (StandardType::Other, "other"),
];

/// The stored name of a standard type (also the CSV's).
pub fn standard_type_str(t: StandardType) -> Option<&'static str> {
    STANDARD_TYPES.iter().find(|(k, _)| *k == t).map(|(_, s)| *s)
}

/// The standard type of a stored name.
pub fn standard_type_of(s: &str) -> Option<StandardType> {
    STANDARD_TYPES.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
}

impl Row {
    /// An empty row, to fill with [`Row::apply`].
    pub(crate) fn blank(subject_id: String, id: String, province_code: String, origin_commune_code: String) -> Row {
        let now = time::OffsetDateTime::now_utc();
        Row {
            subject_id,
            id,
            display_name: String::new(),
            group_code: String::new(),
            subgroup_code: String::new(),
            description: String::new(),
            origin_commune_code,
            province_code,
            raw_material_area: String::new(),
            standards: Json(Vec::new()),
            state: String::new(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        }
    }

    /// The proto form.
    pub fn to_proto(&self) -> Product {
        Product {
            name: product_name(&self.subject_id, &self.id),
            display_name: self.display_name.clone(),
            group_code: self.group_code.clone(),
            subgroup_code: self.subgroup_code.clone(),
            description: self.description.clone(),
            origin_commune_code: self.origin_commune_code.clone(),
            province_code: self.province_code.clone(),
            raw_material_area: self.raw_material_area.clone(),
            standards: self
                .standards
                .iter()
                .map(|s| Standard {
                    r#type: standard_type_of(&s.kind).unwrap_or(StandardType::Other) as i32,
                    number: s.number.clone(),
                    issuer: s.issuer.clone(),
                    valid_until: s
                        .valid_until
                        .as_deref()
                        .and_then(|d| date::parse_iso("", d).ok())
                        .map(date::to_proto),
                })
                .collect(),
            state: if self.state == "active" {
                ProductState::Active
            } else {
                ProductState::Discontinued
            } as i32,
            etag: etag(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            delete_time: self.delete_time.map(to_timestamp),
        }
    }

    /// Copies the fields of `p` named by `mask` (all when `None`), validating each.
    pub(crate) fn apply(&mut self, p: &Product, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|x| x == f));
        if wants("display_name") {
            self.display_name = p.display_name.trim().to_owned();
            let n = self.display_name.chars().count();
            if !(1..=300).contains(&n) {
                v.push("product.display_name", "required, 1 to 300 characters");
            }
        }
        if wants("group_code") {
            self.group_code = p.group_code.trim().to_owned();
        }
        if wants("subgroup_code") {
            self.subgroup_code = p.subgroup_code.trim().to_owned();
        }
        if wants("description") {
            self.description = p.description.trim().to_owned();
            if self.description.chars().count() > 5000 {
                v.push("product.description", "at most 5000 characters");
            }
        }
        if wants("raw_material_area") {
            self.raw_material_area = p.raw_material_area.trim().to_owned();
            if self.raw_material_area.chars().count() > 500 {
                v.push("product.raw_material_area", "at most 500 characters");
            }
        }
        if wants("standards") {
            self.standards = Json(
                p.standards
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let field = format!("product.standards[{i}]");
                        let kind = standard_type_str(s.r#type());
                        if kind.is_none() {
                            v.push(format!("{field}.type"), "required: food_safety_certificate, vietgap, iso_22000, quality_declaration, haccp, organic or other");
                        }
                        if s.number.trim().is_empty() || s.number.chars().count() > 100 {
                            v.push(format!("{field}.number"), "required, at most 100 characters");
                        }
                        if s.issuer.chars().count() > 200 {
                            v.push(format!("{field}.issuer"), "at most 200 characters");
                        }
                        let valid_until = match &s.valid_until {
                            Some(d) => match date::from_proto(&format!("{field}.valid_until"), d) {
                                Ok(d) => Some(d.to_string()),
                                Err(e) => {
                                    v.push(format!("{field}.valid_until"), e.violations()[0].description.clone());
                                    None
                                }
                            },
                            None => None,
                        };
                        Some(StoredStandard { kind: kind?.to_owned(), number: s.number.trim().to_owned(), issuer: s.issuer.trim().to_owned(), valid_until })
                    })
                    .collect(),
            );
        }
        if wants("state") {
            match p.state() {
                ProductState::Active => self.state = "active".into(),
                ProductState::Discontinued => self.state = "discontinued".into(),
                ProductState::Unspecified if mask.is_none() => self.state = "active".into(),
                ProductState::Unspecified => {
                    v.push("product.state", "required when in update_mask: active or discontinued")
                }
            }
        }
    }
}

async fn check_taxonomy(svc: &Registry, group: &str, subgroup: &str, v: &mut Violations) -> Result<()> {
    let sets: Vec<String> =
        sqlx::query_scalar("SELECT subgroup_code FROM product_groups WHERE group_code = $1 ORDER BY subgroup_code")
            .bind(group)
            .fetch_all(&svc.db)
            .await?;
    if sets.is_empty() {
        v.push(
            "product.group_code",
            format!("`{group}` is not a product group; see ListProductGroups"),
        );
    } else if !sets.iter().any(|s| s == subgroup) {
        let known = sets
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let why = if known.is_empty() {
            format!("group `{group}` has no product sets; leave it empty")
        } else {
            format!("`{subgroup}` is not a product set of `{group}`; one of: {known}")
        };
        v.push("product.subgroup_code", why);
    }
    Ok(())
}

/// The origin commune is in force and in `province`, the producer's: a
/// product of one province is not made in another's commune (its
/// evaluation, certificate and statistics are that province's).
async fn check_origin(svc: &Registry, code: &str, province: &str, v: &mut Violations) -> Result<()> {
    match svc.units.commune_in_force("product.origin_commune_code", code).await {
        Ok(p) if p == province => Ok(()),
        Ok(p) => {
            v.push(
                    "product.origin_commune_code",
                    format!(
                        "commune {code} is in province {p}; the producer is in province {province}, so name one of its communes"
                    ),
                );
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            v.push("product.origin_commune_code", e.violations()[0].description.clone());
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Registers a product of the producer `parent`.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    parent: &str,
    product: &Product,
    product_id: &str,
    request_id: &str,
) -> Result<Product> {
    require_writer(who)?;
    let subject_id = ids::parse_subject("parent", parent)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("product_id", product_id)
        .map_err(|e| v.push("product_id", e.message()))
        .unwrap_or_default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let subject = subjects::fetch(&svc.db, &subject_id)
        .await?
        .filter(|s| s.delete_time.is_none())
        .ok_or_else(|| Error::not_found(subject_name(&subject_id)))?;
    require_province(&svc.here, who, &subject.province_code, &subject_name(&subject_id))?;
    if subject.state == subjects::store::State::Dissolved {
        return Err(Error::failed_precondition(
            "SUBJECT_DISSOLVED",
            format!(
                "{} is dissolved; it cannot register products",
                subject_name(&subject_id)
            ),
        ));
    }
    let origin = product.origin_commune_code.trim();
    let origin = if origin.is_empty() {
        subject.commune_code.clone()
    } else {
        origin.to_owned()
    };
    let mut row = Row::blank(subject_id.clone(), id, subject.province_code.clone(), origin);
    row.apply(product, None, &mut v);
    check_taxonomy(svc, &row.group_code, &row.subgroup_code, &mut v).await?;
    check_origin(svc, &row.origin_commune_code, &row.province_code, &mut v).await?;
    v.check()?;

    let name = product_name(&subject_id, &row.id);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateProduct", &name).await? {
        drop(tx);
        return get(svc, &first).await;
    }
    // Lock the producer so a concurrent delete cannot orphan the product.
    subjects::lock(&mut tx, &subject_id).await?;
    let inserted: Row = sqlx::query_as(concat!(
            "INSERT INTO products (subject_id, id, display_name, group_code, subgroup_code, description, origin_commune_code,
                province_code, raw_material_area, standards, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (subject_id, id) DO NOTHING RETURNING ",
            product_columns!()
        ))
        .bind(&row.subject_id)
        .bind(&row.id)
        .bind(&row.display_name)
        .bind(&row.group_code)
        .bind(&row.subgroup_code)
        .bind(&row.description)
        .bind(&row.origin_commune_code)
        .bind(&row.province_code)
        .bind(&row.raw_material_area)
        .bind(&row.standards)
        .bind(&row.state)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::AlreadyExists, "ALREADY_EXISTS", format!("{name} already exists; choose another product_id")).with_metadata("resource", name.clone()))?;
    let proto = inserted.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "CreateProduct",
            kind: "created",
            resource: &name,
            province: &inserted.province_code,
            etag_before: "",
            etag_after: &proto.etag,
            request_id: &request_id.map(|r| r.to_string()).unwrap_or_default(),
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// One product, from the cache when warm.
pub async fn get(svc: &Registry, name: &str) -> Result<Product> {
    let (subject, id) = ids::parse_product("name", name)?;
    let found = svc
        .cache
        .get_or_load(&cache_key(&subject, &id), || async {
            let row: Option<Row> = sqlx::query_as(concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE subject_id = $1 AND id = $2"
            ))
            .bind(&subject)
            .bind(&id)
            .fetch_optional(&svc.db)
            .await?;
            row.map(|r| r.to_proto())
                .ok_or_else(|| Error::not_found(product_name(&subject, &id)))
        })
        .await;
    // On the national deployment, a province's product (never cached:
    // only its feed changes it).
    match found {
        Err(e) if e.kind() == ErrorKind::NotFound => ocop_kit::mirror::find(&svc.db, name).await?.ok_or(e),
        found => found,
    }
}

/// A page of products of `parent` (`subjects/-` for all).
#[allow(clippy::too_many_arguments)]
pub async fn list(
    svc: &Registry,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
    order_by: &str,
    show_deleted: bool,
) -> Result<(Vec<Product>, String)> {
    let subject = if parent == "subjects/-" {
        None
    } else {
        Some(ids::parse_subject("parent", parent)?)
    };
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let order = Order::parse(order_by, "display_name")?;
    let query_id = format!("{parent}|{}|{}|{show_deleted}", filter.canonical(), order.id());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", product_columns!(), " FROM products WHERE TRUE"));
    if let Some(subject) = &subject {
        if subjects::fetch(&svc.db, subject).await?.is_none() {
            return Err(Error::not_found(subject_name(subject)));
        }
        sql.push(" AND subject_id = ").push_bind(subject.clone());
    }
    push_filters(&mut sql, &filter)?;
    if !show_deleted {
        sql.push(" AND delete_time IS NULL");
    }
    if let Some(after) = &page.after {
        order.push_after(&mut sql, "display_name", &["subject_id", "id"], after)?;
    }
    order.push_order(&mut sql, "display_name", &["subject_id", "id"]);
    sql.push(" LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&svc.db).await?;
    let next = page.finish(
        &mut rows,
        |r| order.cursor(r.create_time, &r.display_name, &[&r.subject_id, &r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// Changes the fields in `mask`.
pub async fn update(svc: &Registry, who: &Principal, product: &Product, mask: &[String]) -> Result<Product> {
    require_writer(who)?;
    let (subject, id) = ids::parse_product("product.name", &product.name)?;
    check_mask(mask, UPDATABLE)?;
    let name = product_name(&subject, &id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &subject, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    check_etag("product.etag", &product.etag, &name, current.version)?;
    let mut row = current.clone();
    let mut v = Violations::default();
    row.apply(product, Some(mask), &mut v);
    if mask.iter().any(|m| m == "origin_commune_code") {
        row.origin_commune_code = product.origin_commune_code.trim().to_owned();
        check_origin(svc, &row.origin_commune_code, &row.province_code, &mut v).await?;
    }
    if mask.iter().any(|m| m == "group_code" || m == "subgroup_code") {
        check_taxonomy(svc, &row.group_code, &row.subgroup_code, &mut v).await?;
    }
    v.check()?;
    let updated: Row = sqlx::query_as(concat!(
        "UPDATE products SET display_name = $3, group_code = $4, subgroup_code = $5, description = $6,
                origin_commune_code = $7, raw_material_area = $8, standards = $9, state = $10,
                version = version + 1, update_time = now()
             WHERE subject_id = $1 AND id = $2 RETURNING ",
        product_columns!()
    ))
    .bind(&subject)
    .bind(&id)
    .bind(&row.display_name)
    .bind(&row.group_code)
    .bind(&row.subgroup_code)
    .bind(&row.description)
    .bind(&row.origin_commune_code)
    .bind(&row.raw_material_area)
    .bind(&row.standards)
    .bind(&row.state)
    .fetch_one(&mut *tx)
    .await?;
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "UpdateProduct",
            kind: "updated",
            resource: &name,
            province: &updated.province_code,
            etag_before: &etag(current.version),
            etag_after: &proto.etag,
            request_id: "",
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    svc.cache.put(&cache_key(&subject, &id), &proto).await;
    Ok(proto)
}

/// Soft-deletes a product.
pub async fn delete(svc: &Registry, who: &Principal, name: &str, given_etag: &str, force: bool) -> Result<Product> {
    require_writer(who)?;
    let (subject, id) = ids::parse_product("name", name)?;
    let name = product_name(&subject, &id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &subject, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    check_etag("etag", given_etag, &name, current.version)?;
    let (ideas, plans): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ideas WHERE subject_id = $1 AND product_id = $2),
                    (SELECT count(*) FROM plans WHERE subject_id = $1 AND product_id = $2)",
    )
    .bind(&subject)
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    if ideas + plans > 0 && !force {
        return Err(Error::failed_precondition(
            "HAS_CYCLE_RECORDS",
            format!(
                "{name} has {ideas} idea registration(s) and {plans} business plan(s); set force to delete it anyway (they stay as history)"
            ),
        ));
    }
    let proto = soft_delete_in(&mut tx, who, &subject, &id, "DeleteProduct").await?;
    tx.commit().await?;
    svc.cache.put(&cache_key(&subject, &id), &proto).await;
    Ok(proto)
}

/// Products whose name matches `query`, best first.
pub async fn search(
    svc: &Registry,
    query: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Product>, String)> {
    // The national deployment searches every province's products, mirrored.
    if svc.national {
        return crate::national::search(&svc.db, query, page_size, page_token, filter).await;
    }
    let filter = Filter::parse(filter, &["province_code", "group_code"])?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!(
        "SELECT ",
        product_columns!(),
        " FROM products WHERE delete_time IS NULL"
    ));
    push_filters(&mut sql, &filter)?;
    let (rows, next): (Vec<Row>, String) = search::run(
        &svc.db,
        sql,
        "subject_id, id",
        query,
        page_size,
        page_token,
        &filter.canonical(),
    )
    .await?;
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// The taxonomy: the current sets of 26/2026 Phụ lục I and, marked
/// legacy, the earlier sets products still carry, each with the current
/// set it is scored on (`ocop_kit::taxonomy`).
pub async fn groups(svc: &Registry) -> Result<Vec<ProductGroup>> {
    let rows: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT group_code, group_name, subgroup_code, subgroup_name FROM product_groups ORDER BY group_code, subgroup_code")
                .fetch_all(&svc.db)
                .await?;
    Ok(rows
        .into_iter()
        .map(|(group_code, group_name, subgroup_code, subgroup_name)| {
            let legacy = ocop_kit::taxonomy::legacy_of(&group_code, &subgroup_code);
            ProductGroup {
                legacy: legacy.is_some(),
                scored_as: legacy.and_then(|l| l.scored_as).unwrap_or_default().to_owned(),
                group_code,
                group_name,
                subgroup_code,
                subgroup_name,
            }
        })
        .collect())
}

async fn lock(tx: &mut PgConnection, subject: &str, id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        product_columns!(),
        " FROM products WHERE subject_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(subject)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) if row.delete_time.is_none() => Ok(row),
        // A producer's product mirrored from a province is not ours to change.
        _ => Err(ocop_kit::mirror::missing(&mut *tx, &product_name(subject, id)).await),
    }
}

/// Marks a product deleted inside `tx`, with its audit and outbox rows.
pub async fn soft_delete_in(
    tx: &mut PgConnection,
    who: &Principal,
    subject: &str,
    id: &str,
    method: &'static str,
) -> Result<Product> {
    let name = product_name(subject, id);
    let deleted: Row = sqlx::query_as(concat!(
        "UPDATE products SET delete_time = now(), version = version + 1, update_time = now()
         WHERE subject_id = $1 AND id = $2 RETURNING ",
        product_columns!()
    ))
    .bind(subject)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let proto = deleted.to_proto();
    audit::record(
        tx,
        who,
        Change {
            method,
            kind: "deleted",
            resource: &name,
            province: &deleted.province_code,
            etag_before: &etag(deleted.version - 1),
            etag_after: &proto.etag,
            request_id: "",
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    Ok(proto)
}

/// The cache key of a product.
pub fn cache_key(subject: &str, id: &str) -> String {
    format!("product:{subject}/{id}")
}

/// The filters of product lists and searches, on a query of a table with
/// the products' columns.
pub(crate) fn push_filters(sql: &mut QueryBuilder<Postgres>, filter: &Filter) -> Result<()> {
    for (field, column) in [
        ("province_code", "province_code"),
        ("commune_code", "origin_commune_code"),
        ("group_code", "group_code"),
        ("subgroup_code", "subgroup_code"),
    ] {
        if let Some(value) = filter.get(field) {
            sql.push(format!(" AND {column} = ")).push_bind(value.to_owned());
        }
    }
    push_state(sql, filter, &["active", "discontinued"])?;
    Ok(())
}
