//! Producers (chủ thể): create, read, list, update, soft delete, search.
//! One function per RPC; the SQL is in `store`, the field checks in `fields`.

mod fields;
pub mod store;

use ocop_kit::auth::Principal;
use ocop_kit::create::{Begun, Create};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::Subject;
use prost::Message;
use sqlx::PgConnection;

use crate::audit::{self, Change};
use crate::fields::check_mask;
use crate::ids::{self, subject_name};
use crate::listing::Order;
use crate::rules::access::{require_province, require_writer};
use crate::search;
use crate::service::Registry;
use ocop_kit::etag;
use ocop_kit::idempotency::{self};
pub use store::{Row, fetch};

/// Filterable fields of `ListSubjects`.
pub const FILTER_FIELDS: &[&str] = &["province_code", "commune_code", "kind", "state"];
/// Fields `UpdateSubject` may change.
pub const UPDATABLE: &[&str] = &[
    "kind",
    "legal_name",
    "registration_number",
    "representative",
    "representative.full_name",
    "representative.is_woman",
    "representative.is_ethnic_minority",
    "phone",
    "email",
    "address",
    "commune_code",
    "state",
];

/// Registers a producer.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    subject: &Subject,
    subject_id: &str,
    request_id: &str,
) -> Result<Subject> {
    require_writer(who)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("subject_id", subject_id)
        .map_err(|e| v.push("subject_id", e.message()))
        .ok();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let mut row = Row::blank(id.unwrap_or_default());
    row.commune_code = subject.commune_code.trim().to_owned();
    row.apply(subject, None, &mut v);
    place(svc, &mut row, &mut v).await?;
    v.check()?;
    require_province(&svc.here, who, &row.province_code, "the producer's commune")?;

    let name = subject_name(&row.id);
    let create = Create {
        method: "CreateSubject",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(&svc.db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(svc, &first).await,
    };
    ensure_unique(&mut tx, &row.registration_number, None).await?;
    let inserted = store::insert(&mut tx, &row)
        .await?
        .ok_or_else(|| Error::already_exists(&name, "choose another subject_id"))?;
    let proto = inserted.to_proto();
    create
        .commit(tx, who, &inserted.province_code, &proto.etag, &proto)
        .await?;
    Ok(proto)
}

/// Sets the province of `row` from its commune, which must be in force (a
/// violation of `subject.commune_code` when not).
async fn place(svc: &Registry, row: &mut Row, v: &mut Violations) -> Result<()> {
    match svc
        .units
        .commune_in_force("subject.commune_code", &row.commune_code)
        .await
    {
        Ok(province) => row.province_code = province,
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            v.push("subject.commune_code", e.violations()[0].description.clone())
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// ALREADY_EXISTS, naming the producer that holds `number`, unless it is `except`.
async fn ensure_unique(tx: &mut PgConnection, number: &str, except: Option<&str>) -> Result<()> {
    match store::holder_of(tx, number).await? {
        Some(id) if Some(id.as_str()) != except => Err(Error::new(
            ErrorKind::AlreadyExists,
            "REGISTRATION_NUMBER_TAKEN",
            format!(
                "registration number {number} is already registered to {}",
                subject_name(&id)
            ),
        )
        .with_metadata("existing", subject_name(&id))),
        _ => Ok(()),
    }
}

/// One producer, from the cache when warm.
pub async fn get(svc: &Registry, name: &str) -> Result<Subject> {
    let id = ids::parse_subject("name", name)?;
    let found = svc
        .cache
        .get_or_load(&cache_key(&id), || async {
            fetch(&svc.db, &id)
                .await?
                .map(|r| r.to_proto())
                .ok_or_else(|| Error::not_found(subject_name(&id)))
        })
        .await;
    // On the national deployment, a province's producer (never cached:
    // only its feed changes it).
    match found {
        Err(e) if e.kind() == ErrorKind::NotFound => ocop_kit::mirror::find(&svc.db, name).await?.ok_or(e),
        found => found,
    }
}

/// The row of `id`, locked for update; NOT_FOUND when missing or deleted.
pub async fn lock(tx: &mut PgConnection, id: &str) -> Result<Row> {
    match store::fetch_for_update(tx, id).await? {
        Some(row) if row.delete_time.is_none() => Ok(row),
        // A producer mirrored from a province is not ours to change.
        _ => Err(ocop_kit::mirror::missing(&mut *tx, &subject_name(id)).await),
    }
}

/// A page of producers.
pub async fn list(
    svc: &Registry,
    page_size: i32,
    page_token: &str,
    filter: &str,
    order_by: &str,
    show_deleted: bool,
) -> Result<(Vec<Subject>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let order = Order::parse(order_by, "legal_name")?;
    let query_id = format!("{}|{}|{show_deleted}", filter.canonical(), order.id());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let sql = store::select(&filter, show_deleted)?;
    let mut rows = store::page(&svc.db, sql, order, page.after.as_deref(), page.fetch_limit()).await?;
    let next = page.finish(
        &mut rows,
        |r| order.cursor(r.create_time, &r.legal_name, &[&r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// Changes the fields in `mask`.
pub async fn update(svc: &Registry, who: &Principal, subject: &Subject, mask: &[String]) -> Result<Subject> {
    require_writer(who)?;
    let id = ids::parse_subject("subject.name", &subject.name)?;
    check_mask(mask, UPDATABLE)?;
    let name = subject_name(&id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    etag::check("subject.etag", &subject.etag, &name, current.version)?;
    let mut row = current.clone();
    let mut v = Violations::default();
    row.apply(subject, Some(mask), &mut v);
    if mask.iter().any(|m| m == "commune_code") {
        row.commune_code = subject.commune_code.trim().to_owned();
        place(svc, &mut row, &mut v).await?;
    }
    v.check()?;
    if row.province_code != current.province_code {
        require_province(&svc.here, who, &row.province_code, "the new commune")?;
    }
    if row.registration_number != current.registration_number {
        ensure_unique(&mut tx, &row.registration_number, Some(&id)).await?;
    }
    let updated = store::update(&mut tx, &row).await?;
    // Products take their province from their producer.
    let moved = if updated.province_code != current.province_code {
        store::move_products(&mut tx, &id, &updated.province_code).await?
    } else {
        Vec::new()
    };
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "UpdateSubject",
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
    svc.cache.put(&cache_key(&id), &proto).await;
    for product in moved {
        svc.cache.invalidate(&crate::products::cache_key(&id, &product)).await;
    }
    Ok(proto)
}

/// Soft-deletes a producer (and, with `force`, its products).
pub async fn delete(svc: &Registry, who: &Principal, name: &str, given_etag: &str, force: bool) -> Result<Subject> {
    require_writer(who)?;
    let id = ids::parse_subject("name", name)?;
    let name = subject_name(&id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    etag::check("etag", given_etag, &name, current.version)?;
    let products = store::live_products(&mut tx, &id).await?;
    if !products.is_empty() && !force {
        return Err(Error::failed_precondition(
            "HAS_PRODUCTS",
            format!(
                "{name} still has {} product(s) (e.g. {}); delete them first or set force",
                products.len(),
                crate::ids::product_name(&id, &products[0])
            ),
        ));
    }
    let deleted = store::soft_delete(&mut tx, &id).await?;
    for product in &products {
        crate::products::soft_delete_in(&mut tx, who, &id, product, "DeleteSubject").await?;
    }
    let proto = deleted.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "DeleteSubject",
            kind: "deleted",
            resource: &name,
            province: &deleted.province_code,
            etag_before: &etag::of(current.version),
            etag_after: &proto.etag,
            request_id: "",
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    svc.cache.put(&cache_key(&id), &proto).await;
    for product in products {
        svc.cache.invalidate(&crate::products::cache_key(&id, &product)).await;
    }
    Ok(proto)
}

/// Producers whose name or registration number matches `query`, best first.
pub async fn search(
    svc: &Registry,
    query: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Subject>, String)> {
    let filter = Filter::parse(filter, &["province_code", "kind"])?;
    let from = |sql: &mut sqlx::QueryBuilder<sqlx::Postgres>| store::push_from(sql, &filter, false);
    let (rows, next): (Vec<Row>, String) = search::run(
        &svc.db,
        store::COLUMNS,
        from,
        &["id"],
        query,
        page_size,
        page_token,
        &filter.canonical(),
    )
    .await?;
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// The cache key of a producer.
pub fn cache_key(id: &str) -> String {
    format!("subject:{id}")
}
