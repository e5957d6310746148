//! Certificates made in the test, with `rcgen` (never checked in): a CA and
//! the server and client certificates it signs, written as PEM files.

use std::path::{Path, PathBuf};

use ocop_kit::config::PeerTls;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// A certificate authority for one test.
pub struct Ca {
    /// Its certificate, PEM.
    pub pem: String,
    /// Where [`Ca::new`] wrote it.
    pub file: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    dir: PathBuf,
}

/// A certificate and its key, as written to disk.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate file (PEM).
    pub cert_file: PathBuf,
    /// The private key file (PEM, PKCS#8).
    pub key_file: PathBuf,
}

impl Ca {
    /// A new CA named `name`, its certificate written to `<dir>/<name>.ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        std::fs::create_dir_all(dir).expect("certificate dir");
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signed CA");
        let file = dir.join(format!("{name}.ca.pem"));
        std::fs::write(&file, cert.pem()).expect("write CA");
        Ca {
            pem: cert.pem(),
            file,
            issuer: Issuer::new(params, key),
            dir: dir.to_owned(),
        }
    }

    /// A certificate for `sans` (DNS names or IP addresses; the first is
    /// also its common name), valid from yesterday for a year, good for
    /// servers and clients, written to `<dir>/<name>.pem` and `<name>.key`
    /// (replacing what was there: a renewal).
    pub fn issue(&self, name: &str, sans: &[&str]) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        self.issue_valid(
            name,
            sans,
            now - time::Duration::days(1),
            now + time::Duration::days(365),
        )
    }

    /// Like [`Ca::issue`], but expired since yesterday.
    pub fn issue_expired(&self, name: &str, sans: &[&str]) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        self.issue_valid(
            name,
            sans,
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        )
    }

    fn issue_valid(
        &self,
        name: &str,
        sans: &[&str],
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("leaf params");
        if let Some(first) = sans.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.not_before = not_before;
        params.not_after = not_after;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        let leaf = Leaf {
            cert_file: self.dir.join(format!("{name}.pem")),
            key_file: self.dir.join(format!("{name}.key")),
        };
        // The key first: a reader that sees the new certificate finds its key.
        write_replacing(&leaf.key_file, key.serialize_pem().as_bytes());
        write_replacing(&leaf.cert_file, cert.pem().as_bytes());
        leaf
    }

    /// Client settings that trust this CA (and present no certificate).
    pub fn trust(&self) -> PeerTls {
        PeerTls {
            ca_file: Some(self.file.clone()),
            ..PeerTls::default()
        }
    }

    /// Client settings that trust this CA and present `leaf`.
    pub fn trust_as(&self, leaf: &Leaf) -> PeerTls {
        PeerTls {
            ca_file: Some(self.file.clone()),
            cert_file: Some(leaf.cert_file.clone()),
            key_file: Some(leaf.key_file.clone()),
            ..PeerTls::default()
        }
    }
}

/// Writes `bytes` to a temporary file and renames it over `path`, as
/// certificate tools (and Kubernetes Secret updates) do: a reader never sees
/// half a file.
fn write_replacing(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write certificate file");
    std::fs::rename(&tmp, path).expect("rename certificate file");
}
