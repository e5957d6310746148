//! Loading the layers (defaults, file, `OCOP_*` environment, flags) and
//! validating the result as a whole.

use super::*;

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

    pub(super) fn load_from(
        file: Option<&Path>,
        env: Env,
        overrides: &serde_json::Value,
    ) -> Result<Config, ConfigError> {
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
            if !(100..=600_000).contains(&ep.deadline_ms) {
                bad(
                    &format!("services.{name}.deadline_ms"),
                    format!("{} must be between 100 and 600000", ep.deadline_ms),
                );
            }
            let key = format!("services.{name}");
            ep.tls.check(&format!("{key}.url"), &ep.url, &key, &mut bad);
            if let Some(balance) = &ep.balance {
                for (i, replica) in balance.replicas.iter().enumerate() {
                    let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_owned());
                    let authority = replica.parse::<http::Uri>().ok().and_then(|u| u.authority().cloned());
                    if authority.is_none() || scheme(replica) != scheme(&ep.url) {
                        bad(
                            &format!("services.{name}.balance.replicas[{i}]"),
                            format!(
                                "\"{replica}\" must be a URL with a host and port, of the same scheme as services.{name}.url"
                            ),
                        );
                    }
                }
                if !(100..=60_000).contains(&balance.refresh_ms) {
                    bad(
                        &format!("services.{name}.balance.refresh_ms"),
                        format!("{} must be between 100 and 60000", balance.refresh_ms),
                    );
                }
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
        self.tls.check(&mut bad);
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

/// `OCOP_*` variables, `__` separating levels, with two short forms; those
/// naming no setting are left out (see [`unknown_env_warnings`]).
pub(super) fn env_provider() -> Env {
    Env::prefixed("OCOP_").ignore(&["config"]).filter_map(|name| {
        let key = env_key(name.as_str());
        is_setting(&key).then(|| key.into())
    })
}

/// The setting an `OCOP_*` variable's name (without the prefix) sets.
pub(super) fn env_key(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "otlp_endpoint" => "telemetry.otlp_endpoint".into(),
        "role" => "deployment.role".into(),
        other => other.replace("__", "."),
    }
}

/// Whether dotted `key` names a setting (or a section), or lies inside one
/// whose shape the defaults do not show (a list, an unset value).
pub(super) fn is_setting(key: &str) -> bool {
    static SHAPE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let shape = SHAPE.get_or_init(|| {
        let mut config = Config::default();
        // Unset by default; present here so its fields are known.
        config.federation.national = Some(Peer::default());
        for name in ServiceName::ALL {
            config.services.get_mut(name).balance = Some(BalanceConfig::default());
        }
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
pub(super) fn unknown_env_warnings(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
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
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
