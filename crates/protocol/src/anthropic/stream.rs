//! Anthropic Messages streaming ("Streaming messages" docs) ⇄ internal stream events.
//!
//! [`StreamEncoder`] writes internal events as SSE for Anthropic clients; [`StreamDecoder`] reads
//! an Anthropic upstream's SSE into internal events. Both are per-event functions with a little
//! state, driven by the gateway's streaming loop.

use super::request::FOREIGN_SIGNATURE;
use super::response::{OutUsage, error_type, parse_stop_reason, stop_reason_str, usage_from_wire};
use super::types::{Block, WireUsage};
use crate::ir::{ApiError, BlockStart, Delta, ErrorKind, StopReason, StreamEvent, ToolKind, Usage};
use crate::sse::{SseEvent, write_event};
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Writes internal stream events as Anthropic SSE.
#[derive(Debug, Default)]
pub struct StreamEncoder {
    /// The open block is reasoning that has not received a signature yet.
    unsigned_reasoning_open: bool,
}

#[derive(Serialize)]
struct MessageStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: StartMessage<'a>,
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<()>,
    stop_sequence: Option<()>,
    usage: OutUsage,
}

#[derive(Serialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: OutDelta<'a>,
}

/// A `content_block_delta` payload; the variant names are the wire `type`s.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

impl StreamEncoder {
    pub fn new() -> StreamEncoder {
        StreamEncoder::default()
    }

    /// Appends the SSE bytes of `ev` to `out`.
    pub fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        match ev {
            StreamEvent::MessageStart { id, model, usage } => {
                let mut u = OutUsage::from(usage);
                u.output_tokens = u.output_tokens.max(1);
                let start = MessageStart {
                    kind: "message_start",
                    message: StartMessage {
                        id,
                        kind: "message",
                        role: "assistant",
                        model,
                        content: [],
                        stop_reason: None,
                        stop_sequence: None,
                        usage: u,
                    },
                };
                write_json(out, "message_start", &start);
            }
            StreamEvent::BlockStart { index, block } => {
                self.unsigned_reasoning_open = matches!(block, BlockStart::Reasoning);
                let content_block = match block {
                    BlockStart::Text => json!({"type":"text","text":""}),
                    BlockStart::Reasoning => {
                        json!({"type":"thinking","thinking":"","signature":""})
                    }
                    BlockStart::RedactedReasoning { data } => {
                        json!({"type":"redacted_thinking","data":data})
                    }
                    BlockStart::ToolCall { id, name, .. } => {
                        json!({"type":"tool_use","id":id,"name":name,"input":{}})
                    }
                };
                let v = json!({"type":"content_block_start","index":index,"content_block":content_block});
                write_json(out, "content_block_start", &v);
            }
            StreamEvent::Delta { index, delta } => {
                let delta = match delta {
                    Delta::Text(t) => OutDelta::Text { text: t },
                    Delta::Reasoning(t) => OutDelta::Thinking { thinking: t },
                    Delta::Signature(s) => {
                        self.unsigned_reasoning_open = false;
                        OutDelta::Signature { signature: s }
                    }
                    Delta::ToolArguments(a) => OutDelta::InputJson { partial_json: a },
                };
                let e = DeltaEvent {
                    kind: "content_block_delta",
                    index: *index,
                    delta,
                };
                write_json(out, "content_block_delta", &e);
            }
            StreamEvent::BlockStop { index } => {
                if std::mem::take(&mut self.unsigned_reasoning_open) {
                    let e = DeltaEvent {
                        kind: "content_block_delta",
                        index: *index,
                        delta: OutDelta::Signature {
                            signature: FOREIGN_SIGNATURE,
                        },
                    };
                    write_json(out, "content_block_delta", &e);
                }
                write_json(
                    out,
                    "content_block_stop",
                    &json!({"type":"content_block_stop","index":index}),
                );
            }
            StreamEvent::Finish { stop_reason, usage } => {
                let seq = match stop_reason {
                    StopReason::StopSequence(s) => s.as_deref(),
                    _ => None,
                };
                let v = json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason_str(stop_reason), "stop_sequence": seq},
                    "usage": OutUsage::from(usage),
                });
                write_json(out, "message_delta", &v);
                write_event(out, Some("message_stop"), br#"{"type":"message_stop"}"#);
            }
            StreamEvent::Ping => write_event(out, Some("ping"), br#"{"type":"ping"}"#),
            StreamEvent::Error(e) => {
                let v =
                    json!({"type":"error","error":{"type":error_type(e.kind),"message":e.message}});
                write_json(out, "error", &v);
            }
        }
    }
}

fn write_json<T: Serialize>(out: &mut BytesMut, event: &str, v: &T) {
    let data = crate::wire::to_json(v);
    write_event(out, Some(event), &data);
}

// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    index: Option<usize>,
    message: Option<WireStartMessage>,
    content_block: Option<Block>,
    delta: Option<WireDelta>,
    usage: Option<WireUsage>,
    error: Option<super::types::ErrorDetail>,
    /// Bedrock InvokeModelWithResponseStream adds the final counts to `message_stop`
    /// (field-2026-11.md §4.1).
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    bedrock_metrics: Option<BedrockMetrics>,
}

/// `amazon-bedrock-invocationMetrics`: token counts of the whole invocation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BedrockMetrics {
    input_token_count: Option<u64>,
    output_token_count: Option<u64>,
    cache_read_input_token_count: Option<u64>,
    cache_write_input_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct WireStartMessage {
    id: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireDelta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
    partial_json: Option<String>,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
}

/// What kind of upstream block is open, for the deltas it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenKind {
    Text,
    Reasoning,
    Redacted,
    Tool,
    /// A server-tool block (`server_tool_use`, `web_search_tool_result`, …): its events are
    /// not forwarded.
    Skipped,
}

/// The block the upstream is streaming.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    /// The upstream's `index`.
    upstream: usize,
    kind: OpenKind,
}

/// Reads an Anthropic upstream's SSE events into internal events.
///
/// The upstream's event structure is checked, as the internal events must be well formed
/// ([`StreamEvent`]): content before `message_start`, a second `message_start`, a block started
/// while another is open, a delta or stop for a block that is not open, or a delta of another
/// block's kind ends the stream with an error naming it. A `message_stop` with a block still open
/// closes it.
#[derive(Debug)]
pub struct StreamDecoder {
    model: String,
    usage: Usage,
    stop: Option<StopReason>,
    started: bool,
    open: Option<OpenBlock>,
    /// The internal index of the next forwarded block (server-tool blocks are not forwarded).
    next: usize,
    finished: bool,
}

impl StreamDecoder {
    /// `model` is the name to show the client.
    pub fn new(model: impl Into<String>) -> StreamDecoder {
        StreamDecoder {
            model: model.into(),
            usage: Usage::default(),
            stop: None,
            started: false,
            open: None,
            next: 0,
            finished: false,
        }
    }

    /// Whether `message_stop` (or an error) has been seen.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Translates one upstream SSE event, appending internal events to `out`.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        let w: WireEvent = match serde_json::from_str(&ev.data) {
            Ok(w) => w,
            Err(e) => {
                self.finished = true;
                out.push(StreamEvent::Error(crate::stream_watch::unreadable(ev, &e)));
                return;
            }
        };
        let content = matches!(
            w.kind.as_str(),
            "content_block_start"
                | "content_block_delta"
                | "content_block_stop"
                | "message_delta"
                | "message_stop"
        );
        if content && !self.started {
            return self.invalid(out, format!("{} before message_start", w.kind));
        }
        match w.kind.as_str() {
            "message_start" => {
                if self.started {
                    return self.invalid(out, "a second message_start".into());
                }
                self.started = true;
                let m = w.message.unwrap_or(WireStartMessage {
                    id: None,
                    usage: None,
                });
                if let Some(u) = &m.usage {
                    self.usage = usage_from_wire(u);
                }
                out.push(StreamEvent::MessageStart {
                    id: m.id.unwrap_or_default(),
                    model: self.model.clone(),
                    usage: self.usage,
                });
            }
            "content_block_start" => self.block_start(w, out),
            "content_block_delta" => self.block_delta(w, out),
            "content_block_stop" => {
                let index = w.index.unwrap_or(0);
                match self.open.take() {
                    Some(o) if o.upstream == index => self.close(o, out),
                    _ => self.invalid(
                        out,
                        format!("content_block_stop for block {index}, which is not open"),
                    ),
                }
            }
            "message_delta" => {
                if let Some(d) = w.delta
                    && let Some(r) = d.stop_reason
                {
                    self.stop = Some(parse_stop_reason(&r, d.stop_sequence));
                }
                if let Some(u) = w.usage {
                    self.merge_usage(&u);
                }
            }
            "message_stop" => {
                if let Some(o) = self.open.take() {
                    self.close(o, out);
                }
                if let Some(m) = w.bedrock_metrics {
                    self.merge_usage(&WireUsage {
                        input_tokens: m.input_token_count,
                        output_tokens: m.output_token_count,
                        cache_read_input_tokens: m.cache_read_input_token_count,
                        cache_creation_input_tokens: m.cache_write_input_token_count,
                    });
                }
                self.finished = true;
                out.push(StreamEvent::Finish {
                    stop_reason: self.stop.take().unwrap_or_default(),
                    usage: self.usage,
                });
            }
            "ping" => out.push(StreamEvent::Ping),
            "error" => {
                let (kind, message) = match w.error {
                    Some(e) => (
                        kind_of_error_type(e.kind.as_deref().unwrap_or("")),
                        e.message.unwrap_or_default(),
                    ),
                    None => (ErrorKind::Api, String::new()),
                };
                self.fail(out, kind, message);
            }
            _ => {}
        }
    }

    fn block_start(&mut self, w: WireEvent, out: &mut Vec<StreamEvent>) {
        let index = w.index.unwrap_or(0);
        if let Some(o) = self.open {
            return self.invalid(
                out,
                format!(
                    "content_block_start for block {index} while block {} is open",
                    o.upstream
                ),
            );
        }
        let initial = block_text(&w.content_block_text());
        let block = w.content_block.unwrap_or_default();
        let (kind, start) = match block.kind.as_str() {
            "text" => (OpenKind::Text, BlockStart::Text),
            "thinking" => (OpenKind::Reasoning, BlockStart::Reasoning),
            "redacted_thinking" => (
                OpenKind::Redacted,
                BlockStart::RedactedReasoning {
                    data: block.data.unwrap_or_default(),
                },
            ),
            // A call without a name or an id cannot be answered: the client could neither run
            // it nor send its result back.
            "tool_use" => match (
                block.name.filter(|n| !n.is_empty()),
                block.id.filter(|i| !i.is_empty()),
            ) {
                (Some(name), Some(id)) => (
                    OpenKind::Tool,
                    BlockStart::ToolCall {
                        id,
                        name,
                        kind: ToolKind::Function,
                    },
                ),
                (None, _) => {
                    return self.invalid(out, format!("tool_use block {index} without a name"));
                }
                (_, None) => {
                    return self.invalid(out, format!("tool_use block {index} without an id"));
                }
            },
            _ => {
                self.open = Some(OpenBlock {
                    upstream: index,
                    kind: OpenKind::Skipped,
                });
                return;
            }
        };
        self.open = Some(OpenBlock {
            upstream: index,
            kind,
        });
        let text = block_initial_text(&start, initial);
        out.push(StreamEvent::BlockStart {
            index: self.next,
            block: start,
        });
        if let Some(d) = text {
            out.push(StreamEvent::Delta {
                index: self.next,
                delta: d,
            });
        }
        self.next += 1;
    }

    fn block_delta(&mut self, w: WireEvent, out: &mut Vec<StreamEvent>) {
        let index = w.index.unwrap_or(0);
        let open = match self.open {
            Some(o) if o.upstream == index => o,
            _ => {
                return self.invalid(
                    out,
                    format!("content_block_delta for block {index}, which is not open"),
                );
            }
        };
        let Some(d) = w.delta else { return };
        let (fits, delta) = match d.kind.as_deref() {
            Some("text_delta") => (open.kind == OpenKind::Text, d.text.map(Delta::Text)),
            Some("thinking_delta") => (
                open.kind == OpenKind::Reasoning,
                d.thinking.map(Delta::Reasoning),
            ),
            Some("signature_delta") => (
                open.kind == OpenKind::Reasoning,
                d.signature.map(Delta::Signature),
            ),
            Some("input_json_delta") => (
                open.kind == OpenKind::Tool,
                d.partial_json.map(Delta::ToolArguments),
            ),
            // Citations and any later delta type carry nothing to forward.
            _ => (true, None),
        };
        if open.kind == OpenKind::Skipped {
            return;
        }
        if !fits {
            let t = d.kind.unwrap_or_default();
            return self.invalid(
                out,
                format!("{t} for block {index}, which is not of that kind"),
            );
        }
        if let Some(delta) = delta.filter(|d| !delta_is_empty(d)) {
            out.push(StreamEvent::Delta {
                index: self.next - 1,
                delta,
            });
        }
    }

    /// Ends the open block (nothing is sent for a skipped one).
    fn close(&mut self, o: OpenBlock, out: &mut Vec<StreamEvent>) {
        if o.kind != OpenKind::Skipped {
            out.push(StreamEvent::BlockStop {
                index: self.next - 1,
            });
        }
    }

    /// The upstream closed the stream. Without `message_stop` this is an error.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.finished {
            self.fail(
                out,
                ErrorKind::Api,
                "upstream closed the stream before message_stop".into(),
            );
        }
    }

    fn fail(&mut self, out: &mut Vec<StreamEvent>, kind: ErrorKind, message: String) {
        self.finished = true;
        out.push(StreamEvent::Error(ApiError::new(kind, message)));
    }

    /// Ends the stream on an event that breaks the Messages stream structure.
    fn invalid(&mut self, out: &mut Vec<StreamEvent>, what: String) {
        self.fail(
            out,
            ErrorKind::Api,
            format!("upstream sent an invalid Messages stream: {what}"),
        );
    }

    fn merge_usage(&mut self, u: &WireUsage) {
        if let Some(o) = u.output_tokens {
            self.usage.output_tokens = o;
        }
        if u.input_tokens.is_some()
            || u.cache_read_input_tokens.is_some()
            || u.cache_creation_input_tokens.is_some()
        {
            let merged = WireUsage {
                input_tokens: u.input_tokens.or(Some(self.usage.uncached_input())),
                output_tokens: Some(self.usage.output_tokens),
                cache_creation_input_tokens: u
                    .cache_creation_input_tokens
                    .or(Some(self.usage.cache_creation_tokens)),
                cache_read_input_tokens: u
                    .cache_read_input_tokens
                    .or(Some(self.usage.cache_read_tokens)),
            };
            self.usage = usage_from_wire(&merged);
        }
    }
}

impl WireEvent {
    fn content_block_text(&self) -> Option<&str> {
        let b = self.content_block.as_ref()?;
        b.text.as_deref().or(b.thinking.as_deref())
    }
}

fn block_text(t: &Option<&str>) -> Option<String> {
    t.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A block start that already carries text (allowed by the API) becomes a start plus a delta.
fn block_initial_text(block: &BlockStart, text: Option<String>) -> Option<Delta> {
    let t = text?;
    match block {
        BlockStart::Text => Some(Delta::Text(t)),
        BlockStart::Reasoning => Some(Delta::Reasoning(t)),
        _ => None,
    }
}

fn delta_is_empty(d: &Delta) -> bool {
    match d {
        Delta::Text(t) | Delta::Reasoning(t) | Delta::Signature(t) => t.is_empty(),
        Delta::ToolArguments(_) => false,
    }
}

/// The kind for an Anthropic `error.type`.
pub fn kind_of_error_type(t: &str) -> ErrorKind {
    crate::classify::classify(None, &[t], "")
}
