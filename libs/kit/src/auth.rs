//! Bearer tokens: who the caller is (role and jurisdiction), checked against
//! the deployment's public keys (a JWKS file; EdDSA or RS256), and local
//! issuance for `ocop token`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// What a caller may do, from the token's `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Commune people's committee officer: idea registrations, commune assessments.
    CommuneOfficer,
    /// Provincial OCOP office: registers, evaluates and certifies in its province.
    ProvinceOfficer,
    /// Council member: scores products in the rounds of the councils they sit on.
    CouncilMember,
    /// Ministry officer: reads every province, runs the central round.
    NationalOfficer,
    /// Another system (a service or the national deployment).
    Service,
}

impl Role {
    /// Every role, for messages and the CLI.
    pub const ALL: [Role; 5] = [
        Role::CommuneOfficer,
        Role::ProvinceOfficer,
        Role::CouncilMember,
        Role::NationalOfficer,
        Role::Service,
    ];

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CommuneOfficer => "commune_officer",
            Role::ProvinceOfficer => "province_officer",
            Role::CouncilMember => "council_member",
            Role::NationalOfficer => "national_officer",
            Role::Service => "service",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let all: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role `{s}`; expected one of {}", all.join(", "))
        })
    }
}

/// The claims of an OCOP token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer; must equal `auth.issuer`.
    pub iss: String,
    /// The person or system.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// One of [`Role`], as a string so an unknown role gets its own error.
    pub role: String,
    /// Province code (2025) of the caller's jurisdiction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Commune code (2025) of the caller's jurisdiction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commune: Option<String>,
}

/// An authenticated caller, put in each request's extensions by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub` of the token.
    pub subject: String,
    /// The role.
    pub role: Role,
    /// Province of the jurisdiction, if any.
    pub province: Option<String>,
    /// Commune of the jurisdiction, if any.
    pub commune: Option<String>,
}

impl Principal {
    /// PERMISSION_DENIED unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::permission_denied(
            "ROLE_NOT_ALLOWED",
            format!(
                "role {} may not do this; allowed: {}",
                self.role.as_str(),
                allowed.join(", ")
            ),
        )
        .with_metadata("role", self.role.as_str()))
    }

    /// Takes the principal that the server's auth layer attached to a request.
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<Principal> {
        request.extensions().get::<Principal>().cloned().ok_or_else(|| {
            Error::unauthenticated(
                "TOKEN_MISSING",
                "this method needs a bearer token in the `authorization` metadata",
            )
        })
    }
}

/// Tokens remembered as verified; past this many the memory is cleared.
const VERIFIED_CAPACITY: usize = 10_000;

/// Checks bearer tokens against the deployment's published keys.
///
/// A signature check costs tens of microseconds, more than a cached read, and
/// a caller sends the same token with every request: a verified token is
/// remembered (with its principal) until it expires.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    issuer: String,
    verified: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, (Principal, u64)>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl Verifier {
    /// Reads the JWKS file named by the config.
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Verifier> {
        let text = std::fs::read_to_string(&config.jwks_path).map_err(|e| {
            anyhow::anyhow!(
                "auth.jwks_path: cannot read {}: {e} (run `ocop keys` to create local keys)",
                config.jwks_path.display()
            )
        })?;
        Verifier::from_jwks(&text, &config.issuer)
    }

    /// Builds a verifier from JWKS JSON; only EdDSA and RS256 keys are accepted.
    pub fn from_jwks(jwks: &str, issuer: &str) -> anyhow::Result<Verifier> {
        let set: JwkSet = serde_json::from_str(jwks)?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => anyhow::bail!(
                    "JWKS key {:?}: only Ed25519 (OKP) and RSA keys are accepted",
                    jwk.common.key_id
                ),
            };
            keys.push((jwk.common.key_id.clone(), alg, DecodingKey::from_jwk(jwk)?));
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS holds no key");
        Ok(Verifier {
            keys,
            issuer: issuer.to_owned(),
            verified: Default::default(),
        })
    }

    /// Verifies a bearer token and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Principal> {
        let now = now_s();
        if let Ok(verified) = self.verified.read()
            && let Some((principal, exp)) = verified.get(token)
            && now < *exp
        {
            return Ok(principal.clone());
        }
        let (principal, exp) = self.verify_signature(token)?;
        if let Ok(mut verified) = self.verified.write() {
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(token.to_owned(), (principal.clone(), exp));
        }
        Ok(principal)
    }

    fn verify_signature(&self, token: &str) -> Result<(Principal, u64)> {
        use jsonwebtoken::errors::ErrorKind as K;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::unauthenticated("TOKEN_MALFORMED", "the bearer token is not a JWT"))?;
        let (_, alg, key) = self
            .keys
            .iter()
            .find(|(kid, alg, _)| {
                *alg == header.alg && (header.kid.is_none() || kid.as_deref() == header.kid.as_deref())
            })
            .ok_or_else(|| {
                Error::unauthenticated(
                    "TOKEN_UNKNOWN_KEY",
                    format!(
                        "the token was signed with a key this deployment does not know (kid {:?})",
                        header.kid
                    ),
                )
            })?;
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                K::ExpiredSignature => {
                    Error::unauthenticated("TOKEN_EXPIRED", "the token has expired; ask for a new one")
                }
                K::InvalidIssuer => Error::unauthenticated(
                    "TOKEN_WRONG_ISSUER",
                    format!(
                        "the token was issued for another deployment; expected issuer `{}`",
                        self.issuer
                    ),
                ),
                K::InvalidSignature => Error::unauthenticated(
                    "TOKEN_BAD_SIGNATURE",
                    "the token's signature does not match this deployment's keys",
                ),
                K::ImmatureSignature => Error::unauthenticated("TOKEN_NOT_YET_VALID", "the token is not valid yet"),
                _ => Error::unauthenticated("TOKEN_MALFORMED", format!("the token could not be read: {e}")),
            })?
            .claims;
        let exp = claims.exp;
        Ok((principal_from_claims(claims)?, exp))
    }
}

fn principal_from_claims(claims: Claims) -> Result<Principal> {
    let role: Role = claims.role.parse().map_err(|why: String| {
        Error::permission_denied("UNKNOWN_ROLE", why).with_metadata("role", claims.role.clone())
    })?;
    let needs_province = matches!(role, Role::CommuneOfficer | Role::ProvinceOfficer);
    if needs_province && claims.province.is_none() {
        return Err(Error::unauthenticated(
            "TOKEN_MISSING_JURISDICTION",
            format!("a {} token must carry a `province` claim", role.as_str()),
        ));
    }
    if role == Role::CommuneOfficer && claims.commune.is_none() {
        return Err(Error::unauthenticated(
            "TOKEN_MISSING_JURISDICTION",
            "a commune_officer token must carry a `commune` claim",
        ));
    }
    Ok(Principal {
        subject: claims.sub,
        role,
        province: claims.province,
        commune: claims.commune,
    })
}

/// Signs tokens with a local Ed25519 key (`ocop token`, tests).
pub struct Signer {
    key: EncodingKey,
    kid: String,
    issuer: String,
}

impl Signer {
    /// Loads the PKCS#8 PEM key named by the config.
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Signer> {
        let pem = std::fs::read_to_string(&config.signing_key_path).map_err(|e| {
            anyhow::anyhow!(
                "auth.signing_key_path: cannot read {}: {e} (run `ocop keys` to create local keys)",
                config.signing_key_path.display()
            )
        })?;
        Signer::from_pem(&pem, &config.issuer)
    }

    /// From a PKCS#8 PEM Ed25519 key.
    pub fn from_pem(pem: &str, issuer: &str) -> anyhow::Result<Signer> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        Ok(Signer {
            key: EncodingKey::from_ed_pem(pem.as_bytes())?,
            kid: key_id(&signing),
            issuer: issuer.to_owned(),
        })
    }

    /// A token for `subject` with `role` and jurisdiction, valid `ttl_s` seconds.
    pub fn issue(
        &self,
        subject: &str,
        role: &str,
        province: Option<&str>,
        commune: Option<&str>,
        ttl_s: i64,
    ) -> anyhow::Result<String> {
        let now = now_s();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            iat: now,
            exp: now.saturating_add_signed(ttl_s),
            role: role.to_owned(),
            province: province.map(str::to_owned),
            commune: commune.map(str::to_owned),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

/// A fresh Ed25519 key pair: the PKCS#8 PEM private key and the JWKS holding its public half.
pub fn generate_keys() -> anyhow::Result<(String, String)> {
    let signing = SigningKey::generate(&mut rand_core::OsRng);
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    Ok((pem.to_string(), jwks_for(&signing)?))
}

/// Writes `signing.pem` and `jwks.json` into `dir` unless they exist.
pub fn ensure_key_files(config: &AuthConfig) -> anyhow::Result<bool> {
    if config.signing_key_path.exists() && config.jwks_path.exists() {
        return Ok(false);
    }
    let (pem, jwks) = generate_keys()?;
    for path in [&config.signing_key_path, &config.jwks_path] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
    }
    write_private(&config.signing_key_path, &pem)?;
    std::fs::write(&config.jwks_path, jwks)?;
    Ok(true)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

fn jwks_for(signing: &SigningKey) -> anyhow::Result<String> {
    let jwk: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes()),
        "kid": key_id(signing),
        "alg": "EdDSA",
        "use": "sig",
    }))?;
    Ok(serde_json::to_string_pretty(&JwkSet { keys: vec![jwk] })?)
}

/// A short, stable key id derived from the public key.
fn key_id(signing: &SigningKey) -> String {
    let bytes = signing.verifying_key().to_bytes();
    format!("ed25519-{}", URL_SAFE_NO_PAD.encode(&bytes[..9]))
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn pair(issuer: &str) -> (Signer, Verifier) {
        let (pem, jwks) = generate_keys().unwrap();
        (
            Signer::from_pem(&pem, issuer).unwrap(),
            Verifier::from_jwks(&jwks, issuer).unwrap(),
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
        verifier
            .verified
            .write()
            .unwrap()
            .insert(token.clone(), (principal, now_s() - 120));
        assert_eq!(
            reason(verifier.verify(&token).unwrap_err()),
            (ErrorKind::Unauthenticated, "TOKEN_EXPIRED")
        );
        let fresh = signer.issue("lan", "service", None, None, 600).unwrap();
        assert!(verifier.verify(&fresh).is_ok());
        assert!(
            verifier.verified.read().unwrap().contains_key(&fresh),
            "remembered once verified"
        );
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
        let signer = Signer::from_pem(&pem, "another-province").unwrap();
        let verifier = Verifier::from_jwks(&jwks, "ocop-test").unwrap();
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
}
