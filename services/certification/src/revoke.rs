//! Revoking a certificate in force: with a reason, its words and the deciding
//! document. Visible to verifiers at once: the cache entry is overwritten
//! after the commit.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::date::today_vn;
use ocop_kit::error::Violations;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::certification::v1::{Certificate, RevokeCertificateRequest};
use sqlx::types::Json;

use crate::events;
use crate::grpc::Certification;
use crate::store::{self, COLUMNS, Row, StoredRevocation};

/// Revokes `r.name`.
pub async fn revoke(svc: &Certification, who: &Principal, r: &RevokeCertificateRequest) -> Result<Certificate> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let code = store::parse_name("name", &r.name)?;
    let mut v = Violations::default();
    let reason = store::reason_str(r.reason());
    if reason.is_none() {
        v.push(
            "reason",
            "required: FAILED_MANDATORY_CRITERIA, QUALITY_OR_FOOD_SAFETY_VIOLATION, FACILITY_SUSPENDED, PRODUCER_REQUEST or OTHER",
        );
    }
    let (text, document) = (r.text.trim(), r.document.trim());
    if text.is_empty() || text.chars().count() > 2000 {
        v.push("text", "required, up to 2,000 characters: what happened");
    }
    if document.is_empty() || document.chars().count() > 300 {
        v.push(
            "document",
            "required, up to 300 characters: the deciding document, e.g. \"Quyết định 123/QĐ-UBND ngày 01/03/2027\"",
        );
    }
    if r.etag.is_empty() {
        v.push("etag", "required: send the etag of the version you read");
    }
    v.check()?;

    let today = today_vn();
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
    require_issuer(who, &current)?;
    let before = format!("v{}", current.version);
    if r.etag != before {
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!(
                "{} changed since you read it (etag `{}`, now {before}); read it again",
                r.name, r.etag
            ),
        ));
    }
    let state = current.state_on(today);
    if state != "active" {
        return Err(Error::failed_precondition(
            "CERTIFICATE_NOT_IN_FORCE",
            format!("{} is {state}; only a certificate in force is revoked", r.name),
        ));
    }
    let revocation = StoredRevocation {
        reason: reason.unwrap_or("other").to_owned(),
        text: text.to_owned(),
        document: document.to_owned(),
        actor: who.subject.clone(),
        time: time::OffsetDateTime::now_utc(),
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificates SET state = 'revoked', revocation = $2, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {COLUMNS}"
    )))
    .bind(&code)
    .bind(Json(&revocation))
    .fetch_one(&mut *tx)
    .await?;
    let why = format!("{}: {text} ({document})", revocation.reason);
    events::changed(&mut tx, svc, who, &row, &before, "revoked", &why, "").await?;
    tx.commit().await?;
    events::refresh_cache(svc, &row).await;
    Ok(row.to_proto(&svc.public_url, today))
}

/// The issuing level's officers: the ministry's for central certificates, the
/// province's own for the others.
fn require_issuer(who: &Principal, row: &Row) -> Result<()> {
    if row.issuing_level == "central" {
        return who.require(&[Role::NationalOfficer]);
    }
    who.require(&[Role::ProvinceOfficer])?;
    if who.province.as_deref() != Some(row.province_code.as_str()) {
        return Err(Error::permission_denied(
            "OUTSIDE_JURISDICTION",
            format!(
                "certificates/{} belongs to province {}; your token is for {}",
                row.code,
                row.province_code,
                who.province.as_deref().unwrap_or("no province")
            ),
        ));
    }
    Ok(())
}
