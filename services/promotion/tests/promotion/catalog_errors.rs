//! ListCatalog's answers pass through the page cache: its refusals must still
//! reach every client as their own status, with their details. Checked with
//! tonic, and on the wire as gRPC over HTTP/2 defines it: a status travels
//! either in a HEADERS frame that ends the stream (trailers-only) or in the
//! trailers. Clients built on gRPC's C core or grpc-js read nothing else, and
//! report anything else as UNKNOWN "No status received".

use ocop_proto::promotion::v1::ListCatalogRequest;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_testkit::TestEnv;
use prost::Message;
use tonic::Code;
use tonic_types::StatusExt;

const PATH: &str = "/ocop.promotion.v1.PromotionService/ListCatalog";

/// One ListCatalog call over a bare HTTP/2 connection, its status read as
/// the protocol places it; `None` is what a strict client calls "No status
/// received". Also whether the answer carried a message.
async fn on_the_wire(addr: std::net::SocketAddr, request: &ListCatalogRequest) -> (Option<tonic::Status>, bool) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let head = http::Request::post(format!("http://{addr}{PATH}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (answer, mut send) = client.send_request(head, false).unwrap();
    let message = request.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(frame.into(), true).unwrap();
    let (head, mut body) = answer.await.unwrap().into_parts();
    if body.is_end_stream() {
        return (tonic::Status::from_header_map(&head.headers), false);
    }
    let mut data = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        data += chunk.len();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    (tonic::Status::from_header_map(&trailers), data > 0)
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn refusals_of_list_catalog_arrive_as_their_own_status_with_details() {
    let env = TestEnv::new().await;
    let app = env.spawn(ocop_promotion::spec(), ocop_promotion::routes).await;
    let mut promotion = PromotionServiceClient::new(app.channel().await);
    let request = |page_size, page_token: &str, filter: &str, query: &str| ListCatalogRequest {
        page_size,
        page_token: page_token.into(),
        filter: filter.into(),
        query: query.into(),
    };
    let long = "x".repeat(201);
    let cases = [
        (request(0, "nonsense", "", ""), "page_token"),
        (request(0, "", "stars = 2", ""), "filter"),
        (request(0, "", "colour = \"red\"", ""), "filter"),
        (request(-1, "", "", ""), "page_size"),
        (request(0, "", "", &long), "query"),
    ];
    // Twice each: a refusal is never kept, and the second is answered as the first.
    for (request, field) in cases.iter().chain(cases.iter()) {
        let err = promotion.list_catalog(request.clone()).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str(), fields(&err)),
            (Code::InvalidArgument, "INVALID_FIELD", vec![field.to_string()]),
            "tonic, {field}: {}",
            err.message()
        );
        let (status, data) = on_the_wire(app.grpc_addr, request).await;
        let status = status.unwrap_or_else(|| panic!("{field}: no status on the wire (UNKNOWN to strict clients)"));
        assert_eq!(
            (status.code(), reason(&status).as_str(), fields(&status), data),
            (Code::InvalidArgument, "INVALID_FIELD", vec![field.to_string()], false),
            "on the wire, {field}: {}",
            status.message()
        );
    }

    // A success, computed then kept: a message, then OK in the trailers.
    for _ in 0..2 {
        let page = promotion
            .list_catalog(request(5, "", "", ""))
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.is_empty() && page.next_page_token.is_empty());
        let (status, _) = on_the_wire(app.grpc_addr, &request(5, "", "", "")).await;
        assert_eq!(status.map(|s| s.code()), Some(Code::Ok));
    }
}
