//! Whole-pipeline exercises of arbitrary input, shared by the fuzz targets (`crates/protocol/fuzz`)
//! and the regression tests of what they found. Each runs one input through everything the
//! gateway would do with it and panics on a violation:
//!
//! - [`request`]: a request body through its decoder, then into every upstream protocol; each
//!   encoded request is JSON.
//! - [`sse`]: bytes through [`SseParser`] whole and in small pieces: the same events; every event
//!   written back by [`write_event`] parses to itself.
//! - [`upstream_stream`]: an upstream's SSE body through its stream decoder, whole and in small
//!   pieces: the same internal events, in the order [`StreamEvent`] documents, ended by `Finish` or
//!   `Error`; then through every client encoder, each output checked by what its clients accept
//!   ([`crate::check`]).

// A test validator: panicking on a violation is its job (its callers are tests and fuzz targets),
// so the product's panic lints (src/lib.rs) do not apply here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use crate::check::{Strictness, parse_sse, rebuild_responses, rebuild_with};
use crate::ir::{BlockStart, Delta, StreamEvent};
use crate::sse::{SseEvent, SseParser, write_event};
use crate::stream::{ClientEncoder, UpstreamDecoder};
use crate::target::{
    AnthropicTarget, ChatTarget, ConverseTarget, ReasoningControl, ResponseContext,
    ResponsesTarget, SchemaDialect, ToolIdFormat, ToolNames,
};
use crate::{anthropic, bedrock_converse, ir, openai_chat, openai_responses};
use bytes::BytesMut;
use serde::de::IgnoredAny;

/// A wire protocol, as a client's or an upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Anthropic,
    Chat,
    Responses,
    /// AWS Bedrock Converse (an upstream; its streams as [`bedrock_converse::StreamDecoder`]
    /// reads them).
    Converse,
}

/// Decodes `body` as a `client` request (an error is a fine answer) and encodes what decodes into
/// every upstream protocol, with plain targets and with every provider quirk on.
pub fn request(client: Wire, body: &[u8]) {
    let decoded = match client {
        Wire::Anthropic => anthropic::decode_request(body),
        Wire::Chat => openai_chat::decode_request(body),
        Wire::Responses => openai_responses::decode_request(body),
        Wire::Converse => bedrock_converse::decode_request(body),
    };
    let Ok(req) = decoded else {
        return;
    };
    let mut dropped = ir::Dropped::default();
    let mut encoded = Vec::new();
    for supports_thinking in [false, true] {
        let t = AnthropicTarget {
            model: "claude-x".into(),
            max_output_tokens: Some(1000),
            supports_thinking,
        };
        encoded.push(anthropic::encode_request(&req, &t, &mut dropped));
    }
    let quirky = ChatTarget {
        model: "m".into(),
        max_tokens_field: crate::target::MaxTokensField::MaxCompletionTokens,
        max_output_tokens: Some(1000),
        drop: vec!["temperature".into()],
        reasoning: ReasoningControl::Effort,
        developer_role: true,
        tool_ids: ToolIdFormat::Alnum9,
        echo_reasoning_content: true,
        stream_usage: true,
        schema: SchemaDialect::Gemini,
    };
    for t in [ChatTarget::default(), quirky] {
        encoded.push(openai_chat::encode_request(&req, &t, &mut dropped));
    }
    let t = ResponsesTarget {
        model: "m".into(),
        max_output_tokens: Some(1000),
        drop: Vec::new(),
    };
    encoded.push(openai_responses::upstream::encode_request(
        &req,
        &t,
        &mut dropped,
    ));
    for (model, supports_thinking) in [("meta.llama3-70b", false), ("anthropic.claude-x", true)] {
        let t = ConverseTarget {
            model: model.into(),
            max_output_tokens: Some(1000),
            supports_thinking,
        };
        encoded.push(bedrock_converse::encode_request(&req, &t, &mut dropped));
    }
    for body in encoded {
        assert!(
            serde_json::from_slice::<IgnoredAny>(&body).is_ok(),
            "an encoded request is not JSON: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// Parses `bytes` whole and in pieces of `piece` bytes.
fn parse_in_pieces(bytes: &[u8], piece: usize) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece.max(1)) {
        p.feed(chunk, &mut out)
            .expect("fuzz inputs are far below the parser's 16 MiB bound");
    }
    p.finish(&mut out);
    out
}

/// The SSE parser: the same events whatever the pieces; written events parse back to themselves.
pub fn sse(bytes: &[u8]) {
    let whole = parse_in_pieces(bytes, usize::MAX);
    for piece in [1, 2, 7] {
        assert_eq!(
            parse_in_pieces(bytes, piece),
            whole,
            "{piece}-byte pieces changed the events"
        );
    }
    for ev in &whole {
        let breaks = |s: &str| s.contains(['\n', '\r']);
        if breaks(&ev.data) || ev.event.as_deref().is_some_and(breaks) {
            continue;
        }
        let mut out = BytesMut::new();
        write_event(&mut out, ev.event.as_deref(), ev.data.as_bytes());
        let back = parse_in_pieces(&out, usize::MAX);
        // A written event without data lines is no event; an empty `event:` is the default name.
        let expect = SseEvent {
            event: ev.event.clone().filter(|e| !e.is_empty()),
            data: ev.data.clone(),
        };
        let back: Vec<SseEvent> = back
            .into_iter()
            .map(|mut e| {
                e.event = e.event.filter(|e| !e.is_empty());
                e
            })
            .collect();
        assert_eq!(back, [expect], "a written event did not parse back");
    }
}

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_fuzz".into(),
        model: "client-model".into(),
        created: 1,
        tool_names: ToolNames::new(["Bash", "apply_patch"]),
    }
}

fn decoder(upstream: Wire) -> Box<dyn UpstreamDecoder> {
    match upstream {
        Wire::Anthropic => Box::new(anthropic::StreamDecoder::new("client-model")),
        Wire::Chat => Box::new(openai_chat::StreamDecoder::new(ctx(), 7)),
        Wire::Responses => Box::new(openai_responses::StreamDecoder::new(ctx(), 7)),
        Wire::Converse => Box::new(bedrock_converse::StreamDecoder::new(ctx(), 7)),
    }
}

/// Decodes an upstream body read in pieces of `piece` bytes, as the gateway reads it.
fn decode_in_pieces(upstream: Wire, bytes: &[u8], piece: usize) -> Vec<StreamEvent> {
    let mut parser = SseParser::new();
    let mut d = decoder(upstream);
    let (mut sse, mut events) = (Vec::new(), Vec::new());
    for chunk in bytes.chunks(piece.max(1)) {
        sse.clear();
        parser
            .feed(chunk, &mut sse)
            .expect("fuzz inputs are far below the parser's 16 MiB bound");
        for e in &sse {
            d.on_event(e, &mut events);
        }
    }
    sse.clear();
    parser.finish(&mut sse);
    for e in &sse {
        d.on_event(e, &mut events);
    }
    d.on_end(&mut events);
    assert!(d.is_finished(), "the decoder is not finished after the end");
    events
}

/// An upstream's stream body through its decoder and into every client encoder.
pub fn upstream_stream(upstream: Wire, bytes: &[u8]) {
    let events = decode_in_pieces(upstream, bytes, usize::MAX);
    // Read sizes reach the decoder only through the SSE parser, which [`sse`] checks byte by byte.
    assert_eq!(
        decode_in_pieces(upstream, bytes, 7),
        events,
        "7-byte reads changed the events"
    );
    check_events(&events);

    let encode = |enc: &mut dyn ClientEncoder| {
        let mut out = BytesMut::new();
        for ev in &events {
            enc.encode(ev, &mut out);
        }
        out
    };
    // Tool input may be invalid JSON when the upstream's arguments are: that is the upstream's.
    rebuild_with(
        &encode(&mut anthropic::StreamEncoder::new()),
        Strictness::Structure,
    );
    rebuild_responses(&encode(&mut openai_responses::StreamEncoder::new(ctx())));
    let chat = parse_sse(&encode(&mut openai_chat::StreamEncoder::new(ctx(), true)));
    for (n, ev) in chat.iter().enumerate() {
        if ev.data == "[DONE]" {
            assert_eq!(n + 1, chat.len(), "a Chat chunk after [DONE]");
        } else {
            assert!(
                serde_json::from_str::<IgnoredAny>(&ev.data).is_ok(),
                "a Chat chunk is not JSON: {}",
                ev.data
            );
        }
    }
}

/// Checks the order [`StreamEvent`] documents: `MessageStart`; blocks in index order, one open at
/// a time, each delta of its block's kind, every tool call named (clients answer a call by its
/// name; Anthropic refuses an empty one in the history); `Finish` with no block open; or `Error`
/// anywhere; and nothing after the end.
pub fn check_events(events: &[StreamEvent]) {
    let mut started = false;
    let mut ended = false;
    let mut next = 0usize;
    let mut open: Option<(usize, &BlockStart)> = None;
    for ev in events {
        assert!(!ended, "{ev:?} after the end of the message");
        match ev {
            StreamEvent::Error(_) => ended = true,
            StreamEvent::Ping => {}
            StreamEvent::MessageStart { .. } => {
                assert!(!started, "a second MessageStart");
                started = true;
            }
            _ if !started => panic!("{ev:?} before MessageStart"),
            StreamEvent::BlockStart { index, block } => {
                assert!(
                    open.is_none(),
                    "block {index} starts while {open:?} is open"
                );
                if let BlockStart::ToolCall { name, .. } = block {
                    assert!(!name.is_empty(), "a tool call without a name");
                }
                assert_eq!(*index, next, "block index is not the next one");
                next += 1;
                open = Some((*index, block));
            }
            StreamEvent::Delta { index, delta } => {
                let Some((i, block)) = open else {
                    panic!("delta for block {index} with none open");
                };
                assert_eq!(*index, i, "delta for a block that is not open");
                let fits = matches!(
                    (block, delta),
                    (BlockStart::Text, Delta::Text(_))
                        | (
                            BlockStart::Reasoning,
                            Delta::Reasoning(_) | Delta::Signature(_)
                        )
                        | (BlockStart::ToolCall { .. }, Delta::ToolArguments(_))
                );
                assert!(fits, "{delta:?} in a {block:?} block");
            }
            StreamEvent::BlockStop { index } => {
                assert_eq!(open.map(|o| o.0), Some(*index), "stop of a block not open");
                open = None;
            }
            StreamEvent::Finish { .. } => {
                assert!(open.is_none(), "Finish while {open:?} is open");
                ended = true;
            }
        }
    }
    assert!(ended, "the events end with neither Finish nor Error");
}
