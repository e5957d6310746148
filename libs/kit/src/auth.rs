//! Bearer tokens: who the caller is (role and jurisdiction), checked against
//! the deployment's public keys (a JWKS file; EdDSA or RS256), and local
//! issuance for `ocop token`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes, spki::der::pem::LineEnding};
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
    /// Audience: the deployment(s) the token is for; one must equal `auth.audience`.
    /// A single audience is written as a string, several as an array.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        serialize_with = "string_or_array",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
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

fn one_or_many<'de, D: serde::Deserializer<'de>>(de: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn string_or_array<S: serde::Serializer>(aud: &[String], ser: S) -> std::result::Result<S::Ok, S::Error> {
    match aud {
        [one] => ser.serialize_str(one),
        many => many.serialize(ser),
    }
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

/// The longest lifetime (`exp - iat`) a verifier accepts unless told otherwise.
pub const DEFAULT_MAX_LIFETIME_S: u64 = 24 * 3600;

/// Tokens remembered as verified; past this many the memory is cleared.
const VERIFIED_CAPACITY: usize = 10_000;

/// A token naming a `kid` the key set lacks makes the verifier re-read the
/// JWKS file (a key published since the last read), at most this often.
pub const JWKS_RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// The JWKS file is also re-read this often, so a key removed from it (retired)
/// stops verifying without a restart.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

type KeySet = Vec<(Option<String>, Algorithm, DecodingKey)>;

/// Where the keys come from when they can be re-read.
struct KeyFile {
    path: PathBuf,
    min_interval: Duration,
    refresh: Duration,
    /// When the file was last read and what it held. Held only while reading
    /// the file (one small read), never while verifying.
    read: Mutex<(Instant, String)>,
}

/// Checks bearer tokens against the deployment's published keys.
///
/// A signature check costs tens of microseconds, more than a cached read, and
/// a caller sends the same token with every request: a verified token is
/// remembered (with its principal) until it expires, or until the key set
/// changes.
///
/// Keys read from a file ([`Verifier::from_config`]) follow it without a
/// restart: a token with an unknown `kid` makes the verifier re-read it (at
/// most every [`JWKS_RELOAD_MIN_INTERVAL`]), and it is re-read every
/// [`JWKS_REFRESH_INTERVAL`] anyway, so a retired key stops verifying.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<RwLock<Arc<KeySet>>>,
    file: Option<Arc<KeyFile>>,
    issuer: String,
    audience: String,
    max_lifetime_s: u64,
    verified: Arc<RwLock<std::collections::HashMap<String, (Principal, u64)>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.current_keys().len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Verifier {
    /// Reads the JWKS file named by the config, and re-reads it as keys are
    /// published and retired.
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Verifier> {
        anyhow::ensure!(!config.audience.trim().is_empty(), "auth.audience must not be empty");
        let text = read_jwks(&config.jwks_path)?;
        let mut verifier = Verifier::from_jwks(&text, &config.issuer, &config.audience)
            .map_err(|e| anyhow::anyhow!("auth.jwks_path: {}: {e}", config.jwks_path.display()))?
            .with_max_lifetime_s(config.max_token_lifetime_s);
        verifier.file = Some(Arc::new(KeyFile {
            path: config.jwks_path.clone(),
            min_interval: JWKS_RELOAD_MIN_INTERVAL,
            refresh: JWKS_REFRESH_INTERVAL,
            read: Mutex::new((Instant::now(), text)),
        }));
        Ok(verifier)
    }

    /// Builds a verifier from JWKS JSON, for tokens of `issuer` meant for
    /// `audience`; only EdDSA and RS256 keys are accepted.
    pub fn from_jwks(jwks: &str, issuer: &str, audience: &str) -> anyhow::Result<Verifier> {
        Ok(Verifier {
            keys: Arc::new(RwLock::new(Arc::new(parse_jwks(jwks)?))),
            file: None,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            max_lifetime_s: DEFAULT_MAX_LIFETIME_S,
            verified: Default::default(),
        })
    }

    /// Refuses tokens whose `exp - iat` is longer than `seconds`
    /// (`auth.max_token_lifetime_s`).
    pub fn with_max_lifetime_s(mut self, seconds: u64) -> Verifier {
        self.max_lifetime_s = seconds;
        self
    }

    /// Changes how often the JWKS file is re-read: on an unknown `kid` at most
    /// every `min_interval`, and every `refresh` in any case (tests).
    pub fn with_reload_intervals(mut self, min_interval: Duration, refresh: Duration) -> Verifier {
        if let Some(file) = &self.file {
            let read = file
                .read
                .lock()
                .map(|r| r.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            self.file = Some(Arc::new(KeyFile {
                path: file.path.clone(),
                min_interval,
                refresh,
                read: Mutex::new(read),
            }));
        }
        self
    }

    /// The audience tokens must carry.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Verifies a bearer token and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Principal> {
        self.reload(false);
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

    fn current_keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the JWKS file if it is due: every `refresh`, or, for a token
    /// naming an unknown key (`unknown_kid`), once `min_interval` has passed
    /// since the last read. Returns whether the key set changed. A verification
    /// finding another one reading the file goes on with the keys it has,
    /// unless it needs the new ones (`unknown_kid`) and waits for the read.
    fn reload(&self, unknown_kid: bool) -> bool {
        let Some(file) = &self.file else { return false };
        let mut read = if unknown_kid {
            match file.read.lock() {
                Ok(read) => read,
                Err(poisoned) => poisoned.into_inner(),
            }
        } else {
            match file.read.try_lock() {
                Ok(read) => read,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return false,
            }
        };
        let due = if unknown_kid { file.min_interval } else { file.refresh };
        if read.0.elapsed() < due {
            return false;
        }
        read.0 = Instant::now();
        let parsed = read_jwks(&file.path).and_then(|text| {
            if text == read.1 {
                return Ok(None);
            }
            let keys = parse_jwks(&text)?;
            Ok(Some((text, keys)))
        });
        match parsed {
            Ok(None) => false,
            Ok(Some((text, keys))) => {
                tracing::info!(
                    path = %file.path.display(),
                    keys = keys.len(),
                    "the JWKS file changed; verifying with its keys"
                );
                read.1 = text;
                match self.keys.write() {
                    Ok(mut current) => *current = Arc::new(keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
                }
                // A remembered token may have been signed by a retired key.
                if let Ok(mut verified) = self.verified.write() {
                    verified.clear();
                }
                true
            }
            Err(e) => {
                tracing::warn!(
                    path = %file.path.display(),
                    error = %e,
                    "cannot re-read the JWKS file; the keys read before stay in use"
                );
                false
            }
        }
    }

    fn verify_signature(&self, token: &str) -> Result<(Principal, u64)> {
        use jsonwebtoken::errors::ErrorKind as K;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::unauthenticated("TOKEN_MALFORMED", "the bearer token is not a JWT"))?;
        let find = |keys: &KeySet| {
            keys.iter()
                .find(|(kid, alg, _)| {
                    *alg == header.alg && (header.kid.is_none() || kid.as_deref() == header.kid.as_deref())
                })
                .map(|(_, alg, key)| (*alg, key.clone()))
        };
        let mut keys = self.current_keys();
        let mut found = find(&keys);
        // A key published since the last read: read the file again (rate-limited).
        // Another verification may have just read it: look again either way.
        if found.is_none() && header.kid.is_some() {
            self.reload(true);
            keys = self.current_keys();
            found = find(&keys);
        }
        // Without a kid the first key of the right algorithm would be tried,
        // so which key vouches for the token would depend on the JWKS order.
        if header.kid.is_none() && keys.len() > 1 {
            return Err(Error::unauthenticated(
                "TOKEN_KID_REQUIRED",
                format!(
                    "the token's header has no `kid` and this deployment has {} keys; issue it with the `kid` of its signing key",
                    keys.len()
                ),
            ));
        }
        let (alg, key) = found.ok_or_else(|| {
            Error::unauthenticated(
                "TOKEN_UNKNOWN_KEY",
                format!(
                    "the token was signed with a key this deployment does not know (kid {:?}); a key just published is picked up within {} s",
                    header.kid,
                    self.file.as_ref().map_or(0, |f| f.min_interval.as_secs())
                ),
            )
        })?;
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_S;
        validation.validate_nbf = true;
        // Checked below, after the issuer, with reasons of its own.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
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
                K::ImmatureSignature => Error::unauthenticated(
                    "TOKEN_NOT_YET_VALID",
                    "the token is not valid yet (its `nbf` is in the future); use it later or issue one valid now",
                ),
                _ => Error::unauthenticated("TOKEN_MALFORMED", format!("the token could not be read: {e}")),
            })?
            .claims;
        check_audience(&claims, &self.audience)?;
        check_times(&claims, now_s(), self.max_lifetime_s)?;
        let exp = claims.exp;
        Ok((principal_from_claims(claims)?, exp))
    }
}

fn read_jwks(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "auth.jwks_path: cannot read {}: {e} (run `ocop keys` to create local keys)",
            path.display()
        )
    })
}

/// The keys of JWKS JSON; only EdDSA and RS256 keys are accepted.
fn parse_jwks(jwks: &str) -> anyhow::Result<KeySet> {
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
    Ok(keys)
}

/// A token must name this deployment's audience: a token issued for another
/// deployment (or for none) is refused even when its issuer and key are trusted.
fn check_audience(claims: &Claims, audience: &str) -> Result<()> {
    if claims.aud.is_empty() {
        return Err(Error::unauthenticated(
            "TOKEN_AUDIENCE_MISSING",
            format!("the token has no `aud` claim; issue it for this deployment's audience `{audience}`"),
        )
        .with_metadata("expected_audience", audience));
    }
    if !claims.aud.iter().any(|a| a == audience) {
        return Err(Error::unauthenticated(
            "TOKEN_WRONG_AUDIENCE",
            format!(
                "the token is for {} and this deployment's audience is `{audience}`; issue one for `{audience}`",
                claims
                    .aud
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_metadata("expected_audience", audience));
    }
    Ok(())
}

/// Clock difference tolerated between the issuer and this deployment.
const LEEWAY_S: u64 = 30;

/// The checks on `iat` that the JWT library does not make: a token issued in
/// the future, or meant to live longer than `max_lifetime_s`, is refused
/// (a stolen long-lived token would otherwise stay useful for years).
fn check_times(claims: &Claims, now: u64, max_lifetime_s: u64) -> Result<()> {
    if claims.iat > now + LEEWAY_S {
        return Err(Error::unauthenticated(
            "TOKEN_ISSUED_IN_FUTURE",
            format!(
                "the token's `iat` is {} s in the future; check the issuer's clock and issue a new token",
                claims.iat - now
            ),
        ));
    }
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if lifetime > max_lifetime_s {
        return Err(Error::unauthenticated(
            "TOKEN_LIFETIME_TOO_LONG",
            format!(
                "the token lives {lifetime} s (exp - iat), longer than the {max_lifetime_s} s this deployment accepts (auth.max_token_lifetime_s); issue a shorter-lived token"
            ),
        )
        .with_metadata("max_lifetime_s", max_lifetime_s.to_string()));
    }
    Ok(())
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
    audience: Option<String>,
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
        Ok(Signer::from_pem(&pem, &config.issuer)?.with_audience(&config.audience))
    }

    /// From a PKCS#8 PEM Ed25519 key.
    pub fn from_pem(pem: &str, issuer: &str) -> anyhow::Result<Signer> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        Ok(Signer {
            key: EncodingKey::from_ed_pem(pem.as_bytes())?,
            kid: key_id(&signing),
            issuer: issuer.to_owned(),
            audience: None,
        })
    }

    /// Puts `audience` in the `aud` of the tokens it signs ([`Signer::from_config`]
    /// gives the deployment's own); without one, tokens carry no `aud` and no
    /// deployment accepts them.
    pub fn with_audience(mut self, audience: &str) -> Signer {
        self.audience = Some(audience.to_owned());
        self
    }

    /// The `kid` put in the header of its tokens.
    pub fn key_id(&self) -> &str {
        &self.kid
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
            aud: self.audience.iter().cloned().collect(),
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
    Ok((private_key_pem(&signing)?, jwks_for(&signing)?))
}

/// `signing` as a PKCS#8 v1 PEM (`BEGIN PRIVATE KEY`, the private key
/// alone). `SigningKey`'s own encoding is v2, with the public key, which
/// `openssl pkey` (3.0) refuses to read; both versions are read back.
pub fn private_key_pem(signing: &SigningKey) -> anyhow::Result<String> {
    let v1 = KeypairBytes {
        secret_key: signing.to_bytes(),
        public_key: None,
    };
    let pem = v1
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    Ok(pem.to_string())
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
}
