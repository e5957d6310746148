//! The SQL of entries: the row type and its columns, what an entry stores of
//! its dossier and its commune's assessment, reading an entry and recording a
//! change to it.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CommuneAssessment, DocumentStatus, DossierItem, Entry};
use prost::Message;

use super::DOSSIER;
use super::procedure::{self, procedure_columns};

/// One document's stored status.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredItem {
    pub(super) status: String,
    #[serde(default)]
    pub(super) note: String,
}

/// The commune's assessment as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredAssessment {
    pub(super) local_origin: bool,
    pub(super) local_labour: bool,
    pub(super) local_idea: bool,
    pub(super) local_identity: bool,
    pub(super) report: String,
    pub(super) recorded_by: String,
    pub(super) record_time: time::OffsetDateTime,
}

/// A row of `entries`.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub(super) round_id: String,
    pub(super) id: String,
    pub(super) product: String,
    pub(super) subject: String,
    pub(super) subgroup_code: String,
    /// The pinned criteria set (id).
    pub criteria_set: String,
    /// The product's province when entered.
    pub province_code: String,
    pub(super) create_time: time::OffsetDateTime,
    /// The product's commune when entered.
    pub commune_code: String,
    /// Knock-outs recorded on it.
    pub disqualifications: sqlx::types::Json<Vec<String>>,
    /// The commune's assessment, when recorded.
    pub commune_assessment: Option<sqlx::types::Json<StoredAssessment>>,
    pub(super) dossier: sqlx::types::Json<std::collections::HashMap<String, StoredItem>>,
    /// 26/2026's `(T)-(X)-(STT)-year`; empty under earlier decisions.
    pub(super) product_code: String,
    /// Its dossier, rules, commune step and report.
    #[sqlx(flatten)]
    pub procedure: procedure::Facts,
}

/// Columns of [`Row`].
pub const COLUMNS: &str = concat!(
    "round_id, id, product, subject, subgroup_code, criteria_set, province_code, create_time, commune_code,
    disqualifications, commune_assessment, dossier, product_code, ",
    procedure_columns!()
);

impl Row {
    pub(super) fn to_proto(&self) -> Entry {
        let mut entry = Entry {
            name: format!("evaluationRounds/{}/entries/{}", self.round_id, self.id),
            product: self.product.clone(),
            subject: self.subject.clone(),
            subgroup_code: self.subgroup_code.clone(),
            criteria_set: format!("criteriaSets/{}", self.criteria_set),
            province_code: self.province_code.clone(),
            create_time: Some(to_timestamp(self.create_time)),
            commune_code: self.commune_code.clone(),
            disqualifications: self.disqualifications.0.clone(),
            commune_assessment: self.commune_assessment.as_ref().map(|a| CommuneAssessment {
                local_origin: a.local_origin,
                local_labour: a.local_labour,
                local_idea: a.local_idea,
                local_identity: a.local_identity,
                report: a.report.clone(),
                recorded_by: a.recorded_by.clone(),
                record_time: Some(to_timestamp(a.record_time)),
            }),
            dossier: DOSSIER
                .iter()
                .map(|(document, mandatory)| {
                    let stored = self.dossier.get(*document);
                    let status = match stored.map(|i| i.status.as_str()) {
                        Some("submitted") => DocumentStatus::Submitted,
                        Some("accepted") => DocumentStatus::Accepted,
                        Some("rejected") => DocumentStatus::Rejected,
                        _ => DocumentStatus::Missing,
                    };
                    DossierItem {
                        document: document.to_string(),
                        mandatory: *mandatory,
                        status: status as i32,
                        note: stored.map(|i| i.note.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            product_code: self.product_code.clone(),
            ..Default::default()
        };
        self.procedure.fill(&mut entry, ocop_kit::date::today_vn());
        entry
    }
}

/// One entry's row.
pub async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, round_id: &str, entry_id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM entries WHERE round_id = $1 AND id = $2"
    )))
    .bind(round_id)
    .bind(entry_id)
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}/entries/{entry_id}")))
}

/// The audit and change-feed rows of a change to an entry.
pub(crate) async fn record(
    tx: &mut sqlx::PgConnection,
    who: &Principal,
    method: &'static str,
    kind: &'static str,
    row: &Row,
    proto: &Entry,
    request_id: &str,
) -> Result<()> {
    let change = Change {
        method,
        kind,
        resource: &proto.name,
        province: &row.province_code,
        etag_before: "",
        etag_after: "",
        request_id,
        payload: proto.encode_to_vec(),
    };
    audit::record(tx, who, change).await
}
