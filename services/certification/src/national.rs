//! Certificates issued by another deployment: the national deployment
//! mirrors every province's (with their re-rating applications and
//! inspections), and a province mirrors the 5-star certificates the national
//! deployment issued for its products, passing them on in its own feed so
//! its catalog lists them. Both answer `VerifyCertificate` and
//! `GetCertificate` for what they mirror.
//!
//! One certificate is in force per product across deployments: a national
//! 5-star certificate supersedes the province's 3- or 4-star certificate of
//! the same product when it reaches the province ([`supersede`]), the
//! national deployment reads the province's as superseded from the moment it
//! issues (`as_seen_here`), and a province issues nothing for a product whose
//! national certificate is in force (`national_in_force`).

use std::time::Duration;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::Config;
use ocop_kit::follow::Apply;
use ocop_kit::mirror::{self, Mirror};
use ocop_kit::server::BoxFuture;
use ocop_kit::{Error, Result, date};
use ocop_proto::certification::v1::{Certificate, CertificateState, Verification, VerificationStatus};
use ocop_proto::feed::v1::Change;
use prost::Message;
use sqlx::{PgConnection, PgPool};

use crate::certificates::events::{self, Event};
use crate::certificates::store::{self, COLUMNS, ENDS, Row};
use crate::rules::validity;
use crate::service::Certification;

/// The label of a mirrored certificate.
const CERTIFICATE: &str = "certificate";

/// The label a resource of a certification feed is mirrored under:
/// certificates, their re-rating applications and their inspections.
fn label_of(resource: &str) -> Option<&'static str> {
    let rest = resource.strip_prefix("certificates/")?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [_] => Some(CERTIFICATE),
        [_, "reRating"] => Some("re_rating"),
        [_, "inspections", _] => Some("inspection"),
        _ => None,
    }
}

/// What the national deployment keeps of a province's certification feed:
/// the province's certificates and what hangs on them, not the national
/// ones it passes on.
fn province_resource(change: &Change) -> Option<&'static str> {
    if change.resource.starts_with("certificates/TW-") {
        return None;
    }
    label_of(&change.resource)
}

/// The followers of other deployments' certification feeds this deployment has.
pub fn followers(config: &Config, svc: &Certification) -> Vec<BoxFuture<'static, ()>> {
    let mut tasks = ocop_kit::mirror::follow_provinces(
        config,
        &svc.db,
        "certification",
        |p| &p.certification_url,
        |peer| Mirror::of(peer, province_resource),
    );
    tasks.extend(ocop_kit::mirror::follow_national(
        config,
        &svc.db,
        "certification",
        |n| &n.certification_url,
        |province| FromNational {
            mirror: Mirror {
                origin: "national".into(),
                // Only this province's certificates: the national feed
                // carries every province's 5 stars.
                keep: Box::new(move |change| {
                    (label_of(&change.resource)? == CERTIFICATE).then_some(())?;
                    let ours =
                        Certificate::decode(change.payload.as_slice()).is_ok_and(|c| c.province_code == province);
                    ours.then_some(CERTIFICATE)
                }),
                pass_on: true,
            },
            svc: svc.clone(),
        },
    ));
    tasks
}

/// A province's follower of the national feed: mirrors its 5-star
/// certificates and supersedes the province's own of the same product.
struct FromNational {
    mirror: Mirror,
    svc: Certification,
}

impl Apply for FromNational {
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.mirror.apply(tx, change).await?;
            if (self.mirror.keep)(change).is_none() {
                return Ok(());
            }
            let five = Certificate::decode(change.payload.as_slice()).map_err(Error::internal)?;
            if let Some(row) = supersede(tx, &self.svc, &five).await? {
                refresh_when_committed(self.svc.clone(), row.code, row.version);
            }
            Ok(())
        })
    }
}

/// Who supersedes a province's certificate for the national deployment.
fn national() -> Principal {
    Principal {
        subject: "national".into(),
        role: Role::Service,
        province: None,
        commune: None,
    }
}

/// In the follower's transaction: the province's certificate in force of
/// `five`'s product, issued no later than it, becomes SUPERSEDED by it.
pub async fn supersede(tx: &mut PgConnection, svc: &Certification, five: &Certificate) -> Result<Option<Row>> {
    let today = svc.today();
    let valid_until = five
        .valid_until
        .as_ref()
        .map(|d| date::from_proto("valid_until", d))
        .transpose()?;
    let issued = five
        .issue_date
        .as_ref()
        .map(|d| date::from_proto("issue_date", d))
        .transpose()?;
    let (Some(valid_until), Some(issued)) = (valid_until, issued) else {
        return Ok(None);
    };
    if five.state() != CertificateState::Active || five.stars != 5 || today > valid_until {
        return Ok(None);
    }
    // A replay of a 5-star certificate older than the province's current one
    // (never the case while the refusal below stands) changes nothing.
    let old: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE product = $1 AND state = 'active' AND issue_date <= $2
         AND {ENDS} > $3 FOR UPDATE"
    )))
    .bind(&five.product)
    .bind(issued)
    .bind(today)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(old) = old else { return Ok(None) };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificates SET state = 'superseded', superseded_by = $2, version = version + 1, update_time = now()
         WHERE code = $1 RETURNING {COLUMNS}"
    )))
    .bind(&old.code)
    .bind(&five.code)
    .fetch_one(&mut *tx)
    .await?;
    let why = format!(
        "superseded by the national 5-star certificate {} ({}): one certificate in force per product",
        five.code, five.decision_reference
    );
    let event = Event::new("superseded", &why)
        .related(&five.name)
        .by("FollowNationalCertificates");
    events::record(tx, svc, &national(), &row, &ocop_kit::etag::of(old.version), event).await?;
    Ok(Some(row))
}

/// Overwrites the cached verification of `code` once the transaction that
/// took it to `version` has committed (a follower commits its batch itself):
/// until then a reader may cache the old answer, which this replaces.
fn refresh_when_committed(svc: Certification, code: String, version: i64) {
    tokio::spawn(async move {
        for _ in 0..600 {
            match store::fetch(&svc.db, &code).await {
                Ok(Some(row)) if row.version >= version => {
                    events::refresh_cache(&svc, &row).await;
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        // Rolled back: the follower applies the change again, and schedules this again.
        tracing::warn!(%code, version, "a superseded certificate's cache entry was not refreshed");
    });
}

/// The national certificate in force of `product` mirrored here (on a
/// province following the national feed), if any.
pub async fn national_in_force(db: &PgPool, product: &str, today: time::Date) -> Result<Option<Certificate>> {
    // A province mirrors only its own products' 5 stars: a short scan.
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM mirrored WHERE origin = 'national' AND label = $1")
            .bind(CERTIFICATE)
            .fetch_all(db)
            .await?;
    for payload in payloads {
        let cert = Certificate::decode(payload.as_slice()).map_err(Error::internal)?;
        let until = cert
            .valid_until
            .as_ref()
            .and_then(|d| date::from_proto("valid_until", d).ok());
        if cert.product == product && cert.state() == CertificateState::Active && until.is_some_and(|u| today <= u) {
            return Ok(Some(cert));
        }
    }
    Ok(None)
}

/// A mirrored certificate as this deployment sees it: on the national
/// deployment, a province's certificate in force whose product has a
/// national 5-star certificate in force issued since reads SUPERSEDED by it
/// at once, before the province's feed says so.
pub async fn as_seen_here(svc: &Certification, mut cert: Certificate) -> Result<Certificate> {
    if !svc.national || cert.state() != CertificateState::Active || cert.stars >= 5 {
        return Ok(cert);
    }
    let Some(issued) = cert
        .issue_date
        .as_ref()
        .and_then(|d| date::from_proto("issue_date", d).ok())
    else {
        return Ok(cert);
    };
    let five: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT code FROM certificates WHERE product = $1 AND state = 'active' AND issue_date >= $2 AND {ENDS} > $3
         LIMIT 1"
    )))
    .bind(&cert.product)
    .bind(issued)
    .bind(svc.today())
    .fetch_optional(&svc.db)
    .await?;
    if let Some(code) = five {
        cert.set_state(CertificateState::Superseded);
        cert.superseded_by = store::name_of(&code);
    }
    Ok(cert)
}

/// The mirrored certificate `code`, if any, as seen here.
pub async fn find(svc: &Certification, code: &str) -> Result<Option<Certificate>> {
    match mirror::find(&svc.db, &store::name_of(code)).await? {
        Some(cert) => Ok(Some(as_seen_here(svc, cert).await?)),
        None => Ok(None),
    }
}

/// The public answer for a mirrored certificate, as its issuer last
/// described it (expiry is applied on read by the caller).
pub fn verification(c: &Certificate) -> Verification {
    let status = match c.state() {
        CertificateState::Active => VerificationStatus::Valid,
        CertificateState::Superseded => VerificationStatus::Superseded,
        CertificateState::Revoked => VerificationStatus::Revoked,
        _ => VerificationStatus::Expired,
    };
    let extended_until = c
        .extended_until
        .as_ref()
        .and_then(|d| date::from_proto("extended_until", d).ok());
    Verification {
        code: c.code.clone(),
        status: status as i32,
        stars: c.stars,
        product_name: c.product_name.clone(),
        subject_name: c.subject_name.clone(),
        province_code: c.province_code.clone(),
        province_name: c.province_name.clone(),
        issue_date: c.issue_date,
        valid_until: c.valid_until,
        decision_reference: c.decision_reference.clone(),
        authority_name: c.authority_name.clone(),
        // A code, as for this deployment's own certificates.
        superseded_by_code: c
            .superseded_by
            .strip_prefix("certificates/")
            .unwrap_or(&c.superseded_by)
            .to_owned(),
        revocation_text: c.revocation.as_ref().map(|r| r.text.clone()).unwrap_or_default(),
        extended_until: c.extended_until,
        validity_note: extended_until.map(validity::extension_note).unwrap_or_default(),
        revocation_ground: c.revocation.as_ref().map(|r| r.ground).unwrap_or_default(),
    }
}
