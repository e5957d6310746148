//! Public verification of a code: rate-limited per client address (the
//! `verify` budget, shared by every replica through Redis; see
//! [`ocop_kit::ratelimit`]), served
//! from Redis when warm. The cache holds the verification as stored (VALID
//! for a certificate in force); expiry is applied on every read against
//! today's date (the end of an extension under Điều 12.3 when there is one),
//! and every change overwrites the entry after it commits, so neither an
//! expiry nor a revocation waits for the cache.

use std::net::IpAddr;

use ocop_kit::date;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::{Verification, VerificationStatus};

use crate::certificates::events::cache_key;
use crate::certificates::store;
use crate::national;
use crate::service::Certification;

/// Verifies `code` for a client at `client`.
pub async fn verify(svc: &Certification, code: &str, client: Option<IpAddr>) -> Result<Verification> {
    if let Some(ip) = client {
        svc.limiter.check(&svc.verify_limit, ip).await?;
    }
    let Some(code) = store::normalize_code(code) else {
        return Err(Error::invalid(
            "code",
            format!(
                "`{}` is not a certificate code; it looks like 38-K7M9Q2XA (province or TW, a dash, 8 letters and digits)",
                code.trim()
            ),
        ));
    };
    let db = svc.db.clone();
    let key = code.clone();
    let own = svc
        .cache
        .get_or_load(&cache_key(&code), || async move {
            Ok(match store::fetch(&db, &key).await? {
                Some(row) => row.to_verification(),
                None => Verification {
                    code: key,
                    status: VerificationStatus::Unknown as i32,
                    ..Default::default()
                },
            })
        })
        .await?;
    // Another deployment's certificate is read from its mirrored row, never
    // cached: only its issuer's feed changes it, and nothing here would
    // overwrite a cached answer when it does.
    let mut verification = match own.status() {
        VerificationStatus::Unknown if svc.mirrors => match national::find(svc, &code).await? {
            Some(mirrored) => national::verification(&mirrored),
            None => own,
        },
        _ => own,
    };
    if verification.status() == VerificationStatus::Valid {
        let until = verification
            .extended_until
            .as_ref()
            .or(verification.valid_until.as_ref())
            .and_then(|d| date::from_proto("valid_until", d).ok());
        if until.is_none_or(|until| svc.today() > until) {
            verification.set_status(VerificationStatus::Expired);
        }
    }
    if verification.status() != VerificationStatus::Valid {
        // It says "still valid until the result": only while it is.
        verification.validity_note.clear();
    }
    Ok(verification)
}
