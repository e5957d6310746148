//! The registry's audit log through both contracts: its own
//! `RegistryService.ListAuditEvents` and `ocop.audit.v1.AuditService`, which
//! every service serves; the same reader, the same rows, the same refusals.

use crate::support::fixture;

use fixture::*;
use ocop_proto::registry::v1::ListAuditEventsRequest;
use ocop_testkit::{audit, authorized};
use prost::Message;

#[tokio::test]
async fn both_contracts_read_the_same_registry_log() {
    let mut f = fixture().await;
    let first = f
        .create_subject(subject("Hợp tác xã Mật ong Hàm Rồng", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let second = f
        .create_subject(subject("Hợp tác xã Nem chua Hạc Thành", "2801234568", HAC_THANH))
        .await
        .unwrap();
    let channel = f.app.channel().await;
    for token in [f.officer.clone(), f.national.clone()] {
        let shared = audit::events(&channel, &token, "method = CreateSubject").await;
        let own = f
            .client
            .list_audit_events(authorized(
                ListAuditEventsRequest {
                    filter: "method = CreateSubject".into(),
                    page_size: 500,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(own.next_page_token.is_empty());
        // The two messages have the same fields and numbers: the encodings agree.
        let shared: Vec<Vec<u8>> = shared.iter().map(Message::encode_to_vec).collect();
        let own: Vec<Vec<u8>> = own.audit_events.iter().map(Message::encode_to_vec).collect();
        assert_eq!(shared, own);
        assert_eq!(shared.len(), 2);
    }
    let [newer, older] = audit::assert_two_pages(&channel, &f.officer, "method = CreateSubject").await;
    assert_eq!(
        (newer.resource.as_str(), older.resource.as_str()),
        (second.name.as_str(), first.name.as_str())
    );
    // Hà Nội's officer reads none of Thanh Hóa's rows.
    assert!(audit::events(&channel, &f.other_officer, "").await.is_empty());
    audit::assert_refusals(&f.env, &channel).await;
}
