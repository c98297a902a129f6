//! Watching a same-protocol stream that the gateway passes through byte for byte: each complete
//! upstream event is checked to be one the client can read, the protocol's last event is noted,
//! and when the stream fails the client gets its protocol's own error event, written by the same
//! encoders that end translated streams (so both kinds of stream fail alike):
//!
//! - Anthropic: `event: error` with `{"type":"error","error":{…}}` (Messages "Error events").
//! - OpenAI Chat: `data: {"error":{…}}`, the object OpenAI itself sends in a failing stream, which
//!   the OpenAI SDKs raise as `APIError`.
//! - OpenAI Responses: `response.failed` for the upstream's own response id, numbered after the
//!   upstream's last `sequence_number` (the SDK's stream helper insists on one response id).
//!
//! Parsing only what is needed (the event `type`, finish reasons, the response id) still reads
//! each event's whole JSON, which is what catches an HTML page or a cut event in a stream.

use crate::ir::{ApiError, ErrorKind, StreamEvent};
use crate::sse::SseEvent;
use crate::target::ResponseContext;
use crate::{anthropic, openai_chat, openai_responses};
use bytes::BytesMut;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Follows one pass-through stream. The gateway feeds it every complete upstream event before
/// passing the event's bytes on.
pub trait StreamWatch: Send {
    /// Checks one complete upstream event. An error means the event is not one the client can
    /// read: it is not passed on, and the stream ends with that error.
    fn on_event(&mut self, ev: &SseEvent) -> Result<(), ApiError>;
    /// Whether the answer's last event (or an error event) has passed.
    fn is_finished(&self) -> bool;
    /// The upstream closed the stream: `None` when the answer was complete, else the error the
    /// client must get.
    fn on_end(&mut self) -> Option<ApiError>;
    /// Appends the protocol's error event for `e`.
    fn write_error(&mut self, e: &ApiError, out: &mut BytesMut);
}

/// Longest piece of a bad event quoted in the error about it.
const QUOTE: usize = 120;

/// The error for an upstream event whose data is not the JSON expected (an HTML page, a cut
/// line), quoting its start; used by the translating decoders too.
pub fn unreadable(ev: &SseEvent, e: &serde_json::Error) -> ApiError {
    let mut quote: String = ev.data.chars().take(QUOTE).collect();
    if quote.len() < ev.data.len() {
        quote.push('…');
    }
    ApiError::new(
        ErrorKind::Api,
        format!("upstream sent an unreadable stream event ({e}): {quote}"),
    )
}

/// An event's `type`.
#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

/// Anthropic Messages: complete at `message_stop`; an `error` event ends it too.
#[derive(Debug, Default)]
pub struct AnthropicWatch {
    finished: bool,
}

impl AnthropicWatch {
    pub fn new() -> AnthropicWatch {
        AnthropicWatch::default()
    }
}

impl StreamWatch for AnthropicWatch {
    fn on_event(&mut self, ev: &SseEvent) -> Result<(), ApiError> {
        if ev.data.trim().is_empty() {
            return Ok(());
        }
        let t: Typed<'_> = serde_json::from_str(&ev.data).map_err(|e| unreadable(ev, &e))?;
        if matches!(t.kind.as_deref(), Some("message_stop" | "error"))
            || ev.event.as_deref() == Some("error")
        {
            self.finished = true;
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn on_end(&mut self) -> Option<ApiError> {
        (!self.finished).then(|| {
            ApiError::new(
                ErrorKind::Api,
                "upstream closed the stream before message_stop",
            )
        })
    }

    fn write_error(&mut self, e: &ApiError, out: &mut BytesMut) {
        anthropic::StreamEncoder::new().encode(&StreamEvent::Error(e.clone()), out);
        self.finished = true;
    }
}

/// OpenAI Chat Completions: complete at `[DONE]`, or at the close after a chunk with a finish
/// reason (servers that omit `[DONE]`), as the translating decoder reads it; a chunk carrying an
/// `error` object ends it.
pub struct ChatWatch {
    ctx: ResponseContext,
    done: bool,
    finish_seen: bool,
}

impl ChatWatch {
    /// `ctx` names the answer in the error chunk.
    pub fn new(ctx: ResponseContext) -> ChatWatch {
        ChatWatch {
            ctx,
            done: false,
            finish_seen: false,
        }
    }
}

#[derive(Deserialize)]
struct ChatChunk {
    /// Whether a choice has a finish reason (read without keeping the array).
    #[serde(default, rename = "choices", deserialize_with = "any_finish_reason")]
    finish: bool,
    error: Option<IgnoredAny>,
}

/// Whether any element of a `choices` array has a `finish_reason`; every element is read whole.
fn any_finish_reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct Choices;
    impl<'de> serde::de::Visitor<'de> for Choices {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of choices")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let mut any = false;
            while let Some(c) = seq.next_element::<ChatChoice>()? {
                any |= c.finish_reason.is_some();
            }
            Ok(any)
        }
    }
    d.deserialize_seq(Choices)
}

#[derive(Deserialize)]
struct ChatChoice {
    finish_reason: Option<IgnoredAny>,
}

impl StreamWatch for ChatWatch {
    fn on_event(&mut self, ev: &SseEvent) -> Result<(), ApiError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let c: ChatChunk = serde_json::from_str(data).map_err(|e| unreadable(ev, &e))?;
        if c.error.is_some() {
            self.done = true;
        }
        if c.finish {
            self.finish_seen = true;
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        self.done
    }

    fn on_end(&mut self) -> Option<ApiError> {
        (!self.done && !self.finish_seen).then(|| {
            ApiError::new(
                ErrorKind::Api,
                "upstream closed the stream before it finished",
            )
        })
    }

    fn write_error(&mut self, e: &ApiError, out: &mut BytesMut) {
        openai_chat::StreamEncoder::new(self.ctx.clone(), false)
            .encode(&StreamEvent::Error(e.clone()), out);
        self.done = true;
    }
}

/// OpenAI Responses: complete at `response.completed`, `response.incomplete`,
/// `response.failed` or `error`. Learns the response id, model and creation time from the
/// upstream's lifecycle events and the last `sequence_number`, so its `response.failed`
/// continues the upstream's stream.
pub struct ResponsesWatch {
    ctx: ResponseContext,
    started: bool,
    next_seq: u64,
    finished: bool,
}

impl ResponsesWatch {
    /// `ctx` names the answer when the upstream failed before announcing its own.
    pub fn new(ctx: ResponseContext) -> ResponsesWatch {
        ResponsesWatch {
            ctx,
            started: false,
            next_seq: 0,
            finished: false,
        }
    }
}

#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    sequence_number: Option<u64>,
    response: Option<ResponseHead>,
}

#[derive(Deserialize)]
struct ResponseHead {
    id: Option<String>,
    model: Option<String>,
    created_at: Option<f64>,
}

impl StreamWatch for ResponsesWatch {
    fn on_event(&mut self, ev: &SseEvent) -> Result<(), ApiError> {
        if ev.data.trim().is_empty() {
            return Ok(());
        }
        let e: ResponsesEvent<'_> =
            serde_json::from_str(&ev.data).map_err(|err| unreadable(ev, &err))?;
        if let Some(r) = e.response {
            if let Some(id) = r.id {
                self.ctx.id = id;
            }
            if let Some(m) = r.model {
                self.ctx.model = m;
            }
            if let Some(t) = r.created_at {
                self.ctx.created = t as u64;
            }
        }
        self.started = true;
        self.next_seq = e.sequence_number.map_or(self.next_seq + 1, |n| n + 1);
        let kind = e.kind.as_deref().or(ev.event.as_deref());
        if matches!(
            kind,
            Some("response.completed" | "response.incomplete" | "response.failed" | "error")
        ) {
            self.finished = true;
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn on_end(&mut self) -> Option<ApiError> {
        (!self.finished).then(|| {
            ApiError::new(
                ErrorKind::Api,
                "upstream closed the stream before response.completed",
            )
        })
    }

    fn write_error(&mut self, e: &ApiError, out: &mut BytesMut) {
        openai_responses::StreamEncoder::resume(self.ctx.clone(), self.next_seq, self.started)
            .encode(&StreamEvent::Error(e.clone()), out);
        self.finished = true;
    }
}

/// Bedrock ConverseStream (re-framed as SSE, `event:` the event type): complete at `metadata`
/// (usage comes after `messageStop`); an exception event ends it too.
pub struct ConverseWatch {
    ctx: ResponseContext,
    finished: bool,
}

impl ConverseWatch {
    pub fn new(ctx: ResponseContext) -> ConverseWatch {
        ConverseWatch {
            ctx,
            finished: false,
        }
    }
}

impl StreamWatch for ConverseWatch {
    fn on_event(&mut self, ev: &SseEvent) -> Result<(), ApiError> {
        serde_json::from_str::<serde::de::IgnoredAny>(&ev.data).map_err(|e| unreadable(ev, &e))?;
        let name = ev.event.as_deref().unwrap_or_default();
        if name == "metadata" || name.ends_with("Exception") {
            self.finished = true;
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn on_end(&mut self) -> Option<ApiError> {
        (!self.finished).then(|| {
            ApiError::new(
                ErrorKind::Api,
                "upstream closed the stream before its metadata event",
            )
        })
    }

    fn write_error(&mut self, e: &ApiError, out: &mut BytesMut) {
        crate::bedrock_converse::StreamEncoder::new(self.ctx.clone())
            .encode(&StreamEvent::Error(e.clone()), out);
        self.finished = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    fn events(text: &str) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(text.as_bytes(), &mut out).unwrap();
        out
    }

    fn run(w: &mut dyn StreamWatch, text: &str) -> Result<(), ApiError> {
        events(text).iter().try_for_each(|e| w.on_event(e))
    }

    #[test]
    fn anthropic_stream_without_message_stop_is_incomplete() {
        let mut w = AnthropicWatch::new();
        run(
            &mut w,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
        )
        .unwrap();
        assert!(!w.is_finished());
        let e = w.on_end().expect("incomplete");
        let mut out = BytesMut::new();
        w.write_error(&e, &mut out);
        let ev = &events(std::str::from_utf8(&out).unwrap())[0];
        assert_eq!(ev.event.as_deref(), Some("error"));
        let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(v["error"]["type"], "api_error");
        let mut w = AnthropicWatch::new();
        run(
            &mut w,
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        )
        .unwrap();
        assert!(w.is_finished() && w.on_end().is_none());
    }

    #[test]
    fn an_event_that_is_not_json_is_refused_naming_it() {
        let mut w = AnthropicWatch::new();
        let e = run(
            &mut w,
            "data: <html><body>502 Bad Gateway</body></html>\n\n",
        )
        .unwrap_err();
        assert!(
            e.message.contains("unreadable stream event") && e.message.contains("<html>"),
            "{}",
            e.message
        );
    }

    #[test]
    fn chat_is_complete_at_done_or_after_a_finish_reason() {
        let mut w = ChatWatch::new(ResponseContext::default());
        run(
            &mut w,
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n",
        )
        .unwrap();
        assert!(w.on_end().is_some(), "no finish reason: incomplete");
        run(
            &mut w,
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        )
        .unwrap();
        assert!(!w.is_finished());
        assert!(w.on_end().is_none(), "finished without [DONE]");
        run(&mut w, "data: [DONE]\n\n").unwrap();
        assert!(w.is_finished());
        let mut out = BytesMut::new();
        w.write_error(&ApiError::new(ErrorKind::Timeout, "slow"), &mut out);
        let v: serde_json::Value =
            serde_json::from_str(&events(std::str::from_utf8(&out).unwrap())[0].data).unwrap();
        assert_eq!(v["error"]["message"], "slow");
    }

    #[test]
    fn responses_failure_continues_the_upstream_response() {
        let mut w = ResponsesWatch::new(ResponseContext {
            id: "resp_gateway".into(),
            ..ResponseContext::default()
        });
        run(
            &mut w,
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\
             \"response\":{\"id\":\"resp_up\",\"model\":\"m\",\"created_at\":1700000000,\"output\":[]}}\n\n\
             event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"delta\":\"x\"}\n\n",
        )
        .unwrap();
        let e = w.on_end().expect("incomplete");
        let mut out = BytesMut::new();
        w.write_error(&e, &mut out);
        let evs = events(std::str::from_utf8(&out).unwrap());
        assert_eq!(evs.len(), 1, "no second response.created");
        let v: serde_json::Value = serde_json::from_str(&evs[0].data).unwrap();
        assert_eq!(v["type"], "response.failed");
        assert_eq!(v["sequence_number"], 5);
        assert_eq!(v["response"]["id"], "resp_up");
        assert_eq!(v["response"]["created_at"], 1_700_000_000);
        assert!(
            v["response"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("before response.completed")
        );
    }

    #[test]
    fn responses_failure_before_any_event_opens_the_stream_first() {
        let mut w = ResponsesWatch::new(ResponseContext {
            id: "resp_gateway".into(),
            ..ResponseContext::default()
        });
        let mut out = BytesMut::new();
        w.write_error(&ApiError::new(ErrorKind::Timeout, "slow"), &mut out);
        let kinds: Vec<_> = events(std::str::from_utf8(&out).unwrap())
            .into_iter()
            .map(|e| e.event.unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
    }
}
