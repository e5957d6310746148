//! Certificates issued by another deployment: the national deployment
//! mirrors every province's, and a province mirrors the 5-star certificates
//! the national deployment issued for its products, passing them on in its
//! own feed so its catalog lists them. Both answer `VerifyCertificate` and
//! `GetCertificate` for what they mirror.

use ocop_kit::Result;
use ocop_kit::config::Config;
use ocop_kit::follow::{Follower, with_token_file};
use ocop_kit::mirror::{self, Mirror};
use ocop_kit::server::BoxFuture;
use ocop_proto::certification::v1::{Certificate, CertificateState, Verification, VerificationStatus};
use ocop_proto::feed::v1::Change;
use prost::Message;
use sqlx::PgPool;

/// The label of a mirrored certificate.
const CERTIFICATE: &str = "certificate";

fn certificate(change: &Change) -> Option<&'static str> {
    change.resource.starts_with("certificates/").then_some(CERTIFICATE)
}

/// What the national deployment keeps of a province's certification feed:
/// the province's certificates, not the national ones it passes on.
fn province_certificate(change: &Change) -> Option<&'static str> {
    if change.resource.starts_with("certificates/TW-") {
        return None;
    }
    certificate(change)
}

/// The followers of other deployments' certification feeds this deployment has.
pub fn followers(config: &Config, db: &PgPool) -> Vec<BoxFuture<'static, ()>> {
    let mut tasks = ocop_kit::mirror::follow_provinces(
        config,
        db,
        "certification",
        |p| &p.certification_url,
        |peer| Mirror::of(peer, province_certificate),
    );
    if let (Some(national), Some(province)) = (&config.federation.national, &config.deployment.province_code) {
        let province = province.clone();
        let follower = Follower {
            source: national.source("certification"),
            connect: with_token_file(national.certification_url.clone(), national.token_path.clone()),
            db: db.clone(),
            apply: Mirror {
                origin: "national".into(),
                // Only this province's: the national feed carries every province's 5 stars.
                keep: Box::new(move |change| {
                    certificate(change)?;
                    let ours =
                        Certificate::decode(change.payload.as_slice()).is_ok_and(|c| c.province_code == province);
                    ours.then_some(CERTIFICATE)
                }),
                pass_on: true,
            },
        };
        tasks.push(Box::pin(follower.run()));
    }
    tasks
}

/// The mirrored certificate `code`, if any.
pub async fn find(db: &PgPool, code: &str) -> Result<Option<Certificate>> {
    mirror::find(db, &format!("certificates/{code}")).await
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
        superseded_by_code: c.superseded_by.clone(),
        revocation_text: c.revocation.as_ref().map(|r| r.text.clone()).unwrap_or_default(),
    }
}
