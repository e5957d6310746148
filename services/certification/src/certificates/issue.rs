//! Issuing a certificate from a published result: the result comes from the
//! evaluation service and the names from the registry, both over gRPC with
//! the caller's token; the authority rules are in `authority.rs`, the
//! issuing authority and the names in `issuers.rs`. In one
//! transaction: the decision number, the certificate it replaces, the new
//! certificate signed, its history, audit and change-feed rows.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::client::{Bearer, Remote, with_token};
use ocop_kit::date;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::certification::v1::{Certificate, IssueCertificateRequest, IssuingLevel};
use ocop_proto::evaluation::v1::{
    EvaluationResult, GetEvaluationRoundRequest, GetResultRequest, RoundLevel, RoundState,
};

use crate::authority::{self, Level};
use crate::grpc::Certification;
use crate::issuers::{authority_of, names};
use crate::keys::Fields;
use crate::store::{self, COLUMNS, Row};
use crate::{events, federation, re_rating, validity};

const EVALUATION: Remote = Remote {
    service: "evaluation",
    refused: "EVALUATION_REFUSED",
    unavailable: "EVALUATION_UNAVAILABLE",
};

/// Issues a certificate from `request.result`.
pub async fn issue(
    svc: &Certification,
    who: &Principal,
    bearer: &Bearer,
    r: &IssueCertificateRequest,
) -> Result<Certificate> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let request_id = idempotency::parse("request_id", &r.request_id)?;
    let result_name = r.result.trim();
    check_result_name(result_name)?;
    let decision_date = match &r.decision_date {
        Some(d) => date::from_proto("decision_date", d)?,
        None => {
            return Err(Error::invalid(
                "decision_date",
                "required: the date of the issuing decision",
            ));
        }
    };
    let issue_date = match &r.issue_date {
        Some(d) => date::from_proto("issue_date", d)?,
        None => decision_date,
    };
    let today = svc.today();
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
    if r.issuing_level() != IssuingLevel::District && !r.district_code.is_empty() {
        return Err(Error::invalid(
            "district_code",
            "only a DISTRICT issuance names a district; leave it empty",
        ));
    }
    // A retry of a finished request answers as the first time did.
    if let Some(first) = first_answer(svc, request_id, today).await? {
        return Ok(first);
    }

    let result = fetch_result(svc, bearer, result_name).await?;
    // Decision 26/2026 Điều 7.4, last paragraph: below 90 at the centre, the
    // province's chairman may certify the 3 or 4 stars the central council's
    // result gives (`province_stars`) as on a provincial result of its own.
    let result = if r.issuing_level() == IssuingLevel::Province
        && result.level() == RoundLevel::Central
        && result.province_stars >= 3
    {
        EvaluationResult {
            recognised_stars: result.province_stars,
            certifiable: true,
            level: RoundLevel::Province as i32,
            ..result
        }
    } else {
        result
    };
    if !result.certifiable || result.recognised_stars < 3 {
        let why = if result.reasons.is_empty() {
            format!(
                "it recognises {} stars; only 3 to 5 are certified",
                result.recognised_stars
            )
        } else {
            result.reasons.join("; ")
        };
        return Err(Error::failed_precondition(
            "NOT_CERTIFIABLE",
            format!("{result_name} cannot be certified: {why}"),
        ));
    }
    let round_date = result
        .decision_date
        .as_ref()
        .map(|d| date::from_proto("result.decision_date", d))
        .transpose()?
        .unwrap_or(decision_date);
    if decision_date < round_date {
        return Err(Error::invalid(
            "decision_date",
            format!("{decision_date} is before the round's date ({round_date}); a decision follows its evaluation"),
        ));
    }
    let level = match (r.issuing_level(), result.level()) {
        (IssuingLevel::District, _) => Level::District,
        (IssuingLevel::Province, _) => Level::Province,
        (IssuingLevel::Central, _) | (IssuingLevel::Unspecified, RoundLevel::Central) => Level::Central,
        (IssuingLevel::Unspecified, _) => Level::Province,
    };
    let national = svc.national;
    let result_level = match result.level() {
        RoundLevel::District => "district",
        RoundLevel::Province => "province",
        RoundLevel::Central => "central",
        _ => "commune_assessment",
    };
    // The rule first: it says more than the caller's role would.
    authority::check(level, result.recognised_stars, result_level, decision_date, national)?;
    require_jurisdiction(&svc.here, who, level, &result.province_code)?;
    // One certificate in force per product across deployments: the
    // ministry's 5 stars, mirrored here, stand until they end.
    if !national && let Some(five) = federation::national_in_force(&svc.db, &result.product, today).await? {
        return Err(Error::failed_precondition(
            "NATIONAL_CERTIFICATE_IN_FORCE",
            format!(
                "{} holds the national 5-star certificate {} ({}) until {}; one certificate is in force per product, \
                 and the ministry's stands until it ends or is revoked",
                result.product,
                five.name,
                five.decision_reference,
                five.valid_until
                    .map(|d| format!("{}-{:02}-{:02}", d.year, d.month, d.day))
                    .unwrap_or_default()
            ),
        )
        .with_metadata("certificate", five.name));
    }
    let authority = authority_of(
        svc,
        bearer,
        level,
        &result.province_code,
        &result.commune_code,
        &r.district_code,
        decision_date,
    )
    .await?;
    let (product_name, subject_name, province_name) = names(svc, bearer, &result).await?;
    svc.keys.register(&svc.db).await?;

    let issuer = if national { "TW" } else { result.province_code.as_str() };
    let code = new_code(issuer);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(resource, _) =
        idempotency::claim(&mut tx, request_id, "IssueCertificate", &store::name_of(&code)).await?
    {
        drop(tx);
        let row = store::get(&svc.db, &resource).await?;
        return Ok(row.to_proto(&svc.public_url, today));
    }
    let already: Option<String> = sqlx::query_scalar("SELECT code FROM certificates WHERE result = $1")
        .bind(result_name)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(existing) = already {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "RESULT_ALREADY_CERTIFIED",
            format!("{result_name} is already certified as certificates/{existing}"),
        ));
    }
    let current: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE product = $1 AND state = 'active' FOR UPDATE"
    )))
    .bind(&result.product)
    .fetch_optional(&mut *tx)
    .await?;
    // An expired certificate is simply followed by a new one; one in force is
    // upgraded (more stars) or renewed (a re-evaluation before expiry).
    let kind = match &current {
        Some(old) if old.state_on(today) == "active" && result.recognised_stars > old.stars => "upgrade",
        Some(old) if old.state_on(today) == "active" => "renewal",
        _ => "new",
    };
    let year = decision_date.year();
    let number: i32 = sqlx::query_scalar(
        "INSERT INTO decision_counters (authority, year, last_number) VALUES ($1, $2, 1)
         ON CONFLICT (authority, year) DO UPDATE SET last_number = decision_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(&authority.name)
    .bind(year)
    .fetch_one(&mut *tx)
    .await?;
    let office = if level == Level::Central {
        "QĐ-BNNMT"
    } else {
        "QĐ-UBND"
    };
    let decision_reference = format!("{number}/{year}/{office}-OCOP");
    let fields = Fields {
        code: code.clone(),
        product: result.product.clone(),
        product_name: product_name.clone(),
        subject_name: subject_name.clone(),
        stars: result.recognised_stars,
        authority: authority.name.clone(),
        decision_reference: decision_reference.clone(),
        issue_date: issue_date.to_string(),
        valid_until: validity::valid_until(issue_date).to_string(),
    };
    let (signed_fields, signature) = svc.keys.sign(&fields);

    if let Some(old) = &current {
        let (state, link): (&'static str, _) = if kind == "new" {
            ("expired", None)
        } else {
            ("superseded", Some(code.as_str()))
        };
        // superseded_by's foreign key is checked at commit, once the new row exists.
        let old_row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE certificates SET state = $2, superseded_by = $3, version = version + 1, update_time = now()
             WHERE code = $1 RETURNING {COLUMNS}"
        )))
        .bind(&old.code)
        .bind(state)
        .bind(link)
        .fetch_one(&mut *tx)
        .await?;
        let why = match kind {
            "upgrade" => format!("upgraded to {} stars", result.recognised_stars),
            "renewal" => "renewed by a re-evaluation".to_owned(),
            _ => "expired before a new certificate was issued".to_owned(),
        };
        let related = if kind == "new" {
            String::new()
        } else {
            store::name_of(&code)
        };
        events::changed(
            &mut tx,
            svc,
            who,
            &old_row,
            &format!("v{}", old.version),
            state,
            &why,
            &related,
        )
        .await?;
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO certificates (code, result, product, subject, product_name, subject_name, province_code,
            province_name, commune_code, group_code, stars, issuing_level, authority, authority_name, decision_year,
            decision_number, decision_reference, decision_date, issue_date, expire_date, state, kind, supersedes,
            key_id, signed_fields, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 'active',
            $21, $22, $23, $24, $25)
         RETURNING {COLUMNS}"
    )))
    .bind(&code)
    .bind(result_name)
    .bind(&result.product)
    .bind(&result.subject)
    .bind(&product_name)
    .bind(&subject_name)
    .bind(&result.province_code)
    .bind(&province_name)
    .bind(&result.commune_code)
    .bind(&result.group_code)
    .bind(result.recognised_stars)
    .bind(authority::level_str(level))
    .bind(&authority.name)
    .bind(&authority.display)
    .bind(year)
    .bind(number)
    .bind(&decision_reference)
    .bind(decision_date)
    .bind(issue_date)
    .bind(validity::expire_date(issue_date))
    .bind(kind)
    .bind(current.as_ref().map(|c| c.code.clone()))
    .bind(&svc.keys.key_id)
    .bind(&signed_fields)
    .bind(&signature)
    .fetch_one(&mut *tx)
    .await?;
    let why = format!("{kind}: {decision_reference} of {}", authority.display);
    let related = current.as_ref().map(|c| store::name_of(&c.code)).unwrap_or_default();
    events::changed(&mut tx, svc, who, &row, "", "issued", &why, &related).await?;
    if let Some(old) = &current {
        // The result of its re-rating, if one was filed.
        re_rating::closed_by_issue(&mut tx, who, &old.code, &code, decision_date, today).await?;
    }
    tx.commit().await?;

    events::refresh_cache(svc, &row).await;
    if let Some(old) = &current
        && let Some(old_row) = store::fetch(&svc.db, &old.code).await?
    {
        events::refresh_cache(svc, &old_row).await;
    }
    Ok(row.to_proto(&svc.public_url, today))
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

async fn first_answer(
    svc: &Certification,
    request_id: Option<uuid::Uuid>,
    today: time::Date,
) -> Result<Option<Certificate>> {
    let Some(id) = request_id else { return Ok(None) };
    let first: Option<(String, String)> =
        sqlx::query_as("SELECT method, resource FROM request_ids WHERE request_id = $1")
            .bind(id)
            .fetch_optional(&svc.db)
            .await?;
    match first {
        None => Ok(None),
        Some((method, resource)) if method == "IssueCertificate" => Ok(Some(
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

/// `{issuer}-` and 8 random Crockford base32 characters (40 bits).
fn new_code(issuer: &str) -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
    let mut tail = [0u8; 8];
    for c in tail.iter_mut() {
        *c = store::ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    format!("{issuer}-{}", String::from_utf8_lossy(&tail))
}
