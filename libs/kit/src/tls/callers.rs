//! Which client certificate may carry which token: `[[tls.callers]]` maps a
//! certificate's SAN to the one token subject it may carry, so a stolen
//! token is of no use without the caller's key, and a caller's certificate
//! cannot carry another's token. Checked by the gate on every method that
//! needs a token, after the token itself.

use std::collections::{BTreeMap, BTreeSet};

use super::ConnInfo;
use crate::auth::Principal;
use crate::config::{ClientAuth, TlsConfig};
use crate::error::{Error, Result};

/// The client-certificate rules of a listener.
#[derive(Debug, Clone)]
pub struct Callers {
    required: bool,
    by_san: BTreeMap<String, String>,
    subjects: BTreeSet<String>,
}

impl Callers {
    /// The rules of `tls`; `None` when it asks for no client certificates.
    pub fn of(tls: &TlsConfig) -> Option<Callers> {
        if !tls.enabled() || tls.client_auth == ClientAuth::None {
            return None;
        }
        Some(Callers {
            required: tls.client_auth == ClientAuth::Required,
            by_san: tls.callers.iter().map(|c| (c.san.clone(), c.subject.clone())).collect(),
            subjects: tls.callers.iter().map(|c| c.subject.clone()).collect(),
        })
    }

    /// Whether `principal` may call over the connection `conn`: a client
    /// certificate (checked against `client_ca_file` at the handshake) is
    /// needed when `client_auth = "required"` or when the
    /// subject is one of the listed callers (with `"optional"`, other token
    /// holders, people on the console, need none); a certificate presented
    /// must be listed and map to the token's subject.
    pub fn check(&self, conn: Option<&ConnInfo>, principal: &Principal) -> Result<()> {
        let Some(sans) = conn.and_then(|c| c.client_sans.as_deref()) else {
            if self.required || self.subjects.contains(&principal.subject) {
                return Err(Error::unauthenticated(
                    "CLIENT_CERT_REQUIRED",
                    format!(
                        "callers with the token subject \"{}\" must present their client certificate (TLS client identity)",
                        principal.subject
                    ),
                ));
            }
            return Ok(());
        };
        let Some((san, subject)) = sans
            .iter()
            .find_map(|san| self.by_san.get(san).map(|subject| (san, subject)))
        else {
            return Err(Error::permission_denied(
                "CLIENT_CERT_UNKNOWN",
                format!(
                    "the client certificate ({}) is not one of this deployment's tls.callers; ask its operator to add it",
                    if sans.is_empty() {
                        "no DNS or URI name".to_owned()
                    } else {
                        sans.join(", ")
                    }
                ),
            ));
        };
        if *subject != principal.subject {
            return Err(Error::permission_denied(
                "CLIENT_CERT_SUBJECT_MISMATCH",
                format!(
                    "the client certificate {san} may carry tokens of \"{subject}\" only, not of \"{}\"",
                    principal.subject
                ),
            ));
        }
        Ok(())
    }
}
