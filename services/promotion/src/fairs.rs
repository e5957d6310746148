//! Fairs and trade events with their booths: a booth shows only products
//! whose certificate is in the catalog.

use ocop_kit::audit;
use ocop_kit::auth::Principal;
use ocop_kit::create::Create;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::paging::{self, Page};
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::promotion::v1::{Booth, Fair};
use prost::Message;
use sqlx::{PgConnection, PgPool};

use crate::catalog::in_force;
use crate::writes::{change, require_officer};

#[derive(sqlx::FromRow)]
struct FairRow {
    id: String,
    display_name: String,
    start_date: time::Date,
    end_date: time::Date,
    place: String,
    organiser: String,
    province_code: String,
    version: i64,
    create_time: time::OffsetDateTime,
}

const FAIR_COLUMNS: &str =
    "id, display_name, start_date, end_date, place, organiser, province_code, version, create_time";

async fn fair_proto(db: &mut PgConnection, row: &FairRow) -> Result<Fair> {
    let booths: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT label, subject, subject_name, certificates FROM fair_booths WHERE fair = $1 ORDER BY label",
    )
    .bind(&row.id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Fair {
        name: format!("fairs/{}", row.id),
        display_name: row.display_name.clone(),
        start_date: Some(date::to_proto(row.start_date)),
        end_date: Some(date::to_proto(row.end_date)),
        place: row.place.clone(),
        organiser: row.organiser.clone(),
        province_code: row.province_code.clone(),
        booths: booths
            .into_iter()
            .map(|(label, subject, subject_name, codes)| Booth {
                label,
                subject,
                subject_name,
                certificates: codes.into_iter().map(|c| format!("certificates/{c}")).collect(),
            })
            .collect(),
        etag: ocop_kit::etag::of(row.version),
        create_time: Some(to_timestamp(row.create_time)),
    })
}

/// Registers a fair organised in the caller's province, on its deployment
/// (`fair.province_code`, when sent, must be that province).
pub async fn create_fair(db: &PgPool, here: &Jurisdiction, who: &Principal, fair: &Fair) -> Result<Fair> {
    require_officer(who)?;
    let province = here.require_named(who, &fair.province_code, "the fair")?;
    let mut v = Violations::default();
    for (field, value, max) in [
        ("fair.display_name", fair.display_name.trim(), 200),
        ("fair.place", fair.place.trim(), 500),
        ("fair.organiser", fair.organiser.trim(), 200),
    ] {
        if value.is_empty() || value.chars().count() > max {
            v.push(field, format!("required, up to {max} characters"));
        }
    }
    let day = |field: &str, d: &Option<ocop_proto::common::v1::Date>, v: &mut Violations| match d {
        Some(d) => date::from_proto(field, d)
            .map_err(|_| v.push(field, "not a calendar date"))
            .ok(),
        None => {
            v.push(field, "required");
            None
        }
    };
    let start = day("fair.start_date", &fair.start_date, &mut v);
    let end = day("fair.end_date", &fair.end_date, &mut v);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.push("fair.end_date", format!("{e} is before the first day, {s}"));
    }
    v.check()?;
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin().await?;
    let row: FairRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO fairs (id, display_name, start_date, end_date, place, organiser, province_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {FAIR_COLUMNS}"
    )))
    .bind(&id)
    .bind(fair.display_name.trim())
    .bind(start)
    .bind(end)
    .bind(fair.place.trim())
    .bind(fair.organiser.trim())
    .bind(&province)
    .fetch_one(&mut *tx)
    .await?;
    let proto = fair_proto(&mut tx, &row).await?;
    let create = Create {
        method: "CreateFair",
        name: &proto.name,
        request_id: None,
    };
    create.commit(tx, who, &province, &proto.etag, &proto).await?;
    Ok(proto)
}

fn fair_id(field: &str, name: &str) -> Result<String> {
    name.strip_prefix("fairs/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid(field, format!("`{name}` is not a fair name; expected `fairs/{{id}}`")))
}

/// One fair with its booths.
pub async fn get_fair(db: &PgPool, name: &str) -> Result<Fair> {
    let id = fair_id("name", name)?;
    let mut conn = db.acquire().await?;
    let row: FairRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FAIR_COLUMNS} FROM fairs WHERE id = $1"
    )))
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found(name))?;
    fair_proto(&mut conn, &row).await
}

/// Fairs, latest first.
pub async fn list_fairs(db: &PgPool, page_size: i32, page_token: &str) -> Result<(Vec<Fair>, String)> {
    let page = Page::parse(page_size, page_token, "fairs")?;
    let mut conn = db.acquire().await?;
    // Keyset: after the previous page's last fair in (start_date DESC, id).
    let mut rows: Vec<FairRow> = match page.after_key::<2>()? {
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {FAIR_COLUMNS} FROM fairs ORDER BY start_date DESC, id LIMIT $1"
            )))
            .bind(page.fetch_limit())
            .fetch_all(&mut *conn)
            .await?
        }
        Some([start, id]) => {
            let start = date::parse_iso("page_token", &start)?;
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {FAIR_COLUMNS} FROM fairs WHERE start_date < $2 OR (start_date = $2 AND id > $3)
                 ORDER BY start_date DESC, id LIMIT $1"
            )))
            .bind(page.fetch_limit())
            .bind(start)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let next = page.finish(&mut rows, |r| paging::key([&r.start_date.to_string(), &r.id]), "fairs");
    let mut fairs = Vec::new();
    for row in &rows {
        fairs.push(fair_proto(&mut conn, row).await?);
    }
    Ok((fairs, next))
}

/// Adds a producer's booth; every product shown must be certified and the producer's.
pub async fn add_booth(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    booth: &Booth,
    etag: &str,
) -> Result<Fair> {
    let province = require_officer(who)?;
    let id = fair_id("fair", name)?;
    let label = booth.label.trim();
    if label.is_empty() || label.chars().count() > 20 {
        return Err(Error::invalid(
            "booth.label",
            "required, up to 20 characters, e.g. \"A12\"",
        ));
    }
    if booth.certificates.is_empty() || booth.certificates.len() > 50 {
        return Err(Error::invalid(
            "booth.certificates",
            "1 to 50 certificates of the products shown",
        ));
    }
    let mut tx = db.begin().await?;
    let row: FairRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FAIR_COLUMNS} FROM fairs WHERE id = $1 FOR UPDATE"
    )))
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(name))?;
    here.require_province(who, &row.province_code, name)?;
    let before = ocop_kit::etag::of(row.version);
    if etag != before {
        return Err(Error::new(
            ErrorKind::Aborted,
            "STALE_ETAG",
            format!("{name} changed since you read it (etag `{etag}`, now {before}); read it again"),
        ));
    }
    let mut codes = Vec::new();
    let mut producer: Option<(String, String)> = None;
    for (i, certificate) in booth.certificates.iter().enumerate() {
        let (code, _, _, subject, subject_name, _) =
            in_force(&mut tx, &format!("booth.certificates[{i}]"), certificate).await?;
        match &producer {
            Some((s, _)) if *s != subject => {
                return Err(Error::invalid(
                    format!("booth.certificates[{i}]"),
                    format!("certificates/{code} is {subject_name}'s; a booth shows one producer's products"),
                ));
            }
            _ => producer = Some((subject, subject_name)),
        }
        codes.push(code);
    }
    let (subject, subject_name) = producer.unwrap_or_default();
    let added = sqlx::query(
        "INSERT INTO fair_booths (fair, label, subject, subject_name, certificates) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(label)
    .bind(&subject)
    .bind(&subject_name)
    .bind(&codes)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "BOOTH_TAKEN",
            format!("{name} already has a booth {label}"),
        ));
    }
    let row: FairRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE fairs SET version = version + 1 WHERE id = $1 RETURNING {FAIR_COLUMNS}"
    )))
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    let proto = fair_proto(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        who,
        change(
            "AddFairBooth",
            "updated",
            &proto.name,
            &province,
            &before,
            &proto.etag,
            proto.encode_to_vec(),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}
