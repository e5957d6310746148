//! Public verification of a code: rate-limited per client address, served
//! from Redis when warm. The cache holds the verification as stored (VALID
//! for a certificate in force); expiry is applied on every read against
//! today's date, and every change overwrites the entry after it commits, so
//! neither an expiry nor a revocation waits for the cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ocop_kit::date::{self, today_vn};
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::certification::v1::{Verification, VerificationStatus};

use crate::events::cache_key;
use crate::grpc::Certification;
use crate::{federation, store};

/// Verifies `code` for a client at `client`.
pub async fn verify(svc: &Certification, code: &str, client: Option<IpAddr>) -> Result<Verification> {
    if let Some(ip) = client {
        svc.limiter.check(ip)?;
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
        VerificationStatus::Unknown if svc.mirrors => match federation::find(&svc.db, &code).await? {
            Some(mirrored) => federation::verification(&mirrored),
            None => own,
        },
        _ => own,
    };
    if verification.status() == VerificationStatus::Valid {
        let until = verification
            .valid_until
            .as_ref()
            .and_then(|d| date::from_proto("valid_until", d).ok());
        if until.is_none_or(|until| today_vn() > until) {
            verification.set_status(VerificationStatus::Expired);
        }
    }
    Ok(verification)
}

/// A token bucket per client address, in this process: `per_second`
/// sustained, `burst` at once. (Each replica counts its own clients.)
pub struct Limiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Past this many tracked addresses, full buckets are forgotten.
const TRACKED: usize = 100_000;

impl Limiter {
    /// A limiter refilling `per_second` tokens up to `burst`.
    pub fn new(per_second: u32, burst: u32) -> Limiter {
        Limiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`, or RESOURCE_EXHAUSTED with when to retry.
    pub fn check(&self, client: IpAddr) -> Result<()> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= TRACKED {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - *tokens) / self.per_second);
        Err(Error::new(
            ErrorKind::ResourceExhausted,
            "VERIFY_RATE_LIMITED",
            format!(
                "too many verifications from {client}: {} a second are allowed; retry in {} ms",
                self.per_second,
                wait.as_millis().max(1)
            ),
        )
        .with_retry_after(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = Limiter::new(1, 3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            limiter.check(a).unwrap();
        }
        let err = limiter.check(a).unwrap_err();
        assert_eq!(err.reason(), "VERIFY_RATE_LIMITED");
        limiter.check(b).expect("another address has its own bucket");
    }
}
