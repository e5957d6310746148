//! The reading side of the audit log: `ocop.audit.v1.AuditService/ListAuditEvents`
//! over the `audit_events` of the pool's schema, newest first, filtered and
//! paged with the kit's [`Filter`] and [`Page`].

use ocop_proto::audit::v1::{AuditEvent, ListAuditEventsRequest, ListAuditEventsResponse};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::auth::{Principal, Role};
use crate::date::to_timestamp;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::paging::Page;

/// Filterable fields of `ListAuditEvents`, each a column of `audit_events`.
pub const FILTER_FIELDS: &[&str] = &["resource", "actor", "method", "province_code"];

/// Who may read the audit log.
pub const READERS: &[Role] = &[Role::ProvinceOfficer, Role::NationalOfficer];

#[derive(sqlx::FromRow)]
struct Row {
    sequence: i64,
    time: time::OffsetDateTime,
    actor: String,
    role: String,
    request_id: String,
    method: String,
    resource: String,
    province_code: String,
    etag_before: String,
    etag_after: String,
    traceparent: String,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> AuditEvent {
        AuditEvent {
            name: format!("auditEvents/{}", r.sequence),
            time: Some(to_timestamp(r.time)),
            actor: r.actor,
            role: r.role,
            request_id: r.request_id,
            method: r.method,
            resource: r.resource,
            province_code: r.province_code,
            etag_before: r.etag_before,
            etag_after: r.etag_after,
            traceparent: r.traceparent,
        }
    }
}

/// One page of the audit log of `db`'s schema, newest first.
///
/// Province officers see their province's rows only, and a filter naming
/// another province is refused (PERMISSION_DENIED `OUTSIDE_JURISDICTION`);
/// national officers see every row; other roles get PERMISSION_DENIED
/// `ROLE_NOT_ALLOWED`. A filter or page token this method did not make is
/// INVALID_ARGUMENT.
pub async fn list(db: &PgPool, who: &Principal, request: &ListAuditEventsRequest) -> Result<ListAuditEventsResponse> {
    who.require(READERS)?;
    let filter = Filter::parse(&request.filter, FILTER_FIELDS)?;
    let query_id = filter.canonical();
    let page = Page::parse(request.page_size, &request.page_token, &query_id)?;
    let own = province_of(who, &filter)?;
    let after = match &page.after {
        Some(after) => Some(after.parse::<i64>().map_err(|_| damaged())?),
        None => None,
    };
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT sequence, time, actor, role, request_id, method, resource, province_code, etag_before, etag_after, traceparent
         FROM audit_events WHERE TRUE",
    );
    // Columns from the fixed list, never from the request.
    filter.push_equal(&mut sql, FILTER_FIELDS);
    if let Some(own) = own {
        sql.push(" AND province_code = ").push_bind(own);
    }
    if let Some(after) = after {
        sql.push(" AND sequence < ").push_bind(after);
    }
    sql.push(" ORDER BY sequence DESC LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let next_page_token = page.finish(&mut rows, |r| r.sequence.to_string(), &query_id);
    Ok(ListAuditEventsResponse {
        audit_events: rows.into_iter().map(AuditEvent::from).collect(),
        next_page_token,
    })
}

/// The province a province officer is confined to (`None` for national
/// officers); PERMISSION_DENIED for a filter on another province.
fn province_of(who: &Principal, filter: &Filter) -> Result<Option<String>> {
    if who.role != Role::ProvinceOfficer {
        return Ok(None);
    }
    let own = who.province.clone().unwrap_or_default();
    if filter.get("province_code").is_some_and(|p| p != own) {
        return Err(Error::permission_denied(
            "OUTSIDE_JURISDICTION",
            format!("province officers of {own} may read only their province's audit log"),
        ));
    }
    Ok(Some(own))
}

fn damaged() -> Error {
    Error::invalid("page_token", "damaged page token; start again without it")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(role: Role, province: Option<&str>) -> Principal {
        Principal {
            subject: "tester".into(),
            role,
            province: province.map(str::to_owned),
            commune: None,
        }
    }

    fn filter(text: &str) -> Filter {
        Filter::parse(text, FILTER_FIELDS).unwrap()
    }

    #[test]
    fn province_officers_are_kept_to_their_province() {
        let own = officer(Role::ProvinceOfficer, Some("38"));
        assert_eq!(province_of(&own, &filter("")).unwrap().as_deref(), Some("38"));
        assert_eq!(
            province_of(&own, &filter("province_code = \"38\"")).unwrap().as_deref(),
            Some("38")
        );
        let err = province_of(&own, &filter("province_code = \"25\"")).unwrap_err();
        assert_eq!(
            (err.kind(), err.reason()),
            (crate::ErrorKind::PermissionDenied, "OUTSIDE_JURISDICTION")
        );
    }

    #[test]
    fn national_officers_read_every_province() {
        let national = officer(Role::NationalOfficer, None);
        assert_eq!(province_of(&national, &filter("province_code = \"25\"")).unwrap(), None);
    }
}
