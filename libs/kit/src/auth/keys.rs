//! Signing tokens and making the key files.

use super::*;

/// Signs tokens with a local Ed25519 key (`ocop token`, tests).
pub struct Signer {
    pub(super) key: EncodingKey,
    pub(super) kid: String,
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
