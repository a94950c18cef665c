//! Request bodies under the contract's limits (section 8): read within a size limit without
//! ever buffering past it, within `server.body_timeout` of the request's head, and — when the
//! gateway answers without reading all of a body — drained for a bounded time before the
//! connection is let go, so that a client still sending reads the answer instead of a reset.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// How long a body the gateway did not read is drained after its answer is ready, at most.
pub const DRAIN_FOR: Duration = Duration::from_secs(5);
/// How many bytes of such a body are drained, at most.
pub const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Reads at most `limit` bytes of a body: 413 past it, 408 past the body's deadline, 400 if
/// the client broke off.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::bare(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) if timed_out(&*e) => Err(ApiError::bare(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
        )),
        Err(e) => Err(ApiError::malformed(format!(
            "the body could not be read: {e}"
        ))),
    }
}

/// Whether `e`, or an error it wraps, is a body's deadline passing.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The error of a body whose deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within server.body_timeout")]
pub struct BodyTimedOut;

/// A body that fails with [`BodyTimedOut`] once `deadline` has passed. The timer is set only
/// when the body is first polled, so a request without a body costs none.
pub struct DeadlineBody<B> {
    inner: B,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, due by `deadline`.
    pub fn new(inner: B, deadline: Instant) -> Self {
        Self {
            inner,
            deadline,
            sleep: None,
        }
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body that, when dropped, hands what is left of itself back through a channel: how the
/// draining layer gets back the body a handler refused without reading.
struct HandedBack {
    inner: Option<Body>,
    back: Option<oneshot::Sender<Body>>,
}

impl HttpBody for HandedBack {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for HandedBack {
    fn drop(&mut self) {
        if let (Some(inner), Some(back)) = (self.inner.take(), self.back.take()) {
            if !inner.is_end_stream() {
                let _ = back.send(inner);
            }
        }
    }
}

/// The draining layer (contract section 8): runs the request, then reads and discards what
/// the handler left of its body — for at most [`DRAIN_FOR`] and [`DRAIN_BYTES`], and never
/// past the body's own deadline — before the answer goes out. A refusal made before the body
/// was read (413, 415, 401, 429) thus reaches a client that sends its whole body before it
/// reads, and the connection can stay open when the body was drained to its end.
pub async fn drain_unread(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let (back, left) = oneshot::channel();
    let body = Body::new(HandedBack {
        inner: Some(body),
        back: Some(back),
    });
    let response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    if let Ok(rest) = left.await {
        discard(rest).await;
    }
    response
}

/// Reads and drops `body` within the drain's bounds.
async fn discard(mut body: Body) {
    let drained = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_FOR, drained).await;
}
