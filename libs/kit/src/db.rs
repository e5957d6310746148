//! PostgreSQL: one pool per service, confined to the service's own schema,
//! migrations embedded in the binary, and SQLSTATE → domain errors in one place.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::DatabaseConfig;
use crate::error::{Error, ErrorKind};

/// Builds a lazy pool whose connections see `schema` first (then `public`,
/// where extensions live). Lazy, so a service can start and report
/// NOT_SERVING while the database is still coming up.
pub fn connect_lazy(config: &DatabaseConfig, schema: &str) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config
        .url
        .parse::<PgConnectOptions>()?
        .options([("search_path", format!("{schema},public"))])
        .application_name(schema);
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
        // Pinging on every acquire costs a round trip per query (measured in
        // shared/stack.md §6); broken connections surface as errors instead.
        .test_before_acquire(false)
        .connect_lazy_with(options))
}

/// Applies `migrations` inside `schema`, recording them in
/// `{schema}._sqlx_migrations` so services never see each other's history.
/// Safe to run from several replicas at once (sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool, schema: &'static str, migrations: &Migrator) -> anyhow::Result<()> {
    let mut migrator = Migrator::with_migrations(migrations.iter().cloned().collect());
    migrator.create_schema(schema);
    migrator.dangerous_set_table_name(format!("{schema}._sqlx_migrations"));
    migrator.run(pool).await?;
    crate::feed::install(pool).await?;
    Ok(())
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// SQLSTATE codes that the mapping below gives a meaning to.
mod sqlstate {
    pub(super) const UNIQUE_VIOLATION: &str = "23505";
    pub(super) const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub(super) const CHECK_VIOLATION: &str = "23514";
    pub(super) const NOT_NULL_VIOLATION: &str = "23502";
    pub(super) const SERIALIZATION_FAILURE: &str = "40001";
    pub(super) const DEADLOCK_DETECTED: &str = "40P01";
    pub(super) const QUERY_CANCELED: &str = "57014";
    pub(super) const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    /// Class 22, data exception: a value the column's type cannot hold
    /// (22021 a NUL byte, 22001 too long, 22003 out of range, 22007 a bad date…).
    pub(super) const DATA_EXCEPTION_CLASS: &str = "22";
    /// Class 08, connection exception.
    pub(super) const CONNECTION_EXCEPTION_CLASS: &str = "08";
    /// 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now.
    pub(super) const SHUTDOWN: [&str; 3] = ["57P01", "57P02", "57P03"];
    /// 53300 too many connections.
    pub(super) const TOO_MANY_CONNECTIONS: &str = "53300";
}

/// How long a caller should wait before retrying a request the database
/// could not serve: about the time a PostgreSQL restart or failover takes.
const RETRY_AFTER: Duration = Duration::from_secs(1);

fn unavailable(err: &sqlx::Error) -> Error {
    tracing::warn!(error = %err, "database unavailable");
    Error::unavailable("DATABASE_UNAVAILABLE", "the database is not reachable; retry shortly")
        .with_retry_after(RETRY_AFTER)
}

/// Translates every sqlx error into the domain vocabulary, by SQLSTATE.
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let constraint = db.constraint().unwrap_or_default().to_owned();
                match db.code().as_deref() {
                    Some(sqlstate::UNIQUE_VIOLATION) => Error::new(
                        ErrorKind::AlreadyExists,
                        "ALREADY_EXISTS",
                        format!("a resource with the same unique value already exists ({constraint})"),
                    )
                    .with_metadata("constraint", constraint),
                    Some(sqlstate::FOREIGN_KEY_VIOLATION) => Error::new(
                        ErrorKind::FailedPrecondition,
                        "REFERENCE_VIOLATION",
                        format!("a referenced resource is missing or still referenced ({constraint})"),
                    )
                    .with_metadata("constraint", constraint),
                    Some(
                        sqlstate::CHECK_VIOLATION
                        | sqlstate::NOT_NULL_VIOLATION
                        | sqlstate::INVALID_TEXT_REPRESENTATION,
                    ) => Error::new(
                        ErrorKind::InvalidArgument,
                        "CONSTRAINT_VIOLATION",
                        format!(
                            "a value breaks a rule of the data model ({constraint}): {}",
                            db.message()
                        ),
                    )
                    .with_metadata("constraint", constraint),
                    Some(sqlstate::SERIALIZATION_FAILURE | sqlstate::DEADLOCK_DETECTED) => Error::new(
                        ErrorKind::Aborted,
                        "CONCURRENT_UPDATE",
                        "a concurrent change conflicted with this one; retry the request",
                    ),
                    Some(sqlstate::QUERY_CANCELED) => Error::new(
                        ErrorKind::DeadlineExceeded,
                        "QUERY_CANCELED",
                        "the database query was cancelled before it finished",
                    ),
                    Some(code) if sqlstate::SHUTDOWN.contains(&code) || code == sqlstate::TOO_MANY_CONNECTIONS => {
                        unavailable(&err)
                    }
                    Some(code) if code.starts_with(sqlstate::CONNECTION_EXCEPTION_CLASS) => unavailable(&err),
                    Some(code) if code.starts_with(sqlstate::DATA_EXCEPTION_CLASS) => Error::new(
                        ErrorKind::InvalidArgument,
                        "INVALID_VALUE",
                        format!(
                            "a value cannot be stored as its field's type: {}",
                            crate::error::bounded(db.message(), 200)
                        ),
                    )
                    .with_metadata("sqlstate", code.to_owned()),
                    _ => Error::internal(&err),
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                unavailable(&err)
            }
            _ => Error::internal(&err),
        }
    }
}
