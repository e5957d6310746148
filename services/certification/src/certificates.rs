//! Certificates, the service's main resource: reading one (this
//! deployment's, or another's mirrored here), listing, what expires soon and
//! a certificate's history. Issuing and revoking are steps of their own
//! (`issue.rs`, `revoke.rs`); the SQL and the row type are in `store.rs`,
//! and what every change writes besides the row in `events.rs`.

pub mod events;
pub mod issue;
mod issuers;
pub mod revoke;
pub mod store;

use ocop_kit::{ErrorKind, Result};
use ocop_proto::certification::v1::{Certificate, CertificateEvent};

use crate::national;
use crate::service::Certification;

/// `GetCertificate`: one certificate by name, as of today. A name unknown
/// here may be another deployment's, mirrored (national, or a province
/// following the ministry's feed).
pub async fn get(svc: &Certification, name: &str) -> Result<Certificate> {
    match store::get(&svc.db, name).await {
        Ok(row) => Ok(row.to_proto(&svc.public_url, svc.today())),
        Err(e) if e.kind() == ErrorKind::NotFound => match ocop_kit::mirror::find(&svc.db, name).await? {
            Some(mirrored) => national::as_seen_here(svc, mirrored).await,
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// `ListCertificates`: a page of this deployment's certificates, newest
/// first, their states as of today.
pub async fn list(
    svc: &Certification,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Certificate>, String)> {
    let today = svc.today();
    let (rows, next) = store::list(&svc.db, today, page_size, page_token, filter).await?;
    Ok((
        rows.iter().map(|row| row.to_proto(&svc.public_url, today)).collect(),
        next,
    ))
}

/// `ListExpiringCertificates`: those in force whose last valid day is
/// within `within_days` of today (0: the 30-day notice period), soonest first.
pub async fn expiring(
    svc: &Certification,
    within_days: i32,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<Certificate>, String)> {
    let today = svc.today();
    let (rows, next) = store::expiring(&svc.db, today, within_days, page_size, page_token).await?;
    Ok((
        rows.iter().map(|row| row.to_proto(&svc.public_url, today)).collect(),
        next,
    ))
}

/// `GetCertificateHistory`: every step of a certificate, oldest first.
pub async fn history(svc: &Certification, name: &str) -> Result<Vec<CertificateEvent>> {
    store::history(&svc.db, name).await
}
