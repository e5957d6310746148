use super::load::*;
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

#[test]
fn balancing_is_set_per_service_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("OCOP_SERVICES__REGISTRY__BALANCE__REFRESH_MS", "200");
        jail.set_env(
            "OCOP_SERVICES__REGISTRY__BALANCE__REPLICAS",
            r#"["http://127.0.0.2:50051"]"#,
        );
        let config = Config::load_from(None, env_provider(), &json!({})).expect("valid");
        let balance = config.services.registry.balance.expect("balanced");
        assert_eq!(balance.refresh_ms, 200);
        assert_eq!(balance.replicas, ["http://127.0.0.2:50051"]);
        assert_eq!(config.services.evaluation.balance, None, "the others are not");
        assert!(
            unknown_env_warnings([("OCOP_SERVICES__REGISTRY__BALANCE__REFRESH_MS".into(), String::new())]).is_empty()
        );
        Ok(())
    });
}

#[test]
fn a_replica_must_be_a_url_of_the_same_scheme() {
    let overrides = json!({"services": {"registry": {"balance": {
        "replicas": ["https://127.0.0.2:50051", "127.0.0.3"],
        "refresh_ms": 5,
    }}}});
    let err = Config::load_from(None, no_env(), &overrides).unwrap_err().to_string();
    for key in [
        "services.registry.balance.replicas[0]: \"https://127.0.0.2:50051\" must be a URL",
        "services.registry.balance.replicas[1]",
        "services.registry.balance.refresh_ms: 5 must be between 100 and 60000",
    ] {
        assert!(err.contains(key), "missing `{key}` in:\n{err}");
    }
}
