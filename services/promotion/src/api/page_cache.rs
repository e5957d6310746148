//! The catalog's hot pages, kept as sent. Under load, most `ListCatalog`
//! calls ask for the same few pages, and a profile showed a page of 50
//! entries costing more to clone and encode (hundreds of small strings) than
//! everything else in the call. So each successful answer is kept in the
//! process, encoded, for a quarter of a second, keyed by the request's bytes,
//! and a hit writes those bytes back without decoding or encoding anything.
//!
//! What a caller may see is at most [`FRESH`] older than what the handler
//! would answer, and never from before midnight in Vietnam after it: the
//! handler drops certificates past their last valid day, so a page kept
//! across midnight could show one that expired at it.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use ocop_kit::bounded::Bounded;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

/// The method whose answers are kept.
const PATH: &str = "/ocop.promotion.v1.PromotionService/ListCatalog";
/// How long an answer is reused.
pub const FRESH: Duration = Duration::from_millis(250);
/// Most pages kept; past it the oldest go.
const PAGES: usize = 256;

struct Kept {
    until: Instant,
    head: http::response::Parts,
    data: bytes::Bytes,
    trailers: HeaderMap,
}

type Pages = Arc<Bounded<bytes::Bytes, Arc<Kept>>>;

/// Wraps the promotion service, answering repeated `ListCatalog` calls from
/// the pages it kept.
#[derive(Clone)]
pub struct PageCache<S> {
    inner: S,
    pages: Pages,
}

impl<S> PageCache<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        PageCache {
            inner,
            pages: Arc::new(Bounded::new(PAGES)),
        }
    }
}

impl<S: NamedService> NamedService for PageCache<S> {
    const NAME: &'static str = S::NAME;
}

/// How long an answer given at `now` may be reused: [`FRESH`], cut at the
/// next midnight in Vietnam (UTC+7).
fn kept_for(now: time::OffsetDateTime) -> Duration {
    let offset = time::UtcOffset::from_hms(7, 0, 0).expect("a valid offset");
    let now = now.to_offset(offset);
    let midnight = now
        .date()
        .next_day()
        .map_or(now, |d| d.midnight().assume_offset(offset));
    FRESH.min(Duration::try_from(midnight - now).unwrap_or_default())
}

fn lookup(pages: &Pages, key: &[u8]) -> Option<Response<Body>> {
    let kept = pages.get(key).filter(|k| Instant::now() < k.until)?;
    let mut response = Response::from_parts(
        kept.head.clone(),
        Body::new(Sent {
            data: Some(kept.data.clone()),
            trailers: Some(kept.trailers.clone()),
        }),
    );
    *response.status_mut() = kept.head.status;
    Some(response)
}

fn keep(pages: &Pages, key: bytes::Bytes, head: &http::response::Parts, data: &bytes::Bytes, trailers: &HeaderMap) {
    let until = Instant::now() + kept_for(time::OffsetDateTime::now_utc());
    pages.insert(
        key,
        Arc::new(Kept {
            until,
            head: head.clone(),
            data: data.clone(),
            trailers: trailers.clone(),
        }),
    );
}

impl<S> Service<Request<Body>> for PageCache<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The service that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.uri().path() != PATH {
            return Box::pin(inner.call(request));
        }
        let pages = self.pages.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let key = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(status) => return Ok(status.into_http()),
            };
            if let Some(response) = lookup(&pages, &key) {
                return Ok(response);
            }
            let request = Request::from_parts(parts, Body::new(http_body_util::Full::new(key.clone())));
            let (head, body) = inner.call(request).await?.into_parts();
            let collected = match body.collect().await {
                Ok(collected) => collected,
                Err(status) => return Ok(status.into_http()),
            };
            // None for a refusal: its status is in the headers, which must
            // then end the stream (trailers-only). Empty trailers after them
            // would be where clients look for the status, and find none.
            let trailers = collected.trailers().cloned();
            let data = collected.to_bytes();
            // Only a complete success: an error travels in the headers
            // (trailers-only) or in the trailers.
            let ok = trailers
                .as_ref()
                .and_then(|t| t.get("grpc-status"))
                .is_some_and(|v| v == "0")
                && !head.headers.contains_key("grpc-status");
            if let (true, Some(trailers)) = (ok, &trailers) {
                keep(&pages, key, &head, &data, trailers);
            }
            Ok(Response::from_parts(
                head,
                Body::new(Sent {
                    data: Some(data),
                    trailers,
                }),
            ))
        })
    }
}

/// A kept answer as a body: its bytes, then its trailers if it had any
/// (with neither, it is over at once and the headers end the stream).
struct Sent {
    data: Option<bytes::Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for Sent {
    type Data = bytes::Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, Infallible>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(|d| d.is_empty()) && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_never_kept_past_midnight_in_vietnam() {
        use time::macros::datetime;
        assert_eq!(kept_for(datetime!(2026-11-23 12:00 +7)), FRESH);
        assert_eq!(
            kept_for(datetime!(2026-11-23 23:59:59.9 +7)),
            Duration::from_millis(100)
        );
        // 16:59:59.95 UTC is 23:59:59.95 in Vietnam.
        assert_eq!(
            kept_for(datetime!(2026-11-23 16:59:59.95 UTC)),
            Duration::from_millis(50)
        );
    }
}
