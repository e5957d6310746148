//! Outgoing gRPC: channels to the other services that carry the caller's
//! trace context and, when given, a bearer token.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::telemetry;

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

/// A lazily connected channel to `url`, sending `token` (if any) on every call.
pub fn channel(url: &str, token: Option<&str>) -> anyhow::Result<TracedChannel> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy();
    let bearer = token.map(|t| format!("Bearer {t}").parse()).transpose()?;
    Ok(InterceptedService::new(channel, CallInterceptor { bearer }))
}
