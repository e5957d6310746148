//! The certification service's own audit log, read through
//! `ocop.audit.v1.AuditService` on its port: what an issuance recorded, who
//! may read it, and its pages.

use crate::support::world;

use ocop_testkit::audit;
use ocop_testkit::flows::RoundPlan;
use world::*;

#[tokio::test]
async fn certificates_issued_are_read_back_from_the_certification_audit_log() {
    let mut w = world().await;
    let honey = w.product("Mật ong Như Xuân").await;
    let rolls = w.product("Nem chua Thanh Hóa").await;
    let results = w.results(&[&honey, &rolls], RoundPlan::province_2026(1, 4)).await;
    let mut issued = Vec::new();
    for result in &results {
        issued.push(w.issue(issue_request(&result.name, day(2026, 6, 15))).await.unwrap());
    }
    let channel = w.apps[2].channel().await;
    let officer = w.officer.clone();

    let first = &issued[0];
    let events = audit::events(&channel, &officer, &format!("resource = \"{}\"", first.name)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        (
            event.method.as_str(),
            event.actor.as_str(),
            event.role.as_str(),
            event.province_code.as_str(),
            event.etag_after.as_str()
        ),
        (
            "IssueCertificate",
            "tester",
            "province_officer",
            "38",
            first.etag.as_str()
        )
    );

    let national = w.env.token("national_officer", None, None);
    let [newer, older] = audit::assert_two_pages(&channel, &national, "method = IssueCertificate").await;
    assert_eq!(
        (newer.resource.as_str(), older.resource.as_str()),
        (issued[1].name.as_str(), first.name.as_str())
    );
    // The evaluation's writes are in the evaluation's log, not this one,
    // and the registry's in the registry's, each on its own port.
    assert!(
        audit::events(&channel, &national, "method = CreateEvaluationRound")
            .await
            .is_empty()
    );
    assert!(
        audit::events(&channel, &national, "method = CreateSubject")
            .await
            .is_empty()
    );
    let registry = w.apps[0].channel().await;
    assert_eq!(
        audit::events(&registry, &national, "method = CreateSubject")
            .await
            .len(),
        2
    );
    let evaluation = w.apps[1].channel().await;
    assert!(
        !audit::events(&evaluation, &national, "method = CreateEvaluationRound")
            .await
            .is_empty()
    );
    audit::assert_refusals(&w.env, &channel).await;
}
