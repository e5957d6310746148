//! Which other deployments this one follows (DESIGN.md §6): a national
//! deployment follows every province's feeds; a province follows the national
//! certification feed, which brings back its 5-star certificates.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DeploymentRole, PROVINCE_CODES_2025};

/// The feeds of other deployments this one follows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// On the national deployment: every province it mirrors.
    pub provinces: Vec<Peer>,
    /// On a province: the national deployment. Its `certification_url` brings
    /// back the province's 5-star certificates; its `evaluation_url`, when set,
    /// the CENTRAL results of the province's products (Decision 26/2026 Điều 7.4).
    pub national: Option<Peer>,
}

/// Another deployment, as a follower reaches it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Peer {
    /// The province's 2025 code; empty for the national deployment.
    pub province_code: String,
    /// Its registry's gRPC URL.
    pub registry_url: String,
    /// Its evaluation service's gRPC URL.
    pub evaluation_url: String,
    /// Its certification service's gRPC URL.
    pub certification_url: String,
    /// A file holding a `service` token that deployment issued to this one.
    /// Read at every (re)connection, so a renewed token is picked up.
    pub token_path: PathBuf,
    /// How this deployment dials the peer's URLs (CA, client certificate).
    pub tls: super::PeerTls,
}

impl Peer {
    /// The feed-cursor name of this peer's `service` feed: `38/registry`, `national/certification`.
    pub fn source(&self, service: &str) -> String {
        let origin = if self.province_code.is_empty() {
            "national"
        } else {
            &self.province_code
        };
        format!("{origin}/{service}")
    }
}

fn url_ok(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl FederationConfig {
    /// Pushes `(key, why)` for each broken rule.
    pub(super) fn check(&self, role: DeploymentRole, bad: &mut dyn FnMut(&str, String)) {
        match role {
            DeploymentRole::Province if !self.provinces.is_empty() => bad(
                "federation.provinces",
                "only a national deployment (deployment.role = \"national\") follows provinces".into(),
            ),
            DeploymentRole::National if self.national.is_some() => bad(
                "federation.national",
                "a national deployment does not follow another national deployment".into(),
            ),
            _ => {}
        }
        let mut seen = BTreeSet::new();
        for (i, peer) in self.provinces.iter().enumerate() {
            let key = format!("federation.provinces[{i}]");
            if !PROVINCE_CODES_2025.contains(&peer.province_code.as_str()) {
                bad(
                    &format!("{key}.province_code"),
                    format!("\"{}\" is not a 2025 province code", peer.province_code),
                );
            } else if !seen.insert(peer.province_code.as_str()) {
                bad(
                    &format!("{key}.province_code"),
                    format!("province {} is listed twice", peer.province_code),
                );
            }
            for (field, url) in [
                ("registry_url", &peer.registry_url),
                ("evaluation_url", &peer.evaluation_url),
                ("certification_url", &peer.certification_url),
            ] {
                if !url_ok(url) {
                    bad(
                        &format!("{key}.{field}"),
                        format!("\"{url}\" must start with http:// or https://"),
                    );
                }
                peer.tls.check(&format!("{key}.{field}"), url, &key, bad);
            }
            check_token(&key, peer, bad);
        }
        if let Some(peer) = &self.national {
            if !peer.province_code.is_empty() {
                bad(
                    "federation.national.province_code",
                    "must be empty: the national deployment serves no single province".into(),
                );
            }
            if !url_ok(&peer.certification_url) {
                bad(
                    "federation.national.certification_url",
                    format!("\"{}\" must start with http:// or https://", peer.certification_url),
                );
            }
            peer.tls.check(
                "federation.national.certification_url",
                &peer.certification_url,
                "federation.national",
                bad,
            );
            // Optional: a province that names it mirrors its central results.
            if !peer.evaluation_url.is_empty() && !url_ok(&peer.evaluation_url) {
                bad(
                    "federation.national.evaluation_url",
                    format!("\"{}\" must start with http:// or https://", peer.evaluation_url),
                );
            }
            if !peer.evaluation_url.is_empty() {
                peer.tls.check(
                    "federation.national.evaluation_url",
                    &peer.evaluation_url,
                    "federation.national",
                    bad,
                );
            }
            check_token("federation.national", peer, bad);
        }
    }
}

fn check_token(key: &str, peer: &Peer, bad: &mut dyn FnMut(&str, String)) {
    if peer.token_path.as_os_str().is_empty() {
        bad(
            &format!("{key}.token_path"),
            "required: a file with the `service` token that deployment issued".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::Config;

    fn load(overrides: serde_json::Value) -> Result<Config, String> {
        Config::load_from(None, figment::providers::Env::prefixed("OCOP_NEVER_SET_"), &overrides)
            .map_err(|e| e.to_string())
    }

    fn peer(code: &str) -> serde_json::Value {
        json!({
            "province_code": code,
            "registry_url": "http://10.0.38.1:50051",
            "evaluation_url": "http://10.0.38.1:50052",
            "certification_url": "http://10.0.38.1:50053",
            "token_path": "/etc/ocop/tokens/38.jwt",
            "tls": {"allow_plaintext": true},
        })
    }

    #[test]
    fn a_national_deployment_follows_its_provinces() {
        let config = load(json!({
            "deployment": {"role": "national"},
            "federation": {"provinces": [peer("38"), peer("46")]},
        }))
        .expect("valid");
        let sources: Vec<_> = config
            .federation
            .provinces
            .iter()
            .map(|p| p.source("registry"))
            .collect();
        assert_eq!(sources, ["38/registry", "46/registry"]);
    }

    #[test]
    fn a_province_follows_the_national_certification_feed() {
        let config = load(json!({
            "federation": {"national": {"certification_url": "https://ocop.mae.gov.vn:50053", "token_path": "/t"}},
        }))
        .expect("valid");
        assert_eq!(
            config.federation.national.unwrap().source("certification"),
            "national/certification"
        );
    }

    #[test]
    fn every_broken_federation_rule_names_its_key() {
        let mut bad = peer("99");
        bad["registry_url"] = json!("10.0.38.1:50051");
        bad["token_path"] = json!("");
        let err = load(json!({
            "deployment": {"role": "national"},
            "federation": {"provinces": [peer("38"), peer("38"), bad], "national": {"certification_url": "http://x"}},
        }))
        .unwrap_err();
        for expected in [
            "federation.provinces[1].province_code: province 38 is listed twice",
            "federation.provinces[2].province_code: \"99\" is not a 2025 province code",
            "federation.provinces[2].registry_url",
            "federation.provinces[2].token_path: required",
            "federation.national: a national deployment does not follow another",
        ] {
            assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
        }
        let err = load(json!({
            "federation": {"national": {"certification_url": "http://x", "evaluation_url": "x:50052", "token_path": "/t"}},
        }))
        .unwrap_err();
        assert!(err.contains("federation.national.evaluation_url"), "{err}");
        let err = load(json!({"federation": {"provinces": [peer("38")]}})).unwrap_err();
        assert!(
            err.contains("federation.provinces: only a national deployment"),
            "{err}"
        );
    }
}
