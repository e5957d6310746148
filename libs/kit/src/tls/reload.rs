//! The listeners' TLS configuration, rebuilt when its files change on disk,
//! so a renewed certificate (a Kubernetes Secret updated in place, a file
//! replaced by certbot) is served from the next handshake, without restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;

use crate::config::{ClientAuth, TlsConfig};

/// What identifies a version of the files: modification time and length.
type Stamp = Vec<Option<(SystemTime, u64)>>;

/// The TLS side of a listener; see the module.
pub struct ServerTls {
    settings: TlsConfig,
    alpn: Vec<Vec<u8>>,
    current: Mutex<(Stamp, Arc<ServerConfig>)>,
}

impl ServerTls {
    /// Loads `settings` (which must have `cert_file`), offering `alpn`
    /// (`h2` for gRPC; `h2` and `http/1.1` for HTTP).
    pub fn new(settings: &TlsConfig, alpn: &[&[u8]]) -> anyhow::Result<Arc<ServerTls>> {
        let alpn: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
        let stamp = stamp(&files(settings));
        let config = build(settings, &alpn).map_err(|e| anyhow::anyhow!("tls: {e}"))?;
        Ok(Arc::new(ServerTls {
            settings: settings.clone(),
            alpn,
            current: Mutex::new((stamp, config)),
        }))
    }

    /// The configuration for a new handshake: rebuilt first if a file
    /// changed. A file that cannot be used (half written, say) keeps the
    /// previous configuration and is tried again at the next handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        let now = stamp(&files(&self.settings));
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != now {
            match build(&self.settings, &self.alpn) {
                Ok(config) => {
                    tracing::info!("TLS certificate files changed: reloaded");
                    metrics::counter!("ocop_tls_reloads_total", "result" => "ok").increment(1);
                    *current = (now, config);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate files changed but cannot be used; serving the previous ones");
                    metrics::counter!("ocop_tls_reloads_total", "result" => "error").increment(1);
                }
            }
        }
        current.1.clone()
    }
}

fn files(settings: &TlsConfig) -> Vec<PathBuf> {
    [&settings.cert_file, &settings.key_file, &settings.client_ca_file]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

fn build(settings: &TlsConfig, alpn: &[Vec<u8>]) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (Some(cert), Some(key)) = (&settings.cert_file, &settings.key_file) else {
        return Err("cert_file and key_file are required".into());
    };
    let chain = super::pem::certs(cert)?;
    let key = super::pem::key(key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = match (settings.client_auth, &settings.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (_, Some(ca)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in super::pem::certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("{}: unusable CA certificate: {e}", ca.display()))?;
            }
            // A certificate presented must chain to the CA, but none is
            // needed to finish the handshake, even when required: the gate
            // then refuses the calls that need one with CLIENT_CERT_REQUIRED,
            // which says what is missing (a handshake alert says little), and
            // health stays reachable to the orchestrator's probes.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: the key does not fit the certificate: {e}", cert.display()))?;
    config.alpn_protocols = alpn.to_vec();
    Ok(Arc::new(config))
}
