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

/// Seconds since the epoch, as tokens count time.
fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

mod keys;
mod verifier;

pub use keys::*;
pub use verifier::*;

#[cfg(test)]
mod tests;
