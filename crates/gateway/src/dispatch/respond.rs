//! The client's response, built in one place ([`finish`]) from a request's final outcome: the
//! answer's headers and body, or the error in the client's protocol with the upstream's
//! `retry-after` and rate-limit headers. The request's [`Record`] goes with the body and is
//! finished when the body ends or is dropped (an error's at once). Also the header rules both
//! answers share.

use super::DROPPED_HEADER;
use crate::error::ClientError;
use crate::record::Record;
use crate::stream_loop::Pending;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body::{Frame, SizeHint};
use protocol::ir::Dropped;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Upstream response headers passed on to the client, on answers and on errors.
const PASSED_HEADERS: &[&str] = &[
    "retry-after",
    "request-id",
    "x-request-id",
    "x-agent-shim-cost-usd",
];
/// Prefixes of upstream headers passed on: the providers' rate-limit state
/// (`anthropic-ratelimit-requests-remaining`, `x-ratelimit-reset-tokens`, …), which clients
/// read to pace themselves.
const PASSED_PREFIXES: &[&str] = &["anthropic-ratelimit-", "x-ratelimit-"];

/// A successful attempt's answer, not yet sent: headers and body.
pub(crate) struct Answered {
    pub headers: HeaderMap,
    pub body: Reply,
}

/// An answer's body.
pub(crate) enum Reply {
    /// A whole answer, read and checked.
    Whole(Bytes),
    /// A stream, opened and checked up to its first content.
    Stream(Pending),
}

/// The response for a request's final outcome; `rec` is finished with it.
pub(crate) fn finish(outcome: Result<Answered, ClientError>, mut rec: Record) -> Response {
    match outcome {
        Ok(a) => {
            rec.status(200);
            let body = match a.body {
                Reply::Whole(bytes) => Body::new(Whole::new(bytes, rec)),
                Reply::Stream(pending) => pending.start(rec),
            };
            // Built directly: no builder, so nothing can fail.
            let mut r = Response::new(body);
            *r.headers_mut() = a.headers;
            r
        }
        Err(e) => {
            rec.error(&e.error);
            if rec.capturing() {
                rec.capture_response(&e.body());
            }
            let r = e.into_response();
            rec.status(r.status().as_u16());
            let len = http_body::Body::size_hint(r.body()).exact().unwrap_or(0);
            rec.sent_len(usize::try_from(len).unwrap_or(usize::MAX));
            rec.end(true);
            r
        }
    }
}

/// A whole answer's body, in one frame, with the request's record: finished when the frame
/// was taken (complete) or when the body is dropped before (the client went away).
struct Whole {
    bytes: Option<Bytes>,
    rec: Record,
}

impl Whole {
    fn new(bytes: Bytes, mut rec: Record) -> Whole {
        // An empty body has no frame to take: it is sent as soon as the head is.
        let bytes = if bytes.is_empty() {
            rec.sent(&[]);
            None
        } else {
            Some(bytes)
        };
        Whole { bytes, rec }
    }
}

impl http_body::Body for Whole {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        Poll::Ready(this.bytes.take().map(|b| {
            this.rec.sent(&b);
            Ok(Frame::data(b))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}

impl Drop for Whole {
    fn drop(&mut self) {
        self.rec.end(self.bytes.is_none());
    }
}

/// Copies the headers of `from` that go on to the client ([`PASSED_HEADERS`],
/// [`PASSED_PREFIXES`]) into `to`.
pub(crate) fn copy_passed_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        let name = k.as_str();
        if PASSED_HEADERS.contains(&name) || PASSED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            to.insert(k.clone(), v.clone());
        }
    }
}

/// The headers of an event stream, unbuffered by proxies.
pub(crate) fn sse_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}

/// [`DROPPED_HEADER`], when translation dropped anything.
pub(crate) fn add_dropped(h: &mut HeaderMap, dropped: &Dropped) {
    if !dropped.is_empty()
        && let Ok(v) = HeaderValue::from_str(&dropped.header_value())
    {
        h.insert(HeaderName::from_static(DROPPED_HEADER), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_pass_and_others_do_not() {
        let mut from = HeaderMap::new();
        for (k, v) in [
            ("retry-after", "7"),
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("x-ratelimit-reset-tokens", "6s"),
            ("set-cookie", "a=b"),
            ("server", "x"),
        ] {
            from.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let mut to = HeaderMap::new();
        copy_passed_headers(&from, &mut to);
        let mut names: Vec<&str> = to.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "anthropic-ratelimit-requests-remaining",
                "retry-after",
                "x-ratelimit-reset-tokens"
            ]
        );
    }
}
