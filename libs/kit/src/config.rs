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
pub use federation::{FederationConfig, Peer};

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
}

impl Endpoint {
    fn local(service: ServiceName) -> Self {
        let grpc = 50050 + service.index();
        Endpoint {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], grpc)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9050 + service.index())),
            url: format!("http://127.0.0.1:{grpc}"),
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

impl Config {
    /// Loads defaults, then `file` (when given it must exist), then `OCOP_*`
    /// variables (`OCOP_DATABASE__URL` sets `database.url`; `OCOP_OTLP_ENDPOINT`
    /// and `OCOP_ROLE` are short forms), then `overrides` (CLI flags), and validates.
    /// An `OCOP_*` variable that is no setting is ignored, with a warning on
    /// standard error.
    pub fn load(file: Option<&Path>, overrides: &serde_json::Value) -> Result<Config, ConfigError> {
        let vars = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        for warning in unknown_env_warnings(vars) {
            eprintln!("{warning}");
        }
        Self::load_from(file, env_provider(), overrides)
    }

    fn load_from(file: Option<&Path>, env: Env, overrides: &serde_json::Value) -> Result<Config, ConfigError> {
        // The layers above the defaults, kept apart to know what was set explicitly.
        let mut given = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            given = given.merge(Toml::file_exact(path));
        }
        let given = given.merge(env).merge(Serialized::globals(overrides));
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(given.clone())
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        // The default province belongs to the default (local, provincial) role:
        // a national deployment does not inherit it.
        if config.deployment.role == DeploymentRole::National && given.find_value("deployment.province_code").is_err() {
            config.deployment.province_code = None;
        }
        // Likewise the default audience is the default deployment's.
        if given.find_value("auth.audience").is_err() {
            config.auth.audience = config.deployment.audience();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule and reports all broken ones.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, why: String| problems.push(format!("  {key}: {why}"));

        match (&self.deployment.role, &self.deployment.province_code) {
            (DeploymentRole::Province, None) => bad(
                "deployment.province_code",
                "required when deployment.role = \"province\" (a 2025 province code such as \"38\")".into(),
            ),
            (DeploymentRole::National, Some(code)) => bad(
                "deployment.province_code",
                format!("must be unset when deployment.role = \"national\" (got \"{code}\")"),
            ),
            (_, Some(code)) if !PROVINCE_CODES_2025.contains(&code.as_str()) => bad(
                "deployment.province_code",
                format!(
                    "\"{code}\" is not one of the 34 province codes of Decision 19/2025 ({})",
                    PROVINCE_CODES_2025.join(", ")
                ),
            ),
            _ => {}
        }
        if !(self.database.url.starts_with("postgres://") || self.database.url.starts_with("postgresql://")) {
            bad(
                "database.url",
                format!(
                    "\"{}\" must start with postgres:// or postgresql://",
                    redact(&self.database.url)
                ),
            );
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            bad(
                "database.max_connections",
                format!("{} must be between 1 and 1000", self.database.max_connections),
            );
        }
        if !(100..=120_000).contains(&self.database.acquire_timeout_ms) {
            bad(
                "database.acquire_timeout_ms",
                format!("{} must be between 100 and 120000", self.database.acquire_timeout_ms),
            );
        }
        if !(self.redis.url.starts_with("redis://") || self.redis.url.starts_with("rediss://")) {
            bad(
                "redis.url",
                format!("\"{}\" must start with redis:// or rediss://", redact(&self.redis.url)),
            );
        }
        let prefix_ok = !self.redis.key_prefix.is_empty()
            && self.redis.key_prefix.len() <= 64
            && self
                .redis
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ":_-".contains(c));
        if !prefix_ok {
            bad(
                "redis.key_prefix",
                format!(
                    "\"{}\" must be 1 to 64 of a-z, 0-9, ':', '_', '-'",
                    self.redis.key_prefix
                ),
            );
        }
        if !(1..=10_000).contains(&self.redis.timeout_ms) {
            bad(
                "redis.timeout_ms",
                format!("{} must be between 1 and 10000", self.redis.timeout_ms),
            );
        }
        if !(1..=86_400).contains(&self.redis.ttl_s) {
            bad(
                "redis.ttl_s",
                format!("{} must be between 1 and 86400", self.redis.ttl_s),
            );
        }
        if self.auth.issuer.trim().is_empty() {
            bad("auth.issuer", "must not be empty".into());
        }
        if self.auth.audience.trim().is_empty() {
            bad(
                "auth.audience",
                "must not be empty (leave it unset for the deployment's own, such as \"ocop:38\")".into(),
            );
        }
        if !(60..=30 * 86_400).contains(&self.auth.token_ttl_s) {
            bad(
                "auth.token_ttl_s",
                format!("{} must be between 60 and 2592000", self.auth.token_ttl_s),
            );
        }
        if !(60..=30 * 86_400).contains(&self.auth.max_token_lifetime_s) {
            bad(
                "auth.max_token_lifetime_s",
                format!("{} must be between 60 and 2592000", self.auth.max_token_lifetime_s),
            );
        } else if self.auth.token_ttl_s > self.auth.max_token_lifetime_s {
            bad(
                "auth.token_ttl_s",
                format!(
                    "{} is longer than auth.max_token_lifetime_s ({}): the services would refuse the tokens `ocop token` prints",
                    self.auth.token_ttl_s, self.auth.max_token_lifetime_s
                ),
            );
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            bad(
                "telemetry.otlp_endpoint",
                format!("\"{endpoint}\" must start with http:// or https://"),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_filter) {
            bad(
                "telemetry.log_filter",
                format!("\"{}\" is not a tracing filter: {e}", self.telemetry.log_filter),
            );
        }
        let mut seen = BTreeSet::new();
        for name in ServiceName::ALL {
            let ep = self.services.get(name);
            for (what, addr) in [("grpc_listen", ep.grpc_listen), ("http_listen", ep.http_listen)] {
                if addr.port() != 0 && !seen.insert(addr) {
                    bad(
                        &format!("services.{name}.{what}"),
                        format!("{addr} is already used by another listener"),
                    );
                }
            }
            if !(ep.url.starts_with("http://") || ep.url.starts_with("https://")) {
                bad(
                    &format!("services.{name}.url"),
                    format!("\"{}\" must start with http:// or https://", ep.url),
                );
            }
        }
        let url = &self.certification.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/') {
            bad(
                "certification.public_url",
                format!("\"{url}\" must be an http(s) URL without a trailing slash"),
            );
        }
        if self.certification.verify_per_second == 0 || self.certification.verify_burst == 0 {
            bad(
                "certification.verify_per_second",
                "verify_per_second and verify_burst must be at least 1".into(),
            );
        }
        for (i, block) in self.http.trusted_proxies.iter().enumerate() {
            if let Err(why) = block.parse::<crate::ratelimit::Cidr>() {
                bad(&format!("http.trusted_proxies[{i}]"), why);
            }
        }
        if self.http.public_per_second == 0 || self.http.public_burst == 0 {
            bad(
                "http.public_per_second",
                "public_per_second and public_burst must be at least 1".into(),
            );
        }
        if self.certification.sweep_interval_s == 0 {
            bad("certification.sweep_interval_s", "must be at least 1".into());
        }
        if self.evaluation.quorum_fraction().is_none() {
            bad(
                "evaluation.quorum",
                format!(
                    "\"{}\" must be a fraction a/b with 0 < a <= b, e.g. \"2/3\"",
                    self.evaluation.quorum
                ),
            );
        }
        if !(0..=100).contains(&self.evaluation.spread_limit_points) {
            bad(
                "evaluation.spread_limit_points",
                format!("{} must be between 0 and 100", self.evaluation.spread_limit_points),
            );
        }
        self.federation.check(self.deployment.role, &mut bad);
        if !(100..=600_000).contains(&self.shutdown_grace_ms) {
            bad(
                "shutdown_grace_ms",
                format!("{} must be between 100 and 600000", self.shutdown_grace_ms),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
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

/// `OCOP_*` variables, `__` separating levels, with two short forms; those
/// naming no setting are left out (see [`unknown_env_warnings`]).
fn env_provider() -> Env {
    Env::prefixed("OCOP_").ignore(&["config"]).filter_map(|name| {
        let key = env_key(name.as_str());
        is_setting(&key).then(|| key.into())
    })
}

/// The setting an `OCOP_*` variable's name (without the prefix) sets.
fn env_key(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "otlp_endpoint" => "telemetry.otlp_endpoint".into(),
        "role" => "deployment.role".into(),
        other => other.replace("__", "."),
    }
}

/// Whether dotted `key` names a setting (or a section), or lies inside one
/// whose shape the defaults do not show (a list, an unset value).
fn is_setting(key: &str) -> bool {
    static SHAPE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let shape = SHAPE.get_or_init(|| {
        let mut config = Config::default();
        // Unset by default; present here so its fields are known.
        config.federation.national = Some(Peer::default());
        serde_json::to_value(config).unwrap_or_default()
    });
    let mut at = shape;
    for part in key.split('.') {
        match at {
            serde_json::Value::Object(fields) => match fields.get(part) {
                Some(inner) => at = inner,
                None => return false,
            },
            serde_json::Value::Array(_) | serde_json::Value::Null => return true,
            _ => return false,
        }
    }
    true
}

/// A warning for each `OCOP_*` variable of `vars` that names no setting.
/// Such variables are left out rather than failing every command: scripts
/// and other tools use the prefix too (`OCOP_PG_PORT`).
fn unknown_env_warnings(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut warnings: Vec<String> = vars
        .into_iter()
        .filter_map(|(name, _)| {
            let rest = name.get(..5).filter(|p| p.eq_ignore_ascii_case("OCOP_")).map(|_| &name[5..])?;
            let key = env_key(rest);
            (!rest.eq_ignore_ascii_case("config") && !is_setting(&key)).then(|| {
                format!(
                    "warning: {name} is not a setting; ignored (it would set `{key}`, which does not exist; the settings are in the README)"
                )
            })
        })
        .collect();
    warnings.sort();
    warnings
}

/// Hides the password of a URL in messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
// figment's Jail closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env() -> Env {
        Env::prefixed("OCOP_TEST_THAT_IS_NEVER_SET_")
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("defaults must validate");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("ocop-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ocop.toml");
        std::fs::write(
            &file,
            "[redis]\nttl_s = 60\ntimeout_ms = 20\n[database]\nmax_connections = 4\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("OCOP_REDIS__TIMEOUT_MS", "30");
            jail.set_env("OCOP_OTLP_ENDPOINT", "http://127.0.0.1:4317");
            jail.set_env("OCOP_DEPLOYMENT__PROVINCE_CODE", "01");
            let cli = json!({"database": {"max_connections": 2}});
            let config = Config::load_from(Some(&file), env_provider(), &cli).expect("valid");
            assert_eq!(config.redis.ttl_s, 60, "file over default");
            assert_eq!(config.redis.timeout_ms, 30, "env over file");
            assert_eq!(config.database.max_connections, 2, "cli over file");
            assert_eq!(config.telemetry.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4317"));
            assert_eq!(
                config.deployment.province_code.as_deref(),
                Some("01"),
                "leading zero kept"
            );
            Ok(())
        });
    }

    #[test]
    fn wrong_type_names_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OCOP_DATABASE__MAX_CONNECTIONS", "many");
            let err = Config::load_from(None, env_provider(), &json!({}))
                .unwrap_err()
                .to_string();
            assert!(err.to_lowercase().contains("database.max_connections"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_environment_variables_are_ignored_with_a_warning() {
        figment::Jail::expect_with(|jail| {
            // Set by scripts/local-servers.sh and other tools, not settings.
            jail.set_env("OCOP_PG_PORT", "55432");
            jail.set_env("OCOP_REDIS__TTL", "5");
            jail.set_env("OCOP_REDIS__TIMEOUT_MS", "30");
            jail.set_env("OCOP_ROLE", "province");
            // Fields of an unset section are settings too.
            jail.set_env("OCOP_FEDERATION__NATIONAL__REGISTRY_URL", "http://127.0.0.1:1");
            jail.set_env("OCOP_FEDERATION__NATIONAL__CERTIFICATION_URL", "http://127.0.0.1:1");
            jail.set_env("OCOP_FEDERATION__NATIONAL__TOKEN_PATH", "national.token");
            let config = Config::load_from(None, env_provider(), &json!({})).expect("unknown variables are ignored");
            assert_eq!(config.redis.timeout_ms, 30, "known variables still apply");
            assert_eq!(
                config.federation.national.map(|n| n.registry_url).as_deref(),
                Some("http://127.0.0.1:1")
            );
            Ok(())
        });
        let vars = [
            ("OCOP_PG_PORT", "55432"),
            ("OCOP_REDIS__TTL", "5"),
            ("OCOP_REDIS__TIMEOUT_MS", "30"),
            ("OCOP_ROLE", "province"),
            ("OCOP_CONFIG", "ocop.toml"),
            ("OCOP_FEDERATION__NATIONAL__REGISTRY_URL", "http://127.0.0.1:1"),
            ("OCOPTEST_DATABASE_URL", "postgres://x"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let warnings = unknown_env_warnings(vars);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("warning: OCOP_PG_PORT is not a setting; ignored"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("warning: OCOP_REDIS__TTL is not a setting") && warnings[1].contains("`redis.ttl`"),
            "{warnings:?}"
        );
    }

    #[test]
    fn token_ttl_must_fit_the_maximum_lifetime() {
        let defaults = Config::default();
        assert!(defaults.auth.token_ttl_s <= defaults.auth.max_token_lifetime_s);
        let overrides = json!({"auth": {"token_ttl_s": 7200, "max_token_lifetime_s": 3600}});
        let err = Config::load_from(None, no_env(), &overrides).unwrap_err().to_string();
        assert!(
            err.contains("auth.token_ttl_s: 7200 is longer than auth.max_token_lifetime_s (3600)"),
            "{err}"
        );
        let overrides = json!({"auth": {"max_token_lifetime_s": 10}});
        let err = Config::load_from(None, no_env(), &overrides).unwrap_err().to_string();
        assert!(
            err.contains("auth.max_token_lifetime_s: 10 must be between 60 and 2592000"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_refused() {
        let err = Config::load_from(None, no_env(), &json!({"redis": {"ttl": 5}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ttl"), "{err}");
    }

    #[test]
    fn missing_file_is_refused() {
        let err = Config::load_from(Some(Path::new("/nonexistent/ocop.toml")), no_env(), &json!({}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ocop.toml does not exist"), "{err}");
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_key() {
        let overrides = json!({
            "deployment": {"province_code": "99"},
            "database": {"url": "mysql://u:secret@h/db", "max_connections": 0},
            "redis": {"key_prefix": "Bad Prefix", "timeout_ms": 0},
            "telemetry": {"otlp_endpoint": "collector:4317"},
            "services": {"evaluation": {"grpc_listen": "127.0.0.1:50051", "http_listen": "127.0.0.1:9052", "url": "http://x"}},
            "evaluation": {"quorum": "3/2", "spread_limit_points": -1},
        });
        let err = Config::load_from(None, no_env(), &overrides).unwrap_err().to_string();
        for key in [
            "deployment.province_code: \"99\" is not one of the 34",
            "database.url",
            "database.max_connections: 0 must be between 1 and 1000",
            "redis.key_prefix",
            "redis.timeout_ms",
            "telemetry.otlp_endpoint",
            "services.evaluation.grpc_listen: 127.0.0.1:50051 is already used",
            "evaluation.quorum: \"3/2\" must be a fraction",
            "evaluation.spread_limit_points: -1 must be between 0 and 100",
        ] {
            assert!(err.contains(key), "missing `{key}` in:\n{err}");
        }
        assert!(!err.contains("secret"), "password leaked: {err}");
    }

    #[test]
    fn national_role_takes_no_province() {
        let overrides = json!({"deployment": {"role": "national", "province_code": "38"}});
        let err = Config::load_from(None, no_env(), &overrides).unwrap_err().to_string();
        assert!(
            err.contains("must be unset when deployment.role = \"national\""),
            "{err}"
        );
    }

    #[test]
    fn the_audience_is_derived_from_the_deployment_unless_set() {
        let load = |overrides: serde_json::Value| Config::load_from(None, no_env(), &overrides);
        assert_eq!(load(json!({})).unwrap().auth.audience, "ocop:38");
        assert_eq!(Config::default().auth.audience, "ocop:38");
        let thai_nguyen = load(json!({"deployment": {"province_code": "19"}})).unwrap();
        assert_eq!(thai_nguyen.auth.audience, "ocop:19");
        let national = load(json!({"deployment": {"role": "national"}})).unwrap();
        assert_eq!(national.auth.audience, "ocop:national");
        let chosen = load(json!({"deployment": {"province_code": "19"}, "auth": {"audience": "tn-prod"}})).unwrap();
        assert_eq!(chosen.auth.audience, "tn-prod");
        let err = load(json!({"auth": {"audience": " "}})).unwrap_err().to_string();
        assert!(err.contains("auth.audience: must not be empty"), "{err}");
    }
}
