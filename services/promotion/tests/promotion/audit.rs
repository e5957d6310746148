//! The promotion service's own audit log, read through
//! `ocop.audit.v1.AuditService` on its port: what a write recorded, who may
//! read it, and its pages.

use crate::support::world;

use ocop_proto::promotion::v1::{CreateSalesPointRequest, LocationType, SalesPoint};
use ocop_testkit::{audit, authorized};
use world::*;

#[tokio::test]
async fn a_sales_point_created_is_read_back_from_the_promotion_audit_log() {
    let mut w = world().await;
    let channel = w.apps[3].channel().await;
    let mut created = Vec::new();
    for (name, request_id) in [
        ("Điểm OCOP ga Thanh Hóa", "4b9c7a10-2f1e-4d8a-9c3b-5e6f7a8b9c01"),
        ("Điểm OCOP chợ Vườn Hoa", "4b9c7a10-2f1e-4d8a-9c3b-5e6f7a8b9c02"),
    ] {
        let point = SalesPoint {
            display_name: name.into(),
            location_type: LocationType::StationAirportPort as i32,
            address: "Đường Dương Đình Nghệ".into(),
            commune_code: "14758".into(),
            operator: "HTX Dịch vụ Hàm Rồng".into(),
            opening_date: date(2025, 10, 1),
            ..Default::default()
        };
        let point = w
            .promotion
            .create_sales_point(authorized(
                CreateSalesPointRequest {
                    sales_point: Some(point),
                    request_id: request_id.into(),
                },
                &w.officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .sales_point
            .unwrap();
        created.push((point, request_id));
    }

    let (point, request_id) = &created[0];
    let events = audit::events(&channel, &w.officer, &format!("resource = \"{}\"", point.name)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        (
            event.method.as_str(),
            event.role.as_str(),
            event.province_code.as_str(),
            event.request_id.as_str(),
            event.etag_before.as_str(),
            event.etag_after.as_str()
        ),
        (
            "CreateSalesPoint",
            "province_officer",
            "38",
            *request_id,
            "",
            point.etag.as_str()
        )
    );
    assert_eq!(event.actor, "tester");
    assert!(
        event.name.starts_with("auditEvents/") && event.time.is_some(),
        "{event:?}"
    );

    // Newest first: the second sales point, then the first.
    let national = w.env.token("national_officer", None, None);
    let [newer, older] = audit::assert_two_pages(&channel, &national, "method = CreateSalesPoint").await;
    assert_eq!(
        (newer.resource.as_str(), older.resource.as_str()),
        (created[1].0.name.as_str(), point.name.as_str())
    );
    audit::assert_refusals(&w.env, &channel).await;
}
