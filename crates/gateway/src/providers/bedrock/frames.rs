//! AWS event-stream frames (`application/vnd.amazon.eventstream`) re-framed as SSE, so the
//! stream loop and the protocol codecs read a Bedrock stream like any other. Frames are decoded
//! incrementally with `aws-smithy-eventstream`, which checks both CRCs (field-2026-11.md §4.3).
//!
//! - InvokeModelWithResponseStream: each `chunk` event's payload is `{"bytes":"<base64>"}`, the
//!   bytes one Anthropic stream event's JSON; it becomes `event: <its type>` + `data: <json>`,
//!   exactly the SSE an Anthropic upstream sends.
//! - ConverseStream: each event becomes `event: <:event-type>` + `data: <payload>`, the input the
//!   Converse stream decoder reads.
//! - An exception frame (`:message-type exception`, `:exception-type throttlingException` …) or an
//!   error frame becomes the protocol's error event: Anthropic's `error` event for Invoke,
//!   `event: <exception type>` with its `{"message"}` payload for Converse.

use crate::transport::{BodyError, BodyStream};
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use protocol::ir::ApiError;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Which Bedrock operation's frames these are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// InvokeModelWithResponseStream (Claude): base64 Anthropic events.
    Invoke,
    /// ConverseStream.
    Converse,
}

/// The value of string header `name`, if present.
fn header<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

/// Appends the SSE for one frame to `out`. Errors describe a frame that cannot be read.
pub fn reframe(m: &Message, framing: Framing, out: &mut BytesMut) -> Result<(), String> {
    let kind = header(m, ":message-type").unwrap_or("event");
    match kind {
        "event" => {
            let event = header(m, ":event-type").unwrap_or_default();
            match framing {
                Framing::Converse => sse(out, event, m.payload()),
                Framing::Invoke if event == "chunk" => {
                    let (name, data) = invoke_chunk(m.payload())?;
                    sse(out, &name, &data);
                }
                // Other events (`initial-response`, say) carry nothing for the client.
                Framing::Invoke => {}
            }
            Ok(())
        }
        "exception" | "error" => {
            let name = header(m, ":exception-type")
                .or_else(|| header(m, ":error-code"))
                .unwrap_or("internalServerException");
            let message = header(m, ":error-message")
                .map(str::to_owned)
                .or_else(|| payload_message(m.payload()))
                .unwrap_or_else(|| String::from_utf8_lossy(m.payload()).into_owned());
            exception(out, framing, name, &message);
            Ok(())
        }
        other => Err(format!("a frame of unknown message type `{other}`")),
    }
}

/// Appends the protocol's error event for an AWS exception named `name` (either case, e.g.
/// `throttlingException` or `ThrottlingException`).
pub fn exception(out: &mut BytesMut, framing: Framing, name: &str, message: &str) {
    let message = format!("Bedrock {name}: {message}");
    match framing {
        Framing::Invoke => {
            let e = ApiError::new(protocol::bedrock_converse::exception_kind(name), message);
            sse(out, "error", &protocol::anthropic::encode_error(&e));
        }
        Framing::Converse => {
            let payload = serde_json::json!({ "message": message }).to_string();
            sse(out, name, payload.as_bytes());
        }
    }
}

fn payload_message(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct P {
        #[serde(alias = "Message")]
        message: String,
    }
    serde_json::from_slice::<P>(payload).ok().map(|p| p.message)
}

/// The Anthropic event inside an Invoke `chunk`: its `type` and its JSON on one line.
fn invoke_chunk(payload: &[u8]) -> Result<(String, Vec<u8>), String> {
    #[derive(serde::Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow)]
        bytes: std::borrow::Cow<'a, str>,
    }
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    let chunk: Chunk<'_> = serde_json::from_slice(payload)
        .map_err(|e| format!("a chunk whose payload is not {{\"bytes\": …}} ({e})"))?;
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(chunk.bytes.as_bytes())
        .map_err(|e| format!("a chunk whose bytes are not base64 ({e})"))?;
    let typed: Typed = serde_json::from_slice(&data)
        .map_err(|e| format!("a chunk that is not an Anthropic stream event ({e})"))?;
    if data.contains(&b'\n') {
        // SSE data is one line here: re-serialise compactly (JSON never needs a raw newline).
        let v: serde_json::Value = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
        data = v.to_string().into_bytes();
    }
    Ok((typed.kind, data))
}

fn sse(out: &mut BytesMut, event: &str, data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// An event-stream body as an SSE body: each upstream read yields the SSE of the frames it
/// completed (nothing buffered beyond one incomplete frame).
pub struct Reframe {
    inner: BodyStream,
    buf: BytesMut,
    decoder: MessageFrameDecoder,
    framing: Framing,
    failed: bool,
}

impl Reframe {
    pub fn new(inner: BodyStream, framing: Framing) -> Reframe {
        Reframe {
            inner,
            buf: BytesMut::new(),
            decoder: MessageFrameDecoder::new(),
            framing,
            failed: false,
        }
    }

    /// The SSE of every frame complete in the buffer.
    fn drain(&mut self) -> Result<BytesMut, BodyError> {
        let mut out = BytesMut::new();
        loop {
            match self.decoder.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => {
                    reframe(&m, self.framing, &mut out).map_err(unreadable)?
                }
                Ok(DecodedFrame::Incomplete) => return Ok(out),
                Err(e) => return Err(unreadable(e.to_string())),
            }
        }
    }
}

fn unreadable(why: String) -> BodyError {
    BodyError {
        timeout: false,
        cause: format!("Bedrock sent an unreadable event-stream frame: {why}"),
    }
}

impl Stream for Reframe {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.buf.extend_from_slice(&chunk);
                    match this.drain() {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Poll::Ready(Some(Ok(out.freeze()))),
                        Err(e) => {
                            this.failed = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) if !this.buf.is_empty() => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(unreadable(format!(
                        "the stream ended inside a frame ({} bytes left over)",
                        this.buf.len()
                    )))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::{Header, HeaderValue};
    use futures_util::StreamExt;

    fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut m = Message::new(Bytes::copy_from_slice(payload));
        for (k, v) in headers {
            m = m.add_header(Header::new(
                k.to_string(),
                HeaderValue::String(v.to_string().into()),
            ));
        }
        let mut out = Vec::new();
        write_message_to(&m, &mut out).unwrap();
        out
    }

    fn chunk(event: &str) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(event);
        frame(
            &[(":message-type", "event"), (":event-type", "chunk")],
            format!(r#"{{"bytes":"{b64}"}}"#).as_bytes(),
        )
    }

    async fn run(bytes: Vec<u8>, framing: Framing, piece: usize) -> (String, Option<String>) {
        let pieces: Vec<Result<Bytes, BodyError>> = bytes
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let inner: BodyStream = Box::pin(futures_util::stream::iter(pieces));
        let mut s = Reframe::new(inner, framing);
        let mut text = String::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => text.push_str(std::str::from_utf8(&b).unwrap()),
                Err(e) => return (text, Some(e.cause)),
            }
        }
        (text, None)
    }

    #[tokio::test]
    async fn invoke_chunks_become_anthropic_sse_whatever_the_read_sizes() {
        let mut bytes = chunk(r#"{"type":"message_start","message":{"id":"m"}}"#);
        bytes.extend(chunk(
            "{\"type\":\"content_block_delta\",\n\"delta\":{\"text\":\"hi\"}}",
        ));
        for piece in [1, 7, 4096] {
            let (text, err) = run(bytes.clone(), Framing::Invoke, piece).await;
            assert_eq!(err, None);
            assert_eq!(
                text,
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n\
                 event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n"
            );
        }
    }

    #[tokio::test]
    async fn converse_events_keep_their_type_and_payload() {
        let bytes = frame(
            &[(":message-type", "event"), (":event-type", "messageStart")],
            br#"{"role":"assistant"}"#,
        );
        let (text, err) = run(bytes, Framing::Converse, 3).await;
        assert_eq!(err, None);
        assert_eq!(
            text,
            "event: messageStart\ndata: {\"role\":\"assistant\"}\n\n"
        );
    }

    #[tokio::test]
    async fn exceptions_become_the_protocols_error_event() {
        let bytes = frame(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            br#"{"message":"Too many requests"}"#,
        );
        let (text, _) = run(bytes.clone(), Framing::Invoke, 64).await;
        assert!(text.starts_with("event: error\ndata: {"), "{text}");
        assert!(text.contains("rate_limit_error") && text.contains("Too many requests"));
        let (text, _) = run(bytes, Framing::Converse, 64).await;
        assert!(text.starts_with("event: throttlingException\ndata: {\"message\":\"Bedrock throttlingException: Too many requests\"}"), "{text}");
    }

    #[tokio::test]
    async fn a_corrupted_frame_fails_the_stream_by_its_crc() {
        let mut bytes = chunk(r#"{"type":"ping"}"#);
        let n = bytes.len();
        bytes[n - 6] ^= 0xff;
        let (_, err) = run(bytes, Framing::Invoke, 5).await;
        assert!(err.unwrap().contains("unreadable event-stream frame"));
    }

    #[tokio::test]
    async fn a_stream_cut_inside_a_frame_is_an_error_not_a_silent_end() {
        let bytes = chunk(r#"{"type":"ping"}"#);
        let (_, err) = run(bytes[..bytes.len() - 3].to_vec(), Framing::Invoke, 8).await;
        assert!(err.unwrap().contains("ended inside a frame"));
    }
}
