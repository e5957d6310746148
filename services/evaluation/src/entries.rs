//! Entries: a registry product entered into an open round. The product is
//! checked with the registry service over gRPC (never through its tables),
//! with the caller's own token, and its criteria set is pinned.

use ocop_kit::auth::Principal;
use ocop_kit::client::{Bearer, Remote, TracedChannel, with_token};
use ocop_kit::create::{Begun, Create};
use ocop_kit::idempotency::{self};
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{CommuneAssessment, Entry};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{GetProductRequest, GetSubjectRequest, SubjectState};
use sqlx::PgPool;

use crate::criteria;
use crate::rounds::{self, require_organiser};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::regime::Sheets;
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;

pub mod admission;
mod checklist;
pub mod commune;
mod listing;
pub mod procedure;
pub mod product_codes;
pub mod re_rating;
mod report;
mod store;

pub use checklist::update_dossier;
pub use listing::list;
pub use report::set_report;
pub(crate) use store::record;
pub use store::{COLUMNS, Row, StoredAssessment, StoredItem, fetch};

/// The dossier's documents (Decision 1048 Phụ lục II; 148 kept the mandatory core):
/// `(document, mandatory)`.
pub const DOSSIER: &[(&str, bool)] = &[
    ("registration_form", true),
    ("business_plan", true),
    ("organisation_chart", true),
    ("business_registration", true),
    ("product_samples", true),
    ("food_safety_certificate", false),
    ("quality_declaration", false),
    ("test_results", false),
    ("traceability", false),
    ("intellectual_property", false),
    ("raw_material_origin", false),
    ("environmental_commitment", false),
    ("quality_management", false),
    ("market_evidence", false),
    ("product_story", false),
    ("awards", false),
];

/// The registry, as entries speak of it.
const REGISTRY: Remote = Remote {
    service: "registry",
    refused: "REGISTRY_REFUSED",
    unavailable: "REGISTRY_UNAVAILABLE",
};

fn registry_error(status: tonic::Status, what: &str) -> Error {
    REGISTRY.error(status, what, "entry.product")
}

/// Enters `product` into the OPEN round `parent`.
// The service's state (pool, registry, deployment) and the request's parts.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: &PgPool,
    registry: &RegistryServiceClient<TracedChannel>,
    certification: &CertificationServiceClient<TracedChannel>,
    here: &Jurisdiction,
    national: bool,
    who: &Principal,
    bearer: Bearer,
    parent: &str,
    entry: &Entry,
    request_id: &str,
) -> Result<Entry> {
    who.require(&[
        ocop_kit::auth::Role::ProvinceOfficer,
        ocop_kit::auth::Role::NationalOfficer,
    ])?;
    let round_id = rounds::parse_name("parent", parent)?;
    let request_id = idempotency::parse("request_id", request_id)?;
    let product_name = entry.product.trim().to_owned();
    let valid = product_name.split('/').collect::<Vec<_>>();
    if !(valid.len() == 4
        && valid[0] == "subjects"
        && valid[2] == "products"
        && !valid[1].is_empty()
        && !valid[3].is_empty())
    {
        return Err(Error::invalid(
            "entry.product",
            format!("`{product_name}` is not a product name; expected `subjects/{{s}}/products/{{p}}`"),
        ));
    }
    let round = rounds::fetch(db, &round_id).await?;
    require_organiser(here, who, &round.level, &round.province_code)?;
    if round.state != rounds::State::Open {
        return Err(Error::failed_precondition(
            "ROUND_NOT_OPEN",
            format!("{parent} is {}; entries are taken while it is open", round.state),
        ));
    }

    // The registry, with the caller's own token: its rules on what they may read apply.
    let mut client = registry.clone();
    let product = client
        .get_product(with_token(
            GetProductRequest {
                name: product_name.clone(),
            },
            &bearer,
        ))
        .await
        .map_err(|s| registry_error(s, &product_name))?
        .into_inner()
        .product
        .ok_or_else(|| Error::internal("registry answered without a product"))?;
    if product.delete_time.is_some() {
        return Err(Error::failed_precondition(
            "PRODUCT_DELETED",
            format!("{product_name} was deleted in the registry"),
        ));
    }
    if round.level != "central" && product.province_code != round.province_code {
        return Err(Error::failed_precondition(
            "OUTSIDE_ROUND_JURISDICTION",
            format!(
                "{product_name} belongs to province {}; {parent} evaluates province {}",
                product.province_code, round.province_code
            ),
        ));
    }
    let subject_name = product_name
        .rsplit_once("/products/")
        .map(|(s, _)| s.to_owned())
        .unwrap_or_default();
    let mut client = registry.clone();
    let subject = client
        .get_subject(with_token(
            GetSubjectRequest {
                name: subject_name.clone(),
            },
            &bearer,
        ))
        .await
        .map_err(|s| registry_error(s, &subject_name))?
        .into_inner()
        .subject
        .ok_or_else(|| Error::internal("registry answered without a producer"))?;
    if subject.state != SubjectState::Active as i32 || subject.delete_time.is_some() {
        return Err(Error::failed_precondition(
            "SUBJECT_NOT_ACTIVE",
            format!("{subject_name} is not an active producer; only active producers enter rounds"),
        ));
    }

    // What it is rated under: its dossier and rules, and under 26/2026 its
    // batch (Điều 5, 12). A transition dossier keeps the 148 sheets.
    let admitted = admission::admit(
        db,
        registry,
        &bearer,
        national,
        &round,
        &product_name,
        &entry.product_dossier,
        &entry.nomination,
    )
    .await?;
    // A re-rating under 26/2026 consumes the holder's accepted application.
    let re_rating = re_rating::check(
        certification,
        &bearer,
        &round,
        admitted.regime,
        admitted.dossier_kind,
        &product_name,
        &entry.re_rating_application,
    )
    .await?;
    let decision = criteria::sheets_key(admitted.regime.sheets());
    // A product registered under the earlier taxonomy is scored on the
    // 26/2026 set its code maps to (148 rounds use the same sets).
    let subgroup = criteria::scored_subgroup(decision, &product.subgroup_code, &product_name)?;
    let central_code = if round.level == "central" && decision == criteria::sheets_key(Sheets::D26_2026) {
        Some(product_codes::for_central(db, national, &product_name, &admitted.nomination).await?)
    } else {
        None
    };

    let id = uuid::Uuid::now_v7().to_string();
    let name = format!("{parent}/entries/{id}");
    let create = Create {
        method: "CreateEntry",
        name: &name,
        request_id,
    };
    let mut tx = match create.begin(db).await? {
        Begun::Fresh(tx) => tx,
        Begun::Retried(first) => {
            let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM entries WHERE round_id = $1 AND id = $2"
            )))
            .bind(&round_id)
            .bind(first.rsplit('/').next().unwrap_or_default())
            .fetch_one(db)
            .await?;
            return Ok(row.to_proto());
        }
    };
    if let Some(consumed) = &re_rating {
        re_rating::claim(&mut tx, &consumed.application).await?;
    }
    // The code 26/2026 sheets print, numbered in this transaction: a refusal
    // below rolls the number back with it. Numbered before the set is pinned:
    // every entry takes the commune's counter before the set's row, so a first
    // pin's lock (which holds off other entries' key checks) never waits for
    // a counter another entry holds.
    let product_code = match central_code {
        Some(code) => code,
        None if decision == criteria::sheets_key(Sheets::D26_2026) => {
            let owner = product_codes::Owner {
                product: &product_name,
                province: &product.province_code,
                commune: &product.origin_commune_code,
                year: round.decision_date.year(),
            };
            product_codes::assign(&mut tx, owner).await?
        }
        None => String::new(),
    };
    // The latest version of the product set's sheet for the round's decision,
    // in force at its date. A used set's content never changes (a trigger
    // refuses it), so only the first pin locks the row, against an import
    // rewriting the content meanwhile; later entries of the same set do not
    // queue behind one another.
    let mut set = pinnable_set(&mut tx, &round, decision, &subgroup, false).await?;
    if set.as_ref().is_some_and(|(_, used)| !used) {
        set = pinnable_set(&mut tx, &round, decision, &subgroup, true).await?;
    }
    let Some((set, used)) = set else {
        let registered = if subgroup == product.subgroup_code {
            String::new()
        } else {
            format!(" (the product is registered as `{}`)", product.subgroup_code)
        };
        return Err(Error::failed_precondition(
            "NO_CRITERIA_SET",
            format!(
                "there is no {} criteria set for product set `{subgroup}`{registered} in force on {}: import its sheet (`ocop criteria import`) first",
                decision, round.decision_date
            ),
        )
        .with_metadata("missing", format!("{decision}/{subgroup}")));
    };
    if !used {
        // Pinned from now on: the sheet can no longer change, only gain versions.
        sqlx::query("UPDATE criteria_sets SET used = true WHERE id = $1 AND NOT used")
            .bind(&set)
            .execute(&mut *tx)
            .await?;
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO entries (round_id, id, product, subject, subgroup_code, criteria_set, province_code, commune_code, product_code,
            product_dossier, dossier_kind, dossier_submitted, dossier_received, regime, commune_step, commune_report_due,
            nomination, proposed_date, re_rating_application, re_rating_decide_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         ON CONFLICT (round_id, product) DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&id)
    .bind(&product_name)
    .bind(&subject_name)
    .bind(&subgroup)
    .bind(&set)
    .bind(&product.province_code)
    .bind(&product.origin_commune_code)
    .bind(&product_code)
    .bind(&admitted.dossier)
    .bind(admitted.dossier_kind)
    .bind(admitted.submitted)
    .bind(admitted.received)
    .bind(admission::regime_key(admitted.regime))
    .bind(admission::step_key(admitted.commune_step(&round.level)))
    .bind(admitted.report_due)
    .bind(&admitted.nomination)
    .bind(admitted.proposed)
    .bind(re_rating.as_ref().map(|c| c.application.as_str()).unwrap_or_default())
    .bind(re_rating.as_ref().and_then(|c| c.decide_by))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_ENTERED",
            format!("{product_name} is already entered in {parent}"),
        )
    })?;
    let proto = row.to_proto();
    create.commit(tx, who, &row.province_code, "", &proto).await?;
    Ok(proto)
}

/// The latest set in force for a round's decision and date and a product set.
macro_rules! pinnable_sql {
    () => {
        "SELECT id, used FROM criteria_sets WHERE decision = $1 AND subgroup_code = $2
           AND in_force_from <= $3 AND (in_force_until IS NULL OR in_force_until >= $3)
         ORDER BY version DESC LIMIT 1"
    };
}

/// The set of `decision` an entry of `round` for `subgroup` pins, and whether it is used
/// already; `lock` locks its row until the transaction ends.
async fn pinnable_set(
    tx: &mut sqlx::PgConnection,
    round: &rounds::Row,
    decision: &str,
    subgroup: &str,
    lock: bool,
) -> Result<Option<(String, bool)>> {
    let sql = if lock {
        concat!(pinnable_sql!(), " FOR UPDATE")
    } else {
        pinnable_sql!()
    };
    Ok(sqlx::query_as(sql)
        .bind(decision)
        .bind(subgroup)
        .bind(round.decision_date)
        .fetch_optional(&mut *tx)
        .await?)
}

/// `(round, entry)` of `evaluationRounds/{r}/entries/{e}`.
pub fn parse_name(field: &str, name: &str) -> Result<(String, String)> {
    let [round, entry] = ocop_kit::names::parse(field, name, ENTRY, "an entry name")?;
    Ok((round.to_owned(), entry.to_owned()))
}

/// The form of an entry's name.
pub const ENTRY: &str = "evaluationRounds/{round}/entries/{entry}";

/// Records a knock-out or disqualification (organisers, while OPEN or SCORING).
pub async fn disqualify(db: &PgPool, here: &Jurisdiction, who: &Principal, name: &str, reason: &str) -> Result<Entry> {
    who.require(&[
        ocop_kit::auth::Role::ProvinceOfficer,
        ocop_kit::auth::Role::NationalOfficer,
    ])?;
    let (round_id, entry_id) = parse_name("name", name)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(Error::invalid(
            "reason",
            "required, up to 1,000 characters: what disqualifies the product",
        ));
    }
    let round = rounds::fetch(db, &round_id).await?;
    require_organiser(here, who, &round.level, &round.province_code)?;
    if !round.state.takes_entry_changes() {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!(
                "evaluationRounds/{round_id} is {}; knock-outs are recorded while it is open or scoring",
                round.state
            ),
        ));
    }
    let mut tx = db.begin().await?;
    fetch(&mut *tx, &round_id, &entry_id).await?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE entries SET disqualifications = disqualifications || jsonb_build_array($3::text)
         WHERE round_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    record(&mut tx, who, "DisqualifyEntry", "updated", &row, &proto, "").await?;
    tx.commit().await?;
    Ok(proto)
}

/// Records the commune's assessment (commune officers of the product's commune).
pub async fn record_assessment(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    assessment: Option<&CommuneAssessment>,
) -> Result<Entry> {
    who.require(&[ocop_kit::auth::Role::CommuneOfficer])?;
    let (round_id, entry_id) = parse_name("name", name)?;
    let a = assessment.ok_or_else(|| Error::invalid("commune_assessment", "required"))?;
    if a.report.trim().is_empty() || a.report.chars().count() > 10_000 {
        return Err(Error::invalid(
            "commune_assessment.report",
            "required, up to 10,000 characters: the commune's report",
        ));
    }
    let round = rounds::fetch(db, &round_id).await?;
    let entry = fetch(db, &round_id, &entry_id).await?;
    // A commune officer's token names a commune, not a deployment: the
    // entry must be this deployment's province first.
    here.require_serves(&entry.province_code)?;
    if who.commune.as_deref() != Some(entry.commune_code.as_str()) {
        return Err(Error::permission_denied(
            "OUTSIDE_JURISDICTION",
            format!(
                "{name} comes from commune {}; its assessment is that commune's",
                entry.commune_code
            ),
        ));
    }
    if !round.state.takes_entry_changes() {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!("evaluationRounds/{round_id} is {}", round.state),
        ));
    }
    if entry.procedure.commune_step == admission::step_key(ocop_kit::regime::CommuneStep::Report) {
        // Decision 26/2026 replaced the 4 criteria with the commune's report.
        return Err(Error::failed_precondition(
            "WRONG_COMMUNE_STEP",
            format!(
                "{name} is rated under {}: its commune issues its report (Mẫu 03) instead (RecordCommuneReport)",
                entry.procedure.regime
            ),
        ));
    }
    let stored = StoredAssessment {
        local_origin: a.local_origin,
        local_labour: a.local_labour,
        local_idea: a.local_idea,
        local_identity: a.local_identity,
        report: a.report.trim().to_owned(),
        recorded_by: who.subject.clone(),
        record_time: time::OffsetDateTime::now_utc(),
    };
    let mut tx = db.begin().await?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE entries SET commune_assessment = $3 WHERE round_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(sqlx::types::Json(&stored))
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    record(&mut tx, who, "RecordCommuneAssessment", "updated", &row, &proto, "").await?;
    tx.commit().await?;
    Ok(proto)
}
