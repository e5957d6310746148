//! The registry binary over gRPC: a producer and a product in a commune of
//! Thanh Hóa (38), found by unaccented search, updated with its etag,
//! exported and re-imported into another deployment.

use std::time::Duration;

use ocop_e2e::Process;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::Code;
use tonic::transport::Channel;

async fn start(env: &TestEnv) -> (Process, RegistryServiceClient<Channel>) {
    let process = Process::start("registry", env, &[]);
    TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(30)).await;
    let channel = Channel::from_shared(process.url()).unwrap().connect().await.unwrap();
    (process, RegistryServiceClient::new(channel))
}

#[tokio::test]
async fn a_thanh_hoa_producer_from_creation_to_another_deployment() {
    let env = TestEnv::new().await;
    let (_registry, mut client) = start(&env).await;
    let officer = env.token("province_officer", Some("38"), None);

    let subject = client
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(Subject {
                    kind: SubjectKind::Cooperative as i32,
                    legal_name: "Hợp tác xã Mật ong Như Xuân".into(),
                    registration_number: "2800100001".into(),
                    representative: Some(Representative {
                        full_name: "Lò Thị Hoa".into(),
                        is_woman: true,
                        is_ethnic_minority: true,
                    }),
                    commune_code: "16174".into(), // Xã Như Xuân
                    ..Default::default()
                }),
                subject_id: "htx-mat-ong-nhu-xuan".into(),
                request_id: uuid_like(),
            },
            &officer,
        ))
        .await
        .expect("create subject")
        .into_inner()
        .subject
        .unwrap();
    assert_eq!(subject.province_code, "38");

    let product = client
        .create_product(authorized(
            CreateProductRequest {
                parent: subject.name.clone(),
                product: Some(Product {
                    display_name: "Mật ong rừng Như Xuân".into(),
                    group_code: "thuc-pham".into(),
                    subgroup_code: "mat-ong-cac-san-pham-tu-mat-ong-mat-khac".into(),
                    ..Default::default()
                }),
                product_id: "mat-ong-rung".into(),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .expect("create product")
        .into_inner()
        .product
        .unwrap();

    let found = client
        .search_products(authorized(
            SearchProductsRequest {
                query: "mat ong nhu xuan".into(),
                filter: "province_code = 38".into(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(found.first().map(|p| p.name.as_str()), Some(product.name.as_str()));

    let mut change = product.clone();
    change.description = "Mật ong hoa rừng".into();
    let updated = client
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(change.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(updated.description, "Mật ong hoa rừng");
    let stale = client
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "the old etag is refused");

    let export = client
        .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.rows, 1);

    let other = TestEnv::new().await;
    let (_other_registry, mut other_client) = start(&other).await;
    let other_officer = other.token("province_officer", Some("38"), None);
    let report = other_client
        .import_subjects_products(authorized(
            ImportSubjectsProductsRequest {
                csv: export.csv,
                ..Default::default()
            },
            &other_officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.subjects_created, report.products_created), (1, 1));
    let copied = other_client
        .get_product(authorized(
            GetProductRequest {
                name: product.name.clone(),
            },
            &other_officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(
        (copied.display_name.as_str(), copied.description.as_str()),
        ("Mật ong rừng Như Xuân", "Mật ong hoa rừng")
    );
}

fn uuid_like() -> String {
    // A fixed UUID is fine: each test has its own database.
    "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b".into()
}
