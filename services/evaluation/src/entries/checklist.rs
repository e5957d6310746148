//! The dossier checklist of an entry: each document's status, set by the
//! organisers while the round is open or scoring.

use ocop_kit::auth::Principal;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::{DocumentStatus, Entry};
use sqlx::PgPool;

use super::{COLUMNS, DOSSIER, Row, StoredItem, fetch, parse_name, record};
use crate::rounds::{self, require_organiser};

/// Sets one document's status (organisers, while OPEN or SCORING).
pub async fn update_dossier(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    document: &str,
    status: DocumentStatus,
    note: &str,
) -> Result<Entry> {
    who.require(&[
        ocop_kit::auth::Role::ProvinceOfficer,
        ocop_kit::auth::Role::NationalOfficer,
    ])?;
    let (round_id, entry_id) = parse_name("entry", name)?;
    let mut v = ocop_kit::error::Violations::default();
    if !DOSSIER.iter().any(|(d, _)| *d == document) {
        let known: Vec<&str> = DOSSIER.iter().map(|(d, _)| *d).collect();
        v.push(
            "document",
            format!("`{document}` is not a dossier document; one of {}", known.join(", ")),
        );
    }
    let status = match status {
        DocumentStatus::Unspecified => {
            v.push("status", "required: MISSING, SUBMITTED, ACCEPTED or REJECTED");
            ""
        }
        DocumentStatus::Missing => "missing",
        DocumentStatus::Submitted => "submitted",
        DocumentStatus::Accepted => "accepted",
        DocumentStatus::Rejected => "rejected",
    };
    if status == "rejected" && note.trim().is_empty() {
        v.push("note", "required when rejecting: say what is wrong with the document");
    }
    if note.chars().count() > 2000 {
        v.push("note", "at most 2,000 characters");
    }
    v.check()?;
    let round = rounds::fetch(db, &round_id).await?;
    require_organiser(here, who, &round.level, &round.province_code)?;
    if !round.state.takes_entry_changes() {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!(
                "evaluationRounds/{round_id} is {}; dossiers are checked while it is open or scoring",
                round.state
            ),
        ));
    }
    let mut tx = db.begin().await?;
    fetch(&mut *tx, &round_id, &entry_id).await?;
    let item = StoredItem {
        status: status.to_owned(),
        note: note.trim().to_owned(),
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE entries SET dossier = dossier || jsonb_build_object($3::text, $4::jsonb)
         WHERE round_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(&round_id)
    .bind(&entry_id)
    .bind(document)
    .bind(sqlx::types::Json(&item))
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    record(&mut tx, who, "UpdateDossierItem", "updated", &row, &proto, "").await?;
    tx.commit().await?;
    Ok(proto)
}
