//! Producers' dossiers for evaluation (Decision 26/2026 Điều 6.1 and 7.1):
//! Mẫu 01 and Mẫu 02, first rating, upgrade or re-rating, recorded as the
//! commune receives them. The evaluation service reads a dossier when the
//! product enters a round: its kind and submission date decide the rules it
//! is rated under (Điều 12), its receipt starts the commune's 15 working days.

mod forms;
mod store;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::create::{Begun, Create};
use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::idempotency::{self};
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::ProductDossier;
use prost::Message;

use crate::ids::{self, parse_path, product_name};
use crate::listing::Order;
use crate::rules::access::require_commune_or_province;
use crate::service::Registry;

use store::{Kind, Row};

const COLLECTIONS: &[&str] = &["subjects", "products", "dossiers"];
/// Filterable fields of `ListProductDossiers`.
pub const FILTER_FIELDS: &[&str] = &["kind", "commune_code", "province_code"];

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
    let product = crate::products::live(svc, &ids[0], &ids[1]).await?;
    let (commune, province, subgroup) = (
        product.origin_commune_code,
        product.province_code,
        product.subgroup_code,
    );
    require_commune_or_province(&svc.here, who, &province, &commune, |theirs| {
        format!(
            "the product's dossiers are recorded by the officers of commune {commune} or of province {province}; your token is for {theirs}"
        )
    })?;
    v.check()?;
    let dates = dates.ok_or_else(|| Error::internal("a checked dossier has its dates"))?;
    let kind = Kind::of_proto(dossier.kind()).ok_or_else(|| Error::internal("a checked dossier has its kind"))?;

    let name = dossier_name(&ids[0], &ids[1], &id);
    let create = Create {
        method: "CreateProductDossier",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(&svc.db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(svc, &first).await,
    };
    let new = store::New {
        ids: &ids,
        id: &id,
        kind,
        submitted: dates.submitted,
        received: dates.received,
        receipt_number: dossier.receipt_number.trim(),
        received_by: &who.subject,
        commune: &commune,
        province: &province,
        subgroup: &subgroup,
        forms: forms::forms(dossier).encode_to_vec(),
    };
    let row = store::insert(&mut tx, new)
        .await?
        .ok_or_else(|| Error::already_exists(&name, "choose another id"))?;
    let proto = row.to_proto()?;
    create.commit(tx, who, &row.province_code, &proto.etag, &proto).await?;
    Ok(proto)
}

/// One dossier; on the national deployment, a province's as mirrored.
pub async fn get(svc: &Registry, name: &str) -> Result<ProductDossier> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row = store::fetch(&svc.db, &ids).await?;
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
    let mut rows = store::page(&svc.db, &ids, &filter, page.after.as_deref(), page.fetch_limit()).await?;
    let next = page.finish(
        &mut rows,
        |r| Order::CreateAsc.cursor(r.create_time, &r.id, &[&r.subject_id, &r.product_id, &r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect::<Result<_>>()?, next))
}
