//! One trace across two processes, by OpenTelemetry's RPC conventions: the
//! caller's client span (the platform's client) travels in the gRPC
//! metadata, the registry process continues it with its server span (the
//! platform's server), both export over OTLP with their resource attributes,
//! and the registry's log lines carry the same trace id.
//!
//! A file of its own: it installs the process-wide tracing subscriber.

use std::time::Duration;

use ocop_e2e::Process;
use ocop_e2e::collector::{Collector, Span};
use ocop_kit::config::{DeploymentConfig, DeploymentRole, LogFormat, TelemetryConfig};
use ocop_kit::telemetry::Telemetry;
use ocop_proto::registry::v1::GetAdministrativeUnitRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::TestEnv;
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const GET_UNIT: &str = "ocop.registry.v1.RegistryService/GetAdministrativeUnit";

fn find<'a>(spans: &'a [Span], name: &str, kind: &str, status_code: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name && s.kind == kind && s.attr("rpc.grpc.status_code") == Some(status_code))
        .unwrap_or_else(|| panic!("no {kind} span {name} with status {status_code} in {spans:#?}"))
}

// Multi-threaded: flushing the caller's spans blocks one thread while the
// exporter needs the runtime's reactor on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_crosses_a_service_to_service_call() {
    let env = TestEnv::new().await;
    let collector = Collector::start().await;
    let endpoint = collector.endpoint();
    let mut registry = Process::start(
        "registry",
        &env,
        &[
            ("OCOP_OTLP_ENDPOINT", endpoint.as_str()),
            ("OCOP_DEPLOYMENT__PROVINCE_CODE", "38"),
        ],
    );
    ocop_testkit::TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;

    // The test process plays the calling service, with the same telemetry and client code.
    let telemetry = Telemetry::init(
        "ocop-caller",
        &TelemetryConfig {
            otlp_endpoint: Some(endpoint),
            log_format: LogFormat::Json,
            log_filter: "info".into(),
        },
        &DeploymentConfig {
            role: DeploymentRole::National,
            province_code: None,
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
    let (found, missing) = async {
        let mut client = RegistryServiceClient::new(channel);
        let found = client
            .get_administrative_unit(GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-38".into(),
            })
            .await;
        let missing = client
            .get_administrative_unit(GetAdministrativeUnitRequest {
                name: "administrativeUnits/2025-99999".into(),
            })
            .await;
        (found, missing)
    }
    .instrument(span)
    .await;
    assert!(found.expect("call").into_inner().administrative_unit.is_some());
    assert_eq!(missing.expect_err("no such unit").code(), tonic::Code::NotFound);
    telemetry.shutdown();

    // SIGTERM makes the registry flush its batch of spans.
    registry.terminate();
    assert_eq!(registry.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let spans = collector
        .spans_until(Duration::from_secs(10), |spans| {
            spans.iter().filter(|s| s.name == GET_UNIT).count() >= 4 && spans.iter().any(|s| s.name == "caller.Work")
        })
        .await;
    let caller = spans.iter().find(|s| s.name == "caller.Work").expect("caller span");
    assert_eq!(caller.trace_id, trace_id);
    assert_eq!(caller.span_id, caller_span_id);
    assert_eq!(
        caller.resource.get("service.name").map(String::as_str),
        Some("ocop-caller")
    );
    assert_eq!(
        caller.resource.get("ocop.deployment.role").map(String::as_str),
        Some("national")
    );
    assert_eq!(
        caller.resource.get("ocop.province"),
        None,
        "a national process has no province"
    );

    let client = find(&spans, GET_UNIT, "SPAN_KIND_CLIENT", "0");
    let server = find(&spans, GET_UNIT, "SPAN_KIND_SERVER", "0");
    assert_eq!(client.trace_id, trace_id);
    assert_eq!(
        client.parent_span_id, caller_span_id,
        "the client span is the caller's child"
    );
    assert_eq!(server.trace_id, trace_id, "one trace across both processes");
    assert_eq!(
        server.parent_span_id, client.span_id,
        "the server span is the client span's child"
    );
    for span in [client, server] {
        assert_eq!(span.attr("rpc.system"), Some("grpc"));
        assert_eq!(span.attr("rpc.service"), Some("ocop.registry.v1.RegistryService"));
        assert_eq!(span.attr("rpc.method"), Some("GetAdministrativeUnit"));
        assert_eq!(span.status, "STATUS_CODE_UNSET", "a success: {span:#?}");
    }
    assert_eq!(client.attr("server.address"), Some("127.0.0.1"));
    assert_eq!(
        client.attr("server.port"),
        Some(registry.grpc_addr.port().to_string().as_str())
    );
    for (key, value) in [
        ("service.name", "ocop-registry"),
        ("service.namespace", "ocop"),
        ("service.version", env!("CARGO_PKG_VERSION")),
        ("ocop.deployment.role", "province"),
        ("ocop.province", "38"),
    ] {
        assert_eq!(
            server.resource.get(key).map(String::as_str),
            Some(value),
            "{key}: {server:#?}"
        );
    }

    // NOT_FOUND is the caller's failure, not the server's.
    let client = find(&spans, GET_UNIT, "SPAN_KIND_CLIENT", "5");
    let server = find(&spans, GET_UNIT, "SPAN_KIND_SERVER", "5");
    assert_eq!(client.status, "STATUS_CODE_ERROR");
    assert_eq!(server.status, "STATUS_CODE_UNSET");

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
