//! `IssueCertificate`: a certificate from a published result. The steps:
//! read the request (`Asked`); answer a retry as the first time; fetch the
//! result from the evaluation service and read it at the issuing level
//! (`rules::issuing`); check the authority, the jurisdiction and the one
//! certificate in force per product (`decide`); then, in one transaction
//! (`write`), the decision number, the certificate it replaces, the new
//! certificate signed, their history, audit and change-feed rows, and the
//! re-rating it closes. The registry gives the issuer's and the product's
//! names (`issuers.rs`); both calls carry the caller's token.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::client::{Bearer, Remote, with_token};
use ocop_kit::date;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::certification::v1::{Certificate, IssueCertificateRequest, IssuingLevel};
use ocop_proto::evaluation::v1::{EvaluationResult, GetEvaluationRoundRequest, GetResultRequest, RoundState};
use time::Date;

use super::events;
use super::issuers::{Authority, Names, authority_of, names};
use super::store::{self, Row};
use crate::keys::Fields;
use crate::rules::authority::{self, Level};
use crate::rules::issuing::{self, Kind};
use crate::rules::validity;
use crate::service::Certification;
use crate::{national, re_rating};

const EVALUATION: Remote = Remote {
    service: "evaluation",
    refused: "EVALUATION_REFUSED",
    unavailable: "EVALUATION_UNAVAILABLE",
};

/// The method's name in request_id claims.
const METHOD: &str = "IssueCertificate";

/// Issues a certificate from `request.result`.
pub async fn issue(
    svc: &Certification,
    who: &Principal,
    bearer: &Bearer,
    r: &IssueCertificateRequest,
) -> Result<Certificate> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let today = svc.today();
    let asked = Asked::read(r, today)?;
    // A retry of a finished request answers as the first time did.
    if let Some(first) = first_answer(svc, asked.request_id, today).await? {
        return Ok(first);
    }
    let result = issuing::as_read_by(asked.level, fetch_result(svc, bearer, asked.result).await?);
    let decided = decide(svc, who, bearer, &asked, result, today).await?;
    let (row, replaced) = match write(svc, who, &asked, &decided, today).await? {
        Written::Issued(row, replaced) => (*row, replaced),
        // The same request finished meanwhile: its answer.
        Written::Before(name) => return Ok(store::get(&svc.db, &name).await?.to_proto(&svc.public_url, today)),
    };
    // Verifiers see the change at once.
    events::refresh_cache(svc, &row).await;
    if let Some(old) = replaced
        && let Some(old_row) = store::fetch(&svc.db, &old).await?
    {
        events::refresh_cache(svc, &old_row).await;
    }
    Ok(row.to_proto(&svc.public_url, today))
}

/// The request, checked: what is asked for and on which dates.
struct Asked<'r> {
    request_id: Option<uuid::Uuid>,
    /// `evaluationRounds/{round}/entries/{entry}/result`.
    result: &'r str,
    decision_date: Date,
    /// The decision date unless given.
    issue_date: Date,
    level: IssuingLevel,
    district_code: &'r str,
}

impl<'r> Asked<'r> {
    /// INVALID_ARGUMENT, naming the field, for a request that cannot be read.
    fn read(r: &'r IssueCertificateRequest, today: Date) -> Result<Asked<'r>> {
        let request_id = idempotency::parse("request_id", &r.request_id)?;
        let result = r.result.trim();
        check_result_name(result)?;
        let Some(decision_date) = &r.decision_date else {
            return Err(Error::invalid(
                "decision_date",
                "required: the date of the issuing decision",
            ));
        };
        let decision_date = date::from_proto("decision_date", decision_date)?;
        let issue_date = match &r.issue_date {
            Some(d) => date::from_proto("issue_date", d)?,
            None => decision_date,
        };
        if decision_date > today {
            return Err(Error::invalid(
                "decision_date",
                format!("{decision_date} is in the future; record a decision once it is signed"),
            ));
        }
        if issue_date < decision_date || issue_date > today {
            return Err(Error::invalid(
                "issue_date",
                format!("{issue_date} must be between the decision date ({decision_date}) and today ({today})"),
            ));
        }
        let level = r.issuing_level();
        if level != IssuingLevel::District && !r.district_code.is_empty() {
            return Err(Error::invalid(
                "district_code",
                "only a DISTRICT issuance names a district; leave it empty",
            ));
        }
        Ok(Asked {
            request_id,
            result,
            decision_date,
            issue_date,
            level,
            district_code: &r.district_code,
        })
    }
}

/// What the checks decided: the result as read, who issues and the names
/// the certificate carries.
struct Decided {
    result: EvaluationResult,
    level: Level,
    authority: Authority,
    names: Names,
}

/// Whether `result` may be certified by this caller here, and by whom:
/// FAILED_PRECONDITION or PERMISSION_DENIED with the rule that refuses.
async fn decide(
    svc: &Certification,
    who: &Principal,
    bearer: &Bearer,
    asked: &Asked<'_>,
    result: EvaluationResult,
    today: Date,
) -> Result<Decided> {
    issuing::require_certifiable(asked.result, &result)?;
    let round_date = result
        .decision_date
        .as_ref()
        .map(|d| date::from_proto("result.decision_date", d))
        .transpose()?
        .unwrap_or(asked.decision_date);
    if asked.decision_date < round_date {
        return Err(Error::invalid(
            "decision_date",
            format!(
                "{} is before the round's date ({round_date}); a decision follows its evaluation",
                asked.decision_date
            ),
        ));
    }
    let level = issuing::level_of(asked.level, result.level());
    // The rule first: it says more than the caller's role would.
    authority::check(
        level,
        result.recognised_stars,
        issuing::round_level_str(result.level()),
        asked.decision_date,
        svc.national,
    )?;
    require_jurisdiction(&svc.here, who, level, &result.province_code)?;
    if !svc.national {
        require_no_national_in_force(svc, &result.product, today).await?;
    }
    let authority = authority_of(
        svc,
        bearer,
        level,
        &result.province_code,
        &result.commune_code,
        asked.district_code,
        asked.decision_date,
    )
    .await?;
    let names = names(svc, bearer, &result).await?;
    Ok(Decided {
        result,
        level,
        authority,
        names,
    })
}

/// One certificate in force per product across deployments: the ministry's
/// 5 stars, mirrored here, stand until they end.
async fn require_no_national_in_force(svc: &Certification, product: &str, today: Date) -> Result<()> {
    let Some(five) = national::national_in_force(&svc.db, product, today).await? else {
        return Ok(());
    };
    let until = five
        .valid_until
        .map(|d| format!("{}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default();
    Err(Error::failed_precondition(
        "NATIONAL_CERTIFICATE_IN_FORCE",
        format!(
            "{product} holds the national 5-star certificate {} ({}) until {until}; one certificate is in force per \
             product, and the ministry's stands until it ends or is revoked",
            five.name, five.decision_reference,
        ),
    )
    .with_metadata("certificate", five.name))
}

/// What the transaction did.
enum Written {
    /// Issued this row, replacing the certificate of this code, if any.
    Issued(Box<Row>, Option<String>),
    /// Nothing: the request_id had been claimed for this certificate.
    Before(String),
}

/// The transaction: the new certificate, and the one it replaces.
async fn write(
    svc: &Certification,
    who: &Principal,
    asked: &Asked<'_>,
    decided: &Decided,
    today: Date,
) -> Result<Written> {
    let Decided {
        result,
        level,
        authority,
        names,
    } = decided;
    svc.keys.register(&svc.db).await?;
    let issuer = if svc.national {
        "TW"
    } else {
        result.province_code.as_str()
    };
    let code = store::new_code(issuer);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(name, _) = idempotency::claim(&mut tx, asked.request_id, METHOD, &store::name_of(&code)).await? {
        return Ok(Written::Before(name));
    }
    if let Some(existing) = store::certified_from(&mut tx, asked.result).await? {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "RESULT_ALREADY_CERTIFIED",
            format!("{} is already certified as certificates/{existing}", asked.result),
        ));
    }
    let current = store::lock_active(&mut tx, &result.product).await?;
    let stars = result.recognised_stars;
    let kind = issuing::kind_of(current.as_ref().map(|old| (old.state_on(today), old.stars)), stars);
    let year = asked.decision_date.year();
    let number = store::next_decision_number(&mut tx, &authority.name, year).await?;
    let decision_reference = issuing::decision_reference(number, year, *level);
    let fields = Fields {
        code: code.clone(),
        product: result.product.clone(),
        product_name: names.product.clone(),
        subject_name: names.subject.clone(),
        stars,
        authority: authority.name.clone(),
        decision_reference: decision_reference.clone(),
        issue_date: asked.issue_date.to_string(),
        valid_until: validity::valid_until(asked.issue_date).to_string(),
    };
    let (signed_fields, signature) = svc.keys.sign(&fields);

    if let Some(old) = &current {
        let (state, why) = issuing::replaced(kind, stars);
        // A new certificate follows an expired one; only a renewal or an upgrade supersedes.
        let (link, related) = match kind {
            Kind::New => (None, String::new()),
            Kind::Renewal | Kind::Upgrade => (Some(code.as_str()), store::name_of(&code)),
        };
        let old_row = store::replace(&mut tx, &old.code, state, link).await?;
        let etag_before = ocop_kit::etag::of(old.version);
        events::changed(&mut tx, svc, who, &old_row, &etag_before, state, &why, &related).await?;
    }
    let row = store::insert(
        &mut tx,
        &store::NewCertificate {
            code: &code,
            result: asked.result,
            from: result,
            names,
            level: authority::level_str(*level),
            authority,
            decision_year: year,
            decision_number: number,
            decision_reference: &decision_reference,
            decision_date: asked.decision_date,
            issue_date: asked.issue_date,
            kind,
            supersedes: current.as_ref().map(|c| c.code.as_str()),
            key_id: &svc.keys.key_id,
            signed_fields: &signed_fields,
            signature: &signature,
        },
    )
    .await?;
    let why = format!("{kind}: {decision_reference} of {}", authority.display);
    let related = current.as_ref().map(|c| store::name_of(&c.code)).unwrap_or_default();
    events::changed(&mut tx, svc, who, &row, "", "issued", &why, &related).await?;
    if let Some(old) = &current {
        // The result of its re-rating, if one was filed.
        re_rating::closed_by_issue(&mut tx, who, &old.code, &code, asked.decision_date, today).await?;
    }
    tx.commit().await?;
    Ok(Written::Issued(Box::new(row), current.map(|c| c.code)))
}

fn check_result_name(name: &str) -> Result<()> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["evaluationRounds", round, "entries", entry, "result"] if !round.is_empty() && !entry.is_empty() => Ok(()),
        _ => Err(Error::invalid(
            "result",
            format!("`{name}` is not a result name; expected `evaluationRounds/{{round}}/entries/{{entry}}/result`"),
        )),
    }
}

/// The certificate a finished request issued, if `request_id` names one;
/// FAILED_PRECONDITION `REQUEST_ID_REUSED` if another method used it.
async fn first_answer(svc: &Certification, request_id: Option<uuid::Uuid>, today: Date) -> Result<Option<Certificate>> {
    let Some(id) = request_id else { return Ok(None) };
    match store::claimed(&svc.db, id).await? {
        None => Ok(None),
        Some((method, resource)) if method == METHOD => Ok(Some(
            store::get(&svc.db, &resource).await?.to_proto(&svc.public_url, today),
        )),
        Some((method, resource)) => Err(Error::failed_precondition(
            "REQUEST_ID_REUSED",
            format!("request_id {id} was already used by {method} for {resource}; use a new UUID"),
        )),
    }
}

/// The published result, or why there is none.
async fn fetch_result(svc: &Certification, bearer: &Bearer, name: &str) -> Result<EvaluationResult> {
    let mut evaluation = svc.evaluation.clone();
    match evaluation
        .get_result(with_token(GetResultRequest { name: name.to_owned() }, bearer))
        .await
    {
        Ok(response) => response
            .into_inner()
            .result
            .ok_or_else(|| Error::internal("evaluation returned no result")),
        Err(status) if status.code() == tonic::Code::NotFound => {
            // No result: is the round there, just not published?
            let round = name.split("/entries/").next().unwrap_or_default().to_owned();
            let found = evaluation
                .get_evaluation_round(with_token(GetEvaluationRoundRequest { name: round.clone() }, bearer))
                .await;
            match found.map(|r| r.into_inner().evaluation_round.unwrap_or_default()) {
                Ok(r) if r.state() != RoundState::Published => Err(Error::failed_precondition(
                    "RESULT_NOT_PUBLISHED",
                    format!(
                        "{round} is {:?}, not published: certificates are issued from published results",
                        r.state()
                    ),
                )),
                _ => Err(Error::not_found(name).with_metadata("checked_with", "evaluation")),
            }
        }
        Err(status) => Err(EVALUATION.error(status, name, "result")),
    }
}

/// Province and district officers act in their province, on its own
/// deployment (`here`); the ministry's officers nationally.
fn require_jurisdiction(here: &Jurisdiction, who: &Principal, level: Level, province: &str) -> Result<()> {
    if level == Level::Central {
        return who.require(&[Role::NationalOfficer]);
    }
    who.require(&[Role::ProvinceOfficer])?;
    here.require_province(who, province, "the product")
}
