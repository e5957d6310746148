//! Checking tokens: the key set (re-read for rotations), the claims, the caller.

use super::*;
use crate::bounded::Bounded;

/// The longest lifetime (`exp - iat`) a verifier accepts unless told otherwise.
pub const DEFAULT_MAX_LIFETIME_S: u64 = 24 * 3600;

/// Tokens remembered as verified; past this many the oldest are forgotten.
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
    pub(super) verified: Arc<Bounded<String, (Principal, u64)>>,
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
            verified: Arc::new(Bounded::new(VERIFIED_CAPACITY)),
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
        if let Some((principal, exp)) = self.verified.get(token)
            && now < exp
        {
            return Ok(principal);
        }
        let (principal, exp) = self.verify_signature(token)?;
        self.verified.insert(token.to_owned(), (principal.clone(), exp));
        Ok(principal)
    }

    pub(super) fn current_keys(&self) -> Arc<KeySet> {
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
                self.verified.clear();
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
