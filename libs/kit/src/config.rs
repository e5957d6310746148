//! Layered configuration: defaults < TOML file < `OCOP_*` environment < CLI
//! flags, then validated as a whole so that one start-up reports every bad
//! key at once, naming the key and what it accepts.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod federation;
mod tls;
pub use federation::{FederationConfig, Peer};
pub use tls::{Caller, ClientAuth, PeerTls, TlsConfig, is_loopback, url_host};

/// The four services of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceName {
    /// Administrative units, producers, products, the cycle's first steps.
    Registry,
    /// Criteria sets, rounds, councils, score sheets, results.
    Evaluation,
    /// Certificates and their verification.
    Certification,
    /// Catalog, sales points, fairs, statistics.
    Promotion,
}

impl ServiceName {
    /// Every service, in port order.
    pub const ALL: [ServiceName; 4] = [
        ServiceName::Registry,
        ServiceName::Evaluation,
        ServiceName::Certification,
        ServiceName::Promotion,
    ];

    /// Lower-case name, also the PostgreSQL schema the service owns.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Registry => "registry",
            ServiceName::Evaluation => "evaluation",
            ServiceName::Certification => "certification",
            ServiceName::Promotion => "promotion",
        }
    }

    fn index(self) -> u16 {
        match self {
            ServiceName::Registry => 1,
            ServiceName::Evaluation => 2,
            ServiceName::Certification => 3,
            ServiceName::Promotion => 4,
        }
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for ServiceName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown service `{s}`; expected registry, evaluation, certification or promotion"))
    }
}

/// Codes of the 34 provinces in force since 2025-07-01 (Decision 19/2025/QĐ-TTg).
pub const PROVINCE_CODES_2025: [&str; 34] = [
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40", "42", "44",
    "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
];

/// Whole configuration of a deployment; every service reads the same file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Who this deployment is.
    pub deployment: DeploymentConfig,
    /// The PostgreSQL database shared by the services (a schema each).
    pub database: DatabaseConfig,
    /// The Redis cache.
    pub redis: RedisConfig,
    /// Token verification and local token issuance.
    pub auth: AuthConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Where each service listens and how the others reach it.
    pub services: ServicesConfig,
    /// How long SIGTERM waits for in-flight requests before exiting anyway.
    pub shutdown_grace_ms: u64,
    /// Rules of the evaluation service a deployment may tune.
    pub evaluation: EvaluationConfig,
    /// Certificate signing, the public verify page and its rate limit.
    pub certification: CertificationConfig,
    /// The other deployments' feeds this one follows.
    pub federation: FederationConfig,
    /// Client addresses behind proxies, and the public methods' rate limit.
    pub http: HttpConfig,
    /// TLS on this deployment's listeners, and which client certificates may call.
    pub tls: TlsConfig,
}

/// Client addresses behind proxies, and the public methods' rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address blocks (`"10.0.0.0/8"`, `"127.0.0.2/32"`) of the proxies whose
    /// `Forwarded` / `X-Forwarded-For` name the client; from any other peer
    /// those headers are ignored and the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Calls without a token a client address may make per second, per
    /// service, sustained (every replica together).
    pub public_per_second: u32,
    /// Calls without a token a client address may make in a burst.
    pub public_burst: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            trusted_proxies: Vec::new(),
            public_per_second: 50,
            public_burst: 200,
        }
    }
}

/// Certificate signing, the public verify page and its rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificationConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs certificates; created on
    /// first start when missing. Keep it: its public key checks every QR code
    /// it signed.
    pub signing_key_path: PathBuf,
    /// Base URL of the verify page as printed in QR codes (no trailing slash).
    pub public_url: String,
    /// Verifications allowed per client address per second, sustained.
    pub verify_per_second: u32,
    /// Verifications a client address may make in a burst.
    pub verify_burst: u32,
    /// How often the expiry sweep runs (expiries and 30-day notices).
    pub sweep_interval_s: u64,
}

impl Default for CertificationConfig {
    fn default() -> Self {
        CertificationConfig {
            signing_key_path: PathBuf::from(".local/keys/certificates.pem"),
            public_url: "http://127.0.0.1:9053".into(),
            verify_per_second: 10,
            verify_burst: 60,
            sweep_interval_s: 300,
        }
    }
}

/// Rules of the evaluation service a deployment may tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Share of the council whose sheets an entry needs before publication, as "a/b".
    pub quorum: String,
    /// Members' totals further apart than this flag an entry for rescoring.
    pub spread_limit_points: i32,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            quorum: "2/3".into(),
            spread_limit_points: 10,
        }
    }
}

impl EvaluationConfig {
    /// The quorum as (numerator, denominator); validated at start.
    pub fn quorum_fraction(&self) -> Option<(usize, usize)> {
        let (a, b) = self.quorum.split_once('/')?;
        let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (a > 0 && a <= b).then_some((a, b))
    }
}

/// Role of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentRole {
    /// A provincial deployment.
    Province,
    /// The ministry's national deployment.
    National,
}

/// Who this deployment is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentConfig {
    /// Province or national.
    pub role: DeploymentRole,
    /// The province served (2025 code); required for a provincial deployment.
    #[serde(deserialize_with = "code_string")]
    pub province_code: Option<String>,
}

impl DeploymentConfig {
    /// The audience tokens for this deployment carry unless `auth.audience`
    /// says otherwise: `ocop:<province code>` or `ocop:national`.
    pub fn audience(&self) -> String {
        match (self.role, &self.province_code) {
            (DeploymentRole::Province, Some(code)) => format!("ocop:{code}"),
            (DeploymentRole::Province, None) => "ocop:province".into(),
            (DeploymentRole::National, _) => "ocop:national".into(),
        }
    }
}

/// PostgreSQL settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Pool size per service.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout_ms: u64,
}

/// Redis settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key, so deployments can share a Redis.
    pub key_prefix: String,
    /// Past this, a cache call is abandoned and the request goes to PostgreSQL.
    pub timeout_ms: u64,
    /// Default time to live of cached entries.
    pub ttl_s: u64,
}

/// Token settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `iss` that accepted tokens must carry.
    pub issuer: String,
    /// The `aud` that accepted tokens must carry, and that `ocop token` puts
    /// in by default. Unset, it is derived from the deployment: `ocop:38` for
    /// province 38, `ocop:national` for the national deployment.
    pub audience: String,
    /// JWKS file with the public keys (EdDSA or RS256) that tokens are checked against.
    pub jwks_path: PathBuf,
    /// Ed25519 private key (PKCS#8 PEM) used by `ocop token` on a local deployment.
    pub signing_key_path: PathBuf,
    /// Lifetime of tokens printed by `ocop token`.
    pub token_ttl_s: u64,
    /// Longest lifetime (`exp - iat`) of a token the services accept; at
    /// least `token_ttl_s`.
    pub max_token_lifetime_s: u64,
}

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object a line, with the trace id.
    Json,
    /// Human-readable lines.
    Text,
}

/// Logs and traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`; unset: no export.
    pub otlp_endpoint: Option<String>,
    /// Log line format.
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,ocop_registry=debug`.
    pub log_filter: String,
}

/// Addresses of every service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    /// The registry service.
    pub registry: Endpoint,
    /// The evaluation service.
    pub evaluation: Endpoint,
    /// The certification service.
    pub certification: Endpoint,
    /// The promotion service.
    pub promotion: Endpoint,
}

impl ServicesConfig {
    /// The endpoint of one service.
    pub fn get(&self, name: ServiceName) -> &Endpoint {
        match name {
            ServiceName::Registry => &self.registry,
            ServiceName::Evaluation => &self.evaluation,
            ServiceName::Certification => &self.certification,
            ServiceName::Promotion => &self.promotion,
        }
    }

    /// The endpoint of one service, mutable.
    pub fn get_mut(&mut self, name: ServiceName) -> &mut Endpoint {
        match name {
            ServiceName::Registry => &mut self.registry,
            ServiceName::Evaluation => &mut self.evaluation,
            ServiceName::Certification => &mut self.certification,
            ServiceName::Promotion => &mut self.promotion,
        }
    }
}

/// Where one service listens and how the others reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// gRPC listen address.
    pub grpc_listen: SocketAddr,
    /// HTTP listen address (`/metrics`, `/healthz`).
    pub http_listen: SocketAddr,
    /// URL other services dial, e.g. `http://127.0.0.1:50051`.
    pub url: String,
    /// How the others dial `url` (CA, client certificate, plaintext).
    #[serde(default)]
    pub tls: PeerTls,
    /// Spreading calls over several replicas; absent, calls go to `url`'s
    /// one address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceConfig>,
    /// The deadline of every call another service makes to this one, sent
    /// as `grpc-timeout` so the callee stops too: a call that would outlast
    /// it fails (tonic's caller says CANCELLED, "Timeout expired") instead of
    /// holding its caller, who answers UNAVAILABLE with its reason.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

/// Calls between services answer in milliseconds; ten seconds is far past
/// any of them and still short of a person giving up.
fn default_deadline_ms() -> u64 {
    10_000
}

/// Client-side balancing over the replicas of a service: the addresses
/// `url`'s host resolves to (a Kubernetes headless Service gives one per
/// ready pod) and those of `replicas`, re-resolved and health-checked every
/// `refresh_ms`. Calls go to the replicas whose health check answers
/// SERVING; one that stops answering, or drains for shutdown, leaves the set
/// until it answers again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BalanceConfig {
    /// Further URLs of the same service (replicas without a shared DNS name).
    pub replicas: Vec<String>,
    /// How often addresses are resolved again and replicas checked.
    pub refresh_ms: u64,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            replicas: Vec::new(),
            refresh_ms: 2000,
        }
    }
}

impl Endpoint {
    fn local(service: ServiceName) -> Self {
        let grpc = 50050 + service.index();
        Endpoint {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], grpc)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9050 + service.index())),
            url: format!("http://127.0.0.1:{grpc}"),
            tls: PeerTls::default(),
            balance: None,
            deadline_ms: default_deadline_ms(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            deployment: DeploymentConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            services: ServicesConfig::default(),
            shutdown_grace_ms: 10_000,
            evaluation: EvaluationConfig::default(),
            certification: CertificationConfig::default(),
            federation: FederationConfig::default(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}

impl Default for DeploymentConfig {
    fn default() -> Self {
        // The local demo deployment plays Thanh Hóa.
        DeploymentConfig {
            role: DeploymentRole::Province,
            province_code: Some("38".into()),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "postgres://ocop@127.0.0.1:55432/ocop".into(),
            max_connections: 8,
            acquire_timeout_ms: 3_000,
        }
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:56379".into(),
            key_prefix: "ocop:local".into(),
            timeout_ms: 50,
            ttl_s: 300,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: "ocop-local".into(),
            // The default deployment's (province 38); see `DeploymentConfig::audience`.
            audience: "ocop:38".into(),
            jwks_path: PathBuf::from(".local/keys/jwks.json"),
            signing_key_path: PathBuf::from(".local/keys/signing.pem"),
            token_ttl_s: 12 * 3600,
            max_token_lifetime_s: 24 * 3600,
        }
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            log_format: LogFormat::Json,
            log_filter: "info,sqlx::postgres::notice=warn".into(),
        }
    }
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            registry: Endpoint::local(ServiceName::Registry),
            evaluation: Endpoint::local(ServiceName::Evaluation),
            certification: Endpoint::local(ServiceName::Certification),
            promotion: Endpoint::local(ServiceName::Promotion),
        }
    }
}

/// A configuration that could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Load(String),
    /// Values parsed but break a rule; one line per key.
    #[error("invalid configuration:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// Reads a 2-digit code given as a string or, from the environment (where
/// `OCOP_DEPLOYMENT__PROVINCE_CODE=01` arrives as the number 1), as a number.
fn code_string<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Code>::deserialize(de)?.map(|code| match code {
        Code::Text(text) => text,
        Code::Number(n) => format!("{n:02}"),
    }))
}

mod load;

#[cfg(test)]
// figment's Jail closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests;
