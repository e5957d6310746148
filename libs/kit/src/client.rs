//! Outgoing gRPC: channels to the other services that carry the caller's
//! trace context and, when given, a bearer token.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::config::PeerTls;
use crate::telemetry;

/// The endpoint of one peer: `url` with its timeouts and, for `https://`,
/// TLS that verifies the peer against `tls.ca_file` (the system roots when
/// unset) under `tls.server_name` (the URL's host when unset), presenting
/// `tls.cert_file` when set. A balancer dialling the peer's addresses one by
/// one passes each address as `url` and the peer's host as `server_name`.
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

/// A channel with trace propagation (and a token), as generated clients take it.
pub type TracedChannel = InterceptedService<Channel, CallInterceptor>;

/// Adds `traceparent` from the current span and, if set, the bearer token.
#[derive(Clone, Default)]
pub struct CallInterceptor {
    bearer: Option<MetadataValue<Ascii>>,
}

impl tonic::service::Interceptor for CallInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        telemetry::inject(&tracing::Span::current().context(), request.metadata_mut());
        if let Some(bearer) = &self.bearer {
            request.metadata_mut().insert("authorization", bearer.clone());
        }
        Ok(request)
    }
}

/// A lazily connected channel to `url`, dialled as `tls` says, sending
/// `token` (if any) on every call.
pub fn channel(url: &str, tls: &PeerTls, token: Option<&str>) -> anyhow::Result<TracedChannel> {
    let channel = endpoint(url, tls)?.connect_lazy();
    let bearer = token.map(|t| format!("Bearer {t}").parse()).transpose()?;
    Ok(InterceptedService::new(channel, CallInterceptor { bearer }))
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
