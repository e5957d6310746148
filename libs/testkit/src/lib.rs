//! What every test needs: its own PostgreSQL database (so tests run in
//! parallel and never see each other's rows), the real Redis under its own
//! key prefix, keys to sign tokens with, and services served on port 0.
//!
//! Tests are run by `./dev test`, which starts the local servers and sets
//! `OCOPTEST_DATABASE_URL` (an admin connection) and `OCOPTEST_REDIS_URL`.

pub mod audit;
pub mod certs;
pub mod flows;
pub mod pg_server;
pub mod poll;
pub mod ports;
pub mod raw;
pub mod redis_server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ocop_kit::auth::{Signer, generate_keys};
use ocop_kit::config::{Config, PeerTls, ServiceName};
use ocop_kit::server::{self, Listeners, ServiceSpec};
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The issuer of test tokens.
pub const ISSUER: &str = "ocop-test";

/// The audience of every test deployment (`auth.audience`, passed to the
/// e2e processes too), which the tokens of [`TestEnv::signer`] carry.
pub const AUDIENCE: &str = "ocop:test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `./dev test`, which starts PostgreSQL and Redis")
    })
}

/// A test's private world: a fresh database, a Redis prefix, signing keys,
/// and a configuration pointing at them with every port set to 0.
pub struct TestEnv {
    /// Configuration for services under test.
    pub config: Config,
    /// Signs tokens the services accept.
    pub signer: Signer,
    /// Name of the test database.
    pub database: String,
    /// Folder with the key files.
    pub dir: PathBuf,
    /// How the test dials the services it spawns when `config.tls` is set
    /// (the CA to trust, a client certificate).
    pub client_tls: PeerTls,
}

impl TestEnv {
    /// Creates the database and keys.
    pub async fn new() -> TestEnv {
        let admin_url = env("OCOPTEST_DATABASE_URL");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("ocop_test_{}", &id[..16]);
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();

        let dir = std::env::temp_dir().join(format!("ocop-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (pem, jwks) = generate_keys().expect("keys");
        std::fs::write(dir.join("signing.pem"), &pem).expect("write key");
        std::fs::write(dir.join("jwks.json"), &jwks).expect("write jwks");

        let mut config = Config::default();
        config.database.url = replace_database(&admin_url, &database);
        config.redis.url = env("OCOPTEST_REDIS_URL");
        config.redis.key_prefix = format!("ocop:test:{}", &id[..16]);
        config.auth.issuer = ISSUER.into();
        config.auth.audience = AUDIENCE.into();
        config.auth.jwks_path = dir.join("jwks.json");
        config.auth.signing_key_path = dir.join("signing.pem");
        config.certification.signing_key_path = dir.join("certificates.pem");
        config.shutdown_grace_ms = 2_000;
        for name in ServiceName::ALL {
            let ep = config.services.get_mut(name);
            ep.grpc_listen = SocketAddr::from(([127, 0, 0, 1], 0));
            ep.http_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        }
        TestEnv {
            signer: Signer::from_pem(&pem, ISSUER).expect("signer").with_audience(AUDIENCE),
            config,
            database,
            dir,
            client_tls: PeerTls::default(),
        }
    }

    /// A bearer token for `role` in a province and commune.
    pub fn token(&self, role: &str, province: Option<&str>, commune: Option<&str>) -> String {
        self.signer.issue("tester", role, province, commune, 600).expect("sign")
    }

    /// Starts `spec` in this process on port 0 and waits until it is SERVING.
    pub async fn spawn(&self, spec: ServiceSpec, routes: ocop_kit::server::Build) -> TestApp {
        let name = spec.name;
        // Migrate here first, so that a broken migration fails the test with its
        // error rather than as a service that never turns SERVING.
        let pool = ocop_kit::db::connect_lazy(&self.config.database, name.as_str()).expect("pool");
        ocop_kit::db::migrate(&pool, name.as_str(), spec.migrations)
            .await
            .unwrap_or_else(|e| panic!("{name}: migration failed: {e:#}"));
        if let Some(prepare) = spec.prepare {
            prepare(pool.clone())
                .await
                .unwrap_or_else(|e| panic!("{name}: preparing failed: {e:#}"));
        }
        pool.close().await;
        let listeners = Listeners::bind(self.config.services.get(name))
            .await
            .expect("bind port 0");
        let (grpc_addr, http_addr) = listeners.addrs().expect("addrs");
        let scheme = if self.config.tls.enabled() { "https" } else { "http" };
        let (stop, stopped) = oneshot::channel::<()>();
        let config = Arc::new(self.config.clone());
        let handle = tokio::spawn(async move {
            server::serve(
                spec,
                config,
                listeners,
                async { stopped.await.ok().unwrap_or(()) },
                routes,
            )
            .await
        });
        let app = TestApp {
            url: format!("{scheme}://{grpc_addr}"),
            tls: self.client_tls.clone(),
            grpc_addr,
            http_addr,
            stop: Some(stop),
            handle,
        };
        app.wait_serving(Duration::from_secs(30)).await;
        app
    }
}

/// Swaps the database name of a PostgreSQL URL.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A service running inside the test process.
pub struct TestApp {
    /// Its gRPC address.
    pub grpc_addr: SocketAddr,
    /// Its HTTP address.
    pub http_addr: SocketAddr,
    /// Its gRPC URL (`https://` when it serves TLS).
    pub url: String,
    /// How the test dials it.
    pub tls: PeerTls,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// A channel to it.
    pub async fn channel(&self) -> Channel {
        ocop_kit::client::endpoint(&self.url, &self.tls)
            .expect("endpoint")
            .connect()
            .await
            .expect("connect")
    }

    /// Waits until health says SERVING, or panics after `limit`.
    pub async fn wait_serving(&self, limit: Duration) {
        TestApp::wait_serving_url(&self.url, &self.tls, limit).await
    }

    /// Waits until the server at `grpc_addr` says SERVING, or panics after `limit`.
    pub async fn wait_serving_at(grpc_addr: SocketAddr, limit: Duration) {
        TestApp::wait_serving_url(&format!("http://{grpc_addr}"), &PeerTls::default(), limit).await
    }

    /// Waits until the server at `url`, dialled as `tls` says, is SERVING,
    /// or panics after `limit`.
    pub async fn wait_serving_url(url: &str, tls: &PeerTls, limit: Duration) {
        let what = format!("the service at {url} to be SERVING");
        poll::until_ok(&what, limit, || async {
            let channel = ocop_kit::client::endpoint(url, tls)
                .expect("endpoint")
                .connect()
                .await
                .map_err(|e| format!("{e:#}"))?;
            let status = HealthClient::new(channel)
                .check(HealthCheckRequest { service: String::new() })
                .await
                .map_err(|e| format!("{e:#}"))?
                .into_inner()
                .status;
            if status == ServingStatus::Serving as i32 {
                Ok(())
            } else {
                Err(format!("{:?}", ServingStatus::try_from(status)))
            }
        })
        .await
    }

    /// Triggers a graceful shutdown and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle).await?
    }
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("ascii token"));
    request
}
