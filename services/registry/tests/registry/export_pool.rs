//! Long exports must not take every pooled connection: reads made while
//! exports run are still answered.

use crate::support::fixture;

use std::time::Duration;

use fixture::reason;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
use ocop_testkit::{TestEnv, authorized};
use sqlx::Connection;
use tonic::Code;
use tonic_types::StatusExt;

const HEADER: &str = "subject_id,registration_number,subject_kind,legal_name,representative_name,representative_is_woman,representative_is_ethnic_minority,phone,email,address,commune_code,subject_state,product_id,product_name,group_code,subgroup_code,description,origin_commune_code,raw_material_area,product_state,standards";
const PRODUCTS: usize = 6;
const EXPORTS: usize = 8;

/// Registry backends waiting on a lock, in the test database.
async fn waiting_on_a_lock(db: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'registry' AND wait_event_type = 'Lock'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn reads_are_answered_while_many_exports_run() {
    let mut env = TestEnv::new().await;
    // A request that finds no connection fails after this long.
    env.config.database.acquire_timeout_ms = 1_000;
    let app = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    let mut client = RegistryServiceClient::new(app.channel().await);
    let officer = env.token("province_officer", Some("38"), None);

    let mut csv = String::from(HEADER);
    for i in 0..PRODUCTS {
        csv.push_str(&format!(
            "\nhtx-ham-rong,2801234567,cooperative,HTX Mật ong Hàm Rồng,Lê Thị Lan,true,false,,,Thôn 1,14758,active,mat-ong-{i},Mật ong {i},thuc-pham,mat-ong-cac-san-pham-tu-mat-ong-mat-khac,,,,active,"
        ));
    }
    client
        .import_subjects_products(authorized(
            ImportSubjectsProductsRequest {
                csv: csv.into_bytes(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .expect("import");

    // Make every export a long one: it holds its connection while it waits
    // for the producers, locked here.
    let mut lock = sqlx::PgConnection::connect(&env.config.database.url).await.unwrap();
    let mut watch = sqlx::PgConnection::connect(&env.config.database.url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE registry.subjects IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let exports: Vec<_> = (0..EXPORTS)
        .map(|_| {
            let mut client = client.clone();
            let officer = officer.clone();
            tokio::spawn(async move {
                client
                    .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &officer))
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    // Every export has either reached the database (and waits on the lock) or been turned away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done = exports.iter().filter(|e| e.is_finished()).count() as i64;
        let waiting = waiting_on_a_lock(&mut watch).await;
        if waiting > 0 && waiting + done == EXPORTS as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "exports did not settle: {waiting} waiting, {done} done"
        );
        tokio::task::yield_now().await;
    }

    // Reads made now, each a cache miss, are answered.
    let reads: Vec<_> = (0..PRODUCTS)
        .map(|i| {
            let mut client = client.clone();
            let officer = officer.clone();
            tokio::spawn(async move {
                client
                    .get_product(authorized(
                        GetProductRequest {
                            name: format!("subjects/htx-ham-rong/products/mat-ong-{i}"),
                        },
                        &officer,
                    ))
                    .await
            })
        })
        .collect();
    for read in reads {
        let read = read.await.unwrap();
        assert!(read.is_ok(), "GetProduct during exports: {read:?}");
    }

    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    let (mut exported, mut refused) = (0, 0);
    for export in exports {
        match export.await.unwrap() {
            Ok(done) => {
                assert_eq!(done.rows, PRODUCTS as i32);
                exported += 1;
            }
            Err(status) => {
                assert_eq!(
                    (status.code(), reason(&status).as_str()),
                    (Code::ResourceExhausted, "TOO_MANY_EXPORTS"),
                    "{status:?}"
                );
                assert!(status.get_details_retry_info().is_some(), "says when to retry");
                refused += 1;
            }
        }
    }
    assert!(
        exported >= 1,
        "the exports let in finish: {exported} exported, {refused} refused"
    );
    // The turned-away exports succeed once the others are done.
    let again = client
        .export_subjects_products(authorized(ExportSubjectsProductsRequest::default(), &officer))
        .await
        .expect("an export after the others");
    assert_eq!(again.into_inner().rows, PRODUCTS as i32);
    app.stop().await.unwrap();
}
