//! The SQL of dossiers: the `dossiers` table and its row type.

use ocop_kit::date::{self, to_timestamp};
use ocop_kit::filter::Filter;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::{DossierKind, ProductDossier};
use prost::Message;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use super::dossier_name;
use crate::listing::{Order, push_product_parent};
use ocop_kit::text_enum;

text_enum! {
    /// What a dossier asks for (Điều 6.1).
    pub enum Kind {
        /// A product's first rating.
        FirstRating = "first_rating",
        /// A rated product asking for more stars.
        Upgrade = "upgrade",
        /// A rated product whose certificate runs out.
        ReRating = "re_rating",
    }
}

impl Kind {
    /// The kind a request names, if it names one.
    pub(super) fn of_proto(kind: DossierKind) -> Option<Kind> {
        match kind {
            DossierKind::Unspecified => None,
            DossierKind::FirstRating => Some(Kind::FirstRating),
            DossierKind::Upgrade => Some(Kind::Upgrade),
            DossierKind::ReRating => Some(Kind::ReRating),
        }
    }

    fn to_proto(self) -> DossierKind {
        match self {
            Kind::FirstRating => DossierKind::FirstRating,
            Kind::Upgrade => DossierKind::Upgrade,
            Kind::ReRating => DossierKind::ReRating,
        }
    }
}

/// The columns of [`Row`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "subject_id, product_id, id, kind, submitted_date, received_date, receipt_number, received_by, commune_code,
         province_code, subgroup_code, forms, create_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    pub subject_id: String,
    pub product_id: String,
    pub id: String,
    #[sqlx(try_from = "String")]
    kind: Kind,
    submitted_date: time::Date,
    received_date: time::Date,
    receipt_number: String,
    received_by: String,
    commune_code: String,
    pub province_code: String,
    subgroup_code: String,
    forms: Vec<u8>,
    pub create_time: time::OffsetDateTime,
}

impl Row {
    /// The proto form.
    pub(super) fn to_proto(&self) -> Result<ProductDossier> {
        let forms = ProductDossier::decode(self.forms.as_slice())
            .map_err(|e| Error::internal(format!("stored forms of dossier {} do not decode: {e}", self.id)))?;
        Ok(ProductDossier {
            name: dossier_name(&self.subject_id, &self.product_id, &self.id),
            kind: self.kind.to_proto() as i32,
            submitted_date: Some(date::to_proto(self.submitted_date)),
            received_date: Some(date::to_proto(self.received_date)),
            receipt_number: self.receipt_number.clone(),
            received_by: self.received_by.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            subgroup_code: self.subgroup_code.clone(),
            // Never changed once recorded.
            etag: "v1".into(),
            create_time: Some(to_timestamp(self.create_time)),
            ..forms
        })
    }
}

/// What a new dossier holds.
pub(super) struct New<'a> {
    pub ids: &'a [String],
    pub id: &'a str,
    pub kind: Kind,
    pub submitted: time::Date,
    pub received: time::Date,
    pub receipt_number: &'a str,
    pub received_by: &'a str,
    pub commune: &'a str,
    pub province: &'a str,
    pub subgroup: &'a str,
    pub forms: Vec<u8>,
}

/// Inserts a dossier; `None` when its id is taken.
pub(super) async fn insert(tx: &mut PgConnection, new: New<'_>) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO dossiers (subject_id, product_id, id, kind, submitted_date, received_date, receipt_number,
            received_by, commune_code, province_code, subgroup_code, forms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&new.ids[0])
    .bind(&new.ids[1])
    .bind(new.id)
    .bind(new.kind.as_str())
    .bind(new.submitted)
    .bind(new.received)
    .bind(new.receipt_number)
    .bind(new.received_by)
    .bind(new.commune)
    .bind(new.province)
    .bind(new.subgroup)
    .bind(new.forms)
    .fetch_optional(&mut *tx)
    .await?)
}

/// The dossier `ids` (subject, product, dossier), if any.
pub(super) async fn fetch<'e>(db: impl PgExecutor<'e>, ids: &[String]) -> Result<Option<Row>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM dossiers WHERE subject_id = $1 AND product_id = $2 AND id = $3"
    ))
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&ids[2])
    .fetch_optional(db)
    .await?)
}

/// A page of the dossiers of the product parent `ids` matching `filter`, oldest first.
pub(super) async fn page<'e>(
    db: impl PgExecutor<'e>,
    ids: &[String],
    filter: &Filter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!(), " FROM dossiers WHERE TRUE"));
    push_product_parent(&mut sql, ids);
    if let Some(kind) = filter.get("kind") {
        if Kind::parse(kind).is_none() {
            return Err(Error::invalid(
                "filter",
                format!("kind `{kind}` is not first_rating, upgrade or re_rating"),
            ));
        }
        sql.push(" AND kind = ").push_bind(kind.to_owned());
    }
    filter.push_equal(&mut sql, &["commune_code", "province_code"]);
    let keys = ["subject_id", "product_id", "id"];
    if let Some(after) = after {
        Order::CreateAsc.push_after(&mut sql, "id", &keys, after)?;
    }
    Order::CreateAsc.push_order(&mut sql, "id", &keys);
    sql.push(" LIMIT ").push_bind(limit);
    Ok(sql.build_query_as().fetch_all(db).await?)
}
