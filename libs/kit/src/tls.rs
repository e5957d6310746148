//! TLS for the listeners (with client certificates and reloading from disk)
//! and for outgoing channels. rustls with ring only; TLS 1.2 and 1.3.

pub mod accept;
pub mod callers;
pub mod pem;
pub mod reload;

pub use accept::{Conn, ConnInfo, Protocol, TlsListener, accept};
pub use callers::Callers;
pub use reload::ServerTls;

/// Installs ring as the process's rustls provider. Harmless when one is
/// installed already; rustls would panic when it has to pick one itself and
/// finds more than one compiled in.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The DNS and URI subject alternative names of a DER certificate.
pub fn sans(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(n) | GeneralName::URI(n) => Some((*n).to_owned()),
            _ => None,
        })
        .collect()
}
