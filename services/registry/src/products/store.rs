//! The SQL of products: the `products` table, its row type and the taxonomy
//! they are classified in.

use ocop_kit::Result;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::filter::Filter;
use ocop_proto::registry::v1::{Product, ProductState, Standard, StandardType};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use crate::ids::product_name;
use crate::listing::{Order, push_state};
use ocop_kit::etag;
use ocop_kit::text_enum;

text_enum! {
    /// Whether a product is still made.
    pub enum State {
        /// Made and sold.
        Active = "active",
        /// No longer made.
        Discontinued = "discontinued",
    }
}

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "subject_id, id, display_name, group_code, subgroup_code, description, origin_commune_code, province_code,
         raw_material_area, standards, state, version, create_time, update_time, delete_time"
    };
}

/// A standard as stored in the `standards` JSON column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredStandard {
    #[serde(rename = "type")]
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub valid_until: Option<String>,
}

/// A row of `products`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub subject_id: String,
    pub id: String,
    pub display_name: String,
    pub group_code: String,
    pub subgroup_code: String,
    pub description: String,
    pub origin_commune_code: String,
    pub province_code: String,
    pub raw_material_area: String,
    pub standards: Json<Vec<StoredStandard>>,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub version: i64,
    pub(crate) create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    pub(crate) delete_time: Option<time::OffsetDateTime>,
}

const STANDARD_TYPES: &[(StandardType, &str)] = &[
    (StandardType::FoodSafetyCertificate, "food_safety_certificate"),
    (StandardType::Vietgap, "vietgap"),
    (StandardType::Iso22000, "iso_22000"),
    (StandardType::QualityDeclaration, "quality_declaration"),
    (StandardType::Haccp, "haccp"),
    (StandardType::Organic, "organic"),
    (StandardType::Other, "other"),
];

/// The stored name of a standard type (also the CSV's).
pub fn standard_type_str(t: StandardType) -> Option<&'static str> {
    STANDARD_TYPES.iter().find(|(k, _)| *k == t).map(|(_, s)| *s)
}

/// The standard type of a stored name.
pub fn standard_type_of(s: &str) -> Option<StandardType> {
    STANDARD_TYPES.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
}

impl Row {
    /// An empty row, to fill with [`Row::apply`].
    pub(crate) fn blank(subject_id: String, id: String, province_code: String, origin_commune_code: String) -> Row {
        let now = time::OffsetDateTime::now_utc();
        Row {
            subject_id,
            id,
            display_name: String::new(),
            group_code: String::new(),
            subgroup_code: String::new(),
            description: String::new(),
            origin_commune_code,
            province_code,
            raw_material_area: String::new(),
            standards: Json(Vec::new()),
            state: State::Active,
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        }
    }

    /// The proto form.
    pub(crate) fn to_proto(&self) -> Product {
        Product {
            name: product_name(&self.subject_id, &self.id),
            display_name: self.display_name.clone(),
            group_code: self.group_code.clone(),
            subgroup_code: self.subgroup_code.clone(),
            description: self.description.clone(),
            origin_commune_code: self.origin_commune_code.clone(),
            province_code: self.province_code.clone(),
            raw_material_area: self.raw_material_area.clone(),
            standards: self
                .standards
                .iter()
                .map(|s| Standard {
                    r#type: standard_type_of(&s.kind).unwrap_or(StandardType::Other) as i32,
                    number: s.number.clone(),
                    issuer: s.issuer.clone(),
                    valid_until: s
                        .valid_until
                        .as_deref()
                        .and_then(|d| date::parse_iso("", d).ok())
                        .map(date::to_proto),
                })
                .collect(),
            state: match self.state {
                State::Active => ProductState::Active,
                State::Discontinued => ProductState::Discontinued,
            } as i32,
            etag: etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            delete_time: self.delete_time.map(to_timestamp),
        }
    }
}

/// Inserts `row`; `None` when its id is taken.
pub(super) async fn insert(tx: &mut PgConnection, row: &Row) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO products (subject_id, id, display_name, group_code, subgroup_code, description, origin_commune_code,
            province_code, raw_material_area, standards, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (subject_id, id) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&row.subject_id)
    .bind(&row.id)
    .bind(&row.display_name)
    .bind(&row.group_code)
    .bind(&row.subgroup_code)
    .bind(&row.description)
    .bind(&row.origin_commune_code)
    .bind(&row.province_code)
    .bind(&row.raw_material_area)
    .bind(&row.standards)
    .bind(row.state.as_str())
    .fetch_optional(&mut *tx)
    .await?)
}

/// Inserts `rows` in one statement (an import).
pub(crate) async fn insert_many(tx: &mut PgConnection, rows: &[Row]) -> Result<Vec<Row>> {
    let texts = |f: fn(&Row) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let standards: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(&r.standards.0).unwrap_or_default())
        .collect();
    Ok(sqlx::query_as(concat!(
        "INSERT INTO products (subject_id, id, display_name, group_code, subgroup_code, description, origin_commune_code,
            province_code, raw_material_area, standards, state)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::jsonb[], $11::text[]) RETURNING ",
        columns!()
    ))
    .bind(texts(|r| &r.subject_id))
    .bind(texts(|r| &r.id))
    .bind(texts(|r| &r.display_name))
    .bind(texts(|r| &r.group_code))
    .bind(texts(|r| &r.subgroup_code))
    .bind(texts(|r| &r.description))
    .bind(texts(|r| &r.origin_commune_code))
    .bind(texts(|r| &r.province_code))
    .bind(texts(|r| &r.raw_material_area))
    .bind(standards)
    .bind(texts(|r| r.state.as_str()))
    .fetch_all(&mut *tx)
    .await?)
}

/// The products of `province` not deleted (every province's for `""`), oldest first (an export).
pub(crate) async fn in_province<'e>(db: impl PgExecutor<'e>, province: &str) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM products WHERE delete_time IS NULL AND ($1 = '' OR province_code = $1) ORDER BY create_time, subject_id, id"
    ))
    .bind(province)
    .fetch_all(db)
    .await?)
}

/// The row of product `id` of producer `subject`, if any.
pub(super) async fn fetch<'e>(db: impl PgExecutor<'e>, subject: &str, id: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM products WHERE subject_id = $1 AND id = $2"
    ))
    .bind(subject)
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// The row of product `id` of producer `subject`, locked for update, if any.
pub(super) async fn fetch_for_update(tx: &mut PgConnection, subject: &str, id: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM products WHERE subject_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(subject)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Writes the changeable fields of `row` and bumps its version.
pub(super) async fn update(tx: &mut PgConnection, row: &Row) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE products SET display_name = $3, group_code = $4, subgroup_code = $5, description = $6,
            origin_commune_code = $7, raw_material_area = $8, standards = $9, state = $10,
            version = version + 1, update_time = now()
         WHERE subject_id = $1 AND id = $2 RETURNING ",
        columns!()
    ))
    .bind(&row.subject_id)
    .bind(&row.id)
    .bind(&row.display_name)
    .bind(&row.group_code)
    .bind(&row.subgroup_code)
    .bind(&row.description)
    .bind(&row.origin_commune_code)
    .bind(&row.raw_material_area)
    .bind(&row.standards)
    .bind(row.state.as_str())
    .fetch_one(&mut *tx)
    .await?)
}

/// Marks product `id` of producer `subject` deleted.
pub(super) async fn soft_delete(tx: &mut PgConnection, subject: &str, id: &str) -> Result<Row> {
    Ok(sqlx::query_as(concat!(
        "UPDATE products SET delete_time = now(), version = version + 1, update_time = now()
         WHERE subject_id = $1 AND id = $2 RETURNING ",
        columns!()
    ))
    .bind(subject)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?)
}

/// How many idea registrations and business plans a product has.
pub(super) async fn cycle_records(tx: &mut PgConnection, subject: &str, id: &str) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM ideas WHERE subject_id = $1 AND product_id = $2),
                (SELECT count(*) FROM plans WHERE subject_id = $1 AND product_id = $2)",
    )
    .bind(subject)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?)
}

/// The product sets of `group` (`""` for a group without sets), in code order.
pub(super) async fn sets_of<'e>(db: impl PgExecutor<'e>, group: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT subgroup_code FROM product_groups WHERE group_code = $1 ORDER BY subgroup_code")
            .bind(group)
            .fetch_all(db)
            .await?,
    )
}

/// Every `(group_code, group_name, subgroup_code, subgroup_name)` of the taxonomy, in code order.
pub(super) async fn taxonomy<'e>(db: impl PgExecutor<'e>) -> Result<Vec<(String, String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT group_code, group_name, subgroup_code, subgroup_name FROM product_groups ORDER BY group_code, subgroup_code",
    )
    .fetch_all(db)
    .await?)
}

/// `SELECT … FROM products WHERE …` with `filter` (and, unless
/// `show_deleted`, without the deleted), for a list to complete.
pub(super) fn select(filter: &Filter, show_deleted: bool) -> Result<QueryBuilder<Postgres>> {
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!()));
    push_from(&mut sql, filter, show_deleted)?;
    Ok(sql)
}

/// The columns of a [`Row`].
pub(super) const COLUMNS: &str = columns!();

/// ` FROM products WHERE …` with `filter` (and, unless `show_deleted`,
/// without the deleted), for a list or a search.
pub(super) fn push_from(sql: &mut QueryBuilder<Postgres>, filter: &Filter, show_deleted: bool) -> Result<()> {
    sql.push(" FROM products WHERE TRUE");
    push_filters(sql, filter)?;
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
    let keys = ["subject_id", "id"];
    if let Some(after) = after {
        order.push_after(&mut sql, "display_name", &keys, after)?;
    }
    order.push_order(&mut sql, "display_name", &keys);
    sql.push(" LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}

/// The filters of product lists and searches, on a query of a table with
/// the products' columns (also the national deployment's `national_products`).
pub(crate) fn push_filters(sql: &mut QueryBuilder<Postgres>, filter: &Filter) -> Result<()> {
    filter.push_equal_as(
        sql,
        &[
            ("province_code", "province_code"),
            ("commune_code", "origin_commune_code"),
            ("group_code", "group_code"),
            ("subgroup_code", "subgroup_code"),
        ],
    );
    push_state(sql, filter, &State::texts())?;
    Ok(())
}

/// Every `(group_code, subgroup_code)` of the taxonomy (an import's check).
pub(crate) async fn group_pairs<'e>(db: impl PgExecutor<'e>) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as("SELECT group_code, subgroup_code FROM product_groups")
        .fetch_all(db)
        .await?)
}

/// The `(subject_id, id)` of the products of the producers `subjects`, deleted ones too.
pub(crate) async fn keys_of<'e>(db: impl PgExecutor<'e>, subjects: &[String]) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT subject_id, id FROM products WHERE subject_id = ANY($1)")
            .bind(subjects)
            .fetch_all(db)
            .await?,
    )
}
