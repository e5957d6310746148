//! Rotating the certificate signing key (Điều 8's QR codes stay verifiable):
//! a service started with a new key signs with it and retires the old one,
//! and a QR code signed before still verifies, online and offline against
//! the published retired key.

use crate::support::world;

use ocop_certification::keys::{self, OfflineError};
use ocop_proto::certification::v1::*;
use ocop_testkit::flows::RoundPlan;
use world::*;

#[tokio::test]
async fn a_new_key_signs_and_codes_signed_before_still_verify() {
    let mut w = world().await;
    let first = w.product("Nem chua Thanh Hóa").await;
    let second = w.product("Chè lam Phủ Quảng").await;
    let results = w.results(&[&first, &second], RoundPlan::province_2026(1, 4)).await;
    let before = w
        .issue(issue_request(&results[0].name, day(2026, 6, 15)))
        .await
        .unwrap();

    // The operator puts a new key in place and restarts the service.
    let old_key_path = w.env.config.certification.signing_key_path.clone();
    w.env.config.certification.signing_key_path = old_key_path.with_file_name("certificates-2027.pem");
    let (_rotated, mut certification) = w.another(ocop_certification::routes).await;
    let after = certification
        .issue_certificate(ocop_testkit::authorized(
            issue_request(&results[1].name, day(2026, 6, 16)),
            &w.officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_ne!(after.key_id, before.key_id, "the new key signs");

    let published = certification
        .get_signing_keys(GetSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(published.len(), 2, "{published:?}");
    let current = published.iter().find(|k| k.current).expect("a current key");
    let retired = published.iter().find(|k| !k.current).expect("a retired key");
    assert_eq!(current.key_id, after.key_id);
    assert_eq!(retired.key_id, before.key_id);
    assert!(retired.retire_time.is_some() && current.retire_time.is_none());
    assert_eq!(published[0].key_id, current.key_id, "current first");

    // Offline, each code against the published keys; the old one needs the retired key.
    for cert in [&before, &after] {
        let fields = keys::check_offline(&cert.qr_payload, &published).unwrap();
        assert_eq!(fields.code, cert.code);
    }
    let only_current = vec![current.clone()];
    assert_eq!(
        keys::check_offline(&before.qr_payload, &only_current).unwrap_err(),
        OfflineError::UnknownKey(before.key_id.clone())
    );

    // Online, the certificate signed by the retired key is still in force.
    let verification = certification
        .verify_certificate(VerifyCertificateRequest {
            code: before.code.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert_eq!(verification.status(), VerificationStatus::Valid, "{verification:?}");
}
