//! The evaluation service's own audit log, read through
//! `ocop.audit.v1.AuditService` on its port: what a write recorded, who may
//! read it, and its pages.

use crate::support::world;

use ocop_testkit::audit;
use world::*;

#[tokio::test]
async fn rounds_created_are_read_back_from_the_evaluation_audit_log() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let first = w
        .create_round(province_round(2026, 1, full_council()), &officer)
        .await
        .unwrap();
    let second = w
        .create_round(province_round(2026, 2, full_council()), &officer)
        .await
        .unwrap();
    let channel = w.evaluation_channel().await;

    let events = audit::events(&channel, &officer, &format!("resource = \"{}\"", first.name)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        (
            event.method.as_str(),
            event.actor.as_str(),
            event.role.as_str(),
            event.province_code.as_str(),
            event.etag_before.as_str(),
            event.etag_after.as_str()
        ),
        (
            "CreateEvaluationRound",
            "tester",
            "province_officer",
            "38",
            "",
            first.etag.as_str()
        )
    );

    // Newest first, a page each; national officers read the province's rows too.
    let national = w.env.token("national_officer", None, None);
    for token in [&officer, &national] {
        let [newer, older] = audit::assert_two_pages(&channel, token, "method = CreateEvaluationRound").await;
        assert_eq!(
            (newer.resource.as_str(), older.resource.as_str()),
            (second.name.as_str(), first.name.as_str())
        );
    }
    // The registry's writes are in the registry's log, not this one.
    assert!(
        audit::events(&channel, &national, "method = CreateSubject")
            .await
            .is_empty()
    );
    audit::assert_refusals(&w.env, &channel).await;
}
