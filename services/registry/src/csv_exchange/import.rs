//! Writing a checked file: its new producers and products, with their
//! audit and outbox rows, in one transaction; a repeated request gets the
//! first answer.

use ocop_kit::auth::Principal;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::ImportSubjectsProductsResponse;
use prost::Message;
use sqlx::PgPool;

use super::check::plan;
use crate::audit::{self, Created};
use crate::rules::access::require_writer;
use crate::units::Units;
use crate::{products, subjects};

/// Imports a CSV file (see the module documentation).
///
/// Every row must be a producer of `here`'s province, and of the caller's.
pub async fn import(
    db: &PgPool,
    units: &Units,
    here: &Jurisdiction,
    who: &Principal,
    csv: &[u8],
    validate_only: bool,
    request_id: &str,
) -> Result<ImportSubjectsProductsResponse> {
    require_writer(who)?;
    let request_id = idempotency::parse("request_id", request_id)?;
    let plan = plan(db, units, here, who, csv).await?;
    let mut report = ImportSubjectsProductsResponse {
        subjects_created: plan.new_subjects.len() as i32,
        subjects_unchanged: plan.unchanged_subjects as i32,
        products_created: plan.new_products.len() as i32,
        rows: plan.rows as i32,
    };
    if validate_only {
        return Ok(report);
    }
    let mut tx = db.begin().await?;
    let marker = format!("imports/{}", request_id.unwrap_or_else(uuid::Uuid::now_v7));
    if let Claim::Done(_, Some(response)) =
        idempotency::claim(&mut tx, request_id, "ImportSubjectsProducts", &marker).await?
    {
        return ImportSubjectsProductsResponse::decode(response.as_slice()).map_err(Error::internal);
    }
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    let created = subjects::store::insert_many(&mut tx, &plan.new_subjects).await?;
    let created_products = products::store::insert_many(&mut tx, &plan.new_products).await?;
    let subject_events = created
        .iter()
        .map(|r| {
            let proto = r.to_proto();
            Created {
                resource: proto.name.clone(),
                province: r.province_code.clone(),
                etag: proto.etag.clone(),
                payload: proto.encode_to_vec(),
            }
        })
        .collect();
    audit::record_created(&mut tx, who, "ImportSubjectsProducts", &request, subject_events).await?;
    let product_events = created_products
        .iter()
        .map(|r| {
            let proto = r.to_proto();
            Created {
                resource: proto.name.clone(),
                province: r.province_code.clone(),
                etag: proto.etag.clone(),
                payload: proto.encode_to_vec(),
            }
        })
        .collect();
    audit::record_created(&mut tx, who, "ImportSubjectsProducts", &request, product_events).await?;
    report.subjects_created = created.len() as i32;
    report.products_created = created_products.len() as i32;
    idempotency::store_response(&mut tx, request_id, &report.encode_to_vec()).await?;
    tx.commit().await?;
    tracing::info!(
        rows = report.rows,
        subjects = report.subjects_created,
        products = report.products_created,
        "import committed"
    );
    Ok(report)
}
