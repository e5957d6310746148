//! Products of a producer: create, read, list, update, soft delete, search,
//! and the taxonomy they are classified in. One function per RPC; the SQL
//! is in `store`, the field checks in `fields`.

mod fields;
pub mod store;

use ocop_kit::auth::Principal;
use ocop_kit::create::{Begun, Create};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{Product, ProductGroup};
use prost::Message;
use sqlx::PgConnection;

use crate::audit::{self, Change};
use crate::fields::check_mask;
use crate::ids::{self, product_name, subject_name};
use crate::listing::Order;
use crate::rules::access::{require_province, require_writer};
use crate::search;
use crate::service::Registry;
use crate::subjects;
use ocop_kit::etag;
use ocop_kit::idempotency::{self};
pub(crate) use store::{Row, StoredStandard};
pub use store::{standard_type_of, standard_type_str};

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

async fn check_taxonomy(svc: &Registry, group: &str, subgroup: &str, v: &mut Violations) -> Result<()> {
    let sets = store::sets_of(&svc.db, group).await?;
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
    let create = Create {
        method: "CreateProduct",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(&svc.db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(svc, &first).await,
    };
    // Lock the producer so a concurrent delete cannot orphan the product.
    subjects::lock(&mut tx, &subject_id).await?;
    let inserted = store::insert(&mut tx, &row)
        .await?
        .ok_or_else(|| Error::already_exists(&name, "choose another product_id"))?;
    let proto = inserted.to_proto();
    create
        .commit(tx, who, &inserted.province_code, &proto.etag, &proto)
        .await?;
    Ok(proto)
}

/// One product, from the cache when warm.
pub async fn get(svc: &Registry, name: &str) -> Result<Product> {
    let (subject, id) = ids::parse_product("name", name)?;
    let found = svc
        .cache
        .get_or_load(&cache_key(&subject, &id), || async {
            let row = store::fetch(&svc.db, &subject, &id).await?;
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
    if let Some(subject) = &subject
        && subjects::fetch(&svc.db, subject).await?.is_none()
    {
        return Err(Error::not_found(subject_name(subject)));
    }
    let mut sql = store::select(&filter, show_deleted)?;
    if let Some(subject) = &subject {
        sql.push(" AND subject_id = ").push_bind(subject.clone());
    }
    let mut rows = store::page(&svc.db, sql, order, page.after.as_deref(), page.fetch_limit()).await?;
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
    etag::check("product.etag", &product.etag, &name, current.version)?;
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
    let updated = store::update(&mut tx, &row).await?;
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "UpdateProduct",
            kind: "updated",
            resource: &name,
            province: &updated.province_code,
            etag_before: &etag::of(current.version),
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
    etag::check("etag", given_etag, &name, current.version)?;
    let (ideas, plans) = store::cycle_records(&mut tx, &subject, &id).await?;
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
    let from = |sql: &mut sqlx::QueryBuilder<sqlx::Postgres>| store::push_from(sql, &filter, false);
    let (rows, next): (Vec<Row>, String) = search::run(
        &svc.db,
        store::COLUMNS,
        from,
        &["subject_id", "id"],
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
    let rows = store::taxonomy(&svc.db).await?;
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
    let row = store::fetch_for_update(tx, subject, id).await?;
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
    let deleted = store::soft_delete(tx, subject, id).await?;
    let proto = deleted.to_proto();
    audit::record(
        tx,
        who,
        Change {
            method,
            kind: "deleted",
            resource: &name,
            province: &deleted.province_code,
            etag_before: &etag::of(deleted.version - 1),
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

/// Product `id` of producer `subject`, unless deleted (NOT_FOUND): the
/// parent of ideas, plans and dossiers.
pub(crate) async fn live(svc: &Registry, subject: &str, id: &str) -> Result<Row> {
    store::fetch(&svc.db, subject, id)
        .await?
        .filter(|r| r.delete_time.is_none())
        .ok_or_else(|| Error::not_found(product_name(subject, id)))
}
