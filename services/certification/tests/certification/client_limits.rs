//! Limits that hold with several replicas behind a proxy: two instances on
//! one Redis prefix share each client's verification budget (page and RPC
//! together), and the client behind a trusted proxy (connecting from
//! 127.0.0.2) is the one its X-Forwarded-For names, while the same header
//! from an untrusted peer (127.0.0.1) is ignored.

use std::net::SocketAddr;

use ocop_proto::certification::v1::VerifyCertificateRequest;
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_testkit::TestEnv;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tonic::codegen::Bytes;
use tonic::codegen::http;
use tonic_types::StatusExt;

const CODE: &str = "38-K7M9Q2XA";

async fn env() -> TestEnv {
    let mut env = TestEnv::new().await;
    env.config.certification.verify_per_second = 1;
    env.config.certification.verify_burst = 2;
    env.config.http.trusted_proxies = vec!["127.0.0.2/32".into()];
    env
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// The verify page's status and Retry-After, asked from `from`.
async fn page(from: [u8; 4], to: SocketAddr, forwarded_for: Option<&str>) -> (u16, Option<String>) {
    let mut stream = connect_from(from, to).await;
    let xff = forwarded_for.map_or(String::new(), |v| format!("X-Forwarded-For: {v}\r\n"));
    let request = format!("GET /verify/{CODE} HTTP/1.1\r\nHost: verify\r\n{xff}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let retry = answer
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.to_lowercase().strip_prefix("retry-after: ").map(str::to_owned));
    (status, retry)
}

/// VerifyCertificate over a raw HTTP/2 connection from `from`: its grpc-status.
async fn rpc(from: [u8; 4], to: SocketAddr, forwarded_for: &str) -> i32 {
    let tcp = connect_from(from, to).await;
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!(
        "http://{to}/ocop.certification.v1.CertificationService/VerifyCertificate"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("x-forwarded-for", forwarded_for)
    .body(())
    .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    // VerifyCertificateRequest { code } in one length-prefixed message.
    let mut message = vec![0x0a, CODE.len() as u8];
    message.extend_from_slice(CODE.as_bytes());
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(Bytes::from(frame), true).unwrap();
    let response = response.await.unwrap();
    let status = |headers: &http::HeaderMap| {
        headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
    };
    if let Some(code) = status(response.headers()) {
        return code;
    }
    let mut body = response.into_body();
    while let Some(data) = body.data().await {
        let data = data.unwrap();
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body.trailers().await.unwrap().expect("trailers");
    status(&trailers).expect("grpc-status")
}

#[tokio::test]
async fn two_replicas_share_each_clients_budget() {
    let env = env().await;
    let a = env.spawn(ocop_certification::spec(), ocop_certification::routes).await;
    let b = env.spawn(ocop_certification::spec(), ocop_certification::routes).await;
    let mut to_a = CertificationServiceClient::new(a.channel().await);
    let mut to_b = CertificationServiceClient::new(b.channel().await);
    let verify = || VerifyCertificateRequest { code: CODE.into() };
    to_a.verify_certificate(verify()).await.unwrap();
    to_b.verify_certificate(verify()).await.unwrap();
    for client in [&mut to_a, &mut to_b] {
        let err = client.verify_certificate(verify()).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        assert_eq!(
            err.get_details_error_info().map(|i| i.reason),
            Some("VERIFY_RATE_LIMITED".into())
        );
        assert!(err.get_details_retry_info().and_then(|r| r.retry_delay).is_some());
    }
    // The page draws on the same budget, on either replica.
    assert_eq!(page([127, 0, 0, 1], b.http_addr, None).await, (429, Some("1".into())));
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let env = env().await;
    let app = env.spawn(ocop_certification::spec(), ocop_certification::routes).await;
    let http = app.http_addr;

    // 127.0.0.1 is no proxy: whatever it claims, it is one client.
    assert_eq!(page([127, 0, 0, 1], http, Some("203.0.113.1")).await.0, 200);
    assert_eq!(page([127, 0, 0, 1], http, Some("203.0.113.2")).await.0, 200);
    assert_eq!(page([127, 0, 0, 1], http, Some("203.0.113.3")).await.0, 429);
    assert_eq!(
        rpc([127, 0, 0, 1], app.grpc_addr, "203.0.113.4").await,
        8,
        "RESOURCE_EXHAUSTED"
    );

    // Through the trusted proxy the forwarded client is counted: its budget
    // is its own, on the page and by RPC, and a spoofed first hop is no way out.
    assert_eq!(page([127, 0, 0, 2], http, Some("203.0.113.7")).await.0, 200);
    assert_eq!(page([127, 0, 0, 2], http, Some("203.0.113.7")).await.0, 200);
    assert_eq!(page([127, 0, 0, 2], http, Some("10.9.9.9, 203.0.113.7")).await.0, 429);
    assert_eq!(
        rpc([127, 0, 0, 2], app.grpc_addr, "203.0.113.7").await,
        8,
        "RESOURCE_EXHAUSTED"
    );
    assert_eq!(
        page([127, 0, 0, 2], http, Some("203.0.113.8")).await.0,
        200,
        "another client"
    );
    assert_eq!(rpc([127, 0, 0, 2], app.grpc_addr, "203.0.113.9").await, 0, "OK");
    assert_eq!(page([127, 0, 0, 2], http, None).await.0, 200, "the proxy itself");
    app.stop().await.unwrap();
}
