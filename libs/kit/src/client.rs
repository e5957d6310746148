//! Outgoing gRPC: channels to the other services that carry the caller's
//! trace context and, when given, a bearer token.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::telemetry::TraceInterceptor;

/// A channel with trace propagation, as the generated clients take it.
pub type TracedChannel = InterceptedService<Channel, TraceInterceptor>;

/// A lazily connected channel to `url` that injects `traceparent` into every call.
pub fn channel(url: &str) -> anyhow::Result<TracedChannel> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, TraceInterceptor))
}
