//! Logs and traces: JSON log lines carrying the trace id, OpenTelemetry spans
//! exported over OTLP when an endpoint is configured, and W3C trace context
//! carried across every gRPC call in both directions.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes spans.
#[must_use = "dropping the guard without shutdown loses buffered spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the process-wide subscriber. Call once, inside the Tokio
    /// runtime (the OTLP exporter needs its reactor). A second call in the
    /// same process (tests, the all-in-one launcher) is a no-op.
    pub fn init(service_name: &str, config: &TelemetryConfig) -> anyhow::Result<Telemetry> {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let resource = Resource::builder()
            .with_service_name(service_name.to_owned())
            .with_attribute(KeyValue::new("service.namespace", "ocop"))
            .build();
        let mut builder = SdkTracerProvider::builder().with_resource(resource);
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

/// Opens the server span of one gRPC request: named `<service>.<Method>`
/// (through `otel.name`), child of the caller's `traceparent` when present,
/// and carrying `trace_id` so every log line inside it can be correlated.
/// A path the service does not serve is named `<service>._OTHER`.
pub fn server_span(service: &str, methods: &crate::methods::Methods, request: &http::Request<()>) -> tracing::Span {
    let method = methods.name(request.uri().path());
    let span = tracing::info_span!(
        "grpc",
        otel.name = format!("{service}.{method}"),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = method,
        trace_id = tracing::field::Empty,
    );
    if span.is_disabled() {
        // Filtered out (e.g. a warn-only log filter): skip the propagation work.
        return span;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
    // Must precede any use of the span's context (tracing-opentelemetry 0.34).
    let _ = span.set_parent(parent);
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span
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

/// Writes `cx` into gRPC metadata.
pub fn inject(cx: &Context, metadata: &mut tonic::metadata::MetadataMap) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, &mut MetadataInjector(metadata)));
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
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
