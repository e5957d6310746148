//! A closed-loop load generator: `concurrency` workers, each sending its next
//! request as soon as the previous one answers, for a fixed duration.

use std::future::Future;
use std::time::{Duration, Instant};

/// What one scenario run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests that failed.
    pub errors: u64,
}

/// Runs `call(worker)` in `concurrency` loops for `duration` (after a short warm-up).
pub(crate) async fn run<F, Fut>(concurrency: usize, duration: Duration, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    // Warm-up: connections, caches, the JIT of the database's plans.
    let warm_until = Instant::now() + Duration::from_millis(300);
    let mut warm = Vec::new();
    for worker in 0..concurrency {
        let call = call.clone();
        warm.push(tokio::spawn(async move {
            while Instant::now() < warm_until {
                call(worker).await;
            }
        }));
    }
    for task in warm {
        task.await.expect("warm-up worker");
    }

    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0u64;
            while Instant::now() < until {
                let t = Instant::now();
                if call(worker).await {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("worker");
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
    }
}

/// The median of several runs, field by field.
pub(crate) fn median(runs: &[Stats]) -> Stats {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Stats {
        rps: mid(runs.iter().map(|s| s.rps).collect()),
        p50: Duration::from_secs_f64(mid(runs.iter().map(|s| s.p50.as_secs_f64()).collect())),
        p99: Duration::from_secs_f64(mid(runs.iter().map(|s| s.p99.as_secs_f64()).collect())),
        errors: runs.iter().map(|s| s.errors).sum(),
    }
}
