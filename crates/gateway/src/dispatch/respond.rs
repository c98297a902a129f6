//! The client's response, built in one place ([`finish`]) from a request's final outcome: the
//! answer's headers and body, or the error in the client's protocol with the upstream's
//! `retry-after` and rate-limit headers. Also the header rules both answers share.

use super::DROPPED_HEADER;
use crate::error::ClientError;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use protocol::ir::Dropped;

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
    pub body: Body,
}

/// The response for a request's final outcome.
pub(crate) fn finish(outcome: Result<Answered, ClientError>) -> Response {
    match outcome {
        Ok(a) => {
            // Built directly: no builder, so nothing can fail.
            let mut r = Response::new(a.body);
            *r.headers_mut() = a.headers;
            r
        }
        Err(e) => e.into_response(),
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
