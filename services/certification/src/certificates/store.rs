//! Certificates' SQL: the reads (one, a filtered page, the ones about to
//! expire, a certificate's history) and the writes of an issuance (the
//! decision number, the replaced certificate, the new row). The row type
//! and its proto forms are in `store/row.rs`.

mod row;

pub use row::*;

use ocop_kit::date::{self, to_timestamp};
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::CertificateEvent;
use ocop_proto::evaluation::v1::EvaluationResult;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};

use super::issuers::{Authority, Names};
use crate::rules::issuing::Kind;
use crate::rules::validity;

/// One certificate by code, if any.
pub async fn fetch<'e, E: PgExecutor<'e>>(db: E, code: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(db)
    .await?)
}

/// One certificate by name, or NOT_FOUND.
pub async fn get(db: &PgPool, name: &str) -> Result<Row> {
    let code = parse_name("name", name)?;
    fetch(db, &code).await?.ok_or_else(|| Error::not_found(name))
}

/// Filterable fields of `ListCertificates`.
pub const FILTER_FIELDS: &[&str] = &["product", "subject", "stars", "state", "province_code", "issuing_level"];

/// A page of certificates, newest first, their states as of `today`.
pub async fn list(
    db: &PgPool,
    today: time::Date,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Row>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM certificates WHERE TRUE"));
    filter.push_equal(&mut sql, &["product", "subject", "province_code"]);
    if let Some(stars) = filter.stars()? {
        sql.push(" AND stars = ").push_bind(stars);
    }
    if let Some(level) = filter.get("issuing_level") {
        if !["district", "province", "central"].contains(&level) {
            return Err(Error::invalid(
                "filter",
                format!("issuing_level `{level}` is not district, province or central"),
            ));
        }
        sql.push(" AND issuing_level = ").push_bind(level.to_owned());
    }
    if let Some(state) = filter.get("state") {
        // Read-time expiry: an `active` row past its date is expired.
        match state {
            "active" => sql
                .push(format!(" AND state = 'active' AND {ENDS} > "))
                .push_bind(today),
            "expired" => sql
                .push(format!(" AND (state = 'expired' OR (state = 'active' AND {ENDS} <= "))
                .push_bind(today)
                .push("))"),
            "superseded" | "revoked" => sql.push(" AND state = ").push_bind(state.to_owned()),
            _ => {
                return Err(Error::invalid(
                    "filter",
                    format!("state `{state}` is not active, superseded, revoked or expired"),
                ));
            }
        };
    }
    if let Some(after) = &page.after {
        let (time, code) = after
            .split_once('|')
            .and_then(|(t, c)| Some((t.parse::<i128>().ok()?, c.to_owned())))
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        let time = time::OffsetDateTime::from_unix_timestamp_nanos(time)
            .map_err(|_| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(" AND (create_time, code) < (")
            .push_bind(time)
            .push(", ")
            .push_bind(code)
            .push(")");
    }
    sql.push(" ORDER BY create_time DESC, code DESC LIMIT ")
        .push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(
        &mut rows,
        |r| format!("{}|{}", r.create_time.unix_timestamp_nanos(), r.code),
        &query_id,
    );
    Ok((rows, next))
}

/// Certificates in force whose last valid day is within `days` of `today`, soonest first.
pub async fn expiring(
    db: &PgPool,
    today: time::Date,
    days: i32,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<Row>, String)> {
    if !(0..=366).contains(&days) {
        return Err(Error::invalid(
            "within_days",
            format!("{days} is not between 1 and 366 (0 means the 30-day notice period)"),
        ));
    }
    let days = if days == 0 {
        validity::NOTICE_DAYS
    } else {
        i64::from(days)
    };
    let query_id = format!("expiring|{days}");
    let page = Page::parse(page_size, page_token, &query_id)?;
    // Valid on `today` and its last valid day no later than today + days.
    let horizon = today + time::Duration::days(days + 1);
    // An extended certificate expires at the end of its extension.
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM certificates WHERE state = 'active' AND {ENDS} > "
    ));
    sql.push_bind(today).push(format!(" AND {ENDS} <= ")).push_bind(horizon);
    if let Some(after) = &page.after {
        let (day, code) = after
            .split_once('|')
            .and_then(|(d, c)| Some((date::parse_iso("page_token", d).ok()?, c.to_owned())))
            .ok_or_else(|| Error::invalid("page_token", "damaged page token; start again without it"))?;
        sql.push(format!(" AND ({ENDS}, code) > ("))
            .push_bind(day)
            .push(", ")
            .push_bind(code)
            .push(")");
    }
    sql.push(format!(" ORDER BY {ENDS}, code LIMIT "))
        .push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut rows, |r| format!("{}|{}", r.ends(), r.code), &query_id);
    Ok((rows, next))
}

/// A certificate's history, oldest first.
pub async fn history(db: &PgPool, name: &str) -> Result<Vec<CertificateEvent>> {
    let row = get(db, name).await?;
    let rows: Vec<(String, String, String, String, String, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT kind, actor, reason, related, traceparent, event_time FROM certificate_events
         WHERE code = $1 ORDER BY sequence",
    )
    .bind(&row.code)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, actor, reason, related, traceparent, at)| CertificateEvent {
            kind,
            actor,
            reason,
            related,
            traceparent,
            event_time: Some(to_timestamp(at)),
        })
        .collect())
}

/// Appends one event to a certificate's history.
pub async fn record_event(
    tx: &mut sqlx::PgConnection,
    code: &str,
    kind: &str,
    actor: &str,
    reason: &str,
    related: &str,
) -> Result<()> {
    let traceparent = ocop_kit::telemetry::current_traceparent().unwrap_or_default();
    sqlx::query(
        "INSERT INTO certificate_events (code, kind, actor, reason, related, traceparent) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code)
    .bind(kind)
    .bind(actor)
    .bind(reason)
    .bind(related)
    .bind(traceparent)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The method and resource a request_id was claimed for, if it was.
pub async fn claimed(db: &PgPool, request_id: uuid::Uuid) -> Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT method, resource FROM request_ids WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(db)
            .await?,
    )
}

/// The code of the certificate issued from `result`, if there is one.
pub async fn certified_from(tx: &mut PgConnection, result: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT code FROM certificates WHERE result = $1")
        .bind(result)
        .fetch_optional(&mut *tx)
        .await?)
}

/// The product's certificate stored as active, locked until the transaction ends.
pub async fn lock_active(tx: &mut PgConnection, product: &str) -> Result<Option<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE product = $1 AND state = 'active' FOR UPDATE"
    )))
    .bind(product)
    .fetch_optional(&mut *tx)
    .await?)
}

/// The next number of `authority`'s decisions of `year`: 1, 2, … without gaps.
pub async fn next_decision_number(tx: &mut PgConnection, authority: &str, year: i32) -> Result<i32> {
    Ok(sqlx::query_scalar(
        "INSERT INTO decision_counters (authority, year, last_number) VALUES ($1, $2, 1)
         ON CONFLICT (authority, year) DO UPDATE SET last_number = decision_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(authority)
    .bind(year)
    .fetch_one(&mut *tx)
    .await?)
}

/// Ends the certificate `code` as `state` (`superseded` by `by`, or
/// `expired`), returning it as it is now. `superseded_by`'s foreign key is
/// checked at commit, once the new row exists.
pub async fn replace(tx: &mut PgConnection, code: &str, state: &str, by: Option<&str>) -> Result<Row> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificates SET state = $2, superseded_by = $3, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {COLUMNS}"
    )))
    .bind(code)
    .bind(state)
    .bind(by)
    .fetch_one(&mut *tx)
    .await?)
}

/// What a new certificate's row holds besides what the database sets.
pub struct NewCertificate<'a> {
    /// Its code.
    pub code: &'a str,
    /// The result's name.
    pub result: &'a str,
    /// The result it certifies (product, producer, places, stars).
    pub from: &'a EvaluationResult,
    /// The names it carries.
    pub names: &'a Names,
    /// `district`, `province` or `central`.
    pub level: &'static str,
    /// Who issues.
    pub authority: &'a Authority,
    /// The decision's year and number in it, and its reference.
    pub decision_year: i32,
    /// The decision's number in its year.
    pub decision_number: i32,
    /// `{number}/{year}/{office}-OCOP`.
    pub decision_reference: &'a str,
    /// The decision's date.
    pub decision_date: time::Date,
    /// The first day of validity.
    pub issue_date: time::Date,
    /// New, renewal or upgrade.
    pub kind: Kind,
    /// The certificate it replaces, if any.
    pub supersedes: Option<&'a str>,
    /// The signing key's id.
    pub key_id: &'a str,
    /// The canonical fields signed.
    pub signed_fields: &'a [u8],
    /// Their signature.
    pub signature: &'a [u8],
}

/// Inserts a new active certificate.
pub async fn insert(tx: &mut PgConnection, c: &NewCertificate<'_>) -> Result<Row> {
    let r = c.from;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO certificates (code, result, product, subject, product_name, subject_name, province_code,
            province_name, commune_code, group_code, stars, issuing_level, authority, authority_name, decision_year,
            decision_number, decision_reference, decision_date, issue_date, expire_date, state, kind, supersedes,
            key_id, signed_fields, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 'active',
            $21, $22, $23, $24, $25)
         RETURNING {COLUMNS}"
    )))
    .bind(c.code)
    .bind(c.result)
    .bind(&r.product)
    .bind(&r.subject)
    .bind(&c.names.product)
    .bind(&c.names.subject)
    .bind(&r.province_code)
    .bind(&c.names.province)
    .bind(&r.commune_code)
    .bind(&r.group_code)
    .bind(r.recognised_stars)
    .bind(c.level)
    .bind(&c.authority.name)
    .bind(&c.authority.display)
    .bind(c.decision_year)
    .bind(c.decision_number)
    .bind(c.decision_reference)
    .bind(c.decision_date)
    .bind(c.issue_date)
    .bind(validity::expire_date(c.issue_date))
    .bind(c.kind.as_str())
    .bind(c.supersedes)
    .bind(c.key_id)
    .bind(c.signed_fields)
    .bind(c.signature)
    .fetch_one(&mut *tx)
    .await?)
}

/// `{issuer}-` and 8 random Crockford base32 characters (40 bits).
pub fn new_code(issuer: &str) -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
    let mut tail = [0u8; 8];
    for c in tail.iter_mut() {
        *c = ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    format!("{issuer}-{}", String::from_utf8_lossy(&tail))
}
