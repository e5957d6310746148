//! The HTTP side of a service: Prometheus text at `/metrics`, a plain
//! readiness probe at `/healthz` (200 when serving, 503 otherwise) and a
//! liveness probe at `/livez` (200 as long as the process answers HTTP, also
//! while the database is down, so that a database outage restarts no pod).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from cache hits to slow queries.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours only renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `/metrics`, `/healthz` and `/livez`.
pub fn router(ready: Arc<AtomicBool>) -> Router {
    let handle = prometheus();
    Router::new()
        .route("/metrics", get(move || std::future::ready(handle.render())))
        .route("/livez", get(|| std::future::ready((StatusCode::OK, "ALIVE\n"))))
        .route(
            "/healthz",
            get(move || {
                let serving = ready.load(Ordering::SeqCst);
                std::future::ready(if serving {
                    (StatusCode::OK, "SERVING\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING\n")
                })
            }),
        )
}
