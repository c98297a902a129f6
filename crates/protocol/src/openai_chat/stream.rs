//! Chat Completions streaming ⇄ internal stream events.
//!
//! [`StreamDecoder`] is the state machine of protocols.md §4.3: one open block at a time; text,
//! reasoning and tool-call argument fragments forwarded as they arrive; parallel tool calls each
//! in their own block; the stop reason held until the trailing usage chunk; `[DONE]` or end of
//! stream closes everything. Tool calls are keyed on `(index, id)` because providers deviate from
//! OpenAI (Ollama reuses index 0, Gemini omits `index`, some interleave fragments of parallel calls:
//! fragments of a call that cannot be opened yet are buffered and sent when it opens).
//!
//! Reasoning arrives as `reasoning_content`/`reasoning`, or (Mistral) as `thinking` parts inside
//! `content`; every fragment is forwarded in the order it came.
//!
//! [`StreamEncoder`] writes internal events as `chat.completion.chunk`s for Chat clients; a block of
//! text (or reasoning) that follows another is preceded by [`BLOCK_SEPARATOR`].

use super::response::{
    BLOCK_SEPARATOR, error_type_code, finish_reason, stop_reason, usage_from_wire, usage_json,
};
use super::types::{Chunk, ContentSegment, ToolCallDelta, WireError};
use crate::ir::{ApiError, BlockStart, Delta, ErrorKind, StreamEvent, ToolKind, Usage};
use crate::sse::{SseEvent, write_event};
use crate::target::{ResponseContext, anthropic_tool_id};
use bytes::BytesMut;
use serde::de::IgnoredAny;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Reasoning,
    /// Position in `tools`.
    Tool(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolBlock {
    /// Not started yet: its fragments are buffered in `args`.
    Pending,
    Open,
    Closed,
}

#[derive(Debug)]
struct ToolState {
    upstream_index: Option<u32>,
    id: String,
    name: String,
    /// Every argument fragment received so far.
    args: String,
    /// How much of `args` has been sent.
    sent: usize,
    block: ToolBlock,
}

/// Reads an OpenAI-compatible upstream's chunks into internal stream events.
#[derive(Debug)]
pub struct StreamDecoder {
    ctx: ResponseContext,
    input_estimate: u64,
    started: bool,
    next_index: usize,
    open: Option<Open>,
    tools: Vec<ToolState>,
    finish: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl StreamDecoder {
    /// `input_estimate` is reported in `MessageStart` until the upstream's usage arrives.
    pub fn new(ctx: ResponseContext, input_estimate: u64) -> StreamDecoder {
        StreamDecoder {
            ctx,
            input_estimate,
            started: false,
            next_index: 0,
            open: None,
            tools: Vec::new(),
            finish: None,
            usage: None,
            done: false,
        }
    }

    /// Whether the message has been finished (or failed); later input is ignored.
    pub fn is_finished(&self) -> bool {
        self.done
    }

    /// Handles one SSE event of the upstream stream.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.finalize(out);
            return;
        }
        if data.is_empty() {
            return;
        }
        match serde_json::from_str::<Chunk>(data) {
            Ok(chunk) => self.on_chunk(chunk, out),
            Err(e) => self.fail(out, crate::stream_watch::unreadable(ev, &e)),
        }
    }

    /// The upstream stream ended (connection closed). Without a finish reason or `[DONE]` the
    /// answer is incomplete, which is reported as an error.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        if self.finish.is_some() {
            self.finalize(out);
        } else {
            self.fail(
                out,
                ApiError::new(
                    ErrorKind::Api,
                    "upstream closed the stream before it finished",
                ),
            );
        }
    }

    /// Handles one parsed chunk.
    pub fn on_chunk(&mut self, chunk: Chunk, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.start(out);
        if let Some(e) = chunk.error {
            self.fail(out, error_from_wire(&e));
            return;
        }
        let chunk_has_usage = chunk.usage.is_some();
        if let Some(u) = &chunk.usage {
            self.usage = Some(usage_from_wire(u));
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(e) = choice.error {
                self.fail(out, error_from_wire(&e));
                return;
            }
            if let Some(d) = choice.delta {
                if let Some(r) = d.reasoning_content.or(d.reasoning) {
                    self.push_simple(Open::Reasoning, r, out);
                }
                let mut saw_text = false;
                for segment in d.content {
                    match segment {
                        ContentSegment::Thinking(r) => self.push_simple(Open::Reasoning, r, out),
                        ContentSegment::Text(t) => {
                            saw_text |= !t.is_empty();
                            self.push_simple(Open::Text, t, out);
                        }
                    }
                }
                if !saw_text && let Some(t) = d.refusal {
                    self.push_simple(Open::Text, t, out);
                }
                for frag in d.tool_calls.unwrap_or_default() {
                    self.on_tool_fragment(frag, out);
                }
            }
            if let Some(f) = choice.finish_reason {
                self.close_open(out);
                if !self.flush_pending(out) {
                    return;
                }
                self.finish = Some(f);
                if chunk_has_usage {
                    self.finalize(out);
                }
                return;
            }
        }
        // The usage-only chunk after the finish reason (stream_options.include_usage).
        if self.finish.is_some() && chunk_has_usage {
            self.finalize(out);
        }
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(self.ctx.message_start(self.input_estimate));
        }
    }

    fn current_index(&self) -> usize {
        self.next_index - 1
    }

    fn push_delta(&mut self, delta: Delta, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::Delta {
            index: self.current_index(),
            delta,
        });
    }

    /// Forwards a text or reasoning fragment in its block (empty fragments open nothing).
    fn push_simple(&mut self, kind: Open, fragment: String, out: &mut Vec<StreamEvent>) {
        if fragment.is_empty() {
            return;
        }
        self.open_simple(kind, out);
        let delta = if kind == Open::Text {
            Delta::Text(fragment)
        } else {
            Delta::Reasoning(fragment)
        };
        self.push_delta(delta, out);
    }

    /// Makes a text or reasoning block the open one.
    fn open_simple(&mut self, kind: Open, out: &mut Vec<StreamEvent>) {
        if self.open == Some(kind) {
            return;
        }
        self.close_open(out);
        let block = if kind == Open::Text {
            BlockStart::Text
        } else {
            BlockStart::Reasoning
        };
        out.push(StreamEvent::BlockStart {
            index: self.next_index,
            block,
        });
        self.next_index += 1;
        self.open = Some(kind);
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.take() {
            if let Open::Tool(t) = open {
                self.tools[t].block = ToolBlock::Closed;
            }
            out.push(StreamEvent::BlockStop {
                index: self.current_index(),
            });
        }
    }

    /// Finds the tool a fragment belongs to, or registers a new one.
    fn tool_for(&mut self, frag: &ToolCallDelta) -> usize {
        let id = frag.id.as_deref().filter(|s| !s.is_empty());
        let found = match frag.index {
            Some(i) => self.tools.iter().rposition(|t| {
                t.upstream_index == Some(i)
                    && (id.is_none() || t.id.is_empty() || Some(t.id.as_str()) == id)
            }),
            None => match id {
                Some(id) => self.tools.iter().rposition(|t| t.id == id),
                None => self.tools.len().checked_sub(1),
            },
        };
        if let Some(t) = found {
            return t;
        }
        self.tools.push(ToolState {
            upstream_index: frag.index,
            id: String::new(),
            name: String::new(),
            args: String::new(),
            sent: 0,
            block: ToolBlock::Pending,
        });
        self.tools.len() - 1
    }

    fn on_tool_fragment(&mut self, frag: ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let t = self.tool_for(&frag);
        let (name, args) = match frag.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        {
            let tool = &mut self.tools[t];
            if let Some(id) = frag.id.filter(|s| !s.is_empty())
                && tool.id.is_empty()
            {
                tool.id = id;
            }
            // Assign, never append: some providers resend the full name in every fragment.
            if let Some(n) = name.filter(|s| !s.is_empty()) {
                tool.name = n;
            }
            if let Some(a) = args {
                tool.args.push_str(&a);
            }
        }
        match self.tools[t].block {
            ToolBlock::Open => self.send_args(t, out),
            ToolBlock::Pending => {
                if self.tools[t].name.is_empty() || !self.may_switch_from_open() {
                    return;
                }
                self.close_open(out);
                self.open_tool(t, out);
            }
            // A closed call's arguments were already complete JSON: nothing valid can follow.
            ToolBlock::Closed => {}
        }
    }

    /// A new tool block may start unless the open block is a tool call whose arguments are not
    /// yet complete JSON (fragments of parallel calls arriving interleaved). Empty arguments are
    /// incomplete: providers that interleave send every call's name before any arguments.
    fn may_switch_from_open(&self) -> bool {
        match self.open {
            Some(Open::Tool(t)) => {
                let args = self.tools[t].args.trim();
                !args.is_empty() && serde_json::from_str::<IgnoredAny>(args).is_ok()
            }
            _ => true,
        }
    }

    fn open_tool(&mut self, t: usize, out: &mut Vec<StreamEvent>) {
        let n = t;
        let tool = &mut self.tools[t];
        let id = anthropic_tool_id(&tool.id, || self.ctx.tool_id(n));
        tool.id = id.clone();
        tool.block = ToolBlock::Open;
        out.push(StreamEvent::BlockStart {
            index: self.next_index,
            block: BlockStart::ToolCall {
                id,
                name: self.ctx.tool_names.restore(&tool.name),
                kind: ToolKind::Function,
            },
        });
        self.next_index += 1;
        self.open = Some(Open::Tool(t));
        self.send_args(t, out);
    }

    fn send_args(&mut self, t: usize, out: &mut Vec<StreamEvent>) {
        let tool = &mut self.tools[t];
        if tool.sent < tool.args.len() {
            let fragment = tool.args[tool.sent..].to_owned();
            tool.sent = tool.args.len();
            out.push(StreamEvent::Delta {
                index: self.next_index - 1,
                delta: Delta::ToolArguments(fragment),
            });
        }
    }

    /// Opens, fills and closes every call that was still buffered. A call that never got a name
    /// cannot be forwarded (clients answer a call by its name, and Anthropic refuses an empty one
    /// in the history): the stream fails instead, naming the call. Returns whether it went on.
    #[must_use]
    fn flush_pending(&mut self, out: &mut Vec<StreamEvent>) -> bool {
        let nameless = self
            .tools
            .iter()
            .find(|t| t.block == ToolBlock::Pending && t.name.is_empty());
        if let Some(t) = nameless {
            let e = ApiError::nameless_tool_call(&t.id);
            self.fail(out, e);
            return false;
        }
        for t in 0..self.tools.len() {
            if self.tools[t].block == ToolBlock::Pending {
                self.close_open(out);
                self.open_tool(t, out);
                self.close_open(out);
            }
        }
        true
    }

    fn finalize(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.start(out);
        self.close_open(out);
        if !self.flush_pending(out) {
            return;
        }
        self.done = true;
        let usage = self.usage.unwrap_or(Usage {
            input_tokens: self.input_estimate,
            ..Usage::default()
        });
        out.push(StreamEvent::Finish {
            stop_reason: stop_reason(self.finish.as_deref(), !self.tools.is_empty()),
            usage,
        });
    }

    fn fail(&mut self, out: &mut Vec<StreamEvent>, e: ApiError) {
        self.done = true;
        out.push(StreamEvent::Error(e));
    }
}

/// The internal error for an OpenAI-style error object inside a stream.
pub fn error_from_wire(e: &WireError) -> ApiError {
    let message = e.message.clone().unwrap_or_else(|| "upstream error".into());
    let labels = [e.kind.as_deref(), e.code.as_deref()];
    let labels: Vec<&str> = labels.into_iter().flatten().collect();
    ApiError::new(crate::classify::classify(None, &labels, &message), message)
}

// ---------------------------------------------------------------------------------------------

/// Writes internal stream events as `chat.completion.chunk` SSE for Chat clients.
#[derive(Debug)]
pub struct StreamEncoder {
    ctx: ResponseContext,
    include_usage: bool,
    /// Chat `tool_calls[].index` of the open tool block.
    tool_index: Option<u32>,
    tools_seen: u32,
    /// Per channel (text, reasoning): whether any of it was sent, and whether a new block of it
    /// started since, so its first fragment is preceded by [`BLOCK_SEPARATOR`].
    text: Channel,
    reasoning: Channel,
}

/// The state of one of a Chat message's text channels (`content`, `reasoning_content`).
#[derive(Debug, Default)]
struct Channel {
    sent: bool,
    new_block: bool,
}

impl Channel {
    /// The fragment to send for `t`: separated from the previous block's text when it starts a
    /// new block.
    fn fragment<'a>(&mut self, t: &'a str) -> std::borrow::Cow<'a, str> {
        if t.is_empty() {
            return t.into();
        }
        let separate = self.sent && self.new_block;
        self.sent = true;
        self.new_block = false;
        if separate {
            format!("{BLOCK_SEPARATOR}{t}").into()
        } else {
            t.into()
        }
    }
}

impl StreamEncoder {
    /// `include_usage`: the client asked for `stream_options.include_usage`.
    pub fn new(ctx: ResponseContext, include_usage: bool) -> StreamEncoder {
        StreamEncoder {
            ctx,
            include_usage,
            tool_index: None,
            tools_seen: 0,
            text: Channel::default(),
            reasoning: Channel::default(),
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: serde_json::Value, finish: Option<&str>) {
        let v = json!({
            "id": self.ctx.id, "object": "chat.completion.chunk", "created": self.ctx.created,
            "model": self.ctx.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        write_event(out, None, v.to_string().as_bytes());
    }

    /// Appends the SSE bytes of `ev` to `out`.
    pub fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        match ev {
            StreamEvent::MessageStart { .. } => {
                self.chunk(out, json!({"role": "assistant", "content": ""}), None)
            }
            StreamEvent::BlockStart {
                block: BlockStart::ToolCall { id, name, .. },
                ..
            } => {
                let i = self.tools_seen;
                self.tools_seen += 1;
                self.tool_index = Some(i);
                let d = json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]});
                self.chunk(out, d, None);
            }
            StreamEvent::BlockStart {
                block: BlockStart::Text,
                ..
            } => self.text.new_block = true,
            StreamEvent::BlockStart {
                block: BlockStart::Reasoning,
                ..
            } => self.reasoning.new_block = true,
            StreamEvent::BlockStart { .. } | StreamEvent::BlockStop { .. } => {}
            StreamEvent::Delta { delta, .. } => match delta {
                Delta::Text(t) => {
                    let t = self.text.fragment(t);
                    self.chunk(out, json!({ "content": t }), None)
                }
                Delta::Reasoning(t) => {
                    let t = self.reasoning.fragment(t);
                    self.chunk(out, json!({ "reasoning_content": t }), None)
                }
                Delta::Signature(_) => {}
                Delta::ToolArguments(a) => {
                    let i = self.tool_index.unwrap_or(0);
                    self.chunk(
                        out,
                        json!({"tool_calls": [{"index": i, "function": {"arguments": a}}]}),
                        None,
                    );
                }
            },
            StreamEvent::Finish { stop_reason, usage } => {
                self.chunk(out, json!({}), Some(finish_reason(stop_reason)));
                if self.include_usage {
                    let v = json!({
                        "id": self.ctx.id, "object": "chat.completion.chunk", "created": self.ctx.created,
                        "model": self.ctx.model, "choices": [], "usage": usage_json(usage),
                    });
                    write_event(out, None, v.to_string().as_bytes());
                }
                write_event(out, None, b"[DONE]");
            }
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error(e) => {
                let (kind, code) = error_type_code(e.kind);
                let v = json!({"error": {"message": e.message, "type": kind, "param": null, "code": code}});
                write_event(out, None, v.to_string().as_bytes());
            }
        }
    }
}
