//! `request_id`: a create retried with the same request_id returns the
//! resource of the first attempt instead of making a second one. Each service
//! keeps a `request_ids (request_id uuid PRIMARY KEY, method, resource,
//! response bytea, create_time)` table in its schema.

use crate::error::{Error, Result};
use sqlx::PgConnection;

/// What claiming a request_id found.
pub enum Claim {
    /// First use (or none given): go ahead.
    Fresh,
    /// Already used by the same method: return this resource (or stored response).
    Done(String, Option<Vec<u8>>),
}

/// Validates a request_id (empty, or a UUID).
pub fn parse(field: &str, request_id: &str) -> Result<Option<uuid::Uuid>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(request_id).map(Some).map_err(|_| {
        Error::invalid(
            field,
            format!("`{request_id}` is not a UUID; send a new UUID per distinct request"),
        )
    })
}

/// Records `request_id` for `method` and `resource` in the transaction. A
/// concurrent attempt with the same id waits for this one to commit and then
/// sees it.
pub async fn claim(
    tx: &mut PgConnection,
    request_id: Option<uuid::Uuid>,
    method: &str,
    resource: &str,
) -> Result<Claim> {
    let Some(request_id) = request_id else {
        return Ok(Claim::Fresh);
    };
    let inserted = sqlx::query(
        "INSERT INTO request_ids (request_id, method, resource) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(request_id)
    .bind(method)
    .bind(resource)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (first_method, first_resource, response): (String, String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT method, resource, response FROM request_ids WHERE request_id = $1")
            .bind(request_id)
            .fetch_one(&mut *tx)
            .await?;
    if first_method != method {
        return Err(Error::failed_precondition(
            "REQUEST_ID_REUSED",
            format!("request_id {request_id} was already used by {first_method} for {first_resource}; use a new UUID"),
        ));
    }
    Ok(Claim::Done(first_resource, response))
}

/// The stored response of an earlier `method` on `resource` with this
/// request_id, read without a transaction. For requests on an existing
/// resource, whose retry must answer as the first attempt did even though the
/// resource has moved on since (a submitted sheet refuses a second submit).
pub async fn replay(
    db: &sqlx::PgPool,
    request_id: Option<uuid::Uuid>,
    method: &str,
    resource: &str,
) -> Result<Option<Vec<u8>>> {
    let Some(request_id) = request_id else {
        return Ok(None);
    };
    let first: Option<(String, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT method, resource, response FROM request_ids WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(db)
            .await?;
    match first {
        None => Ok(None),
        Some((m, r, response)) if m == method && r == resource => Ok(response),
        Some((m, r, _)) => Err(Error::failed_precondition(
            "REQUEST_ID_REUSED",
            format!("request_id {request_id} was already used by {m} for {r}; use a new UUID"),
        )),
    }
}

/// Stores the response of a claimed request, in the same transaction.
pub async fn store_response(tx: &mut PgConnection, request_id: Option<uuid::Uuid>, response: &[u8]) -> Result<()> {
    if let Some(request_id) = request_id {
        sqlx::query("UPDATE request_ids SET response = $2 WHERE request_id = $1")
            .bind(request_id)
            .bind(response)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
