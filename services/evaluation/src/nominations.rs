//! The way of a provincial result of 90 or more to the ministry under
//! Decision 26/2026 Điều 7.3.e: the province's chairman approves the result,
//! then the province proposes it; a CENTRAL round takes only proposed
//! results, by the date of the proposal (Điều 5.2). And back (Điều 7.4, last
//! paragraph): a CENTRAL result below 90 lets the province's chairman certify
//! 3 or 4 stars on the central council's result.
//!
//! Approval and proposal are recorded on the published result, each once,
//! with its audit and change-feed rows: the national deployment's mirror of
//! the result follows, and its queue of nominations shows the proposed ones.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::regime::Regime;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{EvaluationResult, ProvinceDecision};
use prost::Message;
use sqlx::PgPool;
use sqlx::types::Json;
use time::Date;

use crate::entries::admission::regime_key;
use crate::rules::results::Outcome;
use crate::{publish, rounds};

/// A decision of the province as stored (`results.approval`, `results.proposal`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredDecision {
    reference: String,
    /// `YYYY-MM-DD`.
    date: String,
    recorded_by: String,
    record_time: time::OffsetDateTime,
}

impl StoredDecision {
    /// The proto form.
    pub fn to_proto(&self) -> ProvinceDecision {
        ProvinceDecision {
            reference: self.reference.clone(),
            date: date::parse_iso("", &self.date).ok().map(date::to_proto),
            recorded_by: self.recorded_by.clone(),
            record_time: Some(to_timestamp(self.record_time)),
        }
    }

    fn day(&self) -> Option<Date> {
        date::parse_iso("", &self.date).ok()
    }
}

/// The stars the province may certify on a CENTRAL result (Điều 7.4, last
/// paragraph): under 26/2026, a result below 90 whose stars after the
/// markers are 3 or 4, not disqualified; 0 otherwise.
pub fn province_stars(level: &str, regime: &str, outcome: &Outcome, disqualified: bool) -> i32 {
    stars_on_central(level, regime, outcome.mean_tenths, outcome.stars, disqualified)
}

fn stars_on_central(level: &str, regime: &str, mean_tenths: i64, stars: i32, disqualified: bool) -> i32 {
    let applies = level == "central" && regime == regime_key(Regime::D26_2026) && !disqualified;
    if applies && mean_tenths < 900 && (3..=4).contains(&stars) {
        stars
    } else {
        0
    }
}

/// The reason a result gives for [`province_stars`].
pub fn province_stars_reason(stars: i32) -> String {
    format!(
        "below 90 at the centre: the province's chairman may certify {stars}★ on this result \
         (Decision 26/2026 Điều 7.4)"
    )
}

/// Which record of the province.
#[derive(Clone, Copy)]
enum Act {
    Approval,
    Proposal,
}

impl Act {
    fn column(self) -> &'static str {
        match self {
            Act::Approval => "approval",
            Act::Proposal => "proposal",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Act::Approval => "ApproveNomination",
            Act::Proposal => "ProposeNomination",
        }
    }
}

/// Records the chairman's approval of the nominated result `name`.
pub async fn approve(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    approval: Option<&ProvinceDecision>,
) -> Result<EvaluationResult> {
    record(db, here, who, name, approval, Act::Approval).await
}

/// Records the province's proposal of the approved result `name` to the ministry.
pub async fn propose(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    proposal: Option<&ProvinceDecision>,
) -> Result<EvaluationResult> {
    record(db, here, who, name, proposal, Act::Proposal).await
}

/// What the act checks of the result, read under its row lock.
#[derive(sqlx::FromRow)]
struct Seen {
    level: String,
    province_code: String,
    nominated: bool,
    decision_date: Date,
    approval: Option<Json<StoredDecision>>,
    proposal: Option<Json<StoredDecision>>,
}

async fn record(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    given: Option<&ProvinceDecision>,
    act: Act,
) -> Result<EvaluationResult> {
    who.require(&[Role::ProvinceOfficer])?;
    let (round_id, entry_id) = publish::parse_result("name", name)?;
    let field = act.column();
    let given = given.ok_or_else(|| Error::invalid(field, "required: the decision's number and date"))?;
    let mut v = Violations::default();
    if given.reference.trim().is_empty() {
        v.push(
            format!("{field}.reference"),
            "required, e.g. \"Quyết định 1234/QĐ-UBND\"",
        );
    }
    let today = date::today_vn();
    let day = match &given.date {
        None => {
            v.push(format!("{field}.date"), "required");
            None
        }
        Some(d) => match date::from_proto(&format!("{field}.date"), d) {
            Ok(d) if d > today => {
                v.push(
                    format!("{field}.date"),
                    format!("{d} is in the future (today is {today})"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                v.push(format!("{field}.date"), e.violations()[0].description.clone());
                None
            }
        },
    };
    v.check()?;
    let day = day.ok_or_else(|| Error::internal("a checked decision has its date"))?;

    let mut tx = db.begin().await?;
    let seen: Seen = sqlx::query_as(
        "SELECT level, province_code, nominated, decision_date, approval, proposal FROM results
         WHERE round_id = $1 AND entry_id = $2 FOR UPDATE",
    )
    .bind(&round_id)
    .bind(&entry_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(name))?;
    rounds::require_organiser(here, who, "province", &seen.province_code)?;
    if seen.level != "province" || !seen.nominated {
        return Err(Error::failed_precondition(
            "NOT_NOMINATED",
            format!(
                "{name} is not nominated: only a provincial result of 90 or more, not disqualified, goes to the ministry"
            ),
        ));
    }
    let earliest = match act {
        Act::Approval => {
            if let Some(a) = &seen.approval {
                return Err(Error::failed_precondition(
                    "ALREADY_APPROVED",
                    format!("{name} was approved by {} of {}", a.reference, a.date),
                ));
            }
            seen.decision_date
        }
        Act::Proposal => {
            let Some(approval) = &seen.approval else {
                return Err(Error::failed_precondition(
                    "NOMINATION_NOT_APPROVED",
                    format!(
                        "{name} needs the approval of the province's chairman before it is proposed \
                         (Decision 26/2026 Điều 7.3.e); see ApproveNomination"
                    ),
                ));
            };
            if let Some(p) = &seen.proposal {
                return Err(Error::failed_precondition(
                    "ALREADY_PROPOSED",
                    format!("{name} was proposed by {} of {}", p.reference, p.date),
                ));
            }
            approval.day().unwrap_or(seen.decision_date)
        }
    };
    if day < earliest {
        let what = match act {
            Act::Approval => "the round's decision",
            Act::Proposal => "the chairman's approval",
        };
        return Err(Error::invalid(
            format!("{field}.date"),
            format!("{day} is before {what} ({earliest})"),
        ));
    }
    let stored = StoredDecision {
        reference: given.reference.trim().to_owned(),
        date: day.to_string(),
        recorded_by: who.subject.clone(),
        record_time: time::OffsetDateTime::now_utc(),
    };
    // The column is one of two fixed names, never the request's.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE results SET {field} = $3 WHERE round_id = $1 AND entry_id = $2"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(Json(&stored))
    .execute(&mut *tx)
    .await?;
    let result = publish::fetch_proto(&mut *tx, &round_id, &entry_id)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    let change = Change {
        method: act.method(),
        kind: "updated",
        resource: &result.name,
        province: &result.province_code,
        etag_before: "",
        etag_after: "",
        request_id: "",
        payload: result.encode_to_vec(),
    };
    audit::record(&mut tx, who, change).await?;
    tx.commit().await?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_province_certifies_on_a_central_result_below_90_under_26_2026_only() {
        assert_eq!(stars_on_central("central", "26/2026", 880, 4, false), 4);
        assert_eq!(stars_on_central("central", "26/2026", 640, 3, false), 3);
        assert_eq!(
            stars_on_central("central", "26/2026", 910, 5, false),
            0,
            "5★ is the ministry's"
        );
        assert_eq!(
            stars_on_central("central", "26/2026", 450, 2, false),
            0,
            "2★ is not certified"
        );
        assert_eq!(stars_on_central("central", "26/2026", 880, 4, true), 0, "disqualified");
        assert_eq!(
            stars_on_central("central", "148/1489", 880, 4, false),
            0,
            "1489 had no such rule"
        );
        assert_eq!(stars_on_central("province", "26/2026", 880, 4, false), 0);
    }
}
