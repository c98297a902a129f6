//! Responses streaming ("Streaming events" reference; protocols.md §3.3, §4.5): internal stream
//! events → Responses SSE for Responses clients ([`StreamEncoder`]).
//!
//! Every event is `event: <type>` plus JSON with `type` and an increasing `sequence_number`.
//! `response.created` and `response.in_progress` open the stream; each block becomes one output
//! item (`output_item.added`, its part and delta events, `output_item.done` with the complete
//! item, which is what Codex executes and records); the stream always ends with
//! `response.completed` or `response.failed` carrying the whole `output`. An answer cut by the
//! token limit is a `response.completed` whose response has `status: "incomplete"` and
//! `incomplete_details`: Codex reads only `response.completed` as success (a
//! `response.incomplete` event is "Incomplete response returned" to it).
//!
//! The reading side, for Responses upstreams, is [`StreamDecoder`](super::StreamDecoder).

use super::response::{
    custom_call_item, failure_code, function_call_item, message_item, output_text_part,
    reasoning_item, response_object, status_of, unwrap_custom_input,
};
use super::{ANTHROPIC_REDACTED_PREFIX, ANTHROPIC_SIGNATURE_PREFIX, item_id};
use crate::ir::{ApiError, BlockStart, Delta, ErrorKind, StreamEvent, ToolKind, Usage};
use crate::sse::write_event;
use crate::target::ResponseContext;
use bytes::BytesMut;
use serde_json::{Map, Value, json};

#[derive(Debug)]
enum ItemKind {
    Message,
    Reasoning {
        /// A summary part has been added.
        summary_open: bool,
        encrypted: Option<String>,
    },
    Function {
        call_id: String,
        name: String,
    },
    Custom {
        call_id: String,
        name: String,
        /// The upstream saw a function: the arguments are `{"input": …}` JSON, buffered and
        /// unwrapped at the end. Otherwise they are the raw input, streamed as it comes.
        wrapped: bool,
    },
}

/// The output item being streamed.
#[derive(Debug)]
struct OpenItem {
    output_index: usize,
    id: String,
    kind: ItemKind,
    /// Text, reasoning summary, arguments or input received so far.
    text: String,
}

/// Writes internal stream events as Responses SSE.
#[derive(Debug)]
pub struct StreamEncoder {
    ctx: ResponseContext,
    seq: u64,
    started: bool,
    finished: bool,
    /// Completed output items, in order.
    output: Vec<Value>,
    open: Option<OpenItem>,
}

impl StreamEncoder {
    /// `ctx.id` is the response id (`resp_…`); `ctx.tool_names` must know the request's custom
    /// tools ([`ToolNames::from_tools`](crate::target::ToolNames::from_tools)).
    pub fn new(ctx: ResponseContext) -> StreamEncoder {
        StreamEncoder {
            ctx,
            seq: 0,
            started: false,
            finished: false,
            output: Vec::new(),
            open: None,
        }
    }

    /// An encoder that continues a stream someone else began (a pass-through stream whose
    /// upstream wrote `response.created` for `ctx.id`): its events carry `ctx`'s response and
    /// number from `next_seq` on. With `started` false it opens the stream first.
    pub fn resume(ctx: ResponseContext, next_seq: u64, started: bool) -> StreamEncoder {
        StreamEncoder {
            seq: next_seq,
            started,
            ..StreamEncoder::new(ctx)
        }
    }

    /// Whether a terminal event has been written.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Ends a stream that stopped without `Finish` or `Error`: writes `response.failed`, so the
    /// client never sees a stream without a terminal event. Does nothing after one.
    pub fn close(&mut self, out: &mut BytesMut) {
        if !self.finished {
            let e = ApiError::new(ErrorKind::Api, "the answer stream ended before it finished");
            self.encode(&StreamEvent::Error(e), out);
        }
    }

    /// Appends the SSE bytes of `ev` to `out`.
    pub fn encode(&mut self, ev: &StreamEvent, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        match ev {
            StreamEvent::MessageStart { .. } => self.start(out),
            StreamEvent::BlockStart { block, .. } => {
                self.start(out);
                self.close_item(out);
                self.open_item(block, out);
            }
            StreamEvent::Delta { delta, .. } => self.delta(delta, out),
            StreamEvent::BlockStop { .. } => self.close_item(out),
            StreamEvent::Finish { stop_reason, usage } => {
                self.start(out);
                self.close_item(out);
                let (status, incomplete) = status_of(stop_reason);
                self.terminal(out, status, Some(usage), incomplete, None);
            }
            StreamEvent::Ping => out.extend_from_slice(b": keep-alive\n\n"),
            StreamEvent::Error(e) => {
                self.start(out);
                let error = json!({"code": failure_code(e), "message": e.message});
                self.terminal(out, "failed", None, None, Some(error));
            }
        }
    }

    /// Writes one event: `type` and `sequence_number` first, then `fields`.
    fn event(&mut self, out: &mut BytesMut, kind: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(kind.to_owned()));
        m.insert("sequence_number".into(), Value::from(self.seq));
        self.seq += 1;
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        let data = crate::wire::to_json(&Value::Object(m));
        write_event(out, Some(kind), &data);
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let r = response_object(&self.ctx, "in_progress", Vec::new(), None, None, None);
        self.event(out, "response.created", json!({ "response": r }));
        self.event(out, "response.in_progress", json!({ "response": r }));
    }

    fn terminal(
        &mut self,
        out: &mut BytesMut,
        status: &str,
        usage: Option<&Usage>,
        incomplete: Option<&str>,
        error: Option<Value>,
    ) {
        let output = std::mem::take(&mut self.output);
        let r = response_object(&self.ctx, status, output, usage, incomplete, error);
        let kind = if status == "failed" {
            "response.failed"
        } else {
            "response.completed"
        };
        self.event(out, kind, json!({ "response": r }));
        self.finished = true;
    }

    fn open_item(&mut self, block: &BlockStart, out: &mut BytesMut) {
        let n = self.output.len();
        let id_of = |prefix| item_id(&self.ctx.id, prefix, n);
        let (id, kind, item) = match block {
            BlockStart::Text => {
                let id = id_of("msg");
                let item = message_item(&id, "", "in_progress");
                (id, ItemKind::Message, item)
            }
            BlockStart::Reasoning | BlockStart::RedactedReasoning { .. } => {
                let id = id_of("rs");
                let encrypted = match block {
                    BlockStart::RedactedReasoning { data } => {
                        Some(format!("{ANTHROPIC_REDACTED_PREFIX}{data}"))
                    }
                    _ => None,
                };
                let item = reasoning_item(&id, "", None);
                let kind = ItemKind::Reasoning {
                    summary_open: false,
                    encrypted,
                };
                (id, kind, item)
            }
            BlockStart::ToolCall {
                id: call_id,
                name,
                kind,
            } => {
                let raw_custom = *kind == ToolKind::Custom;
                if raw_custom || self.ctx.tool_names.is_custom(name) {
                    let id = id_of("ctc");
                    let item = custom_call_item(&id, call_id, name, "", "in_progress");
                    let kind = ItemKind::Custom {
                        call_id: call_id.clone(),
                        name: name.clone(),
                        wrapped: !raw_custom,
                    };
                    (id, kind, item)
                } else {
                    let id = id_of("fc");
                    let item = function_call_item(&id, call_id, name, "", "in_progress");
                    let kind = ItemKind::Function {
                        call_id: call_id.clone(),
                        name: name.clone(),
                    };
                    (id, kind, item)
                }
            }
        };
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": n, "item": item}),
        );
        if matches!(kind, ItemKind::Message) {
            self.event(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": n, "content_index": 0,
                       "part": output_text_part("")}),
            );
        }
        self.open = Some(OpenItem {
            output_index: n,
            id,
            kind,
            text: String::new(),
        });
    }

    fn delta(&mut self, delta: &Delta, out: &mut BytesMut) {
        let Some(mut item) = self.open.take() else {
            return;
        };
        let (id, n) = (item.id.clone(), item.output_index);
        match (&mut item.kind, delta) {
            (ItemKind::Message, Delta::Text(t)) => {
                item.text.push_str(t);
                self.event(
                    out,
                    "response.output_text.delta",
                    json!({"item_id": id, "output_index": n, "content_index": 0, "delta": t,
                           "logprobs": []}),
                );
            }
            (ItemKind::Reasoning { summary_open, .. }, Delta::Reasoning(t)) => {
                if !*summary_open {
                    *summary_open = true;
                    self.event(
                        out,
                        "response.reasoning_summary_part.added",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "part": {"type": "summary_text", "text": ""}}),
                    );
                }
                item.text.push_str(t);
                self.event(
                    out,
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": id, "output_index": n, "summary_index": 0, "delta": t}),
                );
            }
            (ItemKind::Reasoning { encrypted, .. }, Delta::Signature(s)) => {
                *encrypted = Some(format!("{ANTHROPIC_SIGNATURE_PREFIX}{s}"));
            }
            (ItemKind::Function { .. }, Delta::ToolArguments(a)) => {
                item.text.push_str(a);
                self.event(
                    out,
                    "response.function_call_arguments.delta",
                    json!({"item_id": id, "output_index": n, "delta": a}),
                );
            }
            (ItemKind::Custom { wrapped, .. }, Delta::ToolArguments(a)) => {
                item.text.push_str(a);
                if !*wrapped {
                    self.event(
                        out,
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": id, "output_index": n, "delta": a}),
                    );
                }
            }
            // A delta of another kind than the open item cannot be shown in it.
            _ => {}
        }
        self.open = Some(item);
    }

    /// Finishes the open item: its done events, then `output_item.done` with the whole item.
    fn close_item(&mut self, out: &mut BytesMut) {
        let Some(item) = self.open.take() else {
            return;
        };
        let (id, n, text) = (item.id, item.output_index, item.text);
        let done = match item.kind {
            ItemKind::Message => {
                self.event(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0, "text": text,
                           "logprobs": []}),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0,
                           "part": output_text_part(&text)}),
                );
                message_item(&id, &text, "completed")
            }
            ItemKind::Reasoning {
                summary_open,
                encrypted,
            } => {
                if summary_open {
                    self.event(
                        out,
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "text": text}),
                    );
                    self.event(
                        out,
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "part": {"type": "summary_text", "text": text}}),
                    );
                }
                reasoning_item(&id, &text, encrypted.as_deref())
            }
            ItemKind::Function { call_id, name } => {
                let mut args = text;
                if args.trim().is_empty() {
                    // Clients parse the arguments as JSON: a call without any is `{}`.
                    args.push_str("{}");
                    self.event(
                        out,
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": n, "delta": "{}"}),
                    );
                }
                self.event(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": n, "name": name, "arguments": args}),
                );
                function_call_item(&id, &call_id, &name, &args, "completed")
            }
            ItemKind::Custom {
                call_id,
                name,
                wrapped,
            } => {
                let input = if wrapped {
                    let input = unwrap_custom_input(&text);
                    if !input.is_empty() {
                        self.event(
                            out,
                            "response.custom_tool_call_input.delta",
                            json!({"item_id": id, "output_index": n, "delta": input}),
                        );
                    }
                    input
                } else {
                    text
                };
                self.event(
                    out,
                    "response.custom_tool_call_input.done",
                    json!({"item_id": id, "output_index": n, "input": input}),
                );
                custom_call_item(&id, &call_id, &name, &input, "completed")
            }
        };
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": n, "item": done}),
        );
        self.output.push(done);
    }
}
