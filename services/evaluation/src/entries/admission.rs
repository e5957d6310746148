//! What an entry is rated under, decided when it is entered: the producer's
//! dossier (read from the registry with the caller's token), the rules its
//! kind and submission date call for (`ocop_kit::regime::rating`, Decision
//! 26/2026 Điều 12), the commune's step under those rules, and under 26/2026
//! the batch cut-off (Điều 5) and, in a CENTRAL round, the province's
//! approved proposal (Điều 7.3.e).
//!
//! A PROVINCE entry may come without a dossier (one recorded on paper only):
//! it is then rated under the rules of the round's date, since only a
//! dossier shows when it was filed; its commune's report has no due day, and
//! the cut-off is checked on the report's date alone.

use ocop_kit::client::{Bearer, TracedChannel, with_token};
use ocop_kit::date;
use ocop_kit::regime::{self, CommuneStep, Procedure, Regime};
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{EvaluationResult, RoundLevel};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{DossierKind, GetProductDossierRequest};
use sqlx::PgPool;
use time::Date;

use super::commune;
use crate::rules::batches;
use crate::{publish, rounds};

/// What an entry is rated under.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The registry dossier; empty when none was given.
    pub dossier: String,
    /// Its kind (`first_rating`, `upgrade`, `re_rating`); empty without one.
    pub dossier_kind: &'static str,
    /// When the producer filed it.
    pub submitted: Option<Date>,
    /// When the commune received it.
    pub received: Option<Date>,
    /// The rules that rate it.
    pub regime: Regime,
    /// REPORT: the commune's report is due on this day.
    pub report_due: Option<Date>,
    /// CENTRAL under 26/2026: the province's result it comes from.
    pub nomination: String,
    /// CENTRAL under 26/2026: the province's proposal date.
    pub proposed: Option<Date>,
}

impl Admission {
    /// What the commune does for it: nothing in a CENTRAL round.
    pub fn commune_step(&self, level: &str) -> CommuneStep {
        if level == "province" {
            self.regime.commune_step()
        } else {
            CommuneStep::None
        }
    }
}

/// The stored name of a regime (`entries.regime`, `Entry.regime`).
pub fn regime_key(regime: Regime) -> &'static str {
    match regime {
        Regime::D1048 => "1048",
        Regime::D148 => "148",
        Regime::D148As1489 => "148/1489",
        Regime::D26_2026 => "26/2026",
    }
}

/// The stored name of a commune step (`entries.commune_step`).
pub fn step_key(step: CommuneStep) -> &'static str {
    match step {
        CommuneStep::None => "none",
        CommuneStep::FourCriteria => "four_criteria",
        CommuneStep::Report => "report",
    }
}

fn procedure(kind: DossierKind) -> (Procedure, &'static str) {
    match kind {
        DossierKind::Upgrade => (Procedure::Upgrade, "upgrade"),
        DossierKind::ReRating => (Procedure::ReRating, "re_rating"),
        _ => (Procedure::FirstRating, "first_rating"),
    }
}

/// The registry's answer about the dossier, as an error of `entry.product_dossier`.
const REGISTRY: ocop_kit::client::Remote = ocop_kit::client::Remote {
    service: "registry",
    refused: "REGISTRY_REFUSED",
    unavailable: "REGISTRY_UNAVAILABLE",
};

/// A provincial result named by a CENTRAL entry: this deployment's, or
/// nationally the province's, as mirrored.
async fn nomination(db: &PgPool, national: bool, name: &str) -> Result<EvaluationResult> {
    match publish::get(db, name).await {
        Err(e) if e.kind() == ErrorKind::NotFound && national => ocop_kit::mirror::find(db, name).await?.ok_or(e),
        found => found,
    }
}

/// Decides what `product`'s entry into `round` is rated under, from the
/// entry's `product_dossier` and `nomination`; refuses it when its rules do.
#[allow(clippy::too_many_arguments)]
pub async fn admit(
    db: &PgPool,
    registry: &RegistryServiceClient<TracedChannel>,
    bearer: &Bearer,
    national: bool,
    round: &rounds::Row,
    product: &str,
    dossier: &str,
    nominated: &str,
) -> Result<Admission> {
    let in_force = Regime::on(round.decision_date);
    let central = round.level == "central";
    let mut dossier = dossier.trim().to_owned();
    let mut nominated_by: Option<EvaluationResult> = None;
    let nominated = nominated.trim();
    if central && (in_force == Regime::D26_2026 || !nominated.is_empty()) {
        if nominated.is_empty() {
            return Err(Error::invalid(
                "entry.nomination",
                "required in a CENTRAL round under Decision 26/2026: the province's approved and proposed result \
                 (`evaluationRounds/{r}/entries/{e}/result`)",
            ));
        }
        let result = nomination(db, national, nominated).await?;
        if result.product != product {
            return Err(Error::invalid(
                "entry.nomination",
                format!("{nominated} is the result of {}, not of {product}", result.product),
            ));
        }
        if result.level() != RoundLevel::Province || !result.nominated {
            return Err(Error::failed_precondition(
                "NOT_NOMINATED",
                format!("{nominated} is not nominated: only a provincial result of 90 or more goes to the centre"),
            ));
        }
        if !dossier.is_empty() && dossier != result.product_dossier {
            return Err(Error::invalid(
                "entry.product_dossier",
                format!(
                    "the nomination was rated on `{}`; leave it empty",
                    result.product_dossier
                ),
            ));
        }
        dossier = result.product_dossier.clone();
        nominated_by = Some(result);
    }
    let mut admission = Admission {
        dossier: dossier.clone(),
        dossier_kind: "",
        submitted: None,
        received: None,
        regime: in_force,
        report_due: None,
        nomination: nominated_by.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
        proposed: None,
    };
    let mut procedure_of = Procedure::FirstRating;
    if !dossier.is_empty() {
        if !dossier.starts_with(&format!("{product}/dossiers/")) {
            return Err(Error::invalid(
                "entry.product_dossier",
                format!("`{dossier}` is not a dossier of {product}; expected `{product}/dossiers/{{d}}`"),
            ));
        }
        let found = registry
            .clone()
            .get_product_dossier(with_token(GetProductDossierRequest { name: dossier.clone() }, bearer))
            .await
            .map_err(|s| REGISTRY.error(s, &dossier, "entry.product_dossier"))?
            .into_inner()
            .product_dossier
            .ok_or_else(|| Error::internal("registry answered without a dossier"))?;
        let (procedure, kind) = procedure(found.kind());
        procedure_of = procedure;
        let submitted = found
            .submitted_date
            .as_ref()
            .map(|d| date::from_proto("product_dossier.submitted_date", d))
            .transpose()?;
        let received = found
            .received_date
            .as_ref()
            .map(|d| date::from_proto("product_dossier.received_date", d))
            .transpose()?
            .or(submitted);
        if let Some(received) = received
            && received > round.decision_date
        {
            return Err(Error::failed_precondition(
                "DOSSIER_AFTER_ROUND",
                format!(
                    "{dossier} was received on {received}, after the round's decision date ({}); enter it in a later round",
                    round.decision_date
                ),
            ));
        }
        admission.dossier_kind = kind;
        admission.submitted = submitted;
        admission.received = received;
    }
    admission.regime = regime::rating(round.decision_date, admission.submitted, procedure_of)?;
    if admission.regime != Regime::D26_2026 {
        return Ok(admission);
    }
    // Decision 26/2026: the batch takes what was proposed before its cut-off.
    let window = round.batch_window();
    if central {
        let result = nominated_by.ok_or_else(|| Error::internal("a central entry under 26/2026 has its nomination"))?;
        let proposal = match (&result.approval, &result.proposal) {
            (None, _) => {
                return Err(Error::failed_precondition(
                    "NOMINATION_NOT_APPROVED",
                    format!(
                        "{} has no approval of the province's chairman yet (Decision 26/2026 Điều 7.3.e); see ApproveNomination",
                        result.name
                    ),
                ));
            }
            (Some(_), None) => {
                return Err(Error::failed_precondition(
                    "NOMINATION_NOT_PROPOSED",
                    format!(
                        "{} is approved but not yet proposed to the ministry; see ProposeNomination",
                        result.name
                    ),
                ));
            }
            (Some(_), Some(p)) => p,
        };
        let proposed = proposal
            .date
            .as_ref()
            .map(|d| date::from_proto("proposal.date", d))
            .transpose()?
            .ok_or_else(|| Error::internal("a recorded proposal has its date"))?;
        check_cut_off(
            round,
            window,
            proposed,
            &format!("proposed by its province on {proposed}"),
        )?;
        admission.proposed = Some(proposed);
    } else if let Some(received) = admission.received {
        // The commune proposes after it receives the dossier, so one received
        // on or after the cut-off is proposed after it.
        check_cut_off(
            round,
            window,
            received,
            &format!("received by its commune on {received}"),
        )?;
        admission.report_due = Some(commune::report_due(received));
    }
    Ok(admission)
}

/// FAILED_PRECONDITION `ENTRY_AFTER_CUT_OFF` when `day` is not before the
/// batch's cut-off, naming the batch it belongs to.
pub fn check_cut_off(round: &rounds::Row, window: Option<batches::Window>, day: Date, what: &str) -> Result<()> {
    let Some(window) = window else { return Ok(()) };
    if day < window.proposed_before {
        return Ok(());
    }
    let (year, batch) = batches::belongs_to(&round.level, day);
    Err(Error::failed_precondition(
        "ENTRY_AFTER_CUT_OFF",
        format!(
            "{what}: {} takes proposals before {} (Decision 26/2026 Điều 5); it belongs to {}",
            round.batch_name(),
            window.proposed_before,
            batches::describe(&round.level, year, batch)
        ),
    )
    .with_metadata("cut_off", window.proposed_before.to_string())
    .with_metadata("belongs_to_year", year.to_string())
    .with_metadata("belongs_to_batch", batch.to_string()))
}
