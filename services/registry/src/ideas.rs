//! Idea registrations (OCOP cycle, step 2): registered at the commune,
//! accepted or rejected by the commune or the province. One function per
//! RPC; the SQL is in `store`.

pub(crate) mod store;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::create::{Begun, Create};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{IdeaRegistration, ReviewDecision};
use prost::Message;
use sqlx::PgConnection;

use crate::audit::{self, Change};
use crate::ids::{self, parse_path, product_name};
use crate::listing::Order;
use crate::rules::access::require_commune_or_province;
use crate::rules::review;
use crate::service::Registry;
use ocop_kit::etag;
use ocop_kit::idempotency::{self};
use store::{Row, State};

const COLLECTIONS: &[&str] = &["subjects", "products", "ideas"];
/// Filterable fields of `ListIdeaRegistrations`.
pub const FILTER_FIELDS: &[&str] = &["state", "commune_code", "province_code"];

/// `subjects/{s}/products/{p}/ideas/{i}`.
pub fn idea_name(subject: &str, product: &str, id: &str) -> String {
    format!("{}/ideas/{id}", product_name(subject, product))
}

/// Registers an idea for the product `parent`.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    parent: &str,
    idea: &IdeaRegistration,
    idea_id: &str,
    request_id: &str,
) -> Result<IdeaRegistration> {
    who.require(&[Role::CommuneOfficer, Role::ProvinceOfficer])?;
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], false)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("idea_registration_id", idea_id)
        .map_err(|e| v.push("idea_registration_id", e.message()))
        .unwrap_or_default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let title = idea.title.trim().to_owned();
    if !(1..=300).contains(&title.chars().count()) {
        v.push("idea_registration.title", "required, 1 to 300 characters");
    }
    if idea.description.chars().count() > 10_000 {
        v.push("idea_registration.description", "at most 10,000 characters");
    }
    let product = crate::products::live(svc, &ids[0], &ids[1]).await?;
    let province = product.province_code;
    let commune = if idea.commune_code.trim().is_empty() {
        product.origin_commune_code
    } else {
        idea.commune_code.trim().to_owned()
    };
    match svc
        .units
        .commune_in_force("idea_registration.commune_code", &commune)
        .await
    {
        Ok(p) if p != province => v.push(
            "idea_registration.commune_code",
            format!("commune {commune} is in province {p}; the product's producer is in province {province}"),
        ),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            v.push("idea_registration.commune_code", e.violations()[0].description.clone())
        }
        Err(e) => return Err(e),
    }
    v.check()?;
    require_jurisdiction(svc, who, &province, &commune, "registering an idea")?;

    let name = idea_name(&ids[0], &ids[1], &id);
    let create = Create {
        method: "CreateIdeaRegistration",
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
        title: &title,
        description: idea.description.trim(),
        commune: &commune,
        province: &province,
    };
    let row = store::insert(&mut tx, new)
        .await?
        .ok_or_else(|| Error::already_exists(&name, "choose another id"))?;
    let proto = row.to_proto();
    create.commit(tx, who, &row.province_code, &proto.etag, &proto).await?;
    Ok(proto)
}

/// The caller may act on ideas of `commune` in `province`: this deployment
/// serves the province, and the caller is a commune officer of that commune
/// or a province officer of that province.
fn require_jurisdiction(svc: &Registry, who: &Principal, province: &str, commune: &str, what: &str) -> Result<()> {
    require_commune_or_province(&svc.here, who, province, commune, |theirs| {
        format!("{what} is for the officers of commune {commune} or of province {province}; your token is for {theirs}")
    })
}

/// One idea.
pub async fn get(svc: &Registry, name: &str) -> Result<IdeaRegistration> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row = store::fetch(&svc.db, &ids).await?;
    row.map(|r| r.to_proto()).ok_or_else(|| Error::not_found(name))
}

/// A page of ideas of `parent` (`subjects/-/products/-` for all).
pub async fn list(
    svc: &Registry,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<IdeaRegistration>, String)> {
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], true)?;
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = format!("{parent}|{}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut rows = store::page(&svc.db, &ids, &filter, page.after.as_deref(), page.fetch_limit()).await?;
    let next = page.finish(
        &mut rows,
        |r| Order::CreateAsc.cursor(r.create_time, &r.title, &[&r.subject_id, &r.product_id, &r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// Accepts or rejects a SUBMITTED idea.
pub async fn review(
    svc: &Registry,
    who: &Principal,
    name: &str,
    given_etag: &str,
    decision: ReviewDecision,
    reason: &str,
) -> Result<IdeaRegistration> {
    who.require(&[Role::CommuneOfficer, Role::ProvinceOfficer])?;
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let state = State::from(review::verdict(decision, reason)?);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &ids).await?;
    require_jurisdiction(
        svc,
        who,
        &current.province_code,
        &current.commune_code,
        "reviewing this idea",
    )?;
    etag::check("etag", given_etag, name, current.version)?;
    if current.state != State::Submitted {
        return Err(Error::failed_precondition(
            "ALREADY_REVIEWED",
            format!("{name} was already {} by {}", current.state, current.reviewer),
        ));
    }
    let row = store::review(&mut tx, &ids, state, &who.subject, reason.trim()).await?;
    let proto = row.to_proto();
    audit::record(
        &mut tx,
        who,
        change(
            "ReviewIdeaRegistration",
            "updated",
            &row,
            &etag::of(current.version),
            &proto,
            "",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

async fn lock(tx: &mut PgConnection, ids: &[String]) -> Result<Row> {
    store::fetch_for_update(tx, ids)
        .await?
        .ok_or_else(|| Error::not_found(idea_name(&ids[0], &ids[1], &ids[2])))
}

fn change<'a>(
    method: &'static str,
    kind: &'static str,
    row: &'a Row,
    before: &'a str,
    proto: &'a IdeaRegistration,
    request_id: &'a str,
) -> Change<'a> {
    Change {
        method,
        kind,
        resource: &proto.name,
        province: &row.province_code,
        etag_before: before,
        etag_after: &proto.etag,
        request_id,
        payload: proto.encode_to_vec(),
    }
}
