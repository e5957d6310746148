//! Waiting for a condition in a test: ask again with a short backoff until it
//! holds, or panic naming what never happened. Tests use these instead of a
//! fixed sleep, which is either too short on a busy machine or wasted time on
//! an idle one.
//!
//! ```no_run
//! # async fn example(cache: &std::sync::atomic::AtomicUsize) {
//! use std::sync::atomic::Ordering;
//! use std::time::Duration;
//!
//! ocop_testkit::poll::until("the owed writes to land", Duration::from_secs(10), || async {
//!     (cache.load(Ordering::SeqCst) == 0).then_some(())
//! })
//! .await;
//! # }
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// The first pause between two probes; each pause doubles up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause between two probes.
pub const MAX_PAUSE: Duration = Duration::from_millis(100);

fn next(pause: Duration) -> Duration {
    (pause * 2).min(MAX_PAUSE)
}

/// Calls `probe` until it returns `Some`, and returns its value; panics with
/// "`what`: not within `timeout`" if it is still `None` then. The probe runs
/// at least once, and once more after the timeout has passed (so a slow probe
/// never loses its last chance to a deadline it overran).
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    until_ok(what, timeout, || {
        let asked = probe();
        async move { asked.await.ok_or(Nothing) }
    })
    .await
}

/// What [`until`] shows of a probe that found nothing.
struct Nothing;

impl Debug for Nothing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nothing yet")
    }
}

/// A probe's last answer shown as it is (a log, a page), not quoted: the
/// `Err` of [`until_ok`] when what the test saw is text.
pub struct Text(pub String);

impl Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n{}", self.0)
    }
}

/// Like [`until`], for a probe that says what it saw instead: calls `probe`
/// until it returns `Ok`, and returns its value; on timeout panics naming
/// `what` and the last `Err` (the state the test waited on, to debug from).
pub async fn until_ok<T, E, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    match attempt(timeout, probe).await {
        Ok(found) => found,
        Err(last) => panic!("{what}: not within {timeout:?}; last seen: {last:?}"),
    }
}

/// Calls `probe` until it returns `Some`, for at most `timeout`: `None` if it
/// never did. For a caller that must clean up before it fails (kill a
/// process that would not stop, say); a test that only fails uses [`until`].
pub async fn within<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    attempt(timeout, || {
        let asked = probe();
        async move { asked.await.ok_or(Nothing) }
    })
    .await
    .ok()
}

/// The one loop: the probe's first `Ok`, or its last `Err` once `timeout` has
/// passed.
async fn attempt<T, E, F, Fut>(timeout: Duration, mut probe: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let late = tokio::time::Instant::now() >= deadline;
        match probe().await {
            Ok(found) => return Ok(found),
            Err(last) if late => return Err(last),
            Err(_) => {}
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
        pause = next(pause);
    }
}

/// [`until`] for code that cannot await (a `Drop`, a synchronous helper):
/// the same backoff on the calling thread.
pub fn until_blocking<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    until_ok_blocking(what, timeout, || probe().ok_or(Nothing))
}

/// [`until_ok`] for code that cannot await.
pub fn until_ok_blocking<T, E: Debug>(what: &str, timeout: Duration, probe: impl FnMut() -> Result<T, E>) -> T {
    match attempt_blocking(timeout, probe) {
        Ok(found) => found,
        Err(last) => panic!("{what}: not within {timeout:?}; last seen: {last:?}"),
    }
}

/// [`within`] for code that cannot await.
pub fn within_blocking<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    attempt_blocking(timeout, || probe().ok_or(Nothing)).ok()
}

/// [`attempt`] on the calling thread.
fn attempt_blocking<T, E>(timeout: Duration, mut probe: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let late = Instant::now() >= deadline;
        match probe() {
            Ok(found) => return Ok(found),
            Err(last) if late => return Err(last),
            Err(_) => {}
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = next(pause);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn returns_what_the_probe_found_once_it_finds_it() {
        let asked = AtomicUsize::new(0);
        let found = until("the third probe", Duration::from_secs(5), || async {
            let n = asked.fetch_add(1, Ordering::SeqCst) + 1;
            (n == 3).then_some(n * 10)
        })
        .await;
        assert_eq!(found, 30);
        assert_eq!(asked.load(Ordering::SeqCst), 3, "no probe after the one that found it");
    }

    #[tokio::test]
    #[should_panic(expected = "the sky to fall: not within 50ms; last seen: \"still up\"")]
    async fn panics_naming_what_never_happened_and_the_last_answer() {
        until_ok("the sky to fall", Duration::from_millis(50), || async {
            Err::<(), _>("still up")
        })
        .await;
    }

    #[tokio::test]
    async fn probes_again_after_the_deadline_before_giving_up() {
        let asked = AtomicUsize::new(0);
        // A probe slower than the whole timeout still gets a second, last call.
        until("the second, late probe", Duration::from_millis(10), || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            (asked.fetch_add(1, Ordering::SeqCst) == 1).then_some(())
        })
        .await;
    }

    #[test]
    fn blocking_returns_and_panics_the_same_way() {
        let mut n = 0;
        assert_eq!(
            until_blocking("n to reach 4", Duration::from_secs(5), || {
                n += 1;
                (n == 4).then_some(n)
            }),
            4
        );
        let refused = std::panic::catch_unwind(|| until_blocking::<()>("never", Duration::from_millis(20), || None));
        let message = *refused.expect_err("panics on timeout").downcast::<String>().unwrap();
        assert_eq!(message, "never: not within 20ms; last seen: nothing yet");
    }

    #[tokio::test]
    async fn within_gives_none_instead_of_panicking() {
        assert_eq!(within(Duration::from_millis(20), || async { None::<()> }).await, None);
        assert_eq!(within(Duration::from_millis(20), || async { Some(7) }).await, Some(7));
        assert_eq!(within_blocking(Duration::from_millis(20), || None::<()>), None);
        assert_eq!(within_blocking(Duration::from_millis(20), || Some(8)), Some(8));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let pauses: Vec<u128> = std::iter::successors(Some(FIRST_PAUSE), |p| Some(next(*p)))
            .take(7)
            .map(|p| p.as_millis())
            .collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 100, 100]);
    }
}
