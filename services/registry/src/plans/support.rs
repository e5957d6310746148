//! Support records (OCOP cycle, step 4): the support given while an
//! accepted business plan is carried out.

use ocop_kit::auth::Principal;
use ocop_kit::create::Create;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::SupportRecord;

use super::store::{self, State, SupportKind};
use super::{COLLECTIONS, get, lock, plan_name};
use crate::ids::parse_path;
use crate::rules::access::{require_province, require_writer};
use crate::service::Registry;
use ocop_kit::idempotency::{self};

/// Records support on an ACCEPTED plan.
pub async fn add_support(
    svc: &Registry,
    who: &Principal,
    parent: &str,
    record: &SupportRecord,
    request_id: &str,
) -> Result<SupportRecord> {
    require_writer(who)?;
    let ids = parse_path("parent", parent, COLLECTIONS, false)?;
    let mut v = Violations::default();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let kind = SupportKind::of_proto(record.kind());
    if kind.is_none() {
        v.push(
            "support_record.kind",
            "required: training, credit, branding, technology or other",
        );
    }
    let description = record.description.trim();
    if !(1..=2000).contains(&description.chars().count()) {
        v.push("support_record.description", "required, up to 2,000 characters");
    }
    if record.provider.chars().count() > 300 {
        v.push("support_record.provider", "at most 300 characters");
    }
    if record.amount_vnd < 0 {
        v.push("support_record.amount_vnd", "must not be negative");
    }
    let day = match &record.date {
        Some(d) => date::from_proto("support_record.date", d)
            .map_err(|e| v.push("support_record.date", e.violations()[0].description.clone()))
            .ok(),
        None => {
            v.push("support_record.date", "required: when the support was given");
            None
        }
    };
    v.check()?;
    let kind = kind.ok_or_else(|| Error::internal("a checked support record has its kind"))?;
    let id = uuid::Uuid::now_v7().to_string();
    let name = format!("{}/supportRecords/{id}", plan_name(&ids[0], &ids[1], &ids[2]));
    let mut tx = svc.db.begin().await?;
    let plan = lock(&mut tx, &ids).await?;
    require_province(&svc.here, who, &plan.province_code, parent)?;
    if plan.state != State::Accepted {
        return Err(Error::failed_precondition(
            "PLAN_NOT_ACCEPTED",
            format!("{parent} is {}; support is recorded on accepted plans", plan.state),
        ));
    }
    let create = Create {
        method: "CreateSupportRecord",
        name: &name,
        request_id,
    };
    if let Some(first) = create.claim(&mut tx).await? {
        drop(tx);
        let (records, _) = list_support(svc, parent, 500, "").await?;
        return records
            .into_iter()
            .find(|r| r.name == first)
            .ok_or_else(|| Error::not_found(first));
    }
    let new = store::NewSupport {
        plan: &ids,
        id: &id,
        kind,
        description,
        provider: record.provider.trim(),
        amount_vnd: record.amount_vnd,
        date: day,
    };
    let create_time = store::insert_support(&mut tx, new).await?;
    let proto = SupportRecord {
        name: name.clone(),
        kind: record.kind,
        description: description.to_owned(),
        provider: record.provider.trim().to_owned(),
        amount_vnd: record.amount_vnd,
        date: day.map(date::to_proto),
        create_time: Some(to_timestamp(create_time)),
    };
    create.commit(tx, who, &plan.province_code, "", &proto).await?;
    Ok(proto)
}

/// A page of the support records of a plan, oldest first.
pub async fn list_support(
    svc: &Registry,
    parent: &str,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<SupportRecord>, String)> {
    let ids = parse_path("parent", parent, COLLECTIONS, false)?;
    let page = Page::parse(page_size, page_token, parent)?;
    if get(svc, parent).await.is_err() {
        return Err(Error::not_found(parent));
    }
    let after = page.after.clone().unwrap_or_default();
    let mut rows = store::support_page(&svc.db, &ids, &after, page.fetch_limit()).await?;
    let next = page.finish(&mut rows, |r| r.id.clone(), parent);
    let records = rows
        .into_iter()
        .map(|r| SupportRecord {
            name: format!("{parent}/supportRecords/{}", r.id),
            kind: r.kind.to_proto() as i32,
            description: r.description,
            provider: r.provider,
            amount_vnd: r.amount_vnd,
            date: Some(date::to_proto(r.date)),
            create_time: Some(to_timestamp(r.create_time)),
        })
        .collect();
    Ok((records, next))
}
