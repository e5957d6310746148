//! Production-business plans (OCOP cycle, step 3): drafted from an accepted
//! idea, submitted, reviewed. One function per RPC; the support recorded on
//! an accepted plan is in `support`, the SQL in `store`.

mod fields;
mod store;
mod support;

use ocop_kit::auth::Principal;
use ocop_kit::create::{Begun, Create};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::{BusinessPlan, ReviewDecision};
use prost::Message;
use sqlx::PgConnection;

use crate::audit::{self, Change};
use crate::fields::check_mask;
use crate::ideas::store::{self as ideas, state_of};
use crate::ids::{self, parse_path, product_name};
use crate::listing::Order;
use crate::rules::access::{require_province, require_writer};
use crate::rules::review;
use crate::service::Registry;
use ocop_kit::etag;
use ocop_kit::idempotency::{self};
use store::{Row, State};
pub use support::{add_support, list_support};

const COLLECTIONS: &[&str] = &["subjects", "products", "plans"];
/// Fields `UpdateBusinessPlan` may change.
pub const UPDATABLE: &[&str] = &["title", "summary", "investment_vnd", "start_date", "end_date"];

/// `subjects/{s}/products/{p}/plans/{plan}`.
pub fn plan_name(subject: &str, product: &str, id: &str) -> String {
    format!("{}/plans/{id}", product_name(subject, product))
}

/// Starts a DRAFT plan of the product `parent` from an accepted idea.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    parent: &str,
    plan: &BusinessPlan,
    plan_id: &str,
    request_id: &str,
) -> Result<BusinessPlan> {
    require_writer(who)?;
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], false)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("business_plan_id", plan_id)
        .map_err(|e| v.push("business_plan_id", e.message()))
        .unwrap_or_default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let idea = parse_path(
        "business_plan.idea",
        &plan.idea,
        &["subjects", "products", "ideas"],
        false,
    )
    .map_err(|e| v.push("business_plan.idea", e.violations()[0].description.clone()))
    .ok();
    if let Some(idea) = &idea
        && (idea[0] != ids[0] || idea[1] != ids[1])
    {
        v.push(
            "business_plan.idea",
            format!("{} is not an idea of {parent}", plan.idea),
        );
    }
    let province = crate::products::live(svc, &ids[0], &ids[1]).await?.province_code;
    let now = time::OffsetDateTime::now_utc();
    let mut row = Row {
        subject_id: ids[0].clone(),
        product_id: ids[1].clone(),
        id,
        idea_id: idea.map(|i| i[2].clone()).unwrap_or_default(),
        title: String::new(),
        summary: String::new(),
        investment_vnd: 0,
        start_date: None,
        end_date: None,
        state: State::Draft,
        reviewer: String::new(),
        review_reason: String::new(),
        review_time: None,
        province_code: province.clone(),
        version: 1,
        create_time: now,
        update_time: now,
    };
    row.apply(plan, None, &mut v);
    v.check()?;
    require_province(&svc.here, who, &province, parent)?;

    let name = plan_name(&row.subject_id, &row.product_id, &row.id);
    let create = Create {
        method: "CreateBusinessPlan",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(&svc.db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => return get(svc, &first).await,
    };
    match state_of(&mut tx, &row.subject_id, &row.product_id, &row.idea_id).await? {
        Some(ideas::State::Accepted) => {}
        Some(state) => {
            return Err(Error::failed_precondition(
                "IDEA_NOT_ACCEPTED",
                format!("{} is {state}; a plan needs an accepted idea", plan.idea),
            ));
        }
        None => return Err(Error::not_found(&plan.idea)),
    }
    let inserted = store::insert(&mut tx, &row)
        .await?
        .ok_or_else(|| Error::already_exists(&name, "choose another id"))?;
    let proto = inserted.to_proto();
    create
        .commit(tx, who, &inserted.province_code, &proto.etag, &proto)
        .await?;
    Ok(proto)
}

/// One plan.
pub async fn get(svc: &Registry, name: &str) -> Result<BusinessPlan> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row = store::fetch(&svc.db, &ids).await?;
    row.map(|r| r.to_proto()).ok_or_else(|| Error::not_found(name))
}

/// A page of plans of `parent` (`subjects/-/products/-` for all).
pub async fn list(
    svc: &Registry,
    parent: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<BusinessPlan>, String)> {
    let ids = parse_path("parent", parent, &COLLECTIONS[..2], true)?;
    let filter = Filter::parse(filter, &["state", "province_code"])?;
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

/// Changes a DRAFT plan.
pub async fn update(svc: &Registry, who: &Principal, plan: &BusinessPlan, mask: &[String]) -> Result<BusinessPlan> {
    require_writer(who)?;
    let ids = parse_path("business_plan.name", &plan.name, COLLECTIONS, false)?;
    check_mask(mask, UPDATABLE)?;
    let step = Step {
        method: "UpdateBusinessPlan",
        from: State::Draft,
        edit: |row: &mut Row, v: &mut Violations| row.apply(plan, Some(mask), v),
        next: |_: &mut Row| false,
    };
    transition(svc, who, &ids, &plan.etag, step).await
}

/// DRAFT → SUBMITTED.
pub async fn submit(svc: &Registry, who: &Principal, name: &str, given_etag: &str) -> Result<BusinessPlan> {
    require_writer(who)?;
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let step = Step {
        method: "SubmitBusinessPlan",
        from: State::Draft,
        edit: |_: &mut Row, _: &mut Violations| {},
        next: |row: &mut Row| {
            row.state = State::Submitted;
            false
        },
    };
    transition(svc, who, &ids, given_etag, step).await
}

/// SUBMITTED → ACCEPTED | REJECTED.
pub async fn review(
    svc: &Registry,
    who: &Principal,
    name: &str,
    given_etag: &str,
    decision: ReviewDecision,
    reason: &str,
) -> Result<BusinessPlan> {
    require_writer(who)?;
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let state = State::from(review::verdict(decision, reason)?);
    let step = Step {
        method: "ReviewBusinessPlan",
        from: State::Submitted,
        edit: |_: &mut Row, _: &mut Violations| {},
        next: |row: &mut Row| {
            row.state = state;
            row.reviewer = who.subject.clone();
            row.review_reason = reason.trim().to_owned();
            true
        },
    };
    transition(svc, who, &ids, given_etag, step).await
}

/// One step of a plan's life: the method taking it, the state it starts
/// from, the edit of its fields (validated) and the move to its next state
/// (true when that move is a review, which stamps the review time).
struct Step<E, N> {
    method: &'static str,
    from: State,
    edit: E,
    next: N,
}

/// Locks the plan, checks jurisdiction, etag and the step's starting state,
/// applies the step and writes the plan with its audit row.
async fn transition<E, N>(
    svc: &Registry,
    who: &Principal,
    ids: &[String],
    given_etag: &str,
    step: Step<E, N>,
) -> Result<BusinessPlan>
where
    E: FnOnce(&mut Row, &mut Violations),
    N: FnOnce(&mut Row) -> bool,
{
    let Step {
        method,
        from,
        edit,
        next,
    } = step;
    let name = plan_name(&ids[0], &ids[1], &ids[2]);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, ids).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    let etag_field = if method == "UpdateBusinessPlan" {
        "business_plan.etag"
    } else {
        "etag"
    };
    etag::check(etag_field, given_etag, &name, current.version)?;
    if current.state != from {
        return Err(Error::failed_precondition(
            "WRONG_PLAN_STATE",
            format!("{name} is {}; {method} needs a {from} plan", current.state),
        ));
    }
    let mut row = current.clone();
    let mut v = Violations::default();
    edit(&mut row, &mut v);
    v.check()?;
    let reviewed = next(&mut row);
    let updated = store::update(&mut tx, &row, reviewed).await?;
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        change(method, "updated", &updated, &etag::of(current.version), &proto, ""),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

async fn lock(tx: &mut PgConnection, ids: &[String]) -> Result<Row> {
    store::fetch_for_update(tx, ids)
        .await?
        .ok_or_else(|| Error::not_found(plan_name(&ids[0], &ids[1], &ids[2])))
}

fn change<'a>(
    method: &'static str,
    kind: &'static str,
    row: &'a Row,
    before: &'a str,
    proto: &'a BusinessPlan,
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
