//! The SQL of business plans and their support records: the `plans` and
//! `support_records` tables and their row types.

use ocop_kit::Result;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::filter::Filter;
use ocop_proto::registry::v1::{self as pb, BusinessPlan, PlanState};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use super::plan_name;
use crate::ideas::idea_name;
use crate::listing::{Order, push_product_parent, push_state};
use crate::rules::review::Verdict;
use ocop_kit::etag;
use ocop_kit::text_enum;

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "subject_id, product_id, id, idea_id, title, summary, investment_vnd, start_date, end_date, state, reviewer,
         review_reason, review_time, province_code, version, create_time, update_time"
    };
}

text_enum! {
    /// Where a business plan is: drafted, submitted, then reviewed.
    pub enum State {
        /// Being written; the only state it can be changed in.
        Draft = "draft",
        /// Submitted for review.
        Submitted = "submitted",
        /// Accepted: support is recorded on it.
        Accepted = "accepted",
        /// Rejected, with a reason.
        Rejected = "rejected",
    }
}

impl From<Verdict> for State {
    fn from(verdict: Verdict) -> State {
        match verdict {
            Verdict::Accepted => State::Accepted,
            Verdict::Rejected => State::Rejected,
        }
    }
}

text_enum! {
    /// What a support record gave.
    pub enum SupportKind {
        /// Training.
        Training = "training",
        /// Credit.
        Credit = "credit",
        /// Branding and packaging.
        Branding = "branding",
        /// Technology.
        Technology = "technology",
        /// Anything else.
        Other = "other",
    }
}

impl SupportKind {
    /// The kind a request names, if it names one.
    pub(super) fn of_proto(kind: pb::SupportKind) -> Option<SupportKind> {
        match kind {
            pb::SupportKind::Unspecified => None,
            pb::SupportKind::Training => Some(SupportKind::Training),
            pb::SupportKind::Credit => Some(SupportKind::Credit),
            pb::SupportKind::Branding => Some(SupportKind::Branding),
            pb::SupportKind::Technology => Some(SupportKind::Technology),
            pb::SupportKind::Other => Some(SupportKind::Other),
        }
    }

    /// The proto form.
    pub(super) fn to_proto(self) -> pb::SupportKind {
        match self {
            SupportKind::Training => pb::SupportKind::Training,
            SupportKind::Credit => pb::SupportKind::Credit,
            SupportKind::Branding => pb::SupportKind::Branding,
            SupportKind::Technology => pb::SupportKind::Technology,
            SupportKind::Other => pb::SupportKind::Other,
        }
    }
}

/// A row of `plans`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    pub subject_id: String,
    pub product_id: String,
    pub id: String,
    pub idea_id: String,
    pub title: String,
    pub summary: String,
    pub investment_vnd: i64,
    pub start_date: Option<time::Date>,
    pub end_date: Option<time::Date>,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub reviewer: String,
    pub review_reason: String,
    pub review_time: Option<time::OffsetDateTime>,
    pub province_code: String,
    pub version: i64,
    pub create_time: time::OffsetDateTime,
    pub update_time: time::OffsetDateTime,
}

impl Row {
    /// The proto form.
    pub(super) fn to_proto(&self) -> BusinessPlan {
        BusinessPlan {
            name: plan_name(&self.subject_id, &self.product_id, &self.id),
            idea: idea_name(&self.subject_id, &self.product_id, &self.idea_id),
            title: self.title.clone(),
            summary: self.summary.clone(),
            investment_vnd: self.investment_vnd,
            start_date: self.start_date.map(date::to_proto),
            end_date: self.end_date.map(date::to_proto),
            state: match self.state {
                State::Draft => PlanState::Draft,
                State::Submitted => PlanState::Submitted,
                State::Accepted => PlanState::Accepted,
                State::Rejected => PlanState::Rejected,
            } as i32,
            reviewer: self.reviewer.clone(),
            review_reason: self.review_reason.clone(),
            review_time: self.review_time.map(to_timestamp),
            province_code: self.province_code.clone(),
            etag: etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// Inserts `row` as a DRAFT; `None` when its id is taken.
pub(super) async fn insert(tx: &mut PgConnection, row: &Row) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO plans (subject_id, product_id, id, idea_id, title, summary, investment_vnd, start_date, end_date, state, province_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10) ON CONFLICT DO NOTHING RETURNING ",
        columns!()
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
    .await?)
}

/// The plan `ids` (subject, product, plan), if any.
pub(super) async fn fetch<'e>(db: impl PgExecutor<'e>, ids: &[String]) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM plans WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(db)
    .await?)
}

/// The plan `ids`, locked for update, if any.
pub(super) async fn fetch_for_update(tx: &mut PgConnection, ids: &[String]) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM plans WHERE subject_id = $1 AND product_id = $2 AND id = $3 FOR UPDATE"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&mut *tx)
    .await?)
}

/// Writes the fields and state of `row`, stamping the review time when `reviewed`.
pub(super) async fn update(tx: &mut PgConnection, row: &Row, reviewed: bool) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE plans SET title = $4, summary = $5, investment_vnd = $6, start_date = $7, end_date = $8, state = $9,
            reviewer = $10, review_reason = $11, review_time = CASE WHEN $12 THEN now() ELSE review_time END,
            version = version + 1, update_time = now()
         WHERE subject_id = $1 AND product_id = $2 AND id = $3 RETURNING ",
        columns!()
    ))
    .bind(&row.subject_id)
    .bind(&row.product_id)
    .bind(&row.id)
    .bind(&row.title)
    .bind(&row.summary)
    .bind(row.investment_vnd)
    .bind(row.start_date)
    .bind(row.end_date)
    .bind(row.state.as_str())
    .bind(&row.reviewer)
    .bind(&row.review_reason)
    .bind(reviewed)
    .fetch_one(&mut *tx)
    .await?)
}

/// A page of the plans of the product parent `ids` matching `filter`, oldest first.
pub(super) async fn page<'e>(
    db: impl PgExecutor<'e>,
    ids: &[String],
    filter: &Filter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!(), " FROM plans WHERE TRUE"));
    push_product_parent(&mut sql, ids);
    push_state(&mut sql, filter, &State::texts())?;
    if let Some(province) = filter.get("province_code") {
        sql.push(" AND province_code = ").push_bind(province.to_owned());
    }
    let keys = ["subject_id", "product_id", "id"];
    if let Some(after) = after {
        Order::CreateAsc.push_after(&mut sql, "title", &keys, after)?;
    }
    Order::CreateAsc.push_order(&mut sql, "title", &keys);
    sql.push(" LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}

/// A row of `support_records`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct SupportRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub kind: SupportKind,
    pub description: String,
    pub provider: String,
    pub amount_vnd: i64,
    pub date: time::Date,
    pub create_time: time::OffsetDateTime,
}

/// What a new support record holds.
pub(super) struct NewSupport<'a> {
    pub plan: &'a [String],
    pub id: &'a str,
    pub kind: SupportKind,
    pub description: &'a str,
    pub provider: &'a str,
    pub amount_vnd: i64,
    pub date: Option<time::Date>,
}

/// Inserts a support record; returns its creation time.
pub(super) async fn insert_support(tx: &mut PgConnection, new: NewSupport<'_>) -> Result<time::OffsetDateTime> {
    let (create_time,): (time::OffsetDateTime,) = sqlx::query_as(
        "INSERT INTO support_records (subject_id, product_id, plan_id, id, kind, description, provider, amount_vnd, date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING create_time",
    )
    .bind(&new.plan[0])
    .bind(&new.plan[1])
    .bind(&new.plan[2])
    .bind(new.id)
    .bind(new.kind.as_str())
    .bind(new.description)
    .bind(new.provider)
    .bind(new.amount_vnd)
    .bind(new.date)
    .fetch_one(&mut *tx)
    .await?;
    Ok(create_time)
}

/// A page of the support records of plan `ids` after id `after` (ids are
/// UUIDv7, so their order is the order of creation).
pub(super) async fn support_page<'e>(
    db: impl PgExecutor<'e>,
    ids: &[String],
    after: &str,
    limit: i64,
) -> Result<Vec<SupportRow>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, description, provider, amount_vnd, date, create_time FROM support_records
         WHERE subject_id = $1 AND product_id = $2 AND plan_id = $3 AND id > $4 ORDER BY id LIMIT $5",
    )
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}
