//! The SQL of idea registrations: the `ideas` table and its row type.

use ocop_kit::Result;
use ocop_kit::date::to_timestamp;
use ocop_kit::filter::Filter;
use ocop_proto::registry::v1::{IdeaRegistration, IdeaState};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use super::idea_name;
use crate::listing::{Order, push_product_parent, push_state};
use crate::rules::review::Verdict;
use ocop_kit::etag;
use ocop_kit::text_enum;

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "subject_id, product_id, id, title, description, commune_code, province_code, state, reviewer,
         review_reason, review_time, version, create_time, update_time"
    };
}

text_enum! {
    /// Where an idea registration is in its review.
    pub enum State {
        /// Registered, waiting for the review.
        Submitted = "submitted",
        /// Accepted: a business plan may follow.
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

/// A row of `ideas`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    pub subject_id: String,
    pub product_id: String,
    pub id: String,
    pub title: String,
    description: String,
    pub commune_code: String,
    pub province_code: String,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub reviewer: String,
    review_reason: String,
    review_time: Option<time::OffsetDateTime>,
    pub version: i64,
    pub create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

impl Row {
    /// The proto form.
    pub(super) fn to_proto(&self) -> IdeaRegistration {
        IdeaRegistration {
            name: idea_name(&self.subject_id, &self.product_id, &self.id),
            title: self.title.clone(),
            description: self.description.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            state: match self.state {
                State::Submitted => IdeaState::Submitted,
                State::Accepted => IdeaState::Accepted,
                State::Rejected => IdeaState::Rejected,
            } as i32,
            reviewer: self.reviewer.clone(),
            review_reason: self.review_reason.clone(),
            review_time: self.review_time.map(to_timestamp),
            etag: etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// What a new idea registration holds.
pub(super) struct New<'a> {
    pub ids: &'a [String],
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub commune: &'a str,
    pub province: &'a str,
}

/// Inserts a SUBMITTED idea; `None` when its id is taken.
pub(super) async fn insert(tx: &mut PgConnection, new: New<'_>) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO ideas (subject_id, product_id, id, title, description, commune_code, province_code, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted') ON CONFLICT DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&new.ids[0])
    .bind(&new.ids[1])
    .bind(new.id)
    .bind(new.title)
    .bind(new.description)
    .bind(new.commune)
    .bind(new.province)
    .fetch_optional(&mut *tx)
    .await?)
}

/// The idea `ids` (subject, product, idea), if any.
pub(super) async fn fetch<'e>(db: impl PgExecutor<'e>, ids: &[String]) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(db)
    .await?)
}

/// The idea `ids`, locked for update, if any.
pub(super) async fn fetch_for_update(tx: &mut PgConnection, ids: &[String]) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3 FOR UPDATE"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(&mut *tx)
    .await?)
}

/// Records the review of idea `ids`.
pub(super) async fn review(
    tx: &mut PgConnection,
    ids: &[String],
    state: State,
    reviewer: &str,
    reason: &str,
) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE ideas SET state = $4, reviewer = $5, review_reason = $6, review_time = now(), version = version + 1,
            update_time = now()
         WHERE subject_id = $1 AND product_id = $2 AND id = $3 RETURNING ",
        columns!()
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .bind(state.as_str())
    .bind(reviewer)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?)
}

/// A page of the ideas of the product parent `ids` matching `filter`, oldest first.
pub(super) async fn page<'e>(
    db: impl PgExecutor<'e>,
    ids: &[String],
    filter: &Filter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!(), " FROM ideas WHERE TRUE"));
    push_product_parent(&mut sql, ids);
    push_state(&mut sql, filter, &State::texts())?;
    filter.push_equal(&mut sql, &["commune_code", "province_code"]);
    let keys = ["subject_id", "product_id", "id"];
    if let Some(after) = after {
        Order::CreateAsc.push_after(&mut sql, "title", &keys, after)?;
    }
    Order::CreateAsc.push_order(&mut sql, "title", &keys);
    sql.push(" LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}

/// The state of idea `idea_id` of a product, if it exists.
pub(crate) async fn state_of(
    tx: &mut PgConnection,
    subject: &str,
    product: &str,
    idea_id: &str,
) -> Result<Option<State>> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM ideas WHERE subject_id = $1 AND product_id = $2 AND id = $3")
            .bind(subject)
            .bind(product)
            .bind(idea_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(state.and_then(|s| State::parse(&s)))
}
