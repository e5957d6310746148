//! Production-business plans (OCOP cycle, step 3) and the support recorded
//! while an accepted plan is carried out (step 4).

use ocop_kit::auth::Principal;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{BusinessPlan, PlanState, ReviewDecision, SupportKind, SupportRecord};
use prost::Message;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::access::{require_province, require_writer};
use crate::audit::{self, Change};
use crate::fields::check_mask;
use crate::ideas::{idea_name, idea_state, review_state};
use crate::ids::{self, check_etag, etag, parse_path, product_name};
use crate::listing::{Order, push_product_parent, push_state};
use crate::service::Registry;
use ocop_kit::idempotency::{self, Claim};

const COLLECTIONS: &[&str] = &["subjects", "products", "plans"];
/// Fields `UpdateBusinessPlan` may change.
pub const UPDATABLE: &[&str] = &["title", "summary", "investment_vnd", "start_date", "end_date"];

macro_rules! plan_columns {
    () => {
        "subject_id, product_id, id, idea_id, title, summary, investment_vnd, start_date, end_date, state, reviewer,
         review_reason, review_time, province_code, version, create_time, update_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    subject_id: String,
    product_id: String,
    id: String,
    idea_id: String,
    title: String,
    summary: String,
    investment_vnd: i64,
    start_date: Option<time::Date>,
    end_date: Option<time::Date>,
    state: String,
    reviewer: String,
    review_reason: String,
    review_time: Option<time::OffsetDateTime>,
    province_code: String,
    version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

/// `subjects/{s}/products/{p}/plans/{plan}`.
pub fn plan_name(subject: &str, product: &str, id: &str) -> String {
    format!("{}/plans/{id}", product_name(subject, product))
}

impl Row {
    fn to_proto(&self) -> BusinessPlan {
        BusinessPlan {
            name: plan_name(&self.subject_id, &self.product_id, &self.id),
            idea: idea_name(&self.subject_id, &self.product_id, &self.idea_id),
            title: self.title.clone(),
            summary: self.summary.clone(),
            investment_vnd: self.investment_vnd,
            start_date: self.start_date.map(date::to_proto),
            end_date: self.end_date.map(date::to_proto),
            state: match self.state.as_str() {
                "draft" => PlanState::Draft,
                "submitted" => PlanState::Submitted,
                "accepted" => PlanState::Accepted,
                _ => PlanState::Rejected,
            } as i32,
            reviewer: self.reviewer.clone(),
            review_reason: self.review_reason.clone(),
            review_time: self.review_time.map(to_timestamp),
            province_code: self.province_code.clone(),
            etag: etag(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }

    /// Copies and checks the editable fields named by `mask` (all when `None`).
    fn apply(&mut self, p: &BusinessPlan, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|x| x == f));
        if wants("title") {
            self.title = p.title.trim().to_owned();
            if !(1..=300).contains(&self.title.chars().count()) {
                v.push("business_plan.title", "required, 1 to 300 characters");
            }
        }
        if wants("summary") {
            self.summary = p.summary.trim().to_owned();
            if self.summary.chars().count() > 20_000 {
                v.push("business_plan.summary", "at most 20,000 characters");
            }
        }
        if wants("investment_vnd") {
            self.investment_vnd = p.investment_vnd;
            if p.investment_vnd < 0 {
                v.push("business_plan.investment_vnd", "must not be negative");
            }
        }
        for (field, src, dst) in [
            ("start_date", &p.start_date, &mut self.start_date),
            ("end_date", &p.end_date, &mut self.end_date),
        ] {
            if wants(field) {
                *dst = match src {
                    Some(d) => date::from_proto(&format!("business_plan.{field}"), d)
                        .map_err(|e| v.push(format!("business_plan.{field}"), e.violations()[0].description.clone()))
                        .ok(),
                    None => None,
                };
            }
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            v.push("business_plan.end_date", format!("{end} is before start_date {start}"));
        }
    }
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
    let province: Option<(String, Option<time::OffsetDateTime>)> =
        sqlx::query_as("SELECT province_code, delete_time FROM products WHERE subject_id = $1 AND id = $2")
            .bind(&ids[0])
            .bind(&ids[1])
            .fetch_optional(&svc.db)
            .await?;
    let province = match province {
        Some((province, None)) => province,
        _ => return Err(Error::not_found(product_name(&ids[0], &ids[1]))),
    };
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
        state: "draft".into(),
        reviewer: String::new(),
        review_reason: String::new(),
        review_time: None,
        province_code: province.clone(),
        version: 1,
        create_time: time::OffsetDateTime::now_utc(),
        update_time: time::OffsetDateTime::now_utc(),
    };
    row.apply(plan, None, &mut v);
    v.check()?;
    require_province(&svc.here, who, &province, parent)?;

    let name = plan_name(&row.subject_id, &row.product_id, &row.id);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateBusinessPlan", &name).await? {
        drop(tx);
        return get(svc, &first).await;
    }
    match idea_state(&mut tx, &row.subject_id, &row.product_id, &row.idea_id)
        .await?
        .as_deref()
    {
        Some("accepted") => {}
        Some(state) => {
            return Err(Error::failed_precondition(
                "IDEA_NOT_ACCEPTED",
                format!("{} is {state}; a plan needs an accepted idea", plan.idea),
            ));
        }
        None => return Err(Error::not_found(&plan.idea)),
    }
    let inserted: Row = sqlx::query_as(concat!(
            "INSERT INTO plans (subject_id, product_id, id, idea_id, title, summary, investment_vnd, start_date, end_date, state, province_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10) ON CONFLICT DO NOTHING RETURNING ",
            plan_columns!()
        ))
        .bind(&row.subject_id)
        .bind(&row.product_id)
        .bind(&row.id)
        .bind(&row.idea_id)
        .bind(&row.title)
        .bind(&row.summary)
        .bind(row.investment_vnd)
        .bind(row.start_date)
        .bind(row.end_date)
        .bind(&row.province_code)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::AlreadyExists, "ALREADY_EXISTS", format!("{name} already exists; choose another id")))?;
    let proto = inserted.to_proto();
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    audit::record(
        &mut tx,
        who,
        change("CreateBusinessPlan", "created", &inserted, "", &proto, &request),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// One plan.
pub async fn get(svc: &Registry, name: &str) -> Result<BusinessPlan> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        plan_columns!(),
        " FROM plans WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&svc.db)
    .await?;
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
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", plan_columns!(), " FROM plans WHERE TRUE"));
    push_product_parent(&mut sql, &ids);
    push_state(&mut sql, &filter, &["draft", "submitted", "accepted", "rejected"])?;
    if let Some(province) = filter.get("province_code") {
        sql.push(" AND province_code = ").push_bind(province.to_owned());
    }
    let keys = ["subject_id", "product_id", "id"];
    if let Some(after) = &page.after {
        Order::CreateAsc.push_after(&mut sql, "title", &keys, after)?;
    }
    Order::CreateAsc.push_order(&mut sql, "title", &keys);
    sql.push(" LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&svc.db).await?;
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
    transition(
        svc,
        who,
        &ids,
        &plan.etag,
        "UpdateBusinessPlan",
        "draft",
        |row, v| row.apply(plan, Some(mask), v),
        |_| None,
    )
    .await
}

/// DRAFT → SUBMITTED.
pub async fn submit(svc: &Registry, who: &Principal, name: &str, given_etag: &str) -> Result<BusinessPlan> {
    require_writer(who)?;
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    transition(
        svc,
        who,
        &ids,
        given_etag,
        "SubmitBusinessPlan",
        "draft",
        |_, _| {},
        |row| {
            row.state = "submitted".into();
            None
        },
    )
    .await
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
    let state = review_state(decision, reason)?;
    let reviewer = who.subject.clone();
    transition(
        svc,
        who,
        &ids,
        given_etag,
        "ReviewBusinessPlan",
        "submitted",
        |_, _| {},
        move |row| {
            row.state = state.into();
            row.reviewer = reviewer.clone();
            row.review_reason = reason.trim().to_owned();
            Some(())
        },
    )
    .await
}

/// Locks the plan, checks jurisdiction, etag and state `from`, applies
/// `edit` (validated) and `step`, and writes it with its audit row.
#[allow(clippy::too_many_arguments)]
async fn transition(
    svc: &Registry,
    who: &Principal,
    ids: &[String],
    given_etag: &str,
    method: &'static str,
    from: &str,
    edit: impl FnOnce(&mut Row, &mut Violations),
    step: impl FnOnce(&mut Row) -> Option<()>,
) -> Result<BusinessPlan> {
    let name = plan_name(&ids[0], &ids[1], &ids[2]);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, ids).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    check_etag(
        if method == "UpdateBusinessPlan" {
            "business_plan.etag"
        } else {
            "etag"
        },
        given_etag,
        &name,
        current.version,
    )?;
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
    let reviewed = step(&mut row).is_some();
    let updated: Row = sqlx::query_as(concat!(
        "UPDATE plans SET title = $4, summary = $5, investment_vnd = $6, start_date = $7, end_date = $8, state = $9,
                reviewer = $10, review_reason = $11, review_time = CASE WHEN $12 THEN now() ELSE review_time END,
                version = version + 1, update_time = now()
             WHERE subject_id = $1 AND product_id = $2 AND id = $3 RETURNING ",
        plan_columns!()
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .bind(&row.title)
    .bind(&row.summary)
    .bind(row.investment_vnd)
    .bind(row.start_date)
    .bind(row.end_date)
    .bind(&row.state)
    .bind(&row.reviewer)
    .bind(&row.review_reason)
    .bind(reviewed)
    .fetch_one(&mut *tx)
    .await?;
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        change(method, "updated", &updated, &etag(current.version), &proto, ""),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

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
    let kind = match record.kind() {
        SupportKind::Unspecified => {
            v.push(
                "support_record.kind",
                "required: training, credit, branding, technology or other",
            );
            ""
        }
        SupportKind::Training => "training",
        SupportKind::Credit => "credit",
        SupportKind::Branding => "branding",
        SupportKind::Technology => "technology",
        SupportKind::Other => "other",
    };
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
    let id = uuid::Uuid::now_v7().to_string();
    let name = format!("{}/supportRecords/{id}", plan_name(&ids[0], &ids[1], &ids[2]));
    let mut tx = svc.db.begin().await?;
    let plan = lock(&mut tx, &ids).await?;
    require_province(&svc.here, who, &plan.province_code, parent)?;
    if plan.state != "accepted" {
        return Err(Error::failed_precondition(
            "PLAN_NOT_ACCEPTED",
            format!("{parent} is {}; support is recorded on accepted plans", plan.state),
        ));
    }
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateSupportRecord", &name).await? {
        drop(tx);
        let (records, _) = list_support(svc, parent, 500, "").await?;
        return records
            .into_iter()
            .find(|r| r.name == first)
            .ok_or_else(|| Error::not_found(first));
    }
    let (create_time,): (time::OffsetDateTime,) = sqlx::query_as(
            "INSERT INTO support_records (subject_id, product_id, plan_id, id, kind, description, provider, amount_vnd, date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING create_time",
        )
        .bind(&ids[0])
        .bind(&ids[1])
        .bind(&ids[2])
        .bind(&id)
        .bind(kind)
        .bind(description)
        .bind(record.provider.trim())
        .bind(record.amount_vnd)
        .bind(day)
        .fetch_one(&mut *tx)
        .await?;
    let proto = SupportRecord {
        name: name.clone(),
        kind: record.kind,
        description: description.to_owned(),
        provider: record.provider.trim().to_owned(),
        amount_vnd: record.amount_vnd,
        date: day.map(date::to_proto),
        create_time: Some(to_timestamp(create_time)),
    };
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "CreateSupportRecord",
            kind: "created",
            resource: &name,
            province: &plan.province_code,
            etag_before: "",
            etag_after: "",
            request_id: &request,
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
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
    let mut rows: Vec<(String, String, String, String, i64, time::Date, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT id, kind, description, provider, amount_vnd, date, create_time FROM support_records
             WHERE subject_id = $1 AND product_id = $2 AND plan_id = $3 AND id > $4 ORDER BY id LIMIT $5",
    )
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .bind(&after)
    .bind(page.fetch_limit())
    .fetch_all(&svc.db)
    .await?;
    // Ids are UUIDv7, so their order is the order of creation.
    let next = page.finish(&mut rows, |r| r.0.clone(), parent);
    let records = rows
        .into_iter()
        .map(
            |(id, kind, description, provider, amount_vnd, day, create_time)| SupportRecord {
                name: format!("{parent}/supportRecords/{id}"),
                kind: match kind.as_str() {
                    "training" => SupportKind::Training,
                    "credit" => SupportKind::Credit,
                    "branding" => SupportKind::Branding,
                    "technology" => SupportKind::Technology,
                    _ => SupportKind::Other,
                } as i32,
                description,
                provider,
                amount_vnd,
                date: Some(date::to_proto(day)),
                create_time: Some(to_timestamp(create_time)),
            },
        )
        .collect();
    Ok((records, next))
}

async fn lock(tx: &mut PgConnection, ids: &[String]) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        plan_columns!(),
        " FROM plans WHERE subject_id = $1 AND product_id = $2 AND id = $3 FOR UPDATE"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&mut *tx)
    .await?;
    row.ok_or_else(|| Error::not_found(plan_name(&ids[0], &ids[1], &ids[2])))
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
