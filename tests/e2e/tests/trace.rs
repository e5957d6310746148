//! One trace across two processes: the caller's span context travels in the
//! gRPC metadata (the platform's client), the registry process continues it
//! (the platform's server), both export over OTLP, and the registry's log
//! lines carry the same trace id.
//!
//! A file of its own: it installs the process-wide tracing subscriber.

use std::time::Duration;

use fake_opentelemetry_collector::FakeCollectorServer;
use ocop_e2e::Process;
use ocop_kit::config::{LogFormat, TelemetryConfig};
use ocop_kit::telemetry::Telemetry;
use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::TestEnv;
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

// Multi-threaded: flushing the caller's spans blocks one thread while the
// exporter needs the runtime's reactor on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_crosses_a_service_to_service_call() {
    let env = TestEnv::new().await;
    let mut collector = FakeCollectorServer::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let mut registry = Process::start("registry", &env, &[("OCOP_OTLP_ENDPOINT", endpoint.as_str())]);
    ocop_testkit::TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;

    // The test process plays the calling service, with the same telemetry and client code.
    let telemetry = Telemetry::init(
        "ocop-caller",
        &TelemetryConfig {
            otlp_endpoint: Some(endpoint),
            log_format: LogFormat::Json,
            log_filter: "info".into(),
        },
    )
    .expect("telemetry");
    let token = env.token("service", None, None);
    let channel = ocop_kit::client::channel(&registry.url(), &Default::default(), Some(&token)).expect("channel");
    let span = tracing::info_span!("caller", otel.name = "caller.Work");
    let (trace_id, caller_span_id) = {
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    };
    let unit = async {
        RegistryServiceClient::new(channel)
            .get_administrative_unit(GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-38".into(),
            })
            .await
    }
    .instrument(span)
    .await
    .expect("call")
    .into_inner();
    assert!(unit.administrative_unit.is_some());
    telemetry.shutdown();

    // SIGTERM makes the registry flush its batch of spans.
    registry.terminate();
    assert_eq!(registry.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let spans = collector.exported_spans(2, Duration::from_secs(10)).await;
    let caller = spans
        .iter()
        .find(|s| s.name == "caller.Work")
        .unwrap_or_else(|| panic!("no caller span in {spans:#?}"));
    let server = spans
        .iter()
        .find(|s| s.name == "registry.GetAdministrativeUnit")
        .unwrap_or_else(|| {
            panic!(
                "no registry span in {spans:#?}\nregistry output:\n{}",
                registry.output().join("\n")
            )
        });
    assert_eq!(caller.trace_id, trace_id);
    assert_eq!(server.trace_id, trace_id, "one trace across both processes");
    assert_eq!(
        server.parent_span_id, caller_span_id,
        "the server span is the caller's child"
    );
    assert_eq!(server.kind, "SPAN_KIND_SERVER");

    let logged = registry
        .output()
        .into_iter()
        .filter(|l| l.contains("rpc finished"))
        .collect::<Vec<_>>();
    assert!(
        logged
            .iter()
            .any(|l| l.contains(&format!("\"trace_id\":\"{trace_id}\""))),
        "no log line with the trace id: {logged:#?}"
    );
}
