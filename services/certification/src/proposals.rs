//! The revocation proposal a non-compliant inspection opens (Decision
//! 26/2026/QĐ-TTg Điều 8.3.a), decided by an officer of the revoking
//! authority (Điều 8.2): accepted, the certificate is revoked on the
//! proposal's ground, resting on the inspection's conclusion (and flagged
//! when that was more than 15 days before); rejected, it is closed. Both in
//! one transaction with their audit and change-feed rows.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::error::Violations;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::{Certificate, Inspection, ReviewRevocationProposalRequest};
use sqlx::types::Json;

use crate::certificates::revoke::{self, Decision};
use crate::certificates::{events, store};
use crate::inspections::{self, INSPECTION_COLUMNS, InspectionRow, StoredProposal};
use crate::re_rating::lock_certificate;
use crate::rules::{authority, grounds};
use crate::service::Certification;

/// Accepts or rejects the revocation proposal of inspection `r.name`.
pub async fn review(
    svc: &Certification,
    who: &Principal,
    r: &ReviewRevocationProposalRequest,
) -> Result<(Inspection, Option<Certificate>)> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let (code, id) = inspections::parse_name("name", &r.name)?;
    let (text, document) = (r.text.trim(), r.document.trim());
    let mut v = Violations::default();
    if text.is_empty() {
        v.push("text", "required: why the proposal is accepted or rejected");
    }
    if r.accept && document.is_empty() {
        v.push(
            "document",
            "required to accept: the revocation decision, e.g. \"Quyết định 88/QĐ-UBND ngày 02/12/2026\"",
        );
    }
    if r.etag.is_empty() {
        v.push("etag", "required: send the etag of the version you read");
    }
    v.check()?;

    let today = svc.today();
    let name = inspections::name_of(&code, &id);
    let mut tx = svc.db.begin().await?;
    let Some(current) = inspections::lock(&mut tx, &code, &id).await? else {
        return Err(ocop_kit::mirror::missing(&mut *tx, &name).await);
    };
    let cert = lock_certificate(&mut tx, &code).await?;
    let certificate = store::name_of(&code);
    authority::require_competent(
        &svc.here,
        who,
        cert.stars,
        &cert.province_code,
        &certificate,
        "Điều 8.2 of Decision 26/2026/QĐ-TTg",
    )?;
    let before = ocop_kit::etag::check("etag", &r.etag, &name, current.version)?;
    let Some(Json(proposal)) = current.proposal.clone() else {
        let why = if current.state == "open" {
            "its outcome is not recorded yet"
        } else {
            "it found every point compliant"
        };
        return Err(Error::failed_precondition(
            "NO_REVOCATION_PROPOSAL",
            format!("{name} proposes no revocation: {why}"),
        ));
    };
    if proposal.state != "proposed" {
        return Err(Error::failed_precondition(
            "PROPOSAL_ALREADY_REVIEWED",
            format!(
                "{name}'s revocation proposal was {} by {}; it is reviewed once",
                proposal.state, proposal.reviewer
            ),
        ));
    }
    if r.accept {
        revoke::require_in_force(&cert, today, &certificate)?;
    }
    let reviewed = StoredProposal {
        state: if r.accept { "accepted" } else { "rejected" }.into(),
        reviewer: who.subject.clone(),
        review_time: Some(time::OffsetDateTime::now_utc()),
        text: text.to_owned(),
        document: if r.accept { document.to_owned() } else { String::new() },
        ground: proposal.ground.clone(),
    };
    let row: InspectionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE inspections SET proposal = $3, version = version + 1, update_time = now()
         WHERE code = $1 AND id = $2 RETURNING {INSPECTION_COLUMNS}"
    )))
    .bind(&code)
    .bind(id)
    .bind(Json(&reviewed))
    .fetch_one(&mut *tx)
    .await?;
    let inspection = inspections::recorded(&mut tx, who, "ReviewRevocationProposal", &row, &before).await?;
    let revoked = if r.accept {
        let conclusion_date = current
            .conclusion_date
            .ok_or_else(|| Error::internal(format!("{name} is concluded without a conclusion date")))?;
        let decision = Decision {
            ground: grounds::of(&proposal.ground),
            text,
            document,
            conclusion_document: &current.conclusion_document,
            conclusion_date,
            inspection: &name,
        };
        Some(revoke::revoke_in(&mut tx, svc, who, &cert, decision, "ReviewRevocationProposal").await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(row) = &revoked {
        events::refresh_cache(svc, row).await;
    }
    Ok((inspection, revoked.map(|row| row.to_proto(&svc.public_url, today))))
}
