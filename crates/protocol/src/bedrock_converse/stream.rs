//! ConverseStream ⇄ internal stream events (protocols.md §7.3; API reference "ConverseStream",
//! the `ConverseStreamOutput` union).
//!
//! The gateway decodes the AWS event-stream frames (`application/vnd.amazon.eventstream`) and
//! hands each to [`StreamDecoder`] as an [`SseEvent`] whose `event` is the frame's
//! `:event-type` (`messageStart`, `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`,
//! `messageStop`, `metadata`) or, for an exception frame, its `:exception-type`
//! (`throttlingException`, …), and whose `data` is the frame's JSON payload. [`StreamEncoder`]
//! writes internal events in that same representation, as SSE text.

use super::response::{
    parse_stop_reason, response_fields, stop_reason_str, stream_exception_type, usage_from_wire,
    usage_json,
};
use super::types::{DeltaPayload, StreamPayload};
use crate::ir::{ApiError, BlockStart, Delta, ErrorKind, StopReason, StreamEvent, ToolKind, Usage};
use crate::sse::{SseEvent, write_event};
use crate::target::{ResponseContext, anthropic_tool_id};
use bytes::BytesMut;
use serde_json::json;

/// The kind of the block being streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Text,
    Reasoning,
    Tool,
    /// Redacted reasoning: its data (base64, possibly in several deltas) is gathered and the
    /// block sent whole when it ends, as [`BlockStart::RedactedReasoning`] carries it.
    Redacted(String),
    /// A block with nothing to forward (a `toolResult` or `image` start).
    Skipped,
}

#[derive(Debug)]
struct Open {
    /// The upstream's `contentBlockIndex`.
    upstream: usize,
    kind: Kind,
}

/// Reads a ConverseStream into internal events.
///
/// Text and reasoning blocks get no `contentBlockStart` from Bedrock: the first delta of a new
/// index starts one. A `toolUse` start starts a tool call (id made one Anthropic clients accept,
/// name restored through `ctx.tool_names`). Empty text and reasoning deltas are not forwarded
/// (Bedrock sends empty reasoning deltas mid-block, protocols.md §7.3). `messageStop` is held
/// until `metadata`, which carries the usage and comes after it; then `Finish`. An exception
/// event ends the stream with an error of its kind ([`super::exception_error`]);
/// `malformed_model_output` / `malformed_tool_use` stop reasons too.
#[derive(Debug)]
pub struct StreamDecoder {
    ctx: ResponseContext,
    input_estimate: u64,
    started: bool,
    open: Option<Open>,
    /// The internal index of the next block.
    next: usize,
    /// Tool calls seen, for ids of calls that came without one.
    calls: usize,
    /// The stop reason of `messageStop`, once seen.
    stop: Option<StopReason>,
    usage: Option<Usage>,
    done: bool,
}

impl StreamDecoder {
    /// `input_estimate` is reported in `MessageStart` (and in `Finish` if no `metadata` comes).
    pub fn new(ctx: ResponseContext, input_estimate: u64) -> StreamDecoder {
        StreamDecoder {
            ctx,
            input_estimate,
            started: false,
            open: None,
            next: 0,
            calls: 0,
            stop: None,
            usage: None,
            done: false,
        }
    }

    /// Whether the message has been finished (or failed); later input is ignored.
    pub fn is_finished(&self) -> bool {
        self.done
    }

    /// Handles one ConverseStream event (see the module docs for the representation).
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        let name = ev.event.as_deref().unwrap_or("");
        let w: StreamPayload = match serde_json::from_str(&ev.data) {
            Ok(w) => w,
            Err(_) if is_exception(name) => StreamPayload::default(),
            Err(e) => return self.fail(out, crate::stream_watch::unreadable(ev, &e)),
        };
        if is_exception(name) {
            let message = w.message.or(w.original_message).unwrap_or_default();
            return self.fail(out, super::exception_error(name, &message));
        }
        match name {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                self.start(out);
                self.block_start(w, out);
            }
            "contentBlockDelta" => {
                self.start(out);
                let index = w.content_block_index.unwrap_or(0);
                if let Some(d) = w.delta {
                    self.delta(index, d, out);
                }
            }
            "contentBlockStop" => {
                let index = w.content_block_index.unwrap_or(0);
                if self.open.as_ref().is_some_and(|o| o.upstream == index) {
                    self.close(out);
                }
            }
            "messageStop" => {
                self.start(out);
                self.close(out);
                let reason = w.stop_reason.as_deref().unwrap_or("end_turn");
                match parse_stop_reason(reason, w.additional_model_response_fields.as_ref()) {
                    Ok(r) => self.stop = Some(r),
                    Err(e) => return self.fail(out, e),
                }
                if self.usage.is_some() {
                    self.finish(out);
                }
            }
            "metadata" => {
                if let Some(u) = &w.usage {
                    self.usage = Some(usage_from_wire(u));
                }
                if self.stop.is_some() {
                    self.finish(out);
                }
            }
            _ => {}
        }
    }

    /// The upstream closed the stream: after `messageStop` the message ends (with the input
    /// estimate as usage when `metadata` never came); before it, the answer was cut off and an
    /// error is emitted.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        if self.stop.is_some() {
            self.finish(out);
        } else {
            self.fail(
                out,
                ApiError::new(
                    ErrorKind::Api,
                    "upstream closed the stream before messageStop",
                ),
            );
        }
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(self.ctx.message_start(self.input_estimate));
        }
    }

    fn block_start(&mut self, w: StreamPayload, out: &mut Vec<StreamEvent>) {
        let index = w.content_block_index.unwrap_or(0);
        self.close(out);
        let Some(tool) = w.start.and_then(|s| s.tool_use) else {
            self.open = Some(Open {
                upstream: index,
                kind: Kind::Skipped,
            });
            return;
        };
        let raw_id = tool.tool_use_id.unwrap_or_default();
        let Some(name) = tool.name.filter(|n| !n.is_empty()) else {
            return self.fail(out, ApiError::nameless_tool_call(&raw_id));
        };
        let n = self.calls;
        self.calls += 1;
        let block = BlockStart::ToolCall {
            id: anthropic_tool_id(&raw_id, || self.ctx.tool_id(n)),
            name: self.ctx.tool_names.restore(&name),
            kind: ToolKind::Function,
        };
        self.open_block(index, Kind::Tool, Some(block), out);
    }

    fn delta(&mut self, index: usize, d: DeltaPayload, out: &mut Vec<StreamEvent>) {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.upstream == index && o.kind == Kind::Skipped)
        {
            return;
        }
        if let Some(t) = d.text {
            if !t.is_empty() {
                self.ensure(index, Kind::Text, out);
                self.push(Delta::Text(t), out);
            }
        } else if let Some(tu) = d.tool_use {
            let open_tool = self
                .open
                .as_ref()
                .is_some_and(|o| o.upstream == index && o.kind == Kind::Tool);
            if !open_tool {
                // Input without a `toolUse` start: a call with no name or id to give it.
                return self.fail(out, ApiError::nameless_tool_call(""));
            }
            if let Some(input) = tu.input.filter(|i| !i.is_empty()) {
                self.push(Delta::ToolArguments(input), out);
            }
        } else if let Some(r) = d.reasoning_content {
            if let Some(data) = r.redacted_content.filter(|d| !d.is_empty()) {
                self.redacted(index, data, out);
            }
            if let Some(t) = r.text.filter(|t| !t.is_empty()) {
                self.ensure(index, Kind::Reasoning, out);
                self.push(Delta::Reasoning(t), out);
            }
            if let Some(s) = r.signature.filter(|s| !s.is_empty()) {
                self.ensure(index, Kind::Reasoning, out);
                self.push(Delta::Signature(s), out);
            }
        }
    }

    /// Makes a text or reasoning block the open one for upstream `index`, starting it when the
    /// open block is another.
    fn ensure(&mut self, index: usize, kind: Kind, out: &mut Vec<StreamEvent>) {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.upstream == index && o.kind == kind)
        {
            return;
        }
        self.close(out);
        let block = match kind {
            Kind::Text => BlockStart::Text,
            _ => BlockStart::Reasoning,
        };
        self.open_block(index, kind, Some(block), out);
    }

    fn redacted(&mut self, index: usize, data: String, out: &mut Vec<StreamEvent>) {
        if let Some(Open {
            upstream,
            kind: Kind::Redacted(gathered),
        }) = &mut self.open
            && *upstream == index
        {
            *gathered = join_base64(gathered, &data);
            return;
        }
        self.close(out);
        self.open_block(index, Kind::Redacted(data), None, out);
    }

    fn open_block(
        &mut self,
        upstream: usize,
        kind: Kind,
        start: Option<BlockStart>,
        out: &mut Vec<StreamEvent>,
    ) {
        if let Some(block) = start {
            out.push(StreamEvent::BlockStart {
                index: self.next,
                block,
            });
            self.next += 1;
        }
        self.open = Some(Open { upstream, kind });
    }

    fn push(&mut self, delta: Delta, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::Delta {
            index: self.next - 1,
            delta,
        });
    }

    /// Ends the open block, if any.
    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        let Some(open) = self.open.take() else {
            return;
        };
        match open.kind {
            Kind::Skipped => {}
            Kind::Redacted(data) => {
                let index = self.next;
                self.next += 1;
                out.push(StreamEvent::BlockStart {
                    index,
                    block: BlockStart::RedactedReasoning { data },
                });
                out.push(StreamEvent::BlockStop { index });
            }
            Kind::Text | Kind::Reasoning | Kind::Tool => out.push(StreamEvent::BlockStop {
                index: self.next - 1,
            }),
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.start(out);
        self.close(out);
        self.done = true;
        let usage = self.usage.unwrap_or(Usage {
            input_tokens: self.input_estimate,
            ..Usage::default()
        });
        out.push(StreamEvent::Finish {
            stop_reason: self.stop.take().unwrap_or_default(),
            usage,
        });
    }

    fn fail(&mut self, out: &mut Vec<StreamEvent>, e: ApiError) {
        self.done = true;
        out.push(StreamEvent::Error(e));
    }
}

/// Whether an event name is an exception (`throttlingException`, `ValidationException`, …).
fn is_exception(name: &str) -> bool {
    name.ends_with("Exception") || name.ends_with("exception")
}

/// Two pieces of base64 as the base64 of their bytes joined: `a` then `b` when `a` ends on a
/// whole group without padding (always, for pieces of whole 3-byte groups), else decoded and
/// encoded again. Invalid base64 is joined as it is.
fn join_base64(a: &str, b: &str) -> String {
    if a.len().is_multiple_of(4) && !a.ends_with('=') {
        return format!("{a}{b}");
    }
    match (base64_decode(a), base64_decode(b)) {
        (Some(mut x), Some(y)) => {
            x.extend(y);
            base64_encode(&x)
        }
        _ => format!("{a}{b}"),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

/// Writes internal stream events as ConverseStream events in [`StreamDecoder`]'s representation:
/// `event: <eventType>\ndata: <payload JSON>\n\n`. Text and reasoning blocks get no
/// `contentBlockStart` (Bedrock sends none); redacted reasoning is one `redactedContent` delta;
/// `Finish` is `messageStop` then `metadata` with the usage; an error is the stream exception of
/// its kind ([`super::stream_exception_type`]) with `{"message"}`.
#[derive(Debug)]
pub struct StreamEncoder {
    /// The answer's context; ConverseStream events carry no id or model, so it goes unused.
    _ctx: ResponseContext,
}

impl StreamEncoder {
    /// An encoder for the answer `ctx` describes.
    pub fn new(ctx: ResponseContext) -> StreamEncoder {
        StreamEncoder { _ctx: ctx }
    }

    /// Appends the SSE bytes of `ev` to `out`.
    pub fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        let delta = |out: &mut BytesMut, index: &usize, delta: serde_json::Value| {
            let v = json!({"contentBlockIndex": index, "delta": delta});
            write(out, "contentBlockDelta", &v);
        };
        match ev {
            StreamEvent::MessageStart { .. } => {
                write(out, "messageStart", &json!({"role": "assistant"}))
            }
            StreamEvent::BlockStart { index, block } => match block {
                BlockStart::Text | BlockStart::Reasoning => {}
                BlockStart::RedactedReasoning { data } => delta(
                    out,
                    index,
                    json!({"reasoningContent": {"redactedContent": data}}),
                ),
                BlockStart::ToolCall { id, name, .. } => {
                    let v = json!({"contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": id, "name": name}}});
                    write(out, "contentBlockStart", &v);
                }
            },
            StreamEvent::Delta { index, delta: d } => {
                let payload = match d {
                    Delta::Text(t) => json!({ "text": t }),
                    Delta::Reasoning(t) => json!({"reasoningContent": {"text": t}}),
                    Delta::Signature(s) => json!({"reasoningContent": {"signature": s}}),
                    Delta::ToolArguments(a) => json!({"toolUse": {"input": a}}),
                };
                delta(out, index, payload);
            }
            StreamEvent::BlockStop { index } => write(
                out,
                "contentBlockStop",
                &json!({ "contentBlockIndex": index }),
            ),
            StreamEvent::Finish { stop_reason, usage } => {
                let mut stop = json!({ "stopReason": stop_reason_str(stop_reason) });
                if let Some(f) = response_fields(stop_reason) {
                    stop["additionalModelResponseFields"] = f;
                }
                write(out, "messageStop", &stop);
                let meta = json!({"usage": usage_json(usage), "metrics": {"latencyMs": 0}});
                write(out, "metadata", &meta);
            }
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error(e) => {
                let v = json!({ "message": e.message });
                write(out, stream_exception_type(e.kind), &v);
            }
        }
    }
}

fn write(out: &mut BytesMut, event: &str, v: &serde_json::Value) {
    write_event(out, Some(event), &crate::wire::to_json(v));
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
