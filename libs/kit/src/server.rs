//! Runs one service: gRPC (the service, health, reflection) and HTTP
//! (`/metrics`, `/healthz`) listeners, readiness that follows the database,
//! and a graceful shutdown.
//!
//! Start-up order matters to operators: the ports are bound and health
//! answers NOT_SERVING at once; the service turns SERVING only once its
//! migrations have run and the database answers, and goes back to
//! NOT_SERVING whenever the database stops answering or shutdown begins.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::Layer;

use crate::auth::Verifier;
use crate::cache::Cache;
use crate::config::{Config, Endpoint, ServiceName};
use crate::linger::Lingering;
use crate::request_layer::RequestLayer;
use crate::{db, metrics_http};

/// A boxed future for the per-service preparation hook.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work a service does after its migrations and before it serves.
pub type PrepareHook = fn(PgPool) -> BoxFuture<'static, anyhow::Result<()>>;

/// What the platform needs to know about a service.
pub struct ServiceSpec {
    /// Which service; also its schema.
    pub name: ServiceName,
    /// Fully qualified gRPC service, e.g. `ocop.registry.v1.RegistryService`.
    pub grpc_service: &'static str,
    /// Its embedded migrations.
    pub migrations: &'static Migrator,
    /// Methods served without a token (`/pkg.Service/Method`).
    pub public_methods: &'static [&'static str],
    /// Runs after the migrations, before the service reports SERVING
    /// (loading reference data, for instance). Must be idempotent.
    pub prepare: Option<PrepareHook>,
}

/// What a service serves: its gRPC routes, and optionally pages on its HTTP
/// port (beside `/metrics` and `/healthz`) and background tasks, which stop
/// with the service.
pub struct Surface {
    /// The gRPC services.
    pub grpc: Routes,
    /// Extra HTTP routes.
    pub http: axum::Router,
    /// Long-running tasks (sweeps); aborted at shutdown.
    pub tasks: Vec<BoxFuture<'static, ()>>,
}

impl From<Routes> for Surface {
    fn from(grpc: Routes) -> Self {
        Surface {
            grpc,
            http: axum::Router::new(),
            tasks: Vec::new(),
        }
    }
}

/// Builds a service's surface from its context.
///
/// A service that cannot be built (a signing key that does not load, say)
/// returns the reason: the process exits with it, before it listens,
/// rather than panic or report SERVING without what it needs.
pub type Build = fn(&Context) -> anyhow::Result<Surface>;

/// What a service's handlers are built from.
#[derive(Clone)]
pub struct Context {
    /// The whole deployment configuration.
    pub config: Arc<Config>,
    /// Pool confined to the service's schema.
    pub db: PgPool,
    /// The cache, namespaced to the service.
    pub cache: Cache,
}

/// The two bound listeners of a service.
pub struct Listeners {
    /// gRPC.
    pub grpc: TcpListener,
    /// HTTP.
    pub http: TcpListener,
}

impl Listeners {
    /// Binds both addresses of `endpoint` (port 0 picks a free port).
    pub async fn bind(endpoint: &Endpoint) -> std::io::Result<Listeners> {
        Ok(Listeners {
            grpc: TcpListener::bind(endpoint.grpc_listen).await?,
            http: TcpListener::bind(endpoint.http_listen).await?,
        })
    }

    /// The bound addresses `(grpc, http)`.
    pub fn addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.grpc.local_addr()?, self.http.local_addr()?))
    }
}

/// Serves `spec` until `shutdown` resolves, then drains in-flight requests
/// for up to `shutdown_grace_ms` and returns.
pub async fn serve(
    spec: ServiceSpec,
    config: Arc<Config>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
    build: Build,
) -> anyhow::Result<()> {
    crate::tls::install_provider();
    let name = spec.name.as_str();
    let grpc_service = spec.grpc_service;
    // gRPC needs HTTP/2 (tonic clients insist on `h2` by ALPN); the HTTP
    // port also serves browsers and scrapers on HTTP/1.1.
    let (grpc_tls, http_tls) = if config.tls.enabled() {
        (
            Some(crate::tls::ServerTls::new(&config.tls, &[b"h2"])?),
            // Browsers open the verify page: no client certificates here.
            Some(crate::tls::ServerTls::new(
                &crate::config::TlsConfig {
                    client_auth: crate::config::ClientAuth::None,
                    client_ca_file: None,
                    callers: Vec::new(),
                    ..config.tls.clone()
                },
                &[b"h2", b"http/1.1"],
            )?),
        )
    } else {
        (None, None)
    };
    let verifier = Arc::new(Verifier::from_config(&config.auth)?);
    let context = Context {
        db: db::connect_lazy(&config.database, name)?,
        cache: Cache::new(&config.redis, name)?,
        config: config.clone(),
    };
    let (grpc_addr, http_addr) = listeners.addrs()?;

    let (health, health_service) = tonic_health::server::health_reporter();
    set_health(&health, grpc_service, false).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ocop_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(grpc_service)
            .with_service_name("ocop.feed.v1.FeedService")
            .with_service_name("ocop.audit.v1.AuditService")
            .with_service_name("grpc.health.v1.Health")
    };
    let surface = build(&context).map_err(|e| e.context(format!("the {name} service cannot start")))?;
    // Raised when shutdown begins; ends the feed's streams, which never end
    // on their own and would otherwise hold the drain for its whole grace.
    let (stop_tx, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicBool::new(false));
    let feed = ocop_proto::feed::v1::feed_service_server::FeedServiceServer::new(
        crate::feed::Feed::new(context.db.clone(), name)
            .stop_on(stop_rx.clone())
            .ready_on(ready.clone()),
    );
    let audit = ocop_proto::audit::v1::audit_service_server::AuditServiceServer::new(
        crate::audit::service::AuditLog::new(context.db.clone()),
    );
    let routes = surface
        .grpc
        .add_service(feed)
        .add_service(audit)
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);

    let methods = Arc::new(crate::methods::Methods::of(grpc_service));
    let span_methods = methods.clone();
    let grpc = tonic::transport::Server::builder()
        .trace_fn(move |request| crate::telemetry::server_span(&span_methods, request))
        .layer(
            RequestLayer::new(verifier, spec.public_methods, name, methods)
                .limited(
                    Arc::new(crate::ratelimit::Limiter::new(&config)?),
                    crate::ratelimit::Rule::public(name, &config),
                )
                .callers(crate::tls::Callers::of(&config.tls)),
        )
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            crate::tls::accept(listeners.grpc, grpc_tls, crate::tls::Protocol::Grpc)?,
            stopped(stop_rx.clone()),
        );
    // With the peer's address, for pages that rate-limit per client.
    // (What `into_make_service_with_connect_info` does for a TcpListener.)
    let pages = metrics_http::router(ready.clone()).merge(surface.http);
    let pages = tower::service_fn(
        move |incoming: axum::serve::IncomingStream<'_, crate::tls::TlsListener>| {
            let peer = *incoming.remote_addr();
            let pages = axum::Extension(axum::extract::ConnectInfo(peer)).layer(pages.clone());
            std::future::ready(Ok::<_, std::convert::Infallible>(pages))
        },
    );
    let http = axum::serve(
        crate::tls::accept(listeners.http, http_tls, crate::tls::Protocol::Http)?,
        pages,
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()))
    .into_future();
    let readiness = readiness(spec, context.db.clone(), health.clone(), ready.clone(), stop_rx.clone());

    tracing::info!(service = name, %grpc_addr, %http_addr, tls = config.tls.enabled(), "listening");
    let grpc = tokio::spawn(grpc);
    let http = tokio::spawn(http);
    let readiness = tokio::spawn(readiness);
    let mut tasks: Vec<_> = surface.tasks.into_iter().map(tokio::spawn).collect();
    tasks.push(tokio::spawn(crate::feed::sequencer(context.db.clone())));

    shutdown.await;
    tracing::info!(service = name, "shutting down: draining in-flight requests");
    ready.store(false, Ordering::SeqCst);
    set_health(&health, grpc_service, false).await;
    let _ = stop_tx.send(true);
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let drained = tokio::time::timeout(grace, async {
        let (g, h) = tokio::join!(grpc, http);
        g??;
        h??;
        anyhow::Ok(())
    })
    .await;
    readiness.abort();
    tasks.iter().for_each(|t| t.abort());
    crate::linger::settle(crate::linger::LINGER).await;
    match drained {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                service = name,
                grace_ms = config.shutdown_grace_ms,
                "requests still running after the grace period; exiting anyway"
            );
            Ok(())
        }
    }
}

/// Accepted connections with Nagle's algorithm off. Our own listener bypasses
/// tonic's `tcp_nodelay`, and without it a response larger than one segment
/// waits for the client's delayed ACK: measured as +40-50 ms on a search
/// returning 20 products.
///
/// Each connection lingers when the server is done with it (see
/// [`crate::linger`]), so a response in flight at shutdown is not lost to a
/// reset.
pub fn incoming(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<Lingering>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|stream| {
        let stream = stream?;
        stream.set_nodelay(true)?;
        Ok(Lingering::new(stream))
    })
}

/// Resolves once the stop flag is raised.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Sets the status of the service and of the server as a whole ("").
async fn set_health(health: &HealthReporter, grpc_service: &str, serving: bool) {
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    health.set_service_status(grpc_service, status).await;
    health.set_service_status("", status).await;
}

/// Migrates (retrying until the database is reachable), prepares, then
/// follows the database: SERVING while it answers, NOT_SERVING otherwise.
async fn readiness(
    spec: ServiceSpec,
    db: PgPool,
    health: HealthReporter,
    ready: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let name = spec.name.as_str();
    let mut prepared = false;
    let mut serving = false;
    loop {
        if !prepared {
            match prepare(&spec, &db).await {
                Ok(()) => {
                    prepared = true;
                    tracing::info!(service = name, "schema migrated");
                }
                Err(e) => {
                    tracing::warn!(service = name, error = %format!("{e:#}"), "database not ready; retrying")
                }
            }
        }
        let now = prepared && db::ping(&db).await;
        if now != serving {
            serving = now;
            ready.store(now, Ordering::SeqCst);
            set_health(&health, spec.grpc_service, now).await;
            tracing::info!(service = name, serving, "health changed");
        }
        // Poll fast until first ready, then at a calm pace.
        let pause = if serving {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn prepare(spec: &ServiceSpec, db: &PgPool) -> anyhow::Result<()> {
    db::migrate(db, spec.name.as_str(), spec.migrations).await?;
    if let Some(hook) = spec.prepare {
        hook(db.clone()).await?;
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
