//! Bare tonic handlers: no auth, no tracing, no metrics. What the platform's
//! RPCs are compared against.

use ocop_proto::bench::v1::bench_service_server::{BenchService, BenchServiceServer};
use ocop_proto::bench::v1::*;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// Rows in the primary-key table.
pub(crate) const ROWS: i64 = 10_000;
/// The Redis key read by `CacheGet`.
pub(crate) const KEY: &str = "ocop:bench:value";

struct Baseline {
    db: PgPool,
    redis: ConnectionManager,
}

#[tonic::async_trait]
impl BenchService for Baseline {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            payload: request.into_inner().payload,
        }))
    }

    async fn select_by_key(
        &self,
        request: Request<SelectByKeyRequest>,
    ) -> Result<Response<SelectByKeyResponse>, Status> {
        let value: String = sqlx::query_scalar("SELECT value FROM bench_kv WHERE id = $1")
            .bind(request.get_ref().id)
            .fetch_one(&self.db)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(SelectByKeyResponse { value }))
    }

    async fn cache_get(&self, request: Request<CacheGetRequest>) -> Result<Response<CacheGetResponse>, Status> {
        let value: Option<Vec<u8>> = self
            .redis
            .clone()
            .get(&request.get_ref().key)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(CacheGetResponse {
            value: value.unwrap_or_default(),
        }))
    }
}

/// Fills the table and key, serves the baseline on a free port, returns its URL.
pub(crate) async fn start(db: PgPool, redis_url: &str) -> anyhow::Result<String> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_kv (id bigint PRIMARY KEY, value text NOT NULL)")
        .execute(&db)
        .await?;
    sqlx::query("INSERT INTO bench_kv SELECT i, md5(i::text) FROM generate_series(1, $1) AS i ON CONFLICT DO NOTHING")
        .bind(ROWS)
        .execute(&db)
        .await?;
    let mut redis = ConnectionManager::new(redis::Client::open(redis_url)?).await?;
    redis
        .set::<_, _, ()>(KEY, "a cached value of about the size of a small resource".repeat(4))
        .await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let service = BenchServiceServer::new(Baseline { db, redis });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(ocop_kit::server::incoming(listener)),
    );
    Ok(url)
}
