//! Logs and traces: JSON log lines carrying the trace id, OpenTelemetry spans
//! exported over OTLP when an endpoint is configured, and W3C trace context
//! carried across every gRPC call in both directions. The spans of calls
//! follow OpenTelemetry's RPC conventions (see [`server_span`] and [`client_span`]).

mod rpc;

pub use rpc::{Side, client_span, header_status, record_status, server_span};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{DeploymentConfig, DeploymentRole, LogFormat, TelemetryConfig};

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes spans.
#[must_use = "dropping the guard without shutdown loses buffered spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the process-wide subscriber. Call once, inside the Tokio
    /// runtime (the OTLP exporter needs its reactor). A second call in the
    /// same process (tests, the all-in-one launcher) is a no-op.
    ///
    /// Every span carries the process's identity as resource attributes:
    /// the service, its version, and which deployment it belongs to (see
    /// [`resource`]), so traces of 35 deployments can be told apart.
    pub fn init(
        service_name: &str,
        config: &TelemetryConfig,
        deployment: &DeploymentConfig,
    ) -> anyhow::Result<Telemetry> {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let mut builder = SdkTracerProvider::builder().with_resource(resource(service_name, deployment));
        if let Some(endpoint) = &config.otlp_endpoint {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()?;
            builder = builder.with_batch_exporter(exporter);
        }
        // With no exporter the provider still assigns trace and span ids, so
        // log lines carry a trace id even when nothing is exported.
        let provider = builder.build();
        let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("ocop"));
        let fmt = match config.log_format {
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .boxed(),
            LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        };
        let installed = tracing_subscriber::registry()
            .with(EnvFilter::try_new(&config.log_filter)?)
            .with(otel)
            .with(fmt)
            .try_init()
            .is_ok();
        Ok(Telemetry {
            provider: installed.then_some(provider),
        })
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

/// The resource every span of this process carries: `service.name`,
/// `service.namespace` (`ocop`), `service.version` (the build's), and
/// `ocop.deployment.role` with, for a province's deployment, `ocop.province`.
pub fn resource(service_name: &str, deployment: &DeploymentConfig) -> Resource {
    let role = match deployment.role {
        DeploymentRole::Province => "province",
        DeploymentRole::National => "national",
    };
    let mut attributes = vec![
        KeyValue::new("service.namespace", "ocop"),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("ocop.deployment.role", role),
    ];
    if let Some(code) = &deployment.province_code {
        attributes.push(KeyValue::new("ocop.province", code.clone()));
    }
    Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attributes(attributes)
        .build()
}

/// The span context a stored W3C `traceparent` names (invalid when it names none).
pub fn span_context_of(traceparent: &str) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::TraceContextExt;
    let carrier: std::collections::HashMap<String, String> = [("traceparent".to_owned(), traceparent.to_owned())]
        .into_iter()
        .collect();
    TraceContextPropagator::new()
        .extract(&carrier)
        .span()
        .span_context()
        .clone()
}

/// The W3C `traceparent` of the current span, for outbox rows and logs.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = std::collections::HashMap::new();
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Writes `cx` into the headers of an outgoing request.
pub fn inject_headers(cx: &Context, headers: &mut http::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}

/// The caller's context, from the headers of an incoming request.
fn extract_headers(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
