//! What an entry keeps of its procedure (Decision 26/2026 Điều 5–7, 12): the
//! dossier it was entered with, the rules it is rated under, its commune's
//! step and report, and the proposal that brought it into its batch. Stored
//! on `entries` beside the entry's own columns; decided by `admission.rs`,
//! the report recorded by `commune.rs`.

use ocop_kit::date;
use ocop_kit::filter::Filter;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CommuneStep, Entry};
use ocop_proto::registry::v1::DossierKind;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use time::Date;

use crate::entries::commune::{self, StoredReport};

/// The procedure columns of `entries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Facts {
    /// The registry dossier; empty when none.
    pub product_dossier: String,
    /// `first_rating`, `upgrade`, `re_rating`; empty without a dossier.
    pub dossier_kind: String,
    /// When the producer filed the dossier.
    pub dossier_submitted: Option<Date>,
    /// When the commune received it.
    pub dossier_received: Option<Date>,
    /// The rules it is rated under (`admission::regime_key`).
    pub regime: String,
    /// `none`, `four_criteria` or `report`.
    pub commune_step: String,
    /// The commune's report, when recorded.
    pub commune_report: Option<Json<StoredReport>>,
    /// REPORT: its due day.
    pub commune_report_due: Option<Date>,
    /// CENTRAL under 26/2026: the province's result it comes from.
    pub nomination: String,
    /// Under 26/2026: the day of the proposal that brought it in.
    pub proposed_date: Option<Date>,
    /// Re-rating under 26/2026: the application it consumes; empty otherwise.
    pub re_rating_application: String,
    /// Re-rating: the day its result is due (the application's `decide_by`).
    pub re_rating_decide_by: Option<Date>,
}

/// The columns of [`Facts`], in `entries` (a literal, for `concat!`).
macro_rules! procedure_columns {
    () => {
        "product_dossier, dossier_kind, dossier_submitted, dossier_received, regime, commune_step,
        commune_report, commune_report_due, nomination, proposed_date, re_rating_application, re_rating_decide_by"
    };
}
pub(crate) use procedure_columns;

/// Filterable fields of `ListEntries`.
pub const FILTER_FIELDS: &[&str] = &["commune_report_overdue", "commune_code", "province_code"];

impl Facts {
    /// Writes them into `entry`, the overdue flag as of `today`.
    pub fn fill(&self, entry: &mut Entry, today: Date) {
        entry.product_dossier = self.product_dossier.clone();
        entry.set_dossier_kind(match self.dossier_kind.as_str() {
            "first_rating" => DossierKind::FirstRating,
            "upgrade" => DossierKind::Upgrade,
            "re_rating" => DossierKind::ReRating,
            _ => DossierKind::Unspecified,
        });
        entry.dossier_submitted = self.dossier_submitted.map(date::to_proto);
        entry.regime = self.regime.clone();
        entry.set_commune_step(match self.commune_step.as_str() {
            "four_criteria" => CommuneStep::FourCriteria,
            "report" => CommuneStep::Report,
            _ => CommuneStep::None,
        });
        entry.commune_report = self
            .commune_report
            .as_ref()
            .map(|r| r.to_proto(self.commune_report_due));
        entry.commune_report_due = self.commune_report_due.map(date::to_proto);
        let issued = self.commune_report.as_ref().and(self.proposed_date);
        entry.commune_report_overdue = commune::overdue(self.commune_report_due, issued, today);
        entry.nomination = self.nomination.clone();
        entry.proposed_date = self.proposed_date.map(date::to_proto);
        entry.re_rating_application = self.re_rating_application.clone();
        entry.re_rating_decide_by = self.re_rating_decide_by.map(date::to_proto);
    }
}

/// Adds the conditions of `ListEntries`' filter, overdue as of `today`.
pub fn push_filter(sql: &mut QueryBuilder<Postgres>, filter: &Filter, today: Date) -> Result<()> {
    if let Some(overdue) = filter.get("commune_report_overdue") {
        let overdue: bool = overdue.parse().map_err(|_| {
            Error::invalid(
                "filter",
                format!("commune_report_overdue `{overdue}` is not true or false"),
            )
        })?;
        sql.push(if overdue { " AND " } else { " AND NOT " });
        commune::push_overdue(sql, today);
    }
    filter.push_equal(sql, &["commune_code", "province_code"]);
    Ok(())
}
