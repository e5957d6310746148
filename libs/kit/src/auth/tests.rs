use super::*;
use crate::error::ErrorKind;

const AUD: &str = "ocop:38";

fn pair(issuer: &str) -> (Signer, Verifier) {
    let (pem, jwks) = generate_keys().unwrap();
    (
        Signer::from_pem(&pem, issuer).unwrap().with_audience(AUD),
        Verifier::from_jwks(&jwks, issuer, AUD).unwrap(),
    )
}

fn reason(err: Error) -> (ErrorKind, &'static str) {
    (err.kind(), err.reason())
}

#[test]
fn valid_token_gives_the_principal() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "province_officer", Some("38"), None, 600).unwrap();
    let p = verifier.verify(&token).unwrap();
    assert_eq!(p.role, Role::ProvinceOfficer);
    assert_eq!(p.province.as_deref(), Some("38"));
    assert_eq!(p.subject, "lan");
}

#[test]
fn a_remembered_token_still_expires() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "service", None, None, -120).unwrap();
    // As if it had been verified while still valid.
    let principal = Principal {
        subject: "lan".into(),
        role: Role::Service,
        province: None,
        commune: None,
    };
    verifier.verified.insert(token.clone(), (principal, now_s() - 120));
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_EXPIRED")
    );
    let fresh = signer.issue("lan", "service", None, None, 600).unwrap();
    assert!(verifier.verify(&fresh).is_ok());
    assert!(verifier.verified.get(&fresh).is_some(), "remembered once verified");
}

#[test]
fn expired_token_is_refused() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "service", None, None, -120).unwrap();
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_EXPIRED")
    );
}

#[test]
fn token_from_another_key_is_refused() {
    let (signer, _) = pair("ocop-test");
    let (_, other) = pair("ocop-test");
    let token = signer.issue("lan", "service", None, None, 600).unwrap();
    let (kind, why) = reason(other.verify(&token).unwrap_err());
    assert_eq!(kind, ErrorKind::Unauthenticated);
    assert_eq!(why, "TOKEN_UNKNOWN_KEY");
}

#[test]
fn tampered_claims_are_refused() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "service", None, None, 600).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.replace("\"service\"", "\"national_officer\""));
    let forged = parts.join(".");
    assert_eq!(
        reason(verifier.verify(&forged).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_BAD_SIGNATURE")
    );
}

#[test]
fn wrong_issuer_is_refused() {
    let (pem, jwks) = generate_keys().unwrap();
    let signer = Signer::from_pem(&pem, "another-province").unwrap().with_audience(AUD);
    let verifier = Verifier::from_jwks(&jwks, "ocop-test", AUD).unwrap();
    let token = signer.issue("lan", "service", None, None, 600).unwrap();
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_WRONG_ISSUER")
    );
}

#[test]
fn malformed_token_is_refused() {
    let (_, verifier) = pair("ocop-test");
    assert_eq!(
        reason(verifier.verify("not-a-jwt").unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_MALFORMED")
    );
}

#[test]
fn unknown_role_is_denied() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "mayor", Some("38"), None, 600).unwrap();
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::PermissionDenied, "UNKNOWN_ROLE")
    );
}

#[test]
fn officer_without_jurisdiction_is_refused() {
    let (signer, verifier) = pair("ocop-test");
    let token = signer.issue("lan", "commune_officer", Some("38"), None, 600).unwrap();
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_MISSING_JURISDICTION")
    );
}

/// A token signed by `signer` with exactly these claims and `kid`.
fn signed(signer: &Signer, kid: Option<&str>, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &signer.key).unwrap()
}

fn claims(iat: u64, exp: u64) -> serde_json::Value {
    serde_json::json!({"iss": "ocop-test", "aud": AUD, "sub": "lan", "role": "service", "iat": iat, "exp": exp})
}

#[test]
fn token_not_valid_before_a_future_nbf_is_refused() {
    let (signer, verifier) = pair("ocop-test");
    let now = now_s();
    let mut future = claims(now, now + 3600);
    future["nbf"] = (now + 600).into();
    let token = signed(&signer, Some(&signer.kid), future);
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_NOT_YET_VALID")
    );
    // Within the clock leeway it is accepted.
    let mut near = claims(now, now + 3600);
    near["nbf"] = (now + 5).into();
    assert!(verifier.verify(&signed(&signer, Some(&signer.kid), near)).is_ok());
}

#[test]
fn token_issued_in_the_future_is_refused() {
    let (signer, verifier) = pair("ocop-test");
    let now = now_s();
    let token = signed(&signer, Some(&signer.kid), claims(now + 600, now + 3600));
    assert_eq!(
        reason(verifier.verify(&token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_ISSUED_IN_FUTURE")
    );
    let near = signed(&signer, Some(&signer.kid), claims(now + 5, now + 3600));
    assert!(verifier.verify(&near).is_ok(), "within the clock leeway");
}

#[test]
fn token_living_longer_than_the_maximum_is_refused() {
    let (signer, verifier) = pair("ocop-test");
    let now = now_s();
    let years = signed(&signer, Some(&signer.kid), claims(now, now + 3 * 365 * 86_400));
    let err = verifier.verify(&years).unwrap_err();
    assert!(err.message().contains("86400"), "{}", err.message());
    assert_eq!(reason(err), (ErrorKind::Unauthenticated, "TOKEN_LIFETIME_TOO_LONG"));
    // Back-dating iat does not help: the lifetime is exp - iat.
    let old = signed(&signer, Some(&signer.kid), claims(now - 10 * 86_400, now + 600));
    assert_eq!(
        reason(verifier.verify(&old).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_LIFETIME_TOO_LONG")
    );
    // The default ttl of `ocop token` is within the default maximum.
    let day = signer
        .issue("lan", "service", None, None, AuthConfig::default().token_ttl_s as i64)
        .unwrap();
    assert!(verifier.verify(&day).is_ok());
    // The maximum is a setting.
    let short = verifier.clone().with_max_lifetime_s(600);
    let hour = signer.issue("lan", "service", None, None, 3600).unwrap();
    assert_eq!(
        reason(short.verify(&hour).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_LIFETIME_TOO_LONG")
    );
}

#[test]
fn token_without_kid_is_refused_when_the_key_set_has_several_keys() {
    let (pem, jwks) = generate_keys().unwrap();
    let (_, other) = generate_keys().unwrap();
    let signer = Signer::from_pem(&pem, "ocop-test").unwrap().with_audience(AUD);
    // The signing key first: without a kid, it was the one tried, and the token passed.
    let mut set: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&other).unwrap();
    set["keys"].as_array_mut().unwrap().push(theirs["keys"][0].clone());
    let both = Verifier::from_jwks(&set.to_string(), "ocop-test", AUD).unwrap();
    let now = now_s();
    let bare = signed(&signer, None, claims(now, now + 600));
    let err = both.verify(&bare).unwrap_err();
    assert!(err.message().contains("kid"), "{}", err.message());
    assert_eq!(reason(err), (ErrorKind::Unauthenticated, "TOKEN_KID_REQUIRED"));
    let named = signed(&signer, Some(&signer.kid), claims(now, now + 600));
    assert!(both.verify(&named).is_ok(), "the kid picks the key");
    // With a single key there is nothing to choose between.
    let single = Verifier::from_jwks(&jwks, "ocop-test", AUD).unwrap();
    assert!(single.verify(&bare).is_ok());
}

#[test]
fn token_for_another_audience_or_none_is_refused() {
    let (pem, jwks) = generate_keys().unwrap();
    let verifier = Verifier::from_jwks(&jwks, "ocop-test", AUD).unwrap();
    let signer = |aud: Option<&str>| {
        let s = Signer::from_pem(&pem, "ocop-test").unwrap();
        match aud {
            Some(aud) => s.with_audience(aud),
            None => s,
        }
    };
    let issue = |s: Signer| s.issue("mae", "service", None, None, 600).unwrap();
    assert!(verifier.verify(&issue(signer(Some(AUD)))).is_ok());
    // Another province's token, signed by a key this deployment trusts.
    let err = verifier.verify(&issue(signer(Some("ocop:46")))).unwrap_err();
    assert!(err.message().contains("`ocop:38`"), "{}", err.message());
    assert!(err.message().contains("`ocop:46`"), "{}", err.message());
    assert_eq!(reason(err), (ErrorKind::Unauthenticated, "TOKEN_WRONG_AUDIENCE"));
    let err = verifier.verify(&issue(signer(None))).unwrap_err();
    assert!(err.message().contains("`ocop:38`"), "{}", err.message());
    assert_eq!(reason(err), (ErrorKind::Unauthenticated, "TOKEN_AUDIENCE_MISSING"));
    // `aud` as an array: one of them must be this deployment's.
    let now = now_s();
    let s = signer(None);
    let mut both = claims(now, now + 600);
    both["aud"] = serde_json::json!(["ocop:46", AUD]);
    assert!(verifier.verify(&signed(&s, Some(&s.kid), both)).is_ok());
    let mut neither = claims(now, now + 600);
    neither["aud"] = serde_json::json!(["ocop:46", "ocop:national"]);
    assert_eq!(
        reason(verifier.verify(&signed(&s, Some(&s.kid), neither)).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_WRONG_AUDIENCE")
    );
    // A signed token says which audience it is for.
    let token = issue(signer(Some(AUD)));
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["aud"], AUD);
}

/// An [`AuthConfig`] for a JWKS file in a fresh folder.
fn key_folder() -> (std::path::PathBuf, AuthConfig) {
    let dir = std::env::temp_dir().join(format!("ocop-jwks-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = AuthConfig {
        issuer: "ocop-test".into(),
        audience: AUD.into(),
        jwks_path: dir.join("jwks.json"),
        signing_key_path: dir.join("signing.pem"),
        ..AuthConfig::default()
    };
    (dir, config)
}

/// A JWKS holding the keys of every JWKS in `sets`.
fn jwks_of(sets: &[&str]) -> String {
    let keys: Vec<serde_json::Value> = sets
        .iter()
        .flat_map(|set| {
            let set: serde_json::Value = serde_json::from_str(set).unwrap();
            set["keys"].as_array().unwrap().clone()
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

#[test]
fn keys_rotate_through_the_jwks_file_without_a_restart() {
    let (dir, config) = key_folder();
    let (old_pem, old_jwks) = generate_keys().unwrap();
    let (new_pem, new_jwks) = generate_keys().unwrap();
    let old = Signer::from_pem(&old_pem, "ocop-test").unwrap().with_audience(AUD);
    let new = Signer::from_pem(&new_pem, "ocop-test").unwrap().with_audience(AUD);
    std::fs::write(&config.jwks_path, &old_jwks).unwrap();
    let verifier = Verifier::from_config(&config)
        .unwrap()
        .with_reload_intervals(Duration::ZERO, Duration::from_secs(3600));
    let old_token = old.issue("lan", "service", None, None, 600).unwrap();
    let new_token = new.issue("lan", "service", None, None, 600).unwrap();
    assert!(verifier.verify(&old_token).is_ok());
    assert_eq!(
        reason(verifier.verify(&new_token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_UNKNOWN_KEY")
    );

    // 1. The new key is published: its first token makes the verifier re-read the file.
    std::fs::write(&config.jwks_path, jwks_of(&[&old_jwks, &new_jwks])).unwrap();
    assert_eq!(verifier.verify(&new_token).unwrap().subject, "lan");
    // 2. Both keys verify while the old one's tokens run out.
    assert!(verifier.verify(&old_token).is_ok());
    assert_eq!(verifier.current_keys().len(), 2);

    // A half-written file does not lose the keys.
    std::fs::write(&config.jwks_path, "{\"keys\": [").unwrap();
    let fresh = verifier.clone().with_reload_intervals(Duration::ZERO, Duration::ZERO);
    assert!(fresh.verify(&old_token).is_ok(), "the keys read before stay");
    assert_eq!(fresh.current_keys().len(), 2);

    // 3. The old key is retired: refused after the next periodic re-read,
    // even though it was verified (and remembered) before.
    std::fs::write(&config.jwks_path, &new_jwks).unwrap();
    let refreshing = verifier.clone().with_reload_intervals(Duration::ZERO, Duration::ZERO);
    assert_eq!(
        reason(refreshing.verify(&old_token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_UNKNOWN_KEY")
    );
    assert!(refreshing.verify(&new_token).is_ok());
    // The clones share the keys: the one that did not re-read refuses it too.
    assert_eq!(
        reason(verifier.verify(&old_token).unwrap_err()),
        (ErrorKind::Unauthenticated, "TOKEN_UNKNOWN_KEY")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_kid_re_reads_the_jwks_file_at_most_once_per_interval() {
    let (dir, config) = key_folder();
    let (_, old_jwks) = generate_keys().unwrap();
    let (new_pem, new_jwks) = generate_keys().unwrap();
    let new = Signer::from_pem(&new_pem, "ocop-test").unwrap().with_audience(AUD);
    std::fs::write(&config.jwks_path, &old_jwks).unwrap();
    // The defaults: just read, so no re-read for the next few seconds.
    let verifier = Verifier::from_config(&config).unwrap();
    std::fs::write(&config.jwks_path, jwks_of(&[&old_jwks, &new_jwks])).unwrap();
    let token = new.issue("lan", "service", None, None, 600).unwrap();
    let err = verifier.verify(&token).unwrap_err();
    assert!(err.message().contains("within 5 s"), "{}", err.message());
    assert_eq!(reason(err), (ErrorKind::Unauthenticated, "TOKEN_UNKNOWN_KEY"));
    // Unknown kids from many threads at once: the file is read once, they all pass.
    let waiting = verifier.with_reload_intervals(Duration::from_millis(200), Duration::from_secs(3600));
    std::thread::sleep(Duration::from_millis(250));
    let passed = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| waiting.verify(&token).is_ok())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count()
    });
    assert_eq!(passed, 8);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_verifier_from_the_config_checks_the_configured_audience() {
    let (dir, mut config) = key_folder();
    let (pem, jwks) = generate_keys().unwrap();
    std::fs::write(&config.jwks_path, &jwks).unwrap();
    std::fs::write(&config.signing_key_path, &pem).unwrap();
    config.audience = "ocop:national".into();
    let verifier = Verifier::from_config(&config).unwrap();
    assert_eq!(verifier.audience(), "ocop:national");
    let own = Signer::from_config(&config).unwrap();
    assert!(
        verifier
            .verify(&own.issue("x", "service", None, None, 600).unwrap())
            .is_ok()
    );
    let province = Signer::from_pem(&pem, "ocop-test").unwrap().with_audience("ocop:38");
    assert_eq!(
        reason(
            verifier
                .verify(&province.issue("x", "service", None, None, 600).unwrap())
                .unwrap_err()
        ),
        (ErrorKind::Unauthenticated, "TOKEN_WRONG_AUDIENCE")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn generated_keys_are_read_by_openssl() {
    let (pem, _) = generate_keys().unwrap();
    let dir = std::env::temp_dir().join(format!("ocop-keys-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signing.pem");
    std::fs::write(&path, &pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&path)
        .output()
        .expect("openssl is installed");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "openssl pkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And the platform still reads what it wrote.
    let signer = Signer::from_pem(&pem, "ocop-test").unwrap();
    assert!(signer.issue("lan", "service", None, None, 60).is_ok());
}

#[test]
fn role_check_names_the_allowed_roles() {
    let p = Principal {
        subject: "x".into(),
        role: Role::CouncilMember,
        province: None,
        commune: None,
    };
    let err = p.require(&[Role::ProvinceOfficer, Role::NationalOfficer]).unwrap_err();
    assert_eq!(err.reason(), "ROLE_NOT_ALLOWED");
    assert!(err.message().contains("province_officer, national_officer"));
    assert!(p.require(&[Role::CouncilMember]).is_ok());
}
