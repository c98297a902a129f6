//! Opening an upstream stream before the client's response is committed: its first events are
//! read and decoded until the first piece of content (or the end of the answer), so that a
//! stream that opens with an error event — Anthropic's `event: error` `overloaded_error` after
//! `message_start`, a Chat `{"error":…}` chunk, a Responses `response.failed` — or that closes
//! or breaks before any content is a failed attempt like a 529 or a reset, retried or failed over,
//! rather than an error the client receives mid-stream (issue 11 §1).
//!
//! The bytes read stay as they came and go first into the stream that is relayed; they are only
//! decoded a second time, by a throwaway decoder of the deployment's protocol. Waiting is bounded:
//! after `wait` (the ping interval) without content, or [`MAX_HELD`] bytes, the stream is
//! committed as it is.

use crate::transport::BodyStream;
use crate::upstream::UpstreamError;
use bytes::Bytes;
use futures_util::StreamExt;
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind, StreamEvent};
use protocol::sse::SseParser;
use protocol::target::ResponseContext;
use std::time::Duration;

/// Most bytes held back while waiting for content.
pub const MAX_HELD: usize = 64 * 1024;

/// Reads the start of `body` (a stream in `protocol`) and gives back a stream of the same bytes,
/// or the failure the upstream opened with. `who` names the upstream in errors.
pub async fn open(
    mut body: BodyStream,
    protocol: Protocol,
    ctx: &ResponseContext,
    wait: Duration,
    who: &str,
) -> Result<BodyStream, UpstreamError> {
    let mut decoder = protocol.codec().stream_decoder(ctx, 0);
    let mut parser = SseParser::new();
    let (mut sse, mut events) = (Vec::new(), Vec::new());
    let mut held: Vec<Bytes> = Vec::new();
    let mut held_bytes = 0;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let ended = match tokio::time::timeout_at(deadline, body.next()).await {
            // Silent for `wait`: the stream goes as it is (the relay pings and times it).
            Err(_) => break,
            Ok(Some(Ok(chunk))) => {
                held_bytes += chunk.len();
                let parsed = parser.feed(&chunk, &mut sse);
                held.push(chunk);
                if parsed.is_err() {
                    // An over-long event: the relay reports it.
                    break;
                }
                false
            }
            Ok(Some(Err(e))) => {
                return Err(UpstreamError::transient(ApiError {
                    kind: ErrorKind::Api,
                    status: 502,
                    message: format!("{who} broke off its stream before any content: {}", e.cause),
                }));
            }
            Ok(None) => {
                parser.finish(&mut sse);
                true
            }
        };
        for ev in sse.drain(..) {
            decoder.on_event(&ev, &mut events);
        }
        if ended && !decoder.is_finished() {
            decoder.on_end(&mut events);
        }
        for ev in events.drain(..) {
            match ev {
                StreamEvent::Error(e) => return Err(opened_with(who, e)),
                StreamEvent::BlockStart { .. }
                | StreamEvent::Delta { .. }
                | StreamEvent::Finish { .. } => {
                    return Ok(rejoin(held, body));
                }
                StreamEvent::MessageStart { .. }
                | StreamEvent::BlockStop { .. }
                | StreamEvent::Ping => {}
            }
        }
        if ended || held_bytes > MAX_HELD {
            break;
        }
    }
    Ok(rejoin(held, body))
}

/// The failure for a stream that opened with `e`: retried like the same error answered with its
/// status (an `overloaded_error` like a 529).
fn opened_with(who: &str, e: ApiError) -> UpstreamError {
    let status = e.status;
    let e = ApiError {
        message: format!("{who} opened its stream with an error: {}", e.message),
        ..e
    };
    if e.kind == ErrorKind::Api {
        // An unreadable stream, or one that ended without content: the answer is unusable, as a
        // whole answer that is not JSON is; another deployment may serve.
        return UpstreamError::unusable(ApiError { status: 502, ..e });
    }
    UpstreamError::from_status(e, status, None)
}

/// The held bytes, then the rest of the stream.
fn rejoin(held: Vec<Bytes>, rest: BodyStream) -> BodyStream {
    if held.is_empty() {
        return rest;
    }
    Box::pin(futures_util::stream::iter(held.into_iter().map(Ok)).chain(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::BodyError;

    fn stream(parts: &[&'static str]) -> BodyStream {
        let items: Vec<Result<Bytes, BodyError>> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    fn ctx() -> ResponseContext {
        ResponseContext {
            id: "msg_1".into(),
            model: "m".into(),
            created: 0,
            tool_names: Default::default(),
        }
    }

    async fn collect(s: BodyStream) -> String {
        let parts: Vec<_> = s.collect().await;
        parts
            .into_iter()
            .map(|p| String::from_utf8(p.unwrap().to_vec()).unwrap())
            .collect()
    }

    const START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n";

    #[tokio::test]
    async fn an_error_before_content_is_a_failed_attempt() {
        let s = stream(&[
            START,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        ]);
        let e = open(
            s,
            Protocol::Anthropic,
            &ctx(),
            Duration::from_secs(5),
            "upstream x",
        )
        .await
        .err()
        .unwrap();
        assert_eq!(e.error.kind, ErrorKind::Overloaded);
        assert!(e.retryable);
        assert!(
            e.error.message.contains("opened its stream with an error"),
            "{}",
            e.error.message
        );
    }

    #[tokio::test]
    async fn content_commits_the_stream_with_every_byte() {
        let text = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
        let rest = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let s = stream(&[START, text, rest]);
        let s = open(s, Protocol::Anthropic, &ctx(), Duration::from_secs(5), "u")
            .await
            .ok()
            .unwrap();
        assert_eq!(collect(s).await, format!("{START}{text}{rest}"));
    }

    #[tokio::test]
    async fn a_stream_that_ends_before_content_failed() {
        let s = stream(&[START]);
        let e = open(s, Protocol::Anthropic, &ctx(), Duration::from_secs(5), "u")
            .await
            .err()
            .unwrap();
        assert!(e.unusable_answer && e.error.status == 502, "{e:?}");
        let chat_error =
            "data: {\"error\":{\"message\":\"rate limited\",\"type\":\"rate_limit_error\"}}\n\n";
        let e = open(
            stream(&[chat_error]),
            Protocol::OpenAiChat,
            &ctx(),
            Duration::from_secs(5),
            "u",
        )
        .await
        .err()
        .unwrap();
        assert_eq!(e.error.kind, ErrorKind::RateLimit);
    }
}
