//! The tower layer in front of every gRPC service: authenticates the bearer
//! token (public methods excepted), puts the [`Principal`] in the request's
//! extensions, and records rate, errors and latency per method. It also
//! finds each call's client address (see [`crate::ratelimit`]), puts it in
//! the extensions as a [`ClientAddr`], and holds the service's public
//! methods to their shared per-client budget.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::body::Body;
use tower::{Layer, Service};

use crate::auth::{Principal, Verifier};
use crate::error::{Error, Result};
use crate::methods::Methods;
use crate::ratelimit::{ClientAddr, Limiter, Rule};
use crate::tls::{Callers, ConnInfo};

/// Methods every service serves without a token.
const ALWAYS_PUBLIC: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.",
    "/grpc.reflection.v1alpha.",
];

/// Builds [`RequestGuard`] services.
#[derive(Clone)]
pub struct RequestLayer {
    verifier: Arc<Verifier>,
    public_methods: &'static [&'static str],
    service: &'static str,
    methods: Arc<Methods>,
    limit: Option<(Arc<Limiter>, Rule)>,
    callers: Option<Arc<Callers>>,
}

impl RequestLayer {
    /// `public_methods` are full paths (`/pkg.Service/Method`) that need no
    /// token; `methods` are the ones metrics are labelled with.
    pub fn new(
        verifier: Arc<Verifier>,
        public_methods: &'static [&'static str],
        service: &'static str,
        methods: Arc<Methods>,
    ) -> Self {
        RequestLayer {
            verifier,
            public_methods,
            service,
            methods,
            limit: None,
            callers: None,
        }
    }

    /// Holds the methods that need a token to the client-certificate rules
    /// `callers` (see [`Callers::check`]).
    pub fn callers(mut self, callers: Option<Callers>) -> Self {
        self.callers = callers.map(Arc::new);
        self
    }

    /// Limits `public_methods` by `rule` on `limiter`, per client address.
    pub fn limited(mut self, limiter: Arc<Limiter>, rule: Rule) -> Self {
        self.limit = Some((limiter, rule));
        self
    }
}

impl<S> Layer<S> for RequestLayer {
    type Service = RequestGuard<S>;
    fn layer(&self, inner: S) -> RequestGuard<S> {
        RequestGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct RequestGuard<S> {
    inner: S,
    layer: RequestLayer,
}

impl<S, B> Service<http::Request<B>> for RequestGuard<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let path = request.uri().path();
        let method = self.layer.methods.name(path);
        let service = self.layer.service;
        if let Some(conn) = request.extensions().get::<ConnInfo>()
            && conn.plaintext_on_tls
        {
            let err = Error::failed_precondition(
                "TLS_REQUIRED",
                format!(
                    "this port speaks TLS: dial https://{} (with the deployment's CA) instead of http://",
                    conn.local_addr
                        .map_or_else(|| "<host:port>".to_owned(), |a| a.to_string())
                ),
            );
            tracing::info!(reason = err.reason(), "request refused: {}", err.message());
            record(service, method, err.kind().code() as i32, started);
            return Box::pin(std::future::ready(Ok(err.into_status().into_http())));
        }
        let listed = self.layer.public_methods.contains(&path);
        let public = listed || ALWAYS_PUBLIC.iter().any(|p| path.starts_with(p));
        // Only the token-free methods are limited per client (and read the
        // client's address): the rest are spared the header parsing.
        let extensions = request.extensions();
        let peer = match extensions.get::<ConnInfo>() {
            Some(conn) => conn.remote_addr,
            // Served from `server::incoming` (benchmarks, tests).
            None => extensions
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(|info| info.remote_addr()),
        }
        .filter(|_| listed);
        let client = peer.map(|peer| match &self.layer.limit {
            Some((limiter, _)) => limiter.proxies().client(peer.ip(), request.headers()),
            None => peer.ip(),
        });
        if let Some(client) = client {
            request.extensions_mut().insert(ClientAddr(client));
        }
        let limit = match (&self.layer.limit, client) {
            (Some((limiter, rule)), Some(client)) => Some((limiter.clone(), *rule, client)),
            _ => None,
        };
        if !public {
            let checked = authenticate(&self.layer.verifier, request.headers()).and_then(|principal| {
                if let Some(callers) = &self.layer.callers {
                    callers.check(request.extensions().get::<ConnInfo>(), &principal)?;
                }
                Ok(principal)
            });
            match checked {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(err) => {
                    // Recorded when polled: only then is the request's span current.
                    return Box::pin(async move {
                        tracing::info!(reason = err.reason(), "request refused: {}", err.message());
                        record(service, method, err.kind().code() as i32, started);
                        Ok(err.into_status().into_http())
                    });
                }
            }
        }
        // The service that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if let Some((limiter, rule, client)) = limit
                && let Err(err) = limiter.check(&rule, client).await
            {
                tracing::info!(reason = err.reason(), "request refused: {}", err.message());
                record(service, method, err.kind().code() as i32, started);
                return Ok(err.into_status().into_http());
            }
            let response = inner.call(request).await?;
            let code = crate::telemetry::header_status(response.headers());
            record(service, method, code as i32, started);
            Ok(response)
        })
    }
}

fn authenticate(verifier: &Verifier, headers: &http::HeaderMap) -> Result<Principal> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
        Error::unauthenticated(
            "TOKEN_MISSING",
            "this method needs `authorization: Bearer <token>` metadata (see `ocop token`)",
        )
    })?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| {
            Error::unauthenticated("TOKEN_MALFORMED", "the authorization metadata must be `Bearer <token>`")
        })?;
    verifier.verify(token.trim())
}

/// `method` is a served method's name or [`crate::methods::OTHER`]: the
/// label set stays bounded whatever paths callers send.
/// It runs inside the request's span, which it gives its status.
fn record(service: &'static str, method: &'static str, code: i32, started: Instant) {
    let code = tonic::Code::from_i32(code);
    crate::telemetry::record_status(&tracing::Span::current(), crate::telemetry::Side::Server, code);
    let elapsed = started.elapsed();
    metrics::counter!("ocop_grpc_requests_total", "service" => service, "method" => method, "code" => crate::reasons::code_name(code))
        .increment(1);
    metrics::histogram!("ocop_grpc_request_duration_seconds", "service" => service, "method" => method)
        .record(elapsed.as_secs_f64());
    tracing::info!(code = ?code, elapsed_us = elapsed.as_micros() as u64, "rpc finished");
}
