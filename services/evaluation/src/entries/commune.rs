//! The commune's report and proposal under Decision 26/2026 (Điều 7.2, Mẫu
//! 03): within 15 working days of receiving the dossier, the commune assesses
//! four contents (origin and local materials, local labour, the origin of the
//! idea, local identity and knowledge), issues its report and proposes the
//! product to the province. It replaces 1489's 4 criteria for the entries
//! rated under 26/2026, and such an entry is scored only once it has one.
//!
//! Working days are Monday to Friday. Public holidays are not taken out:
//! they move every year (Tết follows the lunar calendar), so a due day may
//! read a few days early around them.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{CommuneReport, Entry};
use time::{Date, Weekday};

use super::admission;
use crate::{entries, rounds};

/// Working days the commune has (Điều 7.2).
pub const REPORT_DAYS: u32 = 15;

/// The day a report on a dossier received on `received` is due: the 15th
/// working day after it.
pub fn report_due(received: Date) -> Date {
    let mut day = received;
    let mut left = REPORT_DAYS;
    while left > 0 {
        day = day.next_day().expect("far from the end of the calendar");
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    day
}

/// Whether a report due on `due` is overdue on `today`: none yet and the day
/// passed, or issued after it.
pub fn overdue(due: Option<Date>, issued: Option<Date>, today: Date) -> bool {
    match (due, issued) {
        (Some(due), Some(issued)) => issued > due,
        (Some(due), None) => today > due,
        (None, _) => false,
    }
}

/// Pushes the SQL condition of an overdue report on `entries` as of `today`
/// (as [`overdue`]; the report's day is the entry's `proposed_date`).
pub fn push_overdue(sql: &mut sqlx::QueryBuilder<sqlx::Postgres>, today: Date) {
    // COALESCE: a missing date is not overdue, so that NOT of it is true.
    sql.push(
        "COALESCE(commune_step = 'report' AND
          (proposed_date > commune_report_due OR (commune_report IS NULL AND commune_report_due < ",
    )
    .push_bind(today)
    .push(")), false)");
}

/// A report as stored in `entries.commune_report`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredReport {
    local_materials: String,
    local_labour: String,
    idea_origin: String,
    local_identity: String,
    /// `YYYY-MM-DD`.
    pub report_date: String,
    proposal_reference: String,
    signed_by: String,
    sealed: bool,
    recorded_by: String,
    record_time: time::OffsetDateTime,
}

impl StoredReport {
    /// The proto form, `late` against the entry's due day.
    pub fn to_proto(&self, due: Option<Date>) -> CommuneReport {
        let issued = date::parse_iso("", &self.report_date).ok();
        CommuneReport {
            local_materials: self.local_materials.clone(),
            local_labour: self.local_labour.clone(),
            idea_origin: self.idea_origin.clone(),
            local_identity: self.local_identity.clone(),
            report_date: issued.map(date::to_proto),
            proposal_reference: self.proposal_reference.clone(),
            signed_by: self.signed_by.clone(),
            sealed: self.sealed,
            recorded_by: self.recorded_by.clone(),
            record_time: Some(to_timestamp(self.record_time)),
            late: matches!((due, issued), (Some(due), Some(issued)) if issued > due),
        }
    }
}

/// The report's own fields, checked: the stored form and its date.
fn check(report: Option<&CommuneReport>, who: &Principal, today: Date) -> Result<(StoredReport, Date)> {
    let r = report.ok_or_else(|| Error::invalid("commune_report", "required: the commune's report (Mẫu 03)"))?;
    let mut v = Violations::default();
    for (field, value) in [
        ("local_materials", &r.local_materials),
        ("local_labour", &r.local_labour),
        ("idea_origin", &r.idea_origin),
        ("local_identity", &r.local_identity),
        ("proposal_reference", &r.proposal_reference),
        ("signed_by", &r.signed_by),
    ] {
        if value.trim().is_empty() {
            v.push(format!("commune_report.{field}"), "required");
        }
    }
    let day = match &r.report_date {
        None => {
            v.push(
                "commune_report.report_date",
                "required: the day of the report and the proposal",
            );
            None
        }
        Some(d) => match date::from_proto("commune_report.report_date", d) {
            Ok(d) if d > today => {
                v.push(
                    "commune_report.report_date",
                    format!("{d} is in the future (today is {today})"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                v.push("commune_report.report_date", e.violations()[0].description.clone());
                None
            }
        },
    };
    v.check()?;
    let day = day.ok_or_else(|| Error::internal("a checked report has its date"))?;
    let stored = StoredReport {
        local_materials: r.local_materials.trim().to_owned(),
        local_labour: r.local_labour.trim().to_owned(),
        idea_origin: r.idea_origin.trim().to_owned(),
        local_identity: r.local_identity.trim().to_owned(),
        report_date: day.to_string(),
        proposal_reference: r.proposal_reference.trim().to_owned(),
        signed_by: r.signed_by.trim().to_owned(),
        sealed: r.sealed,
        recorded_by: who.subject.clone(),
        record_time: time::OffsetDateTime::now_utc(),
    };
    Ok((stored, day))
}

/// Records the commune's report on the entry `name` (officers of its commune).
pub async fn record_report(
    db: &sqlx::PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    report: Option<&CommuneReport>,
) -> Result<Entry> {
    who.require(&[Role::CommuneOfficer])?;
    let (round_id, entry_id) = entries::parse_name("name", name)?;
    let (stored, day) = check(report, who, date::today_vn())?;
    let round = rounds::fetch(db, &round_id).await?;
    let entry = entries::fetch(db, &round_id, &entry_id).await?;
    // A commune officer's token names a commune, not a deployment.
    here.require_serves(&entry.province_code)?;
    if who.commune.as_deref() != Some(entry.commune_code.as_str()) {
        return Err(Error::permission_denied(
            "OUTSIDE_JURISDICTION",
            format!(
                "{name} comes from commune {}; its report is that commune's",
                entry.commune_code
            ),
        ));
    }
    if !round.state.takes_entry_changes() {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!(
                "evaluationRounds/{round_id} is {}; the commune reports while it is open or scoring",
                round.state
            ),
        ));
    }
    if entry.procedure.commune_step != admission::step_key(ocop_kit::regime::CommuneStep::Report) {
        let instead = if entry.procedure.commune_step == "four_criteria" {
            "its commune assesses the 4 criteria of Decision 1489/2025 instead (RecordCommuneAssessment)"
        } else {
            "its commune has no step to record"
        };
        return Err(Error::failed_precondition(
            "WRONG_COMMUNE_STEP",
            format!("{name} is rated under {}: {instead}", entry.procedure.regime),
        ));
    }
    if entry.procedure.commune_report.is_some() {
        return Err(Error::failed_precondition(
            "COMMUNE_REPORT_RECORDED",
            format!("{name} already has its commune's report; a report is issued once"),
        ));
    }
    if let Some(received) = entry.procedure.dossier_received
        && day < received
    {
        return Err(Error::invalid(
            "commune_report.report_date",
            format!("{day} is before the commune received the dossier ({received})"),
        ));
    }
    admission::check_cut_off(
        &round,
        round.batch_window(),
        day,
        &format!("proposed by its commune on {day}"),
    )?;
    entries::set_report(db, who, &round_id, &entry_id, &stored, day)
        .await?
        .ok_or_else(|| {
            Error::failed_precondition(
                "COMMUNE_REPORT_RECORDED",
                format!("{name} already has its commune's report; a report is issued once"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_report_is_due_on_the_15th_working_day() {
        // Monday 2026-09-07: three weeks of five working days.
        assert_eq!(report_due(date!(2026 - 09 - 07)), date!(2026 - 09 - 28));
        // Received on a Friday: the count starts on Monday.
        assert_eq!(report_due(date!(2026 - 09 - 11)), date!(2026 - 10 - 02));
        // Received on a Saturday: the same as on the Friday before.
        assert_eq!(report_due(date!(2026 - 09 - 12)), date!(2026 - 10 - 02));
    }

    #[test]
    fn a_report_is_overdue_when_missing_past_its_day_or_issued_after_it() {
        let due = Some(date!(2026 - 09 - 28));
        assert!(!overdue(due, None, date!(2026 - 09 - 28)));
        assert!(overdue(due, None, date!(2026 - 09 - 29)));
        assert!(!overdue(due, Some(date!(2026 - 09 - 28)), date!(2026 - 12 - 01)));
        assert!(overdue(due, Some(date!(2026 - 09 - 29)), date!(2026 - 09 - 29)));
        assert!(!overdue(None, None, date!(2027 - 01 - 01)));
    }
}
