//! The deployment's certificate signing key, the signed canonical fields of a
//! certificate, its QR payload, and the offline check of such a payload.
//!
//! Canonical fields (v1): UTF-8 lines joined by `\n`, no trailing newline:
//! `OCOP-CERT-1`, code, product, product name, producer name, stars,
//! authority, decision reference, issue date, valid-until date (YYYY-MM-DD).
//! No field may contain a newline (names are checked when signed).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::SigningKey as PublicKey;
use sqlx::PgPool;
use tokio::sync::OnceCell;

/// The first line of the canonical fields.
pub const MAGIC: &str = "OCOP-CERT-1";

/// The facts a QR code vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// Public code.
    pub code: String,
    /// `subjects/{s}/products/{p}`.
    pub product: String,
    /// Product name.
    pub product_name: String,
    /// Producer name.
    pub subject_name: String,
    /// 3 to 5.
    pub stars: i32,
    /// Issuing authority.
    pub authority: String,
    /// Decision reference.
    pub decision_reference: String,
    /// YYYY-MM-DD.
    pub issue_date: String,
    /// YYYY-MM-DD.
    pub valid_until: String,
}

impl Fields {
    /// The canonical bytes that are signed.
    pub fn canonical(&self) -> Vec<u8> {
        let stars = self.stars.to_string();
        let lines = [
            MAGIC,
            &self.code,
            &self.product,
            &self.product_name.replace(['\n', '\r'], " "),
            &self.subject_name.replace(['\n', '\r'], " "),
            &stars,
            &self.authority,
            &self.decision_reference,
            &self.issue_date,
            &self.valid_until,
        ];
        lines.join("\n").into_bytes()
    }

    /// Parses canonical bytes back.
    pub fn parse(bytes: &[u8]) -> Option<Fields> {
        let text = std::str::from_utf8(bytes).ok()?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [
            magic,
            code,
            product,
            product_name,
            subject_name,
            stars,
            authority,
            reference,
            issue,
            until,
        ] = lines.as_slice()
        else {
            return None;
        };
        (*magic == MAGIC).then_some(())?;
        Some(Fields {
            code: code.to_string(),
            product: product.to_string(),
            product_name: product_name.to_string(),
            subject_name: subject_name.to_string(),
            stars: stars.parse().ok()?,
            authority: authority.to_string(),
            decision_reference: reference.to_string(),
            issue_date: issue.to_string(),
            valid_until: until.to_string(),
        })
    }
}

/// This deployment's signing key.
pub struct Keys {
    signing: SigningKey,
    /// Its id, as in QR payloads.
    pub key_id: String,
    registered: OnceCell<()>,
}

impl Keys {
    /// Loads the key at `path`, creating it (and its folder) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        let signing = if path.exists() {
            let pem = std::fs::read_to_string(path)?;
            SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 PKCS#8 key: {e}", path.display()))?
        } else {
            let signing = SigningKey::generate(&mut rand_core::OsRng);
            // PKCS#8 v1, which openssl reads too (see `private_key_pem`).
            let pem = ocop_kit::auth::private_key_pem(&signing)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(path, pem.as_bytes())?;
            tracing::info!(path = %path.display(), "created the certificate signing key");
            signing
        };
        Ok(Keys {
            key_id: key_id(&signing.verifying_key()),
            signing,
            registered: OnceCell::new(),
        })
    }

    /// Signs `fields`: (canonical bytes, signature).
    pub fn sign(&self, fields: &Fields) -> (Vec<u8>, Vec<u8>) {
        let canonical = fields.canonical();
        let signature = self.signing.sign(&canonical).to_bytes().to_vec();
        (canonical, signature)
    }

    /// Records the public key as current (retiring any other) once per process.
    pub async fn register(&self, db: &PgPool) -> Result<()> {
        self.registered
            .get_or_try_init(|| async {
                let mut tx = db.begin().await?;
                // One registration at a time, across replicas.
                sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE signing_keys SET current = false, retire_time = now() WHERE current AND key_id <> $1",
                )
                .bind(&self.key_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO signing_keys (key_id, public_key, current) VALUES ($1, $2, true)
                     ON CONFLICT (key_id) DO UPDATE SET current = true, retire_time = NULL",
                )
                .bind(&self.key_id)
                .bind(self.signing.verifying_key().as_bytes().as_slice())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<(), Error>(())
            })
            .await
            .map(|_| ())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// `ed25519-` and the first 9 bytes of the public key, base64url.
fn key_id(key: &VerifyingKey) -> String {
    format!("ed25519-{}", URL_SAFE_NO_PAD.encode(&key.as_bytes()[..9]))
}

/// `GetSigningKeys`: the public keys, current first, then retired, newest
/// first, this deployment's own key registered before the answer.
pub async fn published(svc: &crate::service::Certification) -> Result<Vec<PublicKey>> {
    svc.keys.register(&svc.db).await?;
    list(&svc.db).await
}

/// The public keys, current first, then retired, newest first.
pub async fn list(db: &PgPool) -> Result<Vec<PublicKey>> {
    type KeyRow = (
        String,
        Vec<u8>,
        bool,
        time::OffsetDateTime,
        Option<time::OffsetDateTime>,
    );
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT key_id, public_key, current, create_time, retire_time FROM signing_keys
         ORDER BY current DESC, create_time DESC",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key_id, public, current, created, retired)| PublicKey {
            key_id,
            public_key: URL_SAFE_NO_PAD.encode(public),
            current,
            create_time: Some(ocop_kit::date::to_timestamp(created)),
            retire_time: retired.map(ocop_kit::date::to_timestamp),
        })
        .collect())
}

/// The QR payload of a signed certificate.
pub fn qr_payload(public_url: &str, code: &str, canonical: &[u8], signature: &[u8], key_id: &str) -> String {
    format!(
        "{public_url}/verify/{code}?d={}&s={}&k={key_id}",
        URL_SAFE_NO_PAD.encode(canonical),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Why an offline check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    /// Not a payload of this format.
    #[error("not an OCOP certificate payload: {0}")]
    Malformed(&'static str),
    /// Signed by a key not among the published ones.
    #[error("signed by key {0}, which is not among the published keys")]
    UnknownKey(String),
    /// The signature does not match the fields.
    #[error("the signature does not match: the payload was altered or not issued by this authority")]
    BadSignature,
}

/// Checks a QR payload against published keys without asking any server:
/// the fields it vouches for, if the signature holds. (Revocation needs the
/// server: VerifyCertificate.)
pub fn check_offline(payload: &str, keys: &[PublicKey]) -> std::result::Result<Fields, OfflineError> {
    let query = payload
        .split_once('?')
        .map(|(_, q)| q)
        .ok_or(OfflineError::Malformed("no query"))?;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let decode = |name: &str| {
        param(name)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or(OfflineError::Malformed("missing or undecodable d or s"))
    };
    let (data, signature) = (decode("d")?, decode("s")?);
    let key_id = param("k").ok_or(OfflineError::Malformed("no key id"))?;
    let key = keys
        .iter()
        .find(|k| k.key_id == key_id)
        .ok_or_else(|| OfflineError::UnknownKey(key_id.to_owned()))?;
    let public: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&key.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(OfflineError::Malformed("published key is not 32 bytes"))?;
    let verifying = VerifyingKey::from_bytes(&public).map_err(|_| OfflineError::Malformed("bad public key"))?;
    let signature = Signature::from_slice(&signature).map_err(|_| OfflineError::BadSignature)?;
    verifying
        .verify(&data, &signature)
        .map_err(|_| OfflineError::BadSignature)?;
    Fields::parse(&data).ok_or(OfflineError::Malformed("fields"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            code: "38-K7M9Q2XA".into(),
            product: "subjects/s1/products/p1".into(),
            product_name: "Nem chua Thanh Hóa".into(),
            subject_name: "HTX Nông nghiệp Hoằng Hóa".into(),
            stars: 4,
            authority: "administrativeUnits/2025-38".into(),
            decision_reference: "12/2026/QĐ-OCOP".into(),
            issue_date: "2026-06-01".into(),
            valid_until: "2029-05-31".into(),
        }
    }

    #[test]
    fn a_created_key_is_read_by_openssl() {
        let dir = std::env::temp_dir().join(format!("ocop-keys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("certificates.pem");
        let keys = Keys::load_or_create(&path).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&path)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl pkey: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again = Keys::load_or_create(&path).unwrap();
        assert_eq!(keys.key_id, again.key_id, "and read back");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_signed_payload_checks_offline_and_fails_when_a_byte_changes() {
        let dir = std::env::temp_dir().join(format!("ocop-keys-{}", uuid::Uuid::new_v4()));
        let keys = Keys::load_or_create(&dir.join("k.pem")).unwrap();
        let again = Keys::load_or_create(&dir.join("k.pem")).unwrap();
        assert_eq!(keys.key_id, again.key_id, "the key is kept");
        let published = vec![PublicKey {
            key_id: keys.key_id.clone(),
            public_key: URL_SAFE_NO_PAD.encode(keys.signing.verifying_key().as_bytes()),
            current: true,
            ..Default::default()
        }];
        let (canonical, signature) = keys.sign(&fields());
        let payload = qr_payload(
            "https://ocop.thanhhoa.gov.vn",
            "38-K7M9Q2XA",
            &canonical,
            &signature,
            &keys.key_id,
        );
        assert_eq!(check_offline(&payload, &published).unwrap(), fields());

        let mut altered = canonical.clone();
        let at = altered.iter().position(|&b| b == b'4').unwrap();
        altered[at] = b'5';
        let forged = qr_payload("https://x", "38-K7M9Q2XA", &altered, &signature, &keys.key_id);
        assert_eq!(check_offline(&forged, &published), Err(OfflineError::BadSignature));
        assert!(matches!(check_offline(&payload, &[]), Err(OfflineError::UnknownKey(_))));
        assert!(matches!(
            check_offline("https://x/verify/1", &published),
            Err(OfflineError::Malformed(_))
        ));
        std::fs::remove_dir_all(dir).ok();
    }
}
