//! Reading a service's audit log through `ocop.audit.v1.AuditService`, which
//! every service serves on its own port, and the refusals every service must
//! give, checked the same way for each.

use ocop_proto::audit::v1::audit_service_client::AuditServiceClient;
use ocop_proto::audit::v1::{AuditEvent, ListAuditEventsRequest, ListAuditEventsResponse};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{TestEnv, authorized};

/// One page of the audit log at `channel`, read with `token` (none: no
/// `authorization` metadata at all).
pub async fn page(
    channel: &Channel,
    token: Option<&str>,
    filter: &str,
    page_size: i32,
    page_token: &str,
) -> Result<ListAuditEventsResponse, Status> {
    let request = ListAuditEventsRequest {
        page_size,
        page_token: page_token.to_owned(),
        filter: filter.to_owned(),
    };
    let request = match token {
        Some(token) => authorized(request, token),
        None => tonic::Request::new(request),
    };
    AuditServiceClient::new(channel.clone())
        .list_audit_events(request)
        .await
        .map(|r| r.into_inner())
}

/// Every event `filter` selects (one page of the largest size), newest first.
pub async fn events(channel: &Channel, token: &str, filter: &str) -> Vec<AuditEvent> {
    let page = page(channel, Some(token), filter, 500, "")
        .await
        .unwrap_or_else(|s| panic!("ListAuditEvents({filter}): {s:?}"));
    assert!(page.next_page_token.is_empty(), "more than 500 events: widen the test");
    page.audit_events
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

/// The fields a status's BadRequest names.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Asserts the refusals of `ListAuditEvents` at `channel`, a service of
/// `env` serving province 38: no token, the roles that are not officers', a province officer of
/// 38 filtering on province 25, a filter on an unknown field, a damaged page
/// token.
pub async fn assert_refusals(env: &TestEnv, channel: &Channel) {
    let officer = env.token("province_officer", Some("38"), None);
    let refused = |result: Result<ListAuditEventsResponse, Status>, what: &str| {
        result.map(|_| ()).expect_err(&format!("{what} must be refused"))
    };

    let err = refused(page(channel, None, "", 0, "").await, "no token");
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::Unauthenticated, "TOKEN_MISSING")
    );

    // Producers hold no token of their own; these are the roles that are not officers.
    for (role, commune) in [
        ("commune_officer", Some("14758")),
        ("council_member", None),
        ("service", None),
    ] {
        let token = env.token(role, Some("38").filter(|_| role != "service"), commune);
        let err = refused(page(channel, Some(&token), "", 0, "").await, role);
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (Code::PermissionDenied, "ROLE_NOT_ALLOWED"),
            "{role}"
        );
    }

    let err = refused(
        page(channel, Some(&officer), "province_code = \"25\"", 0, "").await,
        "another province's log",
    );
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );

    let err = refused(
        page(channel, Some(&officer), "colour = red", 0, "").await,
        "an unknown field",
    );
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["filter".to_owned()])
    );

    for damaged in ["%%%", "bm90IGpzb24"] {
        let err = refused(page(channel, Some(&officer), "", 0, damaged).await, "a damaged token");
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec!["page_token".to_owned()]),
            "{damaged}"
        );
    }
}

/// Asserts that the first two events `filter` selects come one per page
/// with `page_size` 1, newest first, the second page's token carrying on
/// where the first ended; returns the two.
pub async fn assert_two_pages(channel: &Channel, token: &str, filter: &str) -> [AuditEvent; 2] {
    let all = events(channel, token, filter).await;
    assert!(all.len() >= 2, "two pages need two events of `{filter}`: {all:?}");
    let first = page(channel, Some(token), filter, 1, "").await.expect("page 1");
    assert_eq!(first.audit_events, all[..1], "page 1");
    assert!(!first.next_page_token.is_empty(), "a second page follows");
    let second = page(channel, Some(token), filter, 1, &first.next_page_token)
        .await
        .expect("page 2");
    assert_eq!(second.audit_events, all[1..2], "page 2");
    assert_eq!(
        second.next_page_token.is_empty(),
        all.len() == 2,
        "a third page iff a third event"
    );
    let err = page(channel, Some(token), "method = Other", 1, &first.next_page_token)
        .await
        .expect_err("a token of another filter");
    assert_eq!(err.code(), Code::InvalidArgument);
    [first.audit_events[0].clone(), second.audit_events[0].clone()]
}
