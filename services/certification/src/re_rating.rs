//! Re-rating after the 36 months (Decision 26/2026/QĐ-TTg Điều 7.6): the
//! certification side keeps the dossier's filing, `certificates/{code}/reRating`,
//! because the window is the certificate's: from 180 to 120 days before its
//! last valid day, today in Vietnam (`validity::filing`). Outside it the
//! filing is refused with the window's dates, except a late filing under the
//! transition (Điều 12.3), which extends the certificate until the result, at
//! most 180 days past its last valid day. The evaluation round that re-rates
//! the product reads the application; the product's next certificate closes
//! it (`closed_by_issue`), and `RecordReRatingOutcome` closes it otherwise.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::names;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::certification::v1::{
    CreateReRatingApplicationRequest, ReRatingApplication, ReRatingState, RecordReRatingOutcomeRequest,
};
use prost::Message;
use time::{Date, Duration};

use crate::certificates::events::{self, Event};
use crate::certificates::revoke;
use crate::certificates::store::{self, COLUMNS, Row};
use crate::rules::authority;
use crate::rules::validity::{self, Filing, RE_RATING_DAYS};
use crate::service::Certification;

/// The rule, as refusals cite it.
const ARTICLE: &str = "Điều 7.6 of Decision 26/2026/QĐ-TTg";

/// A row of `re_ratings`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReRow {
    code: String,
    product: String,
    province_code: String,
    state: String,
    dossier_reference: String,
    filed_date: Date,
    window_start: Date,
    window_end: Date,
    transition: bool,
    extended_until: Option<Date>,
    decide_by: Date,
    result_certificate: Option<String>,
    outcome_date: Option<Date>,
    text: String,
    actor: String,
    version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

const RE_COLUMNS: &str = "code, product, province_code, state, dossier_reference, filed_date, window_start,
    window_end, transition, extended_until, decide_by, result_certificate, outcome_date, text, actor, version,
    create_time, update_time";

/// The application's name for certificate `code`.
pub fn name_of(code: &str) -> String {
    format!("certificates/{code}/reRating")
}

/// The certificate code of `certificates/{code}/reRating`.
fn parse_name(name: &str) -> Result<String> {
    const FORM: &str = "certificates/{code}/reRating";
    let what = "a re-rating application";
    let [code] = names::parse("name", name, FORM, what)?;
    store::normalize_code(code).ok_or_else(|| names::invalid("name", name, FORM, what))
}

fn state_of(state: &str) -> ReRatingState {
    match state {
        "filed" => ReRatingState::Filed,
        "re_certified" => ReRatingState::ReCertified,
        "not_re_certified" => ReRatingState::NotReCertified,
        _ => ReRatingState::Withdrawn,
    }
}

impl ReRow {
    /// The proto form as of `today`.
    pub fn to_proto(&self, today: Date) -> ReRatingApplication {
        ReRatingApplication {
            name: name_of(&self.code),
            certificate: store::name_of(&self.code),
            product: self.product.clone(),
            province_code: self.province_code.clone(),
            state: state_of(&self.state) as i32,
            dossier_reference: self.dossier_reference.clone(),
            filed_date: Some(date::to_proto(self.filed_date)),
            window_start: Some(date::to_proto(self.window_start)),
            window_end: Some(date::to_proto(self.window_end)),
            transition: self.transition,
            extended_until: self.extended_until.map(date::to_proto),
            decide_by: Some(date::to_proto(self.decide_by)),
            overdue: self.state == "filed" && today > self.decide_by,
            result_certificate: self
                .result_certificate
                .as_deref()
                .map(store::name_of)
                .unwrap_or_default(),
            outcome_date: self.outcome_date.map(date::to_proto),
            text: self.text.clone(),
            actor: self.actor.clone(),
            etag: ocop_kit::etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// Locks certificate `code` in `tx`: this deployment's own, or the refusal
/// (a mirrored one is its issuer's to act on, or NOT_FOUND).
pub async fn lock_certificate(tx: &mut sqlx::PgConnection, code: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE code = $1 FOR UPDATE"
    )))
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) => Ok(row),
        None => Err(ocop_kit::mirror::missing(&mut *tx, &store::name_of(code)).await),
    }
}

/// Files the re-rating dossier of `r.parent`.
pub async fn create(
    svc: &Certification,
    who: &Principal,
    r: &CreateReRatingApplicationRequest,
) -> Result<ReRatingApplication> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let code = store::parse_name("parent", &r.parent)?;
    let dossier = r.dossier_reference.trim();
    if dossier.is_empty() {
        return Err(Error::invalid(
            "dossier_reference",
            "required: the dossier as received, e.g. \"Tờ trình 12/TTr-UBND ngày 01/12/2026\"",
        ));
    }
    let today = svc.today();
    let name = name_of(&code);
    let mut tx = svc.db.begin().await?;
    let cert = lock_certificate(&mut tx, &code).await?;
    authority::require_competent(&svc.here, who, cert.stars, &cert.province_code, &r.parent, ARTICLE)?;
    revoke::require_in_force(&cert, today, &r.parent)?;
    let filed: Option<(String, Date)> = sqlx::query_as("SELECT state, filed_date FROM re_ratings WHERE code = $1")
        .bind(&code)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some((state, day)) = filed {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "RE_RATING_ALREADY_FILED",
            format!("{name} was filed on {day} and is {state}; a certificate is re-rated once"),
        ));
    }
    let valid_until = cert.valid_until();
    let window = validity::re_rating_window(valid_until);
    let extended_until = match validity::filing(valid_until, today) {
        Filing::BeforeTheWindowRule | Filing::InWindow => None,
        Filing::Transition { extended_until } => Some(extended_until),
        outside => {
            let (reason, when) = if outside == Filing::TooEarly {
                ("RE_RATING_WINDOW_NOT_OPEN", "opens")
            } else {
                ("RE_RATING_WINDOW_CLOSED", "closed")
            };
            return Err(Error::failed_precondition(
                reason,
                format!(
                    "{} is valid through {valid_until}: its re-rating dossier is filed from {} to {} \
                     (180 to 120 days before, {ARTICLE}), and today is {today}; the window {when} on {}",
                    r.parent,
                    window.start,
                    window.end,
                    if when == "opens" { window.start } else { window.end }
                ),
            )
            .with_metadata("window_start", window.start.to_string())
            .with_metadata("window_end", window.end.to_string()));
        }
    };
    let row: ReRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO re_ratings (code, product, province_code, state, dossier_reference, filed_date, window_start,
             window_end, transition, extended_until, decide_by, actor)
         VALUES ($1, $2, $3, 'filed', $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING {RE_COLUMNS}"
    )))
    .bind(&code)
    .bind(&cert.product)
    .bind(&cert.province_code)
    .bind(dossier)
    .bind(today)
    .bind(window.start)
    .bind(window.end)
    .bind(extended_until.is_some())
    .bind(extended_until)
    .bind(today + Duration::days(RE_RATING_DAYS))
    .bind(&who.subject)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto(today);
    let payload = proto.encode_to_vec();
    events::resource(
        &mut tx,
        who,
        "CreateReRatingApplication",
        "created",
        &name,
        &cert.province_code,
        "",
        &proto.etag,
        payload,
    )
    .await?;
    let extended = match extended_until {
        Some(until) => Some(set_extension(&mut tx, svc, who, &cert, Some(until), &name, "extended").await?),
        None => None,
    };
    tx.commit().await?;
    if let Some(cert) = extended {
        events::refresh_cache(svc, &cert).await;
    }
    Ok(proto)
}

/// Sets the certificate's extension to `until` (none: back to its 36
/// months), recording `kind` (`extended`, `extension_ended`).
async fn set_extension(
    tx: &mut sqlx::PgConnection,
    svc: &Certification,
    who: &Principal,
    cert: &Row,
    until: Option<Date>,
    application: &str,
    kind: &'static str,
) -> Result<Row> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificates SET extended_until = $2, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {COLUMNS}"
    )))
    .bind(&cert.code)
    .bind(until)
    .fetch_one(&mut *tx)
    .await?;
    let why = match until {
        Some(until) if kind == "extended" => {
            format!("re-rating filed after its window under Điều 12.3: valid until the result, at most through {until}")
        }
        Some(until) => format!("the re-rating's result: valid through {until}"),
        None => format!(
            "the re-rating's result came within its 36 months: valid through {}",
            cert.valid_until()
        ),
    };
    let event = Event::new(kind, &why).related(application);
    events::record(tx, svc, who, &row, &ocop_kit::etag::of(cert.version), event).await?;
    Ok(row)
}

/// The application `name`: this deployment's, or one mirrored here.
pub async fn get(svc: &Certification, name: &str) -> Result<ReRatingApplication> {
    let code = parse_name(name)?;
    let row: Option<ReRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RE_COLUMNS} FROM re_ratings WHERE code = $1"
    )))
    .bind(&code)
    .fetch_optional(&svc.db)
    .await?;
    match row {
        Some(row) => Ok(row.to_proto(svc.today())),
        None => ocop_kit::mirror::find(&svc.db, &name_of(&code))
            .await?
            .ok_or_else(|| Error::not_found(name_of(&code))),
    }
}

/// Closes a FILED application without a new certificate.
pub async fn record_outcome(
    svc: &Certification,
    who: &Principal,
    r: &RecordReRatingOutcomeRequest,
) -> Result<ReRatingApplication> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let code = parse_name(&r.name)?;
    let today = svc.today();
    let mut v = Violations::default();
    let outcome = match r.outcome() {
        ReRatingState::NotReCertified => "not_re_certified",
        ReRatingState::Withdrawn => "withdrawn",
        _ => {
            v.push(
                "outcome",
                "required: NOT_RE_CERTIFIED or WITHDRAWN (a new certificate closes it as RE_CERTIFIED)",
            );
            ""
        }
    };
    let outcome_date = match r.outcome_date.as_ref().map(|d| date::from_proto("outcome_date", d)) {
        None => {
            v.push("outcome_date", "required: the day of the result or the withdrawal");
            None
        }
        Some(Ok(day)) if day > today => {
            v.push(
                "outcome_date",
                format!("{day} is in the future; record a result once it is made"),
            );
            None
        }
        Some(Ok(day)) => Some(day),
        Some(Err(e)) => {
            v.push(
                "outcome_date",
                e.violations()
                    .first()
                    .map(|f| f.description.clone())
                    .unwrap_or_default(),
            );
            None
        }
    };
    let text = r.text.trim();
    if text.is_empty() {
        v.push("text", "required: why it ended without a new certificate");
    }
    if r.etag.is_empty() {
        v.push("etag", "required: send the etag of the version you read");
    }
    v.check()?;
    let outcome_date = outcome_date.expect("checked with the other fields");

    let name = name_of(&code);
    let mut tx = svc.db.begin().await?;
    // The certificate first, as issuing locks it before its application.
    let cert: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE code = $1 FOR UPDATE"
    )))
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?;
    let current: Option<ReRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RE_COLUMNS} FROM re_ratings WHERE code = $1 FOR UPDATE"
    )))
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?;
    let (Some(cert), Some(current)) = (cert, current) else {
        return Err(ocop_kit::mirror::missing(&mut *tx, &name).await);
    };
    authority::require_competent(&svc.here, who, cert.stars, &cert.province_code, &name, ARTICLE)?;
    let before = ocop_kit::etag::check("etag", &r.etag, &name, current.version)?;
    if current.state != "filed" {
        return Err(Error::failed_precondition(
            "RE_RATING_CLOSED",
            format!("{name} is {}; only a FILED application is closed", current.state),
        ));
    }
    if outcome_date < current.filed_date {
        return Err(Error::invalid(
            "outcome_date",
            format!("{outcome_date} is before the filing ({})", current.filed_date),
        ));
    }
    let row: ReRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE re_ratings SET state = $2, outcome_date = $3, text = $4, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {RE_COLUMNS}"
    )))
    .bind(&code)
    .bind(outcome)
    .bind(outcome_date)
    .bind(text)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto(today);
    events::resource(
        &mut tx,
        who,
        "RecordReRatingOutcome",
        "updated",
        &name,
        &cert.province_code,
        &before,
        &proto.etag,
        proto.encode_to_vec(),
    )
    .await?;
    // The extension lasts until the result: through the day before it, and
    // never shorter than the 36 months (Điều 12.1).
    let ended = if cert.extended_until.is_some() && cert.state == "active" {
        let last = outcome_date.previous_day().filter(|d| *d >= cert.expire_date);
        Some(set_extension(&mut tx, svc, who, &cert, last, &name, "extension_ended").await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(cert) = ended {
        events::refresh_cache(svc, &cert).await;
    }
    Ok(proto)
}

/// In the issuing transaction of the product's next certificate `new_code`,
/// decided on `decided`: the FILED application of the certificate it
/// follows (`old_code`) is RE_CERTIFIED.
pub async fn closed_by_issue(
    tx: &mut sqlx::PgConnection,
    who: &Principal,
    old_code: &str,
    new_code: &str,
    decided: Date,
    today: Date,
) -> Result<()> {
    let row: Option<ReRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE re_ratings SET state = 're_certified', result_certificate = $2, outcome_date = GREATEST($3, filed_date),
             version = version + 1, update_time = now()
         WHERE code = $1 AND state = 'filed' RETURNING {RE_COLUMNS}"
    )))
    .bind(old_code)
    .bind(new_code)
    .bind(decided)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let proto = row.to_proto(today);
    events::resource(
        tx,
        who,
        "IssueCertificate",
        "updated",
        &proto.name,
        &row.province_code,
        &ocop_kit::etag::of(row.version - 1),
        &proto.etag,
        proto.encode_to_vec(),
    )
    .await
}
