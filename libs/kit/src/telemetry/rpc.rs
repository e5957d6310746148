//! Spans of gRPC calls by OpenTelemetry's RPC conventions: named
//! `<rpc.service>/<rpc.method>`, of kind server or client, with
//! `rpc.system`, `rpc.service`, `rpc.method` and, once the call is answered,
//! `rpc.grpc.status_code`; a call that failed by the convention of its side
//! has the error status.

use opentelemetry::trace::TraceContextExt;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::methods::{Method, Methods};

/// Which end of a call a span stands for: the two count different codes as
/// errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The service answering the call.
    Server,
    /// The caller.
    Client,
}

/// Opens the server span of one gRPC request, child of the caller's
/// `traceparent` when present, and carrying `trace_id` so every log line
/// inside it can be correlated. A path the service does not serve is named
/// `_OTHER`, so callers cannot grow the set of span names.
pub fn server_span(methods: &Methods, request: &http::Request<()>) -> tracing::Span {
    let method = methods.get(request.uri().path());
    let span = tracing::info_span!(
        "grpc",
        otel.name = %SpanName(method),
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = method.service,
        rpc.method = method.name,
        rpc.grpc.status_code = Empty,
        trace_id = Empty,
    );
    if span.is_disabled() {
        // Filtered out (e.g. a warn-only log filter): skip the propagation work.
        return span;
    }
    // Must precede any use of the span's context (tracing-opentelemetry 0.34).
    let _ = span.set_parent(super::extract_headers(request.headers()));
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span
}

/// Opens the client span of an outgoing call to `path` on the server at
/// `origin` (the channel's URL), a child of the current span. Our own code
/// chooses the paths it calls, so they are the span's names as they are.
pub fn client_span(path: &str, origin: &http::Uri) -> tracing::Span {
    let (service, method) = split(path);
    tracing::info_span!(
        "grpc.client",
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
        server.address = origin.host().unwrap_or_default(),
        server.port = origin.port_u16(),
    )
}

/// Records the status a call ended with on its span. A server counts as its
/// own failures only the codes that say it failed (UNKNOWN, DEADLINE_EXCEEDED,
/// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS), not a caller's bad
/// request; a client counts every code but OK.
pub fn record_status(span: &tracing::Span, side: Side, code: tonic::Code) {
    use tonic::Code::*;
    span.record("rpc.grpc.status_code", code as i64);
    let failed = match side {
        Side::Client => code != Ok,
        Side::Server => matches!(
            code,
            Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
        ),
    };
    if failed {
        span.record("otel.status_code", "error");
    }
}

/// The status a response's headers carry. An error answer of a unary call
/// is trailers-only, so its status is in the headers; without one the call
/// succeeded (a success puts OK in the trailers, after the body).
pub fn header_status(headers: &http::HeaderMap) -> tonic::Code {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

/// `pkg.Service/Method` of a served method, `_OTHER` for the rest.
struct SpanName(Method);

impl std::fmt::Display for SpanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == Method::UNKNOWN {
            f.write_str(crate::methods::OTHER)
        } else {
            write!(f, "{}/{}", self.0.service, self.0.name)
        }
    }
}

/// `("pkg.Service", "Method")` of `/pkg.Service/Method`.
fn split(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.rsplit_once('/').unwrap_or((path, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split("/ocop.registry.v1.RegistryService/GetProduct"),
            ("ocop.registry.v1.RegistryService", "GetProduct")
        );
        assert_eq!(split("/"), ("", ""));
    }

    #[test]
    fn spans_are_named_by_service_and_method() {
        let methods = Methods::of("ocop.registry.v1.RegistryService");
        let named = SpanName(methods.get("/ocop.registry.v1.RegistryService/GetProduct"));
        assert_eq!(named.to_string(), "ocop.registry.v1.RegistryService/GetProduct");
        let other = SpanName(methods.get("/x.Y/Z"));
        assert_eq!(other.to_string(), "_OTHER");
    }
}
