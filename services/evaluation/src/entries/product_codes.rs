//! The product code every 26/2026 sheet prints in its header,
//! "Mã số sản phẩm (T)-(X)-(STT)-20..": T the province and X the commune
//! (codes of Decision 19/2025), STT the product's number in the commune's
//! list ("Số thứ tự sản phẩm do xã lập thống kê"), then the year of
//! evaluation. E.g. `38-14758-001-2026`.
//!
//! A product gets its code when it first enters a 26/2026 round in a year
//! (so the sheets its council scores carry it), and keeps it for that year's
//! other rounds (the central round after the province's). Numbers run from 1
//! per commune and year without gaps or duplicates: the counter row of the
//! commune and year is taken in the transaction that creates the entry, so
//! concurrent entries of one commune queue on it, and an entry that is
//! refused afterwards rolls its number back. A CENTRAL entry takes the code
//! of the provincial result that nominated it (`for_central`): the ministry
//! numbers no commune's list.

use ocop_kit::{ErrorKind, Result};
use ocop_proto::evaluation::v1::EvaluationResult;
use sqlx::PgConnection;

/// What identifies a product's code.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// `subjects/{s}/products/{p}`.
    pub product: &'a str,
    /// Its province (T).
    pub province: &'a str,
    /// Its commune (X).
    pub commune: &'a str,
    /// The year of evaluation.
    pub year: i32,
}

/// The printed form.
pub fn format(province: &str, commune: &str, seq: i32, year: i32) -> String {
    format!("{province}-{commune}-{seq:03}-{year}")
}

/// The product's code for the year, assigned now if it has none. Call
/// inside the transaction that creates the entry.
pub async fn assign(tx: &mut PgConnection, owner: Owner<'_>) -> Result<String> {
    // One product at a time: two rounds of one year entering the same
    // product together must not both number it.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('evaluation.product_codes'), hashtext($1 || '/' || $2::text))")
        .bind(owner.product)
        .bind(owner.year)
        .execute(&mut *tx)
        .await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT code FROM product_codes WHERE product = $1 AND year = $2")
            .bind(owner.product)
            .bind(owner.year)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(code) = existing {
        return Ok(code);
    }
    let seq: i32 = sqlx::query_scalar(
        "INSERT INTO product_code_counters (commune_code, year, last) VALUES ($1, $2, 1)
         ON CONFLICT (commune_code, year) DO UPDATE SET last = product_code_counters.last + 1
         RETURNING last",
    )
    .bind(owner.commune)
    .bind(owner.year)
    .fetch_one(&mut *tx)
    .await?;
    let code = format(owner.province, owner.commune, seq, owner.year);
    sqlx::query(
        "INSERT INTO product_codes (product, year, province_code, commune_code, seq, code) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(owner.product)
    .bind(owner.year)
    .bind(owner.province)
    .bind(owner.commune)
    .bind(seq)
    .bind(&code)
    .execute(&mut *tx)
    .await?;
    Ok(code)
}

/// The code a central entry of `product` carries: its nomination's (the
/// provincial result it comes from, here or mirrored on the national
/// deployment), else the latest this deployment gave it. The ministry
/// numbers no commune's list.
pub async fn for_central(db: &sqlx::PgPool, national: bool, product: &str, nomination: &str) -> Result<String> {
    if !nomination.is_empty() {
        let result = match crate::publish::get(db, nomination).await {
            Err(e) if e.kind() == ErrorKind::NotFound && national => {
                ocop_kit::mirror::find::<EvaluationResult>(db, nomination)
                    .await?
                    .ok_or(e)
            }
            found => found,
        }?;
        if !result.product_code.is_empty() {
            return Ok(result.product_code);
        }
    }
    let own: Option<String> =
        sqlx::query_scalar("SELECT code FROM product_codes WHERE product = $1 ORDER BY year DESC LIMIT 1")
            .bind(product)
            .fetch_optional(db)
            .await?;
    Ok(own.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_code_reads_as_the_sheet_prints_it() {
        assert_eq!(super::format("38", "14758", 7, 2026), "38-14758-007-2026");
        assert_eq!(super::format("01", "00004", 1234, 2027), "01-00004-1234-2027");
    }
}
