//! The command line shared by every service binary, and its `main`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::config::{Config, ServiceName};
use crate::server::{self, Listeners, ServiceSpec};
use crate::telemetry::Telemetry;

/// Flags that override the configuration (the last layer).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "OCOP_CONFIG")]
    pub config: Option<PathBuf>,
    /// PostgreSQL URL (database.url).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Redis URL (redis.url).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// OTLP/gRPC collector (telemetry.otlp_endpoint).
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// `json` or `text` (telemetry.log_format).
    #[arg(long)]
    pub log_format: Option<String>,
}

/// A service binary's flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "An OCOP service. Configuration: defaults < --config file < OCOP_* environment < flags."
)]
pub struct ServiceArgs {
    /// Shared configuration flags.
    #[command(flatten)]
    pub common: ConfigArgs,
    /// gRPC listen address (`services.<name>.grpc_listen`).
    #[arg(long)]
    pub grpc_listen: Option<SocketAddr>,
    /// HTTP listen address (`services.<name>.http_listen`).
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
}

impl ConfigArgs {
    /// The flags as a configuration layer.
    pub fn overrides(&self) -> Value {
        let mut root = Map::new();
        let mut set = |section: &str, key: &str, value: &Option<String>| {
            if let Some(v) = value {
                let entry = root.entry(section).or_insert_with(|| json!({}));
                entry[key] = json!(v);
            }
        };
        set("database", "url", &self.database_url);
        set("redis", "url", &self.redis_url);
        set("telemetry", "otlp_endpoint", &self.otlp_endpoint);
        set("telemetry", "log_format", &self.log_format);
        Value::Object(root)
    }

    /// Loads and validates the configuration, or exits with status 2 and
    /// every problem on standard error.
    pub fn load_or_exit(&self, extra: Value) -> Config {
        let mut overrides = self.overrides();
        merge(&mut overrides, extra);
        match Config::load(self.config.as_deref(), &overrides) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The whole `main` of a service binary: flags, config, telemetry, serve
/// until SIGTERM or Ctrl-C, flush. Exits 0 after a graceful shutdown.
pub fn service_main(spec: ServiceSpec, routes: crate::server::Build) -> std::process::ExitCode {
    match run_main(spec, routes) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_main(spec: ServiceSpec, routes: crate::server::Build) -> anyhow::Result<()> {
    let args: ServiceArgs = clap::Parser::parse();
    let name = spec.name;
    let mut listen = json!({});
    if let Some(a) = args.grpc_listen {
        listen["grpc_listen"] = json!(a);
    }
    if let Some(a) = args.http_listen {
        listen["http_listen"] = json!(a);
    }
    let config = args
        .common
        .load_or_exit(json!({ "services": { name.as_str(): listen } }));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let telemetry = Telemetry::init(&format!("ocop-{name}"), &config.telemetry, &config.deployment)?;
            let result = run_one(spec, Arc::new(config), routes).await;
            telemetry.shutdown();
            result
        })
}

async fn run_one(spec: ServiceSpec, config: Arc<Config>, routes: crate::server::Build) -> anyhow::Result<()> {
    let endpoint = config.services.get(spec.name);
    let listeners = Listeners::bind(endpoint).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} / {}: {e}",
            endpoint.grpc_listen,
            endpoint.http_listen
        )
    })?;
    server::serve(spec, config, listeners, server::shutdown_signal(), routes).await
}

/// Lets callers name a service on the command line.
pub fn parse_service(s: &str) -> Result<ServiceName, String> {
    s.parse()
}
