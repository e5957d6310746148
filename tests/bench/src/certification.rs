//! Issue 5's figures: VerifyCertificate from a warm cache and the verify page,
//! both at 64 concurrent requests, against a certification service process
//! with one real certificate (registry → evaluation → certification).

use std::net::SocketAddr;
use std::sync::Arc;

use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{IssueCertificateRequest, VerifyCertificateRequest};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, RoundPlan};
use ocop_testkit::{TestEnv, authorized};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tonic::transport::Channel;

/// Product `n` evaluated to 4 stars and certified: its public code.
pub(crate) async fn certified_code(
    env: &TestEnv,
    registry: &str,
    evaluation: &str,
    certification: &str,
    n: i32,
) -> anyhow::Result<String> {
    let officer = env.token("province_officer", Some("38"), None);
    let mut registry = RegistryServiceClient::new(Channel::from_shared(registry.to_owned())?.connect().await?);
    let mut evaluation = EvaluationServiceClient::new(Channel::from_shared(evaluation.to_owned())?.connect().await?);
    let new = flows::NewProduct {
        commune: "14758",
        registration: &format!("28999{n:05}"),
        name: &format!("Nem chua bench {n}"),
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry, &officer, new).await;
    let evaluated = flows::evaluate(
        env,
        &mut evaluation,
        &officer,
        &[&product],
        RoundPlan::province_2026(90 + n, 4),
    )
    .await;
    let mut certification =
        CertificationServiceClient::new(Channel::from_shared(certification.to_owned())?.connect().await?);
    let certificate = certification
        .issue_certificate(authorized(
            IssueCertificateRequest {
                result: evaluated.results[0].name.clone(),
                decision_date: Some(Date {
                    year: 2026,
                    month: 6,
                    day: 15,
                }),
                ..Default::default()
            },
            &officer,
        ))
        .await?
        .into_inner()
        .certificate
        .unwrap_or_default();
    Ok(certificate.code)
}

/// One VerifyCertificate call.
pub(crate) async fn verify(channel: Channel, code: String) -> bool {
    CertificationServiceClient::new(channel)
        .verify_certificate(VerifyCertificateRequest { code })
        .await
        .is_ok()
}

/// Keep-alive HTTP/1.1 connections, one per worker.
pub(crate) type Connections = Arc<Vec<Mutex<Option<BufReader<TcpStream>>>>>;

/// `n` empty connection slots.
pub(crate) fn connections(n: usize) -> Connections {
    Arc::new((0..n).map(|_| Mutex::new(None)).collect())
}

/// GET `path` on the worker's connection (opened on first use); true on a 200 with its whole body read.
pub(crate) async fn get(connections: Connections, worker: usize, addr: SocketAddr, path: Arc<str>) -> bool {
    let mut slot = connections[worker].lock().await;
    if slot.is_none() {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true).ok();
                *slot = Some(BufReader::new(stream));
            }
            Err(_) => return false,
        }
    }
    let Some(stream) = slot.as_mut() else { return false };
    let ok = exchange(stream, addr, &path).await.unwrap_or(false);
    if !ok {
        *slot = None;
    }
    ok
}

async fn exchange(stream: &mut BufReader<TcpStream>, addr: SocketAddr, path: &str) -> std::io::Result<bool> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut status = String::new();
    stream.read_line(&mut status).await?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(status.starts_with("HTTP/1.1 200"))
}
