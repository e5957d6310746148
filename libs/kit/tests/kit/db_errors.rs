//! SQLSTATE → domain error translation, against a real PostgreSQL.

use ocop_kit::{Error, ErrorKind};
use ocop_testkit::TestEnv;

#[tokio::test]
async fn database_errors_map_to_the_domain_vocabulary() {
    let env = TestEnv::new().await;
    let pool = sqlx::PgPool::connect(&env.config.database.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent, n int CHECK (n > 0));
         INSERT INTO parent VALUES (1);",
    )
    .execute(&pool)
    .await
    .unwrap();

    let kind = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let err: Error = sqlx::query(sql).execute(&pool).await.unwrap_err().into();
            (err.kind(), err.reason())
        }
    };
    assert_eq!(
        kind("INSERT INTO parent VALUES (1)").await,
        (ErrorKind::AlreadyExists, "ALREADY_EXISTS")
    );
    assert_eq!(
        kind("INSERT INTO child VALUES (1, 2, 1)").await,
        (ErrorKind::FailedPrecondition, "REFERENCE_VIOLATION")
    );
    assert_eq!(
        kind("INSERT INTO child VALUES (1, 1, 0)").await,
        (ErrorKind::InvalidArgument, "CONSTRAINT_VIOLATION")
    );
    assert_eq!(
        kind("INSERT INTO child VALUES (NULL, 1, 1)").await,
        (ErrorKind::InvalidArgument, "CONSTRAINT_VIOLATION")
    );
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET statement_timeout = 10")
        .execute(&mut *conn)
        .await
        .unwrap();
    let err: Error = sqlx::query("SELECT pg_sleep(1)")
        .execute(&mut *conn)
        .await
        .unwrap_err()
        .into();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::DeadlineExceeded, "QUERY_CANCELED")
    );
    drop(conn);
    assert_eq!(
        kind("SELECT * FROM no_such_table").await,
        (ErrorKind::Internal, "INTERNAL")
    );

    // Class 22, data exceptions: what the column's type cannot hold.
    assert_eq!(
        kind("SELECT E'nul \\x00'::text").await.0,
        ErrorKind::InvalidArgument,
        "22021: a NUL in text"
    );
    assert_eq!(
        kind("SELECT (2147483647 + 1)::int").await,
        (ErrorKind::InvalidArgument, "INVALID_VALUE")
    );
    assert_eq!(
        kind("SELECT '2026-13-45'::date").await,
        (ErrorKind::InvalidArgument, "INVALID_VALUE")
    );

    // An administrator's shutdown of the backend (57P01): retryable.
    let mut victim = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *victim)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pool)
        .await
        .unwrap();
    let err: Error = sqlx::query("SELECT 1").execute(&mut *victim).await.unwrap_err().into();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::Unavailable, "DATABASE_UNAVAILABLE")
    );
    let status = err.into_status();
    assert!(
        tonic_types::StatusExt::get_details_retry_info(&status).is_some(),
        "UNAVAILABLE carries RetryInfo"
    );
    drop(victim);

    let closed = pool.clone();
    closed.close().await;
    let err: Error = sqlx::query("SELECT 1").execute(&closed).await.unwrap_err().into();
    assert_eq!(
        (err.kind(), err.reason()),
        (ErrorKind::Unavailable, "DATABASE_UNAVAILABLE")
    );
}
