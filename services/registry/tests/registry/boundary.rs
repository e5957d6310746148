//! The checks every request passes where it is decoded, through a real
//! client: bodies that are not the method's message, NUL and other control
//! characters, bidirectional overrides, strings past their field's length,
//! enum numbers the contract does not define, text in decomposed Unicode;
//! and the metrics labels, which made-up methods must not grow.

use crate::support::fixture;

use fixture::*;
use ocop_proto::registry::v1::*;
use ocop_testkit::{authorized, raw};
use tonic::Code;
use unicode_normalization::UnicodeNormalization;

/// INVALID_ARGUMENT naming exactly `field`, with a message a header can carry.
fn assert_invalid(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(status), "INVALID_FIELD", "{status:?}");
    assert_eq!(fields(status), [field], "{status:?}");
    assert!(
        status.message().len() < 1024,
        "a short message: {}",
        status.message().len()
    );
}

async fn product_count(f: &mut Fixture, parent: &str) -> usize {
    let token = f.officer.clone();
    f.client
        .list_products(authorized(
            ListProductsRequest {
                parent: parent.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .products
        .len()
}

#[tokio::test]
async fn nul_bidi_long_and_unknown_enums_are_refused_naming_the_field_and_change_nothing() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Mật ong", "2801234567", HAM_RONG))
        .await
        .unwrap();

    let nul = f.create_product(&s.name, product("Mật\0ong")).await.unwrap_err();
    assert_invalid(&nul, "product.display_name");
    assert!(nul.message().contains("U+0000"), "{}", nul.message());

    let mut bidi = product("Mật ong");
    bidi.description = "Ngon\u{202E}gnon".into();
    assert_invalid(
        &f.create_product(&s.name, bidi).await.unwrap_err(),
        "product.description",
    );

    let mut long = product("Mật ong");
    long.group_code = "x".repeat(10_000);
    let status = f.create_product(&s.name, long).await.unwrap_err();
    assert_invalid(&status, "product.group_code");
    assert!(!status.message().contains("xxxxxxxxxx"), "the input is not echoed");

    let mut state = product("Mật ong");
    state.state = 42;
    assert_invalid(&f.create_product(&s.name, state).await.unwrap_err(), "product.state");
    let mut kind = subject("HTX Chè", "2801234568", HAM_RONG);
    kind.kind = 7;
    assert_invalid(&f.create_subject(kind).await.unwrap_err(), "subject.kind");

    assert_eq!(product_count(&mut f, &s.name).await, 0, "nothing was created");

    // Resource names, queries and filters: INTERNAL (SQLSTATE 22021) before.
    let token = f.officer.clone();
    let get = f
        .client
        .get_product(authorized(
            GetProductRequest {
                name: format!("{}/products/a\0b", s.name),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&get, "name");
    let search = f
        .client
        .search_products(authorized(
            SearchProductsRequest {
                query: "mật\0ong".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&search, "query");
    let list = f
        .client
        .list_subjects(authorized(
            ListSubjectsRequest {
                filter: "commune_code = \"\0\"".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&list, "filter");
}

#[tokio::test]
async fn undecodable_bodies_are_invalid_argument_not_internal() {
    let f = fixture().await;
    // Field 1 (name) as a length-delimited value longer than the body.
    let body = bytes::Bytes::from_static(&[0x0a, 0x7f, b'x']);
    let status = raw::unary(
        f.app.channel().await,
        "/ocop.registry.v1.RegistryService/GetProduct",
        body,
        Some(&f.officer),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), "MALFORMED_REQUEST");
    // Invalid UTF-8 in a string field.
    let status = raw::unary(
        f.app.channel().await,
        "/ocop.registry.v1.RegistryService/GetProduct",
        bytes::Bytes::from_static(&[0x0a, 0x02, 0xc3, 0x28]),
        Some(&f.officer),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn decomposed_text_is_stored_and_searched_composed() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Như Xuân", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let nfd = |s: &str| s.nfd().collect::<String>();
    let composed = f
        .create_product(&s.name, product("Mật ong rừng Như Xuân"))
        .await
        .unwrap();
    let decomposed = f
        .create_product(&s.name, product(&nfd("Chè Shan tuyết Như Xuân")))
        .await
        .unwrap();
    assert_eq!(decomposed.display_name, "Chè Shan tuyết Như Xuân", "stored as NFC");

    let token = f.council.clone();
    let found = f
        .client
        .search_products(authorized(
            SearchProductsRequest {
                query: nfd("Mật ong rừng"),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(
        found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        [composed.name.as_str()],
        "an NFD query finds the NFC name"
    );
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let f = fixture().await;
    for i in 0..50 {
        let path: &'static str = format!("/ocop.registry.v1.RegistryService/MadeUp{i}").leak();
        let status = raw::unary(f.app.channel().await, path, bytes::Bytes::new(), None)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let text = metrics(f.app.http_addr).await;
    assert!(!text.contains("MadeUp"), "no series per made-up method");
    assert!(
        text.contains("method=\"_OTHER\""),
        "made-up methods are counted under _OTHER:\n{text}"
    );
}

#[tokio::test]
async fn names_stored_decomposed_before_the_checks_are_composed_by_migration() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Như Xuân", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let p = f
        .create_product(&s.name, product("Mật ong rừng Như Xuân"))
        .await
        .unwrap();
    let pool = ocop_kit::db::connect_lazy(&f.env.config.database, "registry").unwrap();
    // As a row written before the boundary checks could hold it.
    let nfd: String = "Mật ong rừng Như Xuân".nfd().collect();
    sqlx::query("UPDATE products SET display_name = $1")
        .bind(&nfd)
        .execute(&pool)
        .await
        .unwrap();
    let search = |f: &mut Fixture| {
        let token = f.council.clone();
        let mut client = f.client.clone();
        async move {
            client
                .search_products(authorized(
                    SearchProductsRequest {
                        query: "Mật ong rừng".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .products
                .len()
        }
    };
    let decomposed: bool = sqlx::query_scalar("SELECT display_name IS NOT NFC NORMALIZED FROM products")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(decomposed);
    sqlx::query("DELETE FROM registry._sqlx_migrations WHERE version = 8")
        .execute(&pool)
        .await
        .unwrap();
    ocop_kit::db::migrate(&pool, "registry", ocop_registry::spec().migrations)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT display_name FROM products")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, "Mật ong rừng Như Xuân");
    assert_eq!(search(&mut f).await, 1, "found once composed: {}", p.name);
}
