//! What a 2xx upstream answer must be before any of it reaches the client: in an encoding the
//! gateway can read, of the kind that was asked for (an SSE stream for `stream: true`, JSON
//! otherwise), and for a whole answer, complete JSON. Anything else — a captive portal's HTML
//! page, a server that ignores `stream: true`, a body cut off mid-way — is a failed attempt with
//! a 502 that names the upstream URL and what it sent, never relabelled and passed on.

use crate::providers::deployment::Deployment;
use crate::transport::BodyStream;
use crate::upstream::UpstreamError;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, header};
use protocol::ir::{ApiError, ErrorKind};
use std::time::Duration;

/// The media type of the answer asked for.
pub fn expected(stream: bool) -> &'static str {
    if stream {
        "text/event-stream"
    } else {
        "application/json"
    }
}

/// How much of a wrong answer is read to quote in the error.
const QUOTE_BYTES: usize = 512;
/// How long reading that quote may take.
const QUOTE_WAIT: Duration = Duration::from_secs(2);

/// `upstream <provider> (<url>)`, as errors name an upstream; `shown_url` has its credentials
/// redacted already ([`crate::transport::Transport::shown_url`]).
pub fn name(d: &Deployment, shown_url: &str) -> String {
    format!("upstream {} ({shown_url})", d.provider.name)
}

/// The error for an answer that cannot be used: 502 in the client's protocol.
fn bad_answer(message: String) -> UpstreamError {
    UpstreamError::unusable(ApiError {
        kind: ErrorKind::Api,
        status: 502,
        message,
    })
}

/// Passes an answer's `body` on when its encoding and content type (in `headers`) are what was
/// asked for. A missing content type is accepted (the body's own checks still apply).
pub async fn check(
    d: &Deployment,
    url: &str,
    stream: bool,
    headers: &HeaderMap,
    body: BodyStream,
) -> Result<BodyStream, UpstreamError> {
    // The clients remove `content-encoding` when they decode the body (gzip).
    if let Some(enc) = headers.get(header::CONTENT_ENCODING)
        && !enc.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        return Err(bad_answer(format!(
            "{} answered with content-encoding `{}`, which the gateway cannot decode (it reads \
             gzip, and asks for no encoding); check litellm_params.api_base",
            name(d, url),
            String::from_utf8_lossy(enc.as_bytes())
        )));
    }
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(body);
    };
    let ct = String::from_utf8_lossy(ct.as_bytes()).into_owned();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json" || essence.ends_with("+json");
    let is_sse = essence == "text/event-stream";
    if (stream && is_sse) || (!stream && is_json) {
        return Ok(body);
    }
    let who = name(d, url);
    let want = expected(stream);
    let message = if is_sse {
        // Not read: a stream may not end.
        format!(
            "{who} answered a request for a whole answer with a stream (content-type `{ct}`, \
             `{want}` was asked for)"
        )
    } else {
        let body = quote(body).await;
        if stream && is_json {
            let said = protocol::openai_chat::decode_error_message(&body)
                .or_else(|| protocol::anthropic::decode_error_message(&body))
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            format!(
                "{who} answered a streaming request with a whole JSON answer (content-type \
                 `{ct}`, `{want}` was asked for); it ignores `stream: true`{said}"
            )
        } else {
            format!(
                "{who} answered 200 with content-type `{ct}` where `{want}` was asked for: «{}»; \
                 something else (a proxy, a captive portal, a web server) answers at that \
                 address: check litellm_params.api_base and the network",
                excerpt(&body)
            )
        }
    };
    Err(bad_answer(message))
}

/// Up to [`QUOTE_BYTES`] of the body, waiting at most [`QUOTE_WAIT`].
async fn quote(mut body: BodyStream) -> Bytes {
    let mut got = BytesMut::new();
    let _ = tokio::time::timeout(QUOTE_WAIT, async {
        while got.len() < QUOTE_BYTES {
            match body.next().await {
                Some(Ok(c)) => got.extend_from_slice(&c),
                _ => break,
            }
        }
    })
    .await;
    got.truncate(QUOTE_BYTES);
    got.freeze()
}

/// The start of `body` as one line of text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_BYTES)]);
    let mut out = String::new();
    for word in text.split_whitespace() {
        if out.chars().count() > 200 {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Reads a whole (non-streaming) answer, allowing `idle` between two chunks of it. A body that
/// breaks off or stalls is a transient failure: nothing has reached the client yet, so the
/// attempt is retried like any other.
///
/// `who` names the upstream ([`name`]).
pub async fn read_body(
    who: &str,
    mut resp: BodyStream,
    idle: Duration,
) -> Result<Bytes, UpstreamError> {
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, resp.next()).await {
            Ok(Some(Ok(chunk))) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body.freeze()),
            Ok(Some(Err(e))) => {
                return Err(UpstreamError::transient(ApiError {
                    kind: ErrorKind::Api,
                    status: 502,
                    message: format!("{who} broke off its answer: {}", e.cause),
                }));
            }
            Err(_) => {
                return Err(UpstreamError::transient(ApiError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{who} stopped sending its answer mid-way: nothing came for {} s \
                         (router_settings.stream_timeout)",
                        idle.as_secs_f64()
                    ),
                )));
            }
        }
    }
}

/// Checks that a whole answer is JSON (a body cut where the connection closed cleanly, or a
/// page under a JSON content type, is not).
/// `who` names the upstream ([`name`]).
pub fn check_json(who: &str, body: &[u8]) -> Result<(), UpstreamError> {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => Ok(()),
        Err(e) => Err(bad_answer(format!(
            "{who} answered 200 with a body that is not complete JSON ({e}): «{}»",
            excerpt(body)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_one_short_line() {
        assert_eq!(
            excerpt(b"<html>\n  <title>Sign in</title>\n</html>"),
            "<html> <title>Sign in</title> </html>"
        );
        let long = "word ".repeat(200);
        let e = excerpt(long.as_bytes());
        assert!(e.ends_with('…') && e.chars().count() < 220, "{e}");
    }
}
