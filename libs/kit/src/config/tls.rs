//! TLS settings: `[tls]` for this deployment's listeners, and a `tls` table
//! for every peer it dials (`services.<name>.tls`, `federation.*.tls`).
//!
//! Validation refuses what would send tokens in clear without the operator
//! saying so: an `http://` URL to a host other than loopback needs
//! `allow_plaintext = true` on that peer, and an `https://` URL whose files
//! cannot be used is refused before any connection is tried.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether the listeners ask callers for a client certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A client certificate is asked for; without one, public methods and
    /// callers not listed in `[[tls.callers]]` still get in.
    Optional,
    /// Every method that needs a token also needs a client certificate
    /// signed by `client_ca_file` (refused `CLIENT_CERT_REQUIRED` without
    /// one); health and reflection stay reachable, for probes.
    Required,
}

/// `[tls]`: TLS on this deployment's gRPC and HTTP listeners.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first); unset: the listeners speak plaintext.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
    /// `none`, `optional` or `required`.
    pub client_auth: ClientAuth,
    /// Which certificate identity (SAN) may carry which token subject.
    pub callers: Vec<Caller>,
}

impl TlsConfig {
    /// Whether the listeners speak TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }
}

/// A caller known by its client certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Caller {
    /// A DNS or URI subject alternative name of its certificate.
    pub san: String,
    /// The `sub` its tokens carry; a token of another subject on that
    /// certificate is refused.
    pub subject: String,
}

/// How to reach one peer: verification of its server certificate, this
/// deployment's client identity towards it, or plaintext.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerTls {
    /// PEM CA certificates the peer's certificate must chain to; unset: the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate presented to the peer (mutual TLS).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name the peer's certificate must carry; unset: the URL's host.
    pub server_name: Option<String>,
    /// Allows an `http://` URL to a host other than loopback (tokens then
    /// cross the network in clear: only inside a trusted network).
    pub allow_plaintext: bool,
}

/// The host of an `http(s)://host[:port][/...]` URL, without brackets.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a PEM file of certificates cannot be used, if it cannot.
pub(crate) fn check_certs(path: &Path) -> Result<(), String> {
    crate::tls::pem::certs(path).map(|_| ())
}

/// Why a PEM private key file cannot be used, if it cannot.
pub(crate) fn check_key(path: &Path) -> Result<(), String> {
    crate::tls::pem::key(path).map(|_| ())
}

impl PeerTls {
    /// Pushes `(key, why)` for each broken rule of the peer at `key` (its
    /// URL field is `url_key`, its table `<key>.tls`).
    pub(super) fn check(&self, url_key: &str, url: &str, key: &str, bad: &mut dyn FnMut(&str, String)) {
        let tls = format!("{key}.tls");
        let files = self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some();
        if url.starts_with("http://") {
            if files {
                bad(
                    &tls,
                    format!("has TLS files but {url_key} is \"{url}\": use https:// (plaintext would be silent)"),
                );
            }
            let host = url_host(url).unwrap_or("");
            if !is_loopback(host) && !self.allow_plaintext {
                bad(
                    url_key,
                    format!(
                        "\"{url}\" is plaintext to {host}, off this machine: use https:// or set {tls}.allow_plaintext = true"
                    ),
                );
            }
            return;
        }
        if !url.starts_with("https://") {
            return; // the URL's own check reports it
        }
        if let Some(ca) = &self.ca_file
            && let Err(why) = check_certs(ca)
        {
            bad(&format!("{tls}.ca_file"), why);
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(k)) => {
                if let Err(why) = check_certs(cert) {
                    bad(&format!("{tls}.cert_file"), why);
                }
                if let Err(why) = check_key(k) {
                    bad(&format!("{tls}.key_file"), why);
                }
            }
            (Some(_), None) => bad(&format!("{tls}.key_file"), "required with cert_file".into()),
            (None, Some(_)) => bad(&format!("{tls}.cert_file"), "required with key_file".into()),
            (None, None) => {}
        }
        if let Some(name) = &self.server_name
            && name.trim().is_empty()
        {
            bad(
                &format!("{tls}.server_name"),
                "must not be empty (leave it unset for the URL's host)".into(),
            );
        }
    }
}

impl TlsConfig {
    /// Pushes `(key, why)` for each broken rule of `[tls]`.
    pub(super) fn check(&self, bad: &mut dyn FnMut(&str, String)) {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                if let Err(why) = check_certs(cert) {
                    bad("tls.cert_file", why);
                }
                if let Err(why) = check_key(key) {
                    bad("tls.key_file", why);
                }
            }
            (Some(_), None) => bad("tls.key_file", "required with tls.cert_file".into()),
            (None, Some(_)) => bad("tls.cert_file", "required with tls.key_file".into()),
            (None, None) => {
                if self.client_auth != ClientAuth::None || self.client_ca_file.is_some() || !self.callers.is_empty() {
                    bad(
                        "tls.cert_file",
                        "required for client certificates (client_auth, client_ca_file, callers)".into(),
                    );
                }
                return;
            }
        }
        match (&self.client_ca_file, self.client_auth) {
            (None, ClientAuth::Optional | ClientAuth::Required) => bad(
                "tls.client_ca_file",
                "required when tls.client_auth is \"optional\" or \"required\"".into(),
            ),
            (Some(_), ClientAuth::None) => bad(
                "tls.client_auth",
                "is \"none\" but tls.client_ca_file is set: say \"optional\" or \"required\"".into(),
            ),
            (Some(ca), _) => {
                if let Err(why) = check_certs(ca) {
                    bad("tls.client_ca_file", why);
                }
            }
            (None, ClientAuth::None) => {}
        }
        if self.client_auth == ClientAuth::None && !self.callers.is_empty() {
            bad(
                "tls.callers",
                "callers are known by client certificates: set tls.client_auth".into(),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, caller) in self.callers.iter().enumerate() {
            if caller.san.trim().is_empty() {
                bad(&format!("tls.callers[{i}].san"), "must not be empty".into());
            } else if !seen.insert(caller.san.as_str()) {
                bad(
                    &format!("tls.callers[{i}].san"),
                    format!("\"{}\" is listed twice", caller.san),
                );
            }
            if caller.subject.trim().is_empty() {
                bad(
                    &format!("tls.callers[{i}].subject"),
                    "must not be empty: the token subject this certificate may carry".into(),
                );
            }
        }
    }
}
