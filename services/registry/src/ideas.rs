//! Idea registrations (OCOP cycle, step 2): registered at the commune,
//! accepted or rejected by the commune or the province.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::to_timestamp;
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{IdeaRegistration, IdeaState, ReviewDecision};
use prost::Message;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::audit::{self, Change};
use crate::ids::{self, check_etag, etag, parse_path, product_name};
use crate::listing::{Order, push_product_parent, push_state};
use crate::service::Registry;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::{Jurisdiction, OUTSIDE_JURISDICTION};

const COLLECTIONS: &[&str] = &["subjects", "products", "ideas"];
/// Filterable fields of `ListIdeaRegistrations`.
pub const FILTER_FIELDS: &[&str] = &["state", "commune_code", "province_code"];

macro_rules! idea_columns {
    () => {
        "subject_id, product_id, id, title, description, commune_code, province_code, state, reviewer,
         review_reason, review_time, version, create_time, update_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    subject_id: String,
    product_id: String,
    id: String,
    title: String,
    description: String,
    commune_code: String,
    province_code: String,
    state: String,
    reviewer: String,
    review_reason: String,
    review_time: Option<time::OffsetDateTime>,
    version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

impl Row {
    fn name(&self) -> String {
        idea_name(&self.subject_id, &self.product_id, &self.id)
    }

    fn to_proto(&self) -> IdeaRegistration {
        IdeaRegistration {
            name: self.name(),
            title: self.title.clone(),
            description: self.description.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            state: match self.state.as_str() {
                "submitted" => IdeaState::Submitted,
                "accepted" => IdeaState::Accepted,
                _ => IdeaState::Rejected,
            } as i32,
            reviewer: self.reviewer.clone(),
            review_reason: self.review_reason.clone(),
            review_time: self.review_time.map(to_timestamp),
            etag: etag(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// `subjects/{s}/products/{p}/ideas/{i}`.
pub fn idea_name(subject: &str, product: &str, id: &str) -> String {
    format!("{}/ideas/{id}", product_name(subject, product))
}

/// The caller may act on ideas of `commune` in `province`: this deployment
/// serves the province, and the caller is a commune officer of that commune
/// or a province officer of that province.
fn require_idea_jurisdiction(
    here: &Jurisdiction,
    who: &Principal,
    province: &str,
    commune: &str,
    what: &str,
) -> Result<()> {
    here.require_serves(province)?;
    let allowed = match who.role {
        Role::CommuneOfficer => who.commune.as_deref() == Some(commune),
        Role::ProvinceOfficer => who.province.as_deref() == Some(province),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    Err(Error::permission_denied(
        OUTSIDE_JURISDICTION,
        format!(
            "{what} is for the officers of commune {commune} or of province {province}; your token is for {}",
            who_place(who)
        ),
    ))
}

fn who_place(who: &Principal) -> String {
    match (&who.commune, &who.province) {
        (Some(c), _) => format!("commune {c}"),
        (None, Some(p)) => format!("province {p}"),
        _ => "no jurisdiction".into(),
    }
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
    let product: Option<(String, String, Option<time::OffsetDateTime>)> = sqlx::query_as(
        "SELECT origin_commune_code, province_code, delete_time FROM products WHERE subject_id = $1 AND id = $2",
    )
    .bind(&ids[0])
    .bind(&ids[1])
    .fetch_optional(&svc.db)
    .await?;
    let (origin, province) = match product {
        Some((origin, province, None)) => (origin, province),
        _ => return Err(Error::not_found(product_name(&ids[0], &ids[1]))),
    };
    let commune = if idea.commune_code.trim().is_empty() {
        origin
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
    require_idea_jurisdiction(&svc.here, who, &province, &commune, "registering an idea")?;

    let name = idea_name(&ids[0], &ids[1], &id);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateIdeaRegistration", &name).await? {
        drop(tx);
        return get(svc, &first).await;
    }
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO ideas (subject_id, product_id, id, title, description, commune_code, province_code, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted') ON CONFLICT DO NOTHING RETURNING ",
        idea_columns!()
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&id)
    .bind(&title)
    .bind(idea.description.trim())
    .bind(&commune)
    .bind(&province)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{name} already exists; choose another id"),
        )
    })?;
    let proto = row.to_proto();
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    audit::record(
        &mut tx,
        who,
        change("CreateIdeaRegistration", "created", &row, "", &proto, &request),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// One idea.
pub async fn get(svc: &Registry, name: &str) -> Result<IdeaRegistration> {
    let ids = parse_path("name", name, COLLECTIONS, false)?;
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        idea_columns!(),
        " FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&svc.db)
    .await?;
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
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", idea_columns!(), " FROM ideas WHERE TRUE"));
    push_product_parent(&mut sql, &ids);
    push_state(&mut sql, &filter, &["submitted", "accepted", "rejected"])?;
    for field in ["commune_code", "province_code"] {
        if let Some(value) = filter.get(field) {
            sql.push(format!(" AND {field} = ")).push_bind(value.to_owned());
        }
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
    let state = review_state(decision, reason)?;
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &ids).await?;
    require_idea_jurisdiction(
        &svc.here,
        who,
        &current.province_code,
        &current.commune_code,
        "reviewing this idea",
    )?;
    check_etag("etag", given_etag, name, current.version)?;
    if current.state != "submitted" {
        return Err(Error::failed_precondition(
            "ALREADY_REVIEWED",
            format!("{name} was already {} by {}", current.state, current.reviewer),
        ));
    }
    let row: Row = sqlx::query_as(concat!(
        "UPDATE ideas SET state = $4, reviewer = $5, review_reason = $6, review_time = now(), version = version + 1,
                update_time = now()
             WHERE subject_id = $1 AND product_id = $2 AND id = $3 RETURNING ",
        idea_columns!()
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .bind(state)
    .bind(&who.subject)
    .bind(reason.trim())
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    audit::record(
        &mut tx,
        who,
        change(
            "ReviewIdeaRegistration",
            "updated",
            &row,
            &etag(current.version),
            &proto,
            "",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// The state a review decision leads to; a rejection needs a reason.
pub fn review_state(decision: ReviewDecision, reason: &str) -> Result<&'static str> {
    let mut v = Violations::default();
    if reason.chars().count() > 2000 {
        v.push("reason", "at most 2,000 characters");
    }
    let state = match decision {
        ReviewDecision::Accept => "accepted",
        ReviewDecision::Reject if reason.trim().is_empty() => {
            v.push("reason", "required when rejecting: say what to change");
            "rejected"
        }
        ReviewDecision::Reject => "rejected",
        ReviewDecision::Unspecified => {
            v.push("decision", "required: ACCEPT or REJECT");
            ""
        }
    };
    v.check()?;
    Ok(state)
}

async fn lock(tx: &mut PgConnection, ids: &[String]) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        idea_columns!(),
        " FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3 FOR UPDATE"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&mut *tx)
    .await?;
    row.ok_or_else(|| Error::not_found(idea_name(&ids[0], &ids[1], &ids[2])))
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

/// The state of idea `idea_id` of a product, for plans.
pub async fn idea_state(db: &mut PgConnection, subject: &str, product: &str, idea_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT state FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3")
            .bind(subject)
            .bind(product)
            .bind(idea_id)
            .fetch_optional(&mut *db)
            .await?,
    )
}
