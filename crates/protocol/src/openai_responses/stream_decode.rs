//! Responses streaming ("Streaming events" reference) from a Responses upstream → internal
//! stream events, so Anthropic and Chat clients can use OpenAI's `/v1/responses`.
//!
//! Each output item becomes one block: text and reasoning blocks open at their first delta (so
//! empty items give no empty blocks), tool calls at `output_item.added`. `output_item.done`
//! carries the complete item; whatever of it was not streamed as deltas is sent before the block
//! closes, so servers that skip deltas still give the whole answer. The stream ends at
//! `response.completed`/`incomplete` (stop reason and usage) or `response.failed`/`error`.

use super::response::{
    error_from_wire, message_text, output_item_part, reasoning_text, stop_reason, usage_from_wire,
};
use super::types::{InputItem, WireError, WireEvent, WireResponse};
use crate::ir::{ApiError, BlockStart, Delta, ErrorKind, Part, StreamEvent, ToolKind, Usage};
use crate::sse::SseEvent;
use crate::target::{ResponseContext, anthropic_tool_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Reasoning,
    Tool,
    /// A hosted-tool item (web search, image generation, …): not shown.
    Other,
}

/// Which reasoning deltas an item streams: summaries or raw reasoning, never both counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReasoningSource {
    Summary,
    Raw,
}

#[derive(Debug)]
struct Item {
    output_index: Option<u64>,
    kind: Kind,
    /// The internal block index, once the block is open.
    block: Option<usize>,
    /// What has been sent as deltas.
    streamed: String,
    summary_index: u64,
    source: Option<ReasoningSource>,
}

/// Reads a Responses upstream's SSE events into internal stream events.
#[derive(Debug)]
pub struct StreamDecoder {
    ctx: ResponseContext,
    input_estimate: u64,
    started: bool,
    next_index: usize,
    item: Option<Item>,
    saw_tools: bool,
    finished: bool,
}

impl StreamDecoder {
    /// `input_estimate` is reported in `MessageStart` until the upstream's usage arrives.
    pub fn new(ctx: ResponseContext, input_estimate: u64) -> StreamDecoder {
        StreamDecoder {
            ctx,
            input_estimate,
            started: false,
            next_index: 0,
            item: None,
            saw_tools: false,
            finished: false,
        }
    }

    /// Whether the answer has finished (or failed); later input is ignored.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Handles one SSE event of the upstream stream.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.finished || ev.data.trim().is_empty() {
            return;
        }
        let w: WireEvent = match serde_json::from_str(&ev.data) {
            Ok(w) => w,
            Err(e) => {
                self.fail(out, crate::stream_watch::unreadable(ev, &e));
                return;
            }
        };
        match w.kind.as_str() {
            "response.created" | "response.in_progress" | "response.queued" => self.start(out),
            "response.output_item.added" => {
                self.start(out);
                if let Some(item) = w.item {
                    self.item_added(w.output_index, item, out);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.text_delta(Kind::Message, w.delta, None, out)
            }
            "response.reasoning_summary_text.delta" => {
                let source = (ReasoningSource::Summary, w.summary_index.unwrap_or(0));
                self.text_delta(Kind::Reasoning, w.delta, Some(source), out)
            }
            "response.reasoning_text.delta" => {
                let source = (ReasoningSource::Raw, 0);
                self.text_delta(Kind::Reasoning, w.delta, Some(source), out)
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                if let (Some(item), Some(d)) = (self.item.as_mut(), w.delta)
                    && item.kind == Kind::Tool
                    && let Some(index) = item.block
                {
                    item.streamed.push_str(&d);
                    out.push(StreamEvent::Delta {
                        index,
                        delta: Delta::ToolArguments(d),
                    });
                }
            }
            "response.output_item.done" => {
                if let Some(item) = w.item {
                    self.item_done(item, out);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.finish(w.response.unwrap_or_default(), out)
            }
            "response.failed" => {
                let e = w.response.and_then(|r| r.error).unwrap_or_default();
                self.fail(out, error_from_wire(&e));
            }
            "error" => {
                let e = w.error.unwrap_or(WireError {
                    code: w.code,
                    message: w.message,
                    kind: None,
                });
                self.fail(out, error_from_wire(&e));
            }
            _ => {}
        }
    }

    /// The upstream closed the stream. Without a terminal event the answer is incomplete, which
    /// is reported as an error.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.finished {
            let msg = "upstream closed the stream before response.completed";
            self.fail(out, ApiError::new(ErrorKind::Api, msg));
        }
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(self.ctx.message_start(self.input_estimate));
        }
    }

    fn open_block(&mut self, block: BlockStart, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    fn item_added(&mut self, output_index: Option<u64>, w: InputItem, out: &mut Vec<StreamEvent>) {
        self.close_item(out);
        let mut item = Item {
            output_index,
            kind: Kind::Other,
            block: None,
            streamed: String::new(),
            summary_index: 0,
            source: None,
        };
        match w.kind.as_deref() {
            Some("message") => item.kind = Kind::Message,
            Some("reasoning") => item.kind = Kind::Reasoning,
            Some(k @ ("function_call" | "custom_tool_call")) => {
                let custom = k == "custom_tool_call";
                let n = self.next_index;
                let call_id = w.call_id.or(w.id).unwrap_or_default();
                if w.name.as_deref().is_none_or(str::is_empty) {
                    self.fail(out, ApiError::nameless_tool_call(&call_id));
                    return;
                }
                let block = BlockStart::ToolCall {
                    id: anthropic_tool_id(&call_id, || self.ctx.tool_id(n)),
                    name: self.ctx.tool_names.restore(w.name.as_deref().unwrap_or("")),
                    kind: if custom {
                        ToolKind::Custom
                    } else {
                        ToolKind::Function
                    },
                };
                self.saw_tools = true;
                item.kind = Kind::Tool;
                item.block = Some(self.open_block(block, out));
                let initial = if custom { w.input } else { w.arguments };
                if let (Some(a), Some(index)) = (initial.filter(|a| !a.is_empty()), item.block) {
                    item.streamed.push_str(&a);
                    out.push(StreamEvent::Delta {
                        index,
                        delta: Delta::ToolArguments(a),
                    });
                }
            }
            _ => {}
        }
        self.item = Some(item);
    }

    /// A text or reasoning delta, opening the item's block (or an item, for servers that skip
    /// `output_item.added`) when needed.
    fn text_delta(
        &mut self,
        kind: Kind,
        delta: Option<String>,
        reasoning: Option<(ReasoningSource, u64)>,
        out: &mut Vec<StreamEvent>,
    ) {
        let Some(mut d) = delta.filter(|d| !d.is_empty()) else {
            return;
        };
        self.start(out);
        if self.item.as_ref().map(|i| i.kind) != Some(kind) {
            self.close_item(out);
            self.item = Some(Item {
                output_index: None,
                kind,
                block: None,
                streamed: String::new(),
                summary_index: 0,
                source: None,
            });
        }
        let Some(mut item) = self.item.take() else {
            return;
        };
        if let Some((source, summary_index)) = reasoning {
            if *item.source.get_or_insert(source) != source {
                self.item = Some(item);
                return;
            }
            if summary_index != item.summary_index && !item.streamed.is_empty() {
                d.insert_str(0, "\n\n");
            }
            item.summary_index = summary_index;
        }
        let index = match item.block {
            Some(i) => i,
            None => {
                let block = if kind == Kind::Message {
                    BlockStart::Text
                } else {
                    BlockStart::Reasoning
                };
                let i = self.open_block(block, out);
                item.block = Some(i);
                i
            }
        };
        item.streamed.push_str(&d);
        let delta = if kind == Kind::Message {
            Delta::Text(d)
        } else {
            Delta::Reasoning(d)
        };
        out.push(StreamEvent::Delta { index, delta });
        self.item = Some(item);
    }

    /// The complete item: sends what was not streamed, then closes the block.
    fn item_done(&mut self, w: InputItem, out: &mut Vec<StreamEvent>) {
        let Some(item) = self.item.as_ref() else {
            return;
        };
        if item.output_index.is_some() && w.kind.is_some() {
            // An item's done event normally follows its own events; a stray one is ignored.
            let same = matches!(
                (item.kind, w.kind.as_deref()),
                (Kind::Message, Some("message"))
                    | (Kind::Reasoning, Some("reasoning"))
                    | (Kind::Tool, Some("function_call" | "custom_tool_call"))
                    | (Kind::Other, _)
            );
            if !same {
                return;
            }
        }
        let (kind, custom) = (item.kind, w.kind.as_deref() == Some("custom_tool_call"));
        let full = match kind {
            Kind::Message => message_text(w.content),
            Kind::Reasoning => reasoning_text(&w),
            Kind::Tool if custom => w.input.unwrap_or_default(),
            Kind::Tool => w.arguments.unwrap_or_default(),
            Kind::Other => String::new(),
        };
        let rest = self
            .item
            .as_ref()
            .and_then(|i| full.strip_prefix(i.streamed.as_str()))
            .unwrap_or("")
            .to_owned();
        if !rest.is_empty() {
            match kind {
                Kind::Message => self.text_delta(kind, Some(rest), None, out),
                Kind::Reasoning => {
                    // Continue in the item's own source and part, so nothing is doubled.
                    let (source, idx) = self
                        .item
                        .as_ref()
                        .map(|i| {
                            (
                                i.source.unwrap_or(ReasoningSource::Summary),
                                i.summary_index,
                            )
                        })
                        .unwrap_or((ReasoningSource::Summary, 0));
                    self.text_delta(kind, Some(rest), Some((source, idx)), out)
                }
                Kind::Tool => {
                    if let Some(index) = self.item.as_ref().and_then(|i| i.block) {
                        out.push(StreamEvent::Delta {
                            index,
                            delta: Delta::ToolArguments(rest),
                        });
                    }
                }
                Kind::Other => {}
            }
        }
        self.close_item(out);
    }

    fn close_item(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(index) = self.item.take().and_then(|i| i.block) {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn finish(&mut self, r: WireResponse, out: &mut Vec<StreamEvent>) {
        self.start(out);
        self.close_item(out);
        // A server that sent no item events: the answer is in the final output.
        if self.next_index == 0 {
            for w in r.output {
                let n = self.next_index;
                if let Some(p) = output_item_part(w, &self.ctx, n) {
                    self.emit_part(p, out);
                }
                if self.finished {
                    return;
                }
            }
        }
        self.finished = true;
        let usage = r.usage.as_ref().map(usage_from_wire).unwrap_or(Usage {
            input_tokens: self.input_estimate,
            ..Usage::default()
        });
        out.push(StreamEvent::Finish {
            stop_reason: stop_reason(r.status.as_deref(), r.incomplete_details, self.saw_tools),
            usage,
        });
    }

    /// One complete part as a block.
    fn emit_part(&mut self, p: Part, out: &mut Vec<StreamEvent>) {
        let (block, delta) = match p {
            Part::Text(t) => (BlockStart::Text, Delta::Text(t)),
            Part::Reasoning(r) => (BlockStart::Reasoning, Delta::Reasoning(r.text)),
            Part::ToolCall(c) if c.name.is_empty() => {
                return self.fail(out, ApiError::nameless_tool_call(&c.id));
            }
            Part::ToolCall(c) => {
                self.saw_tools = true;
                let block = BlockStart::ToolCall {
                    id: c.id,
                    name: c.name,
                    kind: c.kind,
                };
                (block, Delta::ToolArguments(c.arguments))
            }
            _ => return,
        };
        let empty = matches!(&delta, Delta::Text(t) | Delta::Reasoning(t) if t.is_empty());
        if empty && !matches!(block, BlockStart::ToolCall { .. }) {
            return;
        }
        let index = self.open_block(block, out);
        if !empty {
            out.push(StreamEvent::Delta { index, delta });
        }
        out.push(StreamEvent::BlockStop { index });
    }

    fn fail(&mut self, out: &mut Vec<StreamEvent>, e: ApiError) {
        self.finished = true;
        out.push(StreamEvent::Error(e));
    }
}
