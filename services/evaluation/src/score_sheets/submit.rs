//! Submitting a sheet: one statement, one round trip.
//!
//! The statement locks the round against a concurrent publish or cancel, flips the
//! sheet only if every rule holds, and writes the audit, outbox and
//! request_id rows with it. It also returns what it saw, so that a refused
//! submit is explained from the same snapshot, in the order a caller needs
//! to hear it (see [`explain`]). Nothing is read beforehand and no
//! transaction stays open across the network.

use ocop_kit::audit::{self, Change};
use ocop_kit::auth::Principal;
use ocop_kit::idempotency;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::evaluation::v1::{ScoreSheet, SheetState};
use prost::Message;
use sqlx::PgPool;

use super::{
    State, body, check_scoring, etag_version, now_micros, parse_sheet, push_round, push_scoring, push_sheet_key,
    submitted_already,
};
use crate::rounds;

/// What the statement saw before it wrote: the round, and the sheet as the
/// caller's etag should have found it.
#[derive(sqlx::FromRow)]
struct Seen {
    #[sqlx(flatten)]
    round: rounds::Row,
    entry_exists: bool,
    sheet_state: Option<String>,
    sheet_version: Option<i64>,
    unanswered: Option<Vec<String>>,
    has_body: bool,
    /// The body of the sheet this statement submitted, if it did.
    submitted_body: Option<Vec<u8>>,
    prior_method: Option<String>,
    prior_resource: Option<String>,
    prior_response: Option<Vec<u8>>,
}

/// Submits and locks the caller's sheet; every criterion must be answered.
/// A retry carrying the same `request_id` gets the first answer back.
pub async fn submit(db: &PgPool, who: &Principal, name: &str, etag: &str, request_id: &str) -> Result<ScoreSheet> {
    let (round_id, entry_id, member) = parse_sheet("name", name)?;
    let request_id = idempotency::parse("request_id", request_id)?;
    if member != who.subject {
        return Err(Error::permission_denied(
            "SHEET_NOT_YOURS",
            format!("{name} belongs to {member}; members submit their own sheets"),
        ));
    }
    let version = etag_version(etag);
    let now = now_micros();
    // The sheet after the change but for its body, which the statement appends.
    let head = body::head(
        name,
        &member,
        SheetState::Submitted,
        version.saturating_add(1),
        now,
        Some(now),
    )
    .encode_to_vec();

    let mut sql = push_round(&round_id);
    // What a refusal needs to know of the body is whether there is one.
    sql.push(", sheet AS (SELECT state, version, unanswered, body IS NOT NULL AS has_body FROM score_sheets s WHERE ");
    push_sheet_key(&mut sql, "s", &round_id, &entry_id, &member);
    sql.push(")");
    if let Some(id) = request_id {
        sql.push(", prior AS (SELECT method, resource, response FROM request_ids WHERE request_id = ")
            .push_bind(id)
            .push(")");
    }
    // Every rule `explain` checks, as a condition of the update.
    sql.push(", changed AS (UPDATE score_sheets s SET state = 'submitted', version = s.version + 1, update_time = ")
        .push_bind(now)
        .push(", submit_time = ")
        .push_bind(now)
        .push(" FROM round r WHERE ");
    push_sheet_key(&mut sql, "s", &round_id, &entry_id, &member);
    sql.push(" AND s.version = ")
        .push_bind(version)
        .push(" AND s.state = 'draft' AND s.body IS NOT NULL AND cardinality(s.unanswered) = 0 AND ");
    push_scoring(&mut sql, "r", &member);
    if request_id.is_some() {
        sql.push(" AND NOT EXISTS (SELECT 1 FROM prior)");
    }
    sql.push(" RETURNING s.body, r.province_code)");
    if let Some(id) = request_id {
        sql.push(", claimed AS (INSERT INTO request_ids (request_id, method, resource, response) SELECT ")
            .push_bind(id)
            .push(", 'SubmitScoreSheet', ")
            .push_bind(name.to_owned())
            .push(", ")
            .push_bind(head.clone())
            .push(" || body FROM changed)");
    }
    let etag_after = ocop_kit::etag::of(version.saturating_add(1));
    let change = Change {
        method: "SubmitScoreSheet",
        kind: "updated",
        resource: name,
        province: "",
        etag_before: etag,
        etag_after: &etag_after,
        request_id: "",
        payload: head.clone(),
    };
    let decided = audit::FromGate {
        province: Some("province_code"),
        payload_tail: Some("body"),
    };
    audit::push_record(&mut sql, who, change, "changed", decided);
    sql.push(
        " SELECT round.*, sheet.state AS sheet_state, sheet.version AS sheet_version, sheet.unanswered,
         COALESCE(sheet.has_body, false) AS has_body,",
    );
    sql.push(" (sheet.state IS NOT NULL OR EXISTS (SELECT 1 FROM entries WHERE round_id = ")
        .push_bind(round_id.clone())
        .push(" AND id = ")
        .push_bind(entry_id.clone())
        // The body as submitted: a backfill may have filled it since the snapshot.
        .push(")) AS entry_exists, (SELECT body FROM changed) AS submitted_body, ");
    if request_id.is_some() {
        sql.push("prior.method AS prior_method, prior.resource AS prior_resource, prior.response AS prior_response FROM round LEFT JOIN sheet ON true LEFT JOIN prior ON true");
    } else {
        sql.push("NULL::text AS prior_method, NULL::text AS prior_resource, NULL::bytea AS prior_response FROM round LEFT JOIN sheet ON true");
    }
    let seen: Option<Seen> = match sql.build_query_as().fetch_optional(db).await {
        Ok(seen) => seen,
        // Another sheet's submit claimed this request_id after the snapshot: say so.
        Err(e) if request_id.is_some() && e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
            return match idempotency::replay(db, request_id, "SubmitScoreSheet", name).await? {
                Some(first) => ScoreSheet::decode(first.as_slice()).map_err(Error::internal),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let seen = seen.ok_or_else(|| Error::not_found(format!("evaluationRounds/{round_id}")))?;
    if let Some(body) = &seen.submitted_body {
        let mut bytes = head;
        bytes.extend(body);
        return ScoreSheet::decode(bytes.as_slice()).map_err(Error::internal);
    }
    explain(db, seen, who, name, etag, request_id).await
}

/// Why the statement submitted nothing, in the order a caller needs it: a
/// retry's first answer, then the council and round, the sheet, its etag
/// ("already submitted" before the etag: that is what a late retry needs to
/// hear), and its completeness.
async fn explain(
    db: &PgPool,
    seen: Seen,
    who: &Principal,
    name: &str,
    etag: &str,
    request_id: Option<uuid::Uuid>,
) -> Result<ScoreSheet> {
    if let (Some(method), Some(resource)) = (&seen.prior_method, &seen.prior_resource) {
        if method != "SubmitScoreSheet" || resource != name {
            return Err(Error::failed_precondition(
                "REQUEST_ID_REUSED",
                format!(
                    "request_id {} was already used by {method} for {resource}; use a new UUID",
                    request_id.unwrap_or_default()
                ),
            ));
        }
        if let Some(first) = &seen.prior_response {
            return ScoreSheet::decode(first.as_slice()).map_err(Error::internal);
        }
    }
    check_scoring(&seen.round, who, &seen.round.id)?;
    if !seen.entry_exists {
        return Err(Error::not_found(
            name.rsplit_once("/scoreSheets/").map_or(name, |(e, _)| e),
        ));
    }
    let (Some(state), Some(version)) = (seen.sheet_state, seen.sheet_version) else {
        return Err(Error::not_found(name));
    };
    if State::parse(&state) == Some(State::Submitted) {
        return Err(submitted_already(name));
    }
    let current = rounds::check_version(name, etag, version)?;
    if !seen.has_body {
        return Err(Error::failed_precondition(
            "SHEET_NEEDS_SAVE",
            format!("{name} was saved by an older version of the service; save it again ({current}), then submit"),
        ));
    }
    let unanswered = seen.unanswered.unwrap_or_default();
    if !unanswered.is_empty() {
        return Err(Error::failed_precondition(
            "SHEET_INCOMPLETE",
            format!(
                "{name} leaves {} criteria unanswered: {}",
                unanswered.len(),
                unanswered.join(", ")
            ),
        ));
    }
    // Every rule held in the snapshot, yet the sheet had moved by the time it
    // was locked: a concurrent retry of this very request, or another change.
    if let Some(first) = idempotency::replay(db, request_id, "SubmitScoreSheet", name).await? {
        return ScoreSheet::decode(first.as_slice()).map_err(Error::internal);
    }
    Err(Error::new(
        ErrorKind::Aborted,
        "STALE_ETAG",
        format!("{name} changed while it was being submitted (etag {current}); read it again"),
    ))
}
