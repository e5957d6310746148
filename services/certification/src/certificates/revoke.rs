//! Revoking a certificate in force (Decision 26/2026/QĐ-TTg Điều 8): on a
//! ground of Điều 8.1, resting on a conclusion (its document and date), by
//! the authority of Điều 8.2 (the province for 3 and 4 stars, the ministry for
//! 5), within the 15 days of Điều 8.4 or flagged as late. Visible to
//! verifiers at once: the cache entry is overwritten after the commit.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::{Certificate, RevocationGround, RevokeCertificateRequest};
use sqlx::types::Json;
use time::Date;

use crate::certificates::events::{self, Event};
use crate::certificates::store::{self, COLUMNS, Row, StoredRevocation};
use crate::rules::authority;
use crate::rules::grounds;
use crate::service::Certification;

/// Days from a conclusion within which the revocation is due (Điều 8.4).
pub const DUE_DAYS: i64 = 15;

/// What a revocation decides.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// The point of Điều 8.1.
    pub ground: RevocationGround,
    /// In words.
    pub text: &'a str,
    /// The revocation decision.
    pub document: &'a str,
    /// The conclusion it rests on.
    pub conclusion_document: &'a str,
    /// The conclusion's date.
    pub conclusion_date: Date,
    /// The inspection whose proposal it decides, if any.
    pub inspection: &'a str,
}

/// Revokes `r.name`.
pub async fn revoke(svc: &Certification, who: &Principal, r: &RevokeCertificateRequest) -> Result<Certificate> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let code = store::parse_name("name", &r.name)?;
    let today = svc.today();
    let mut v = Violations::default();
    if grounds::stored(r.ground()).is_none() {
        v.push("ground", grounds::EXPECTED);
    }
    let (text, document, conclusion) = (r.text.trim(), r.document.trim(), r.conclusion_document.trim());
    if text.is_empty() || text.chars().count() > 2000 {
        v.push("text", "required, up to 2,000 characters: what happened");
    }
    if document.is_empty() {
        v.push(
            "document",
            "required: the revocation decision, e.g. \"Quyết định 123/QĐ-UBND ngày 01/10/2026\"",
        );
    }
    if conclusion.is_empty() {
        v.push(
            "conclusion_document",
            "required: the competent authority's conclusion (for PRODUCTION_STOPPED the commune's confirmation)",
        );
    }
    let conclusion_date = conclusion_date(&mut v, r.conclusion_date.as_ref(), today);
    if r.etag.is_empty() {
        v.push("etag", "required: send the etag of the version you read");
    }
    v.check()?;
    let conclusion_date = conclusion_date.expect("checked with the other fields");

    let mut tx = svc.db.begin().await?;
    let current: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE code = $1 FOR UPDATE"
    )))
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?;
    // Another deployment's certificate is revoked by its issuer, not here.
    let Some(current) = current else {
        return Err(ocop_kit::mirror::missing(&mut *tx, &r.name).await);
    };
    authority::require_competent(
        &svc.here,
        who,
        current.stars,
        &current.province_code,
        &r.name,
        "Điều 8.2 of Decision 26/2026/QĐ-TTg",
    )?;
    ocop_kit::etag::check("etag", &r.etag, &r.name, current.version)?;
    require_in_force(&current, today, &r.name)?;
    if conclusion_date < current.issue_date() {
        return Err(Error::invalid(
            "conclusion_date",
            format!(
                "{conclusion_date} is before the certificate was issued ({}); a revocation rests on a conclusion about the certified product",
                current.issue_date()
            ),
        ));
    }
    let decision = Decision {
        ground: r.ground(),
        text,
        document,
        conclusion_document: conclusion,
        conclusion_date,
        inspection: "",
    };
    let row = revoke_in(&mut tx, svc, who, &current, decision, "RevokeCertificate").await?;
    tx.commit().await?;
    events::refresh_cache(svc, &row).await;
    Ok(row.to_proto(&svc.public_url, today))
}

/// FAILED_PRECONDITION (`CERTIFICATE_NOT_IN_FORCE`) unless `row` is in force on `today`.
pub fn require_in_force(row: &Row, today: Date, name: &str) -> Result<()> {
    let state = row.state_on(today);
    if state != "active" {
        return Err(Error::failed_precondition(
            "CERTIFICATE_NOT_IN_FORCE",
            format!("{name} is {state}; only a certificate in force is acted on"),
        ));
    }
    Ok(())
}

/// The conclusion's date of a request, checked into `v`: required, a real
/// day, not after `today`.
pub fn conclusion_date(v: &mut Violations, given: Option<&ocop_proto::common::v1::Date>, today: Date) -> Option<Date> {
    let Some(given) = given else {
        v.push("conclusion_date", "required: the date of the conclusion");
        return None;
    };
    match date::from_proto("conclusion_date", given) {
        Ok(day) if day > today => {
            v.push(
                "conclusion_date",
                format!("{day} is in the future; a revocation rests on a conclusion already made"),
            );
            None
        }
        Ok(day) => Some(day),
        Err(e) => {
            for violation in e.violations() {
                v.push(violation.field.clone(), violation.description.clone());
            }
            None
        }
    }
}

/// Revokes `current` (locked in `tx`, in force) as `decision` says, with its
/// history, audit and change-feed rows, for `method`. A revocation more than
/// [`DUE_DAYS`] after its conclusion is recorded, flagged on the revocation
/// and noted in the audit.
pub async fn revoke_in(
    tx: &mut sqlx::PgConnection,
    svc: &Certification,
    who: &Principal,
    current: &Row,
    decision: Decision<'_>,
    method: &'static str,
) -> Result<Row> {
    let days = (svc.today() - decision.conclusion_date).whole_days();
    let late = days > DUE_DAYS;
    let ground = grounds::stored(decision.ground).ok_or_else(|| Error::internal("a revocation without a ground"))?;
    let revocation = StoredRevocation {
        reason: store::reason_str(grounds::reason(decision.ground))
            .unwrap_or("other")
            .to_owned(),
        text: decision.text.to_owned(),
        document: decision.document.to_owned(),
        actor: who.subject.clone(),
        time: time::OffsetDateTime::now_utc(),
        ground: ground.to_owned(),
        conclusion_document: decision.conclusion_document.to_owned(),
        conclusion_date: decision.conclusion_date.to_string(),
        days_after_conclusion: i32::try_from(days).unwrap_or(i32::MAX),
        late,
        inspection: decision.inspection.to_owned(),
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificates SET state = 'revoked', revocation = $2, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {COLUMNS}"
    )))
    .bind(&current.code)
    .bind(Json(&revocation))
    .fetch_one(&mut *tx)
    .await?;
    let why = format!(
        "Điều 8.1.{}: {} ({}; on {} of {})",
        grounds::point(decision.ground),
        decision.text,
        decision.document,
        decision.conclusion_document,
        decision.conclusion_date
    );
    let note = if late {
        format!(
            "late: revoked {days} days after the conclusion of {}, where Điều 8.4 gives {DUE_DAYS}",
            decision.conclusion_date
        )
    } else {
        String::new()
    };
    let event = Event::new("revoked", &why)
        .by(method)
        .related(decision.inspection)
        .noted(&note);
    events::record(tx, svc, who, &row, &ocop_kit::etag::of(current.version), event).await?;
    Ok(row)
}
