//! The SQL of producers: the `subjects` table and its row type.

use ocop_kit::Result;
use ocop_kit::date::to_timestamp;
use ocop_kit::filter::Filter;
use ocop_proto::registry::v1::{self as pb, Representative, Subject};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use crate::ids::subject_name;
use crate::listing::{Order, push_state};
use ocop_kit::etag;
use ocop_kit::text_enum;

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, kind, legal_name, registration_number, representative_name, representative_is_woman,
         representative_is_ethnic_minority, phone, email, address, commune_code, province_code, state,
         version, create_time, update_time, delete_time"
    };
}

text_enum! {
    /// The legal form of a producer.
    pub enum Kind {
        /// Hợp tác xã.
        Cooperative = "cooperative",
        /// Tổ hợp tác.
        CooperativeGroup = "cooperative_group",
        /// Doanh nghiệp.
        Enterprise = "enterprise",
        /// Hộ kinh doanh.
        HouseholdBusiness = "household_business",
    }
}

impl Kind {
    /// The kind a request names, if it names one.
    pub fn of_proto(kind: pb::SubjectKind) -> Option<Kind> {
        match kind {
            pb::SubjectKind::Unspecified => None,
            pb::SubjectKind::Cooperative => Some(Kind::Cooperative),
            pb::SubjectKind::CooperativeGroup => Some(Kind::CooperativeGroup),
            pb::SubjectKind::Enterprise => Some(Kind::Enterprise),
            pb::SubjectKind::HouseholdBusiness => Some(Kind::HouseholdBusiness),
        }
    }

    fn to_proto(self) -> pb::SubjectKind {
        match self {
            Kind::Cooperative => pb::SubjectKind::Cooperative,
            Kind::CooperativeGroup => pb::SubjectKind::CooperativeGroup,
            Kind::Enterprise => pb::SubjectKind::Enterprise,
            Kind::HouseholdBusiness => pb::SubjectKind::HouseholdBusiness,
        }
    }
}

text_enum! {
    /// Whether a producer trades.
    pub enum State {
        /// Trading.
        Active = "active",
        /// Suspended for a time.
        Suspended = "suspended",
        /// Dissolved: it registers no more products.
        Dissolved = "dissolved",
    }
}

impl State {
    /// The state a request names, if it names one.
    pub fn of_proto(state: pb::SubjectState) -> Option<State> {
        match state {
            pb::SubjectState::Unspecified => None,
            pb::SubjectState::Active => Some(State::Active),
            pb::SubjectState::Suspended => Some(State::Suspended),
            pb::SubjectState::Dissolved => Some(State::Dissolved),
        }
    }

    fn to_proto(self) -> pb::SubjectState {
        match self {
            State::Active => pb::SubjectState::Active,
            State::Suspended => pb::SubjectState::Suspended,
            State::Dissolved => pb::SubjectState::Dissolved,
        }
    }
}

/// A row of `subjects`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    /// Resource id.
    pub id: String,
    /// Legal form.
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    pub(crate) legal_name: String,
    pub(crate) registration_number: String,
    pub(crate) representative_name: String,
    pub(crate) representative_is_woman: bool,
    pub(crate) representative_is_ethnic_minority: bool,
    pub(crate) phone: String,
    pub(crate) email: String,
    pub(crate) address: String,
    /// Commune (2025 code).
    pub commune_code: String,
    /// Province (2025 code).
    pub province_code: String,
    /// Whether it trades.
    #[sqlx(try_from = "String")]
    pub state: State,
    /// Row version (etag).
    pub version: i64,
    pub(crate) create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    /// Set when soft-deleted.
    pub delete_time: Option<time::OffsetDateTime>,
}

impl Row {
    /// An empty row with id `id`, to fill with [`Row::apply`].
    pub(crate) fn blank(id: String) -> Row {
        let now = time::OffsetDateTime::now_utc();
        Row {
            id,
            // Set by `apply`, which refuses a request without a kind.
            kind: Kind::HouseholdBusiness,
            legal_name: String::new(),
            registration_number: String::new(),
            representative_name: String::new(),
            representative_is_woman: false,
            representative_is_ethnic_minority: false,
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            commune_code: String::new(),
            province_code: String::new(),
            state: State::Active,
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        }
    }

    /// The proto form.
    pub fn to_proto(&self) -> Subject {
        Subject {
            name: subject_name(&self.id),
            kind: self.kind.to_proto() as i32,
            legal_name: self.legal_name.clone(),
            registration_number: self.registration_number.clone(),
            representative: Some(Representative {
                full_name: self.representative_name.clone(),
                is_woman: self.representative_is_woman,
                is_ethnic_minority: self.representative_is_ethnic_minority,
            }),
            phone: self.phone.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            state: self.state.to_proto() as i32,
            etag: etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            delete_time: self.delete_time.map(to_timestamp),
        }
    }

    /// The same producer as `other`: every field a file describes it with
    /// (an import finds a producer already there by its registration number).
    pub(crate) fn same_as(&self, other: &Row) -> bool {
        (
            self.kind,
            &self.legal_name,
            &self.representative_name,
            &self.commune_code,
            &self.phone,
            &self.email,
            &self.address,
            self.state,
        ) == (
            other.kind,
            &other.legal_name,
            &other.representative_name,
            &other.commune_code,
            &other.phone,
            &other.email,
            &other.address,
            other.state,
        ) && self.representative_is_woman == other.representative_is_woman
            && self.representative_is_ethnic_minority == other.representative_is_ethnic_minority
    }
}

/// Inserts `row`; `None` when its id is taken.
pub(super) async fn insert(tx: &mut PgConnection, row: &Row) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO subjects (id, kind, legal_name, registration_number, representative_name, representative_is_woman,
            representative_is_ethnic_minority, phone, email, address, commune_code, province_code, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(row.kind.as_str())
    .bind(&row.legal_name)
    .bind(&row.registration_number)
    .bind(&row.representative_name)
    .bind(row.representative_is_woman)
    .bind(row.representative_is_ethnic_minority)
    .bind(&row.phone)
    .bind(&row.email)
    .bind(&row.address)
    .bind(&row.commune_code)
    .bind(&row.province_code)
    .bind(row.state.as_str())
    .fetch_optional(&mut *tx)
    .await?)
}

/// Inserts `rows` in one statement (an import).
pub(crate) async fn insert_many(tx: &mut PgConnection, rows: &[Row]) -> Result<Vec<Row>> {
    let texts = |f: fn(&Row) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let flags = |f: fn(&Row) -> bool| rows.iter().map(f).collect::<Vec<bool>>();
    Ok(sqlx::query_as(concat!(
        "INSERT INTO subjects (id, kind, legal_name, registration_number, representative_name, representative_is_woman,
            representative_is_ethnic_minority, phone, email, address, commune_code, province_code, state)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bool[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) RETURNING ",
        columns!()
    ))
    .bind(texts(|r| &r.id))
    .bind(texts(|r| r.kind.as_str()))
    .bind(texts(|r| &r.legal_name))
    .bind(texts(|r| &r.registration_number))
    .bind(texts(|r| &r.representative_name))
    .bind(flags(|r| r.representative_is_woman))
    .bind(flags(|r| r.representative_is_ethnic_minority))
    .bind(texts(|r| &r.phone))
    .bind(texts(|r| &r.email))
    .bind(texts(|r| &r.address))
    .bind(texts(|r| &r.commune_code))
    .bind(texts(|r| &r.province_code))
    .bind(texts(|r| r.state.as_str()))
    .fetch_all(&mut *tx)
    .await?)
}

/// The id of the producer holding registration number `number`, if any.
pub(super) async fn holder_of(tx: &mut PgConnection, number: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM subjects WHERE registration_number = $1")
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

/// The producers holding any of `numbers` (an import).
pub(crate) async fn with_numbers<'e>(db: impl PgExecutor<'e>, numbers: &[String]) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM subjects WHERE registration_number = ANY($1)"
    ))
    .bind(numbers)
    .fetch_all(db)
    .await?)
}

/// The producers of `province` not deleted (every province's for `""`), oldest first (an export).
pub(crate) async fn in_province<'e>(db: impl PgExecutor<'e>, province: &str) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM subjects WHERE delete_time IS NULL AND ($1 = '' OR province_code = $1) ORDER BY create_time, id"
    ))
    .bind(province)
    .fetch_all(db)
    .await?)
}

/// The row of `id`, if any.
pub async fn fetch<'e>(db: impl PgExecutor<'e>, id: &str) -> Result<Option<Row>> {
    Ok(
        sqlx::query_as(concat!("SELECT ", columns!(), " FROM subjects WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// The row of `id`, locked for update, if any.
pub(super) async fn fetch_for_update(tx: &mut PgConnection, id: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM subjects WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Writes the changeable fields of `row` and bumps its version.
pub(super) async fn update(tx: &mut PgConnection, row: &Row) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE subjects SET kind = $2, legal_name = $3, registration_number = $4, representative_name = $5,
            representative_is_woman = $6, representative_is_ethnic_minority = $7, phone = $8, email = $9,
            address = $10, commune_code = $11, province_code = $12, state = $13,
            version = version + 1, update_time = now()
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(row.kind.as_str())
    .bind(&row.legal_name)
    .bind(&row.registration_number)
    .bind(&row.representative_name)
    .bind(row.representative_is_woman)
    .bind(row.representative_is_ethnic_minority)
    .bind(&row.phone)
    .bind(&row.email)
    .bind(&row.address)
    .bind(&row.commune_code)
    .bind(&row.province_code)
    .bind(row.state.as_str())
    .fetch_one(&mut *tx)
    .await?)
}

/// Marks the producer `id` deleted.
pub(super) async fn soft_delete(tx: &mut PgConnection, id: &str) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE subjects SET delete_time = now(), version = version + 1, update_time = now() WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?)
}

/// Moves the products of producer `id` to `province`; returns their ids.
pub(super) async fn move_products(tx: &mut PgConnection, id: &str, province: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("UPDATE products SET province_code = $2 WHERE subject_id = $1 RETURNING id")
            .bind(id)
            .bind(province)
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// The ids of the products of producer `id` not deleted.
pub(super) async fn live_products(tx: &mut PgConnection, id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM products WHERE subject_id = $1 AND delete_time IS NULL ORDER BY id")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// `SELECT … FROM subjects WHERE …` with `filter` (and, unless
/// `show_deleted`, without the deleted), for a list to complete.
pub(super) fn select(filter: &Filter, show_deleted: bool) -> Result<QueryBuilder<Postgres>> {
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!()));
    push_from(&mut sql, filter, show_deleted)?;
    Ok(sql)
}

/// The columns of a [`Row`].
pub(super) const COLUMNS: &str = columns!();

/// ` FROM subjects WHERE …` with `filter` (and, unless `show_deleted`,
/// without the deleted), for a list or a search.
pub(super) fn push_from(sql: &mut QueryBuilder<Postgres>, filter: &Filter, show_deleted: bool) -> Result<()> {
    sql.push(" FROM subjects WHERE TRUE");
    if let Some(p) = filter.get("province_code") {
        sql.push(" AND province_code = ").push_bind(p.to_owned());
    }
    if let Some(c) = filter.get("commune_code") {
        sql.push(" AND commune_code = ").push_bind(c.to_owned());
    }
    if let Some(k) = filter.get("kind") {
        if Kind::parse(k).is_none() {
            return Err(ocop_kit::Error::invalid(
                "filter",
                format!("kind `{k}` is not cooperative, cooperative_group, enterprise or household_business"),
            ));
        }
        sql.push(" AND kind = ").push_bind(k.to_owned());
    }
    push_state(sql, filter, &State::texts())?;
    if !show_deleted {
        sql.push(" AND delete_time IS NULL");
    }
    Ok(())
}

/// A page of `select`'s rows in `order`, after `after`.
pub(super) async fn page<'e>(
    db: impl PgExecutor<'e>,
    mut sql: QueryBuilder<Postgres>,
    order: Order,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    if let Some(after) = after {
        order.push_after(&mut sql, "legal_name", &["id"], after)?;
    }
    order.push_order(&mut sql, "legal_name", &["id"]);
    sql.push(" LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}
