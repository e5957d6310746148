//! Outgoing gRPC: channels to the other services that carry the caller's
//! trace context and, when given, a bearer token.

use std::task::{Context, Poll};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tower::Service;

use crate::config::PeerTls;
use crate::telemetry::{self, Side};

mod balance;

/// A channel with trace propagation (and a token), as generated clients take it.
pub type TracedChannel = Traced<Channel>;

/// Wraps a channel: every call gets a client span (a child of the current
/// span, by the RPC conventions), that span's `traceparent`, and, if set,
/// the bearer token.
#[derive(Clone)]
pub struct Traced<S> {
    inner: S,
    /// The server's URL: requests reach this layer with their path only.
    origin: http::Uri,
    bearer: Option<http::HeaderValue>,
    /// `grpc-timeout` of calls that set none themselves.
    deadline: Option<http::HeaderValue>,
}

impl<S> Traced<S> {
    /// `inner`, a channel to `origin`, sending `bearer` (a whole `Bearer …`
    /// value) on every call.
    pub fn new(inner: S, origin: http::Uri, bearer: Option<http::HeaderValue>) -> Self {
        Traced {
            inner,
            origin,
            bearer,
            deadline: None,
        }
    }

    /// Every call without a deadline of its own gets `deadline`: tonic's
    /// channel enforces `grpc-timeout` on the caller's side (the call ends
    /// CANCELLED, "Timeout expired") and the callee's server on its side.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        // At most 8 digits (gRPC over HTTP/2): milliseconds up to ~27 hours.
        let millis = deadline.as_millis().min(99_999_999);
        self.deadline = http::HeaderValue::from_str(&format!("{millis}m")).ok();
        self
    }
}

impl<S, B, R> Service<http::Request<B>> for Traced<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let span = telemetry::client_span(request.uri().path(), &self.origin);
        // The callee continues the client span, not the caller's.
        telemetry::inject_headers(&span.context(), request.headers_mut());
        if let Some(bearer) = &self.bearer {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, bearer.clone());
        }
        if let Some(deadline) = &self.deadline {
            request
                .headers_mut()
                .entry("grpc-timeout")
                .or_insert_with(|| deadline.clone());
        }
        let call = self.inner.call(request);
        let recorded = span.clone();
        Box::pin(
            async move {
                let response = call.await;
                // A transport error never reached the service.
                let code = match &response {
                    Ok(response) => telemetry::header_status(response.headers()),
                    Err(_) => tonic::Code::Unavailable,
                };
                telemetry::record_status(&recorded, Side::Client, code);
                response
            }
            .instrument(span),
        )
    }
}

/// A lazily connected channel to `url`, dialled as `tls` says, sending
/// `token` (if any) on every call.
pub fn channel(url: &str, tls: &PeerTls, token: Option<&str>) -> anyhow::Result<TracedChannel> {
    let endpoint = endpoint(url, tls)?;
    let origin = endpoint.uri().clone();
    Ok(Traced::new(endpoint.connect_lazy(), origin, bearer(token)?))
}

/// A channel to another service of this deployment as `to` configures it:
/// spread over its replicas when `to.balance` is set (see
/// [`crate::config::BalanceConfig`]), else [`channel`] to its URL, every
/// call with `to.deadline_ms` as its deadline. Must be called inside a Tokio
/// runtime.
pub fn service_channel(to: &crate::config::Endpoint, token: Option<&str>) -> anyhow::Result<TracedChannel> {
    let channel = match &to.balance {
        None => channel(&to.url, &to.tls, token)?,
        Some(balance) => Traced::new(
            balance::balanced(&to.url, balance, &to.tls)?,
            to.url.parse()?,
            bearer(token)?,
        ),
    };
    Ok(channel.with_deadline(Duration::from_millis(to.deadline_ms)))
}

/// The endpoint of one peer: `url` with the settings of every outgoing
/// connection (timeouts, no Nagle) and, for `https://`, TLS that verifies
/// the peer against `tls.ca_file` (the system roots when unset) under
/// `tls.server_name` (the URL's host when unset), presenting `tls.cert_file`
/// when set. The balancer dials each address of a peer with the peer's host
/// as `server_name`.
///
/// `http://` is dialled in plaintext: config validation has already refused
/// it off loopback unless the peer has `allow_plaintext`.
pub fn endpoint(url: &str, tls: &PeerTls) -> anyhow::Result<Endpoint> {
    use anyhow::Context as _;
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut endpoint = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("cannot read {} (TLS of {url})", path.display()))
        };
        let mut config = ClientTlsConfig::new();
        config = match &tls.ca_file {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        let name = match &tls.server_name {
            Some(name) => name.clone(),
            None => crate::config::url_host(url)
                .with_context(|| format!("{url} names no host"))?
                .to_owned(),
        };
        endpoint = endpoint.tls_config(config.domain_name(name))?;
    }
    Ok(endpoint)
}

fn bearer(token: Option<&str>) -> anyhow::Result<Option<http::HeaderValue>> {
    Ok(token.map(|t| format!("Bearer {t}").parse()).transpose()?)
}

/// The caller's bearer token, to be passed on to another service so that its
/// own rules on what the caller may read apply.
pub type Bearer = Option<MetadataValue<Ascii>>;

/// The caller's bearer token of an incoming request.
pub fn bearer_of<T>(request: &tonic::Request<T>) -> Bearer {
    request.metadata().get("authorization").cloned()
}

/// An outgoing request carrying `bearer`.
pub fn with_token<T>(message: T, bearer: &Bearer) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(b) = bearer {
        request.metadata_mut().insert("authorization", b.clone());
    }
    request
}

/// How to speak of another service's refusal in this one's vocabulary.
pub struct Remote {
    /// The other service, for logs and the `checked_with` metadata.
    pub service: &'static str,
    /// Reason when it refused the caller (PERMISSION_DENIED).
    pub refused: &'static str,
    /// Reason when it did not answer (UNAVAILABLE).
    pub unavailable: &'static str,
}

impl Remote {
    /// Maps `status`, answered about `what`, which the caller named in `field`.
    pub fn error(&self, status: tonic::Status, what: &str, field: &str) -> crate::Error {
        use crate::Error;
        match status.code() {
            tonic::Code::NotFound => Error::not_found(what).with_metadata("checked_with", self.service),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Error::permission_denied(
                self.refused,
                format!(
                    "the {} service refused to show {what}: {}",
                    self.service,
                    status.message()
                ),
            ),
            tonic::Code::InvalidArgument => Error::invalid(field, status.message().to_owned()),
            _ => {
                tracing::warn!(service = self.service, code = ?status.code(), message = status.message(), "call failed");
                Error::unavailable(
                    self.unavailable,
                    format!("the {} service did not answer; retry shortly", self.service),
                )
            }
        }
    }
}
