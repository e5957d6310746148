//! One trace across two services: the evaluation process checks an entry's
//! product with the registry process over gRPC, and both export their spans
//! to the same OTLP collector. The evaluation's client spans must be children
//! of its server span, and the registry's server spans children of them, in
//! one trace.

use std::time::Duration;

use ocop_e2e::Process;
use ocop_e2e::collector::Collector;
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateProductRequest, CreateSubjectRequest, Product, Representative, Subject, SubjectKind,
};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

const CREATE_ENTRY: &str = "ocop.evaluation.v1.EvaluationService/CreateEntry";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_check_is_one_trace_across_evaluation_and_registry() {
    let env = TestEnv::new().await;
    let collector = Collector::start().await;
    let endpoint = collector.endpoint();
    let mut registry = Process::start("registry", &env, &[("OCOP_OTLP_ENDPOINT", endpoint.as_str())]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;
    let registry_url = registry.url();
    let mut evaluation = Process::start(
        "evaluation",
        &env,
        &[
            ("OCOP_OTLP_ENDPOINT", endpoint.as_str()),
            ("OCOP_SERVICES__REGISTRY__URL", registry_url.as_str()),
        ],
    );
    TestApp::wait_serving_at(evaluation.grpc_addr, Duration::from_secs(30)).await;
    let officer = env.token("province_officer", Some("38"), None);

    let mut reg = RegistryServiceClient::new(Channel::from_shared(registry_url).unwrap().connect().await.unwrap());
    let subject = Subject {
        kind: SubjectKind::Cooperative as i32,
        legal_name: "HTX Rau Hàm Rồng".into(),
        registration_number: "2801234567".into(),
        representative: Some(Representative {
            full_name: "Lan".into(),
            ..Default::default()
        }),
        commune_code: "14758".into(),
        ..Default::default()
    };
    let subject = reg
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(subject),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    let product = Product {
        display_name: "Rau cải".into(),
        group_code: "thuc-pham".into(),
        subgroup_code: "rau-cu-qua-hat-tuoi".into(),
        ..Default::default()
    };
    let product = reg
        .create_product(authorized(
            CreateProductRequest {
                parent: subject.name.clone(),
                product: Some(product),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();

    let mut eval =
        EvaluationServiceClient::new(Channel::from_shared(evaluation.url()).unwrap().connect().await.unwrap());
    let council = ["chu-tich", "uy-vien", "thu-ky"]
        .iter()
        .zip([CouncilRole::Chair, CouncilRole::Member, CouncilRole::Secretary])
        .map(|(user, role)| CouncilMember {
            user: user.to_string(),
            role: role as i32,
        })
        .collect();
    let round = EvaluationRound {
        level: RoundLevel::Province as i32,
        year: 2026,
        batch: 1,
        province_code: "38".into(),
        decision_date: Some(Date {
            year: 2026,
            month: 6,
            day: 1,
        }),
        council,
        ..Default::default()
    };
    let round = eval
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(round),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    eval.open_evaluation_round(authorized(
        OpenEvaluationRoundRequest {
            name: round.name.clone(),
            etag: round.etag,
        },
        &officer,
    ))
    .await
    .unwrap();
    eval.create_entry(authorized(
        CreateEntryRequest {
            parent: round.name,
            entry: Some(Entry {
                product: product.name,
                ..Default::default()
            }),
            request_id: String::new(),
        },
        &officer,
    ))
    .await
    .expect("entry accepted after the registry check");

    // SIGTERM flushes both processes' spans.
    evaluation.terminate();
    registry.terminate();
    assert_eq!(evaluation.wait_exit(Duration::from_secs(15)).code(), Some(0));
    assert_eq!(registry.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let spans = collector
        .spans_until(Duration::from_secs(10), |spans| {
            spans
                .iter()
                .filter(|s| s.kind == "SPAN_KIND_SERVER" && s.name.starts_with("ocop.registry."))
                .count()
                >= 2
                && spans.iter().any(|s| s.name == CREATE_ENTRY)
        })
        .await;
    let entry = spans
        .iter()
        .find(|s| s.name == CREATE_ENTRY && s.kind == "SPAN_KIND_SERVER")
        .unwrap_or_else(|| panic!("no evaluation span in {spans:#?}"));
    assert_eq!(
        entry.resource.get("service.name").map(String::as_str),
        Some("ocop-evaluation")
    );
    for method in ["GetProduct", "GetSubject"] {
        let name = format!("ocop.registry.v1.RegistryService/{method}");
        let client = spans
            .iter()
            .find(|s| s.name == name && s.kind == "SPAN_KIND_CLIENT")
            .unwrap_or_else(|| panic!("no client span {name} in {spans:#?}"));
        let server = spans
            .iter()
            .find(|s| s.name == name && s.kind == "SPAN_KIND_SERVER")
            .unwrap_or_else(|| panic!("no server span {name} in {spans:#?}"));
        assert_eq!(
            client.resource.get("service.name").map(String::as_str),
            Some("ocop-evaluation")
        );
        assert_eq!(
            server.resource.get("service.name").map(String::as_str),
            Some("ocop-registry")
        );
        assert_eq!(client.trace_id, entry.trace_id, "{name} is in the entry's trace");
        assert_eq!(server.trace_id, entry.trace_id, "{name} is in the entry's trace");
        assert_eq!(
            client.parent_span_id, entry.span_id,
            "{name}'s client span is a child of CreateEntry"
        );
        assert_eq!(
            server.parent_span_id, client.span_id,
            "{name}'s server span is its client span's child"
        );
        assert_eq!(client.attr("rpc.grpc.status_code"), Some("0"));
    }
}
