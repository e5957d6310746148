//! Every call between services has a deadline (`services.X.deadline_ms`):
//! a peer that accepts the call and never answers does not hold the caller.

use std::time::Duration;

use ocop_kit::config::Endpoint;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// A health service whose check never answers.
struct Silent;

#[tonic::async_trait]
impl Health for Silent {
    async fn check(&self, _: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        std::future::pending().await
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not used"))
    }
}

async fn silent_peer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(HealthServer::new(Silent))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    url
}

fn to(url: String, deadline_ms: u64) -> Endpoint {
    let mut endpoint = ocop_kit::config::Config::default().services.registry;
    endpoint.url = url;
    endpoint.deadline_ms = deadline_ms;
    endpoint
}

#[tokio::test]
async fn a_call_to_a_peer_that_never_answers_ends_at_its_deadline() {
    let url = silent_peer().await;
    let channel = ocop_kit::client::service_channel(&to(url, 300), None).expect("channel");
    let mut client = HealthClient::new(channel);
    // Without a deadline the call would wait forever; the outer limit only
    // keeps a regression from hanging the suite.
    let answer = tokio::time::timeout(Duration::from_secs(60), client.check(HealthCheckRequest::default()))
        .await
        .expect("the call ended by its own deadline");
    let status = answer.expect_err("a silent peer gives no answer");
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
    assert!(status.message().contains("Timeout expired"), "{status:?}");
}

#[tokio::test]
async fn a_deadline_the_call_sets_itself_is_kept() {
    let url = silent_peer().await;
    // The channel's deadline is an hour; the call's own, 300 ms, wins.
    let channel = ocop_kit::client::service_channel(&to(url, 3_600_000), None).expect("channel");
    let mut client = HealthClient::new(channel);
    let mut request = Request::new(HealthCheckRequest::default());
    request.set_timeout(Duration::from_millis(300));
    let answer = tokio::time::timeout(Duration::from_secs(60), client.check(request))
        .await
        .expect("the call ended by its own deadline");
    assert_eq!(answer.expect_err("no answer").code(), tonic::Code::Cancelled);
}

#[test]
fn a_deadline_out_of_range_is_refused_naming_its_key() {
    let mut config = ocop_kit::config::Config::default();
    config.services.evaluation.deadline_ms = 0;
    let err = config.validate().expect_err("0 ms is refused").to_string();
    assert!(err.contains("services.evaluation.deadline_ms"), "{err}");
}
