//! Stream checks for tests: rebuilds a message from Anthropic SSE the way the Anthropic SDK's
//! stream accumulator does, and fails on every protocol violation Claude Code rejects ("Content
//! block not found", litellm#13373; "Content block is not a text block", sgl-project/sglang#24294).
//! [`rebuild_responses`] does the same for OpenAI Responses SSE and what Codex relies on
//! (protocols.md §3.3: complete items in `output_item.done`, a terminal `response.completed`).
//!
//! Built only with the `test-support` feature, which the test targets of this workspace enable
//! through their dev-dependencies: it panics by design and is no part of the product.

// A test validator: panicking on a violation is its job (its callers are tests and fuzz targets),
// so the product's panic lints (src/lib.rs) do not apply here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use crate::sse::{SseEvent, SseParser};
use serde_json::{Value, json};

/// The rebuilt message, or the error event's body if the stream ended in one.
#[derive(Debug)]
pub struct Rebuilt {
    pub message: Value,
    pub error: Option<Value>,
    pub event_names: Vec<String>,
}

/// Parses a whole SSE body.
pub fn parse_sse(bytes: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    p.feed(bytes, &mut out)
        .expect("events within the size limit");
    p.finish(&mut out);
    out
}

/// How much of a stream [`rebuild_with`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Everything, including that each tool call's input is complete JSON.
    Full,
    /// The event structure only: a tool call's input is taken as JSON when it is, else kept as
    /// the raw text (an upstream that sent broken arguments gets them forwarded as they came).
    Structure,
}

/// Validates and accumulates an Anthropic event stream. Panics with the reason on a violation.
pub fn rebuild(bytes: &[u8]) -> Rebuilt {
    rebuild_with(bytes, Strictness::Full)
}

/// [`rebuild`], checking as much as `strictness` says.
pub fn rebuild_with(bytes: &[u8], strictness: Strictness) -> Rebuilt {
    let events = parse_sse(bytes);
    let mut message: Option<Value> = None;
    let mut open: Option<usize> = None;
    let mut partial_json = String::new();
    let mut stopped = false;
    let mut error = None;
    let mut names = Vec::new();
    for ev in events {
        let name = ev
            .event
            .clone()
            .expect("every Anthropic event has an event: line");
        let data: Value = serde_json::from_str(&ev.data).expect("event data is JSON");
        assert_eq!(data["type"], json!(name), "event name equals JSON type");
        assert!(!stopped, "event {name} after message_stop");
        assert!(error.is_none(), "event {name} after error");
        names.push(name.clone());
        match name.as_str() {
            "message_start" => {
                assert!(message.is_none(), "second message_start");
                let m = data["message"].clone();
                assert_eq!(m["content"], json!([]));
                for k in [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ] {
                    assert!(m["usage"][k].is_u64(), "message_start usage.{k} missing");
                }
                message = Some(m);
            }
            "content_block_start" => {
                let m = message
                    .as_mut()
                    .expect("content_block_start before message_start");
                assert!(open.is_none(), "block started while block {open:?} is open");
                let idx = data["index"].as_u64().unwrap() as usize;
                let content = m["content"].as_array_mut().unwrap();
                assert_eq!(idx, content.len(), "block index is not the next position");
                content.push(data["content_block"].clone());
                open = Some(idx);
                partial_json.clear();
            }
            "content_block_delta" => {
                let m = message.as_mut().expect("delta before message_start");
                let idx = data["index"].as_u64().unwrap() as usize;
                assert_eq!(open, Some(idx), "delta for block {idx} which is not open");
                let block = &mut m["content"][idx];
                let d = &data["delta"];
                match (block["type"].as_str().unwrap(), d["type"].as_str().unwrap()) {
                    ("text", "text_delta") => {
                        let t = block["text"].as_str().unwrap().to_owned()
                            + d["text"].as_str().unwrap();
                        block["text"] = json!(t);
                    }
                    ("thinking", "thinking_delta") => {
                        let t = block["thinking"].as_str().unwrap().to_owned()
                            + d["thinking"].as_str().unwrap();
                        block["thinking"] = json!(t);
                    }
                    ("thinking", "signature_delta") => block["signature"] = d["signature"].clone(),
                    ("tool_use", "input_json_delta") => {
                        partial_json.push_str(d["partial_json"].as_str().unwrap())
                    }
                    (b, dt) => panic!("{dt} sent to a {b} block"),
                }
            }
            "content_block_stop" => {
                let m = message.as_mut().unwrap();
                let idx = data["index"].as_u64().unwrap() as usize;
                assert_eq!(open, Some(idx), "stop for block {idx} which is not open");
                let block = &mut m["content"][idx];
                if block["type"] == "tool_use" {
                    let input: Value = if partial_json.is_empty() {
                        json!({})
                    } else if strictness == Strictness::Full {
                        serde_json::from_str(&partial_json)
                            .expect("tool input JSON is complete and valid")
                    } else {
                        serde_json::from_str(&partial_json)
                            .unwrap_or_else(|_| json!(partial_json.clone()))
                    };
                    block["input"] = input;
                }
                if block["type"] == "thinking" {
                    assert!(
                        !block["signature"].as_str().unwrap().is_empty(),
                        "thinking block without signature"
                    );
                }
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta while a block is open");
                let m = message.as_mut().unwrap();
                m["stop_reason"] = data["delta"]["stop_reason"].clone();
                for (k, v) in data["usage"].as_object().unwrap() {
                    m["usage"][k] = v.clone();
                }
            }
            "message_stop" => stopped = true,
            "ping" => {}
            "error" => error = Some(data["error"].clone()),
            other => panic!("unknown event {other}"),
        }
    }
    if error.is_none() {
        assert!(stopped, "stream ended without message_stop");
    }
    Rebuilt {
        message: message.unwrap_or(Value::Null),
        error,
        event_names: names,
    }
}

/// A Responses stream rebuilt by [`rebuild_responses`].
#[derive(Debug)]
pub struct RebuiltResponse {
    /// The `response` object of the terminal event.
    pub response: Value,
    /// The items of the `output_item.done` events, in output order.
    pub items: Vec<Value>,
    /// `response.completed`, `response.incomplete` or `response.failed`.
    pub terminal: String,
    /// Every event name, in order.
    pub event_names: Vec<String>,
}

/// The output item being streamed, as the deltas built it.
struct OpenItem {
    index: u64,
    id: String,
    kind: String,
    text: String,
    part_added: bool,
    summary_parts: Vec<String>,
}

/// Validates and accumulates an OpenAI Responses event stream. Panics with the reason on a
/// violation: an event name that differs from its `type`, a `sequence_number` that does not
/// increase, an event for an item that is not the open one, deltas that do not add up to the
/// `.done` values and the complete item, more than one open item, anything after the terminal
/// event, a terminal `output` that differs from the done items, `usage` without
/// `input_tokens`/`output_tokens`/`total_tokens`, or no terminal event at all.
pub fn rebuild_responses(bytes: &[u8]) -> RebuiltResponse {
    let mut names = Vec::new();
    let mut last_seq: Option<u64> = None;
    let mut id: Option<String> = None;
    let mut items: Vec<Value> = Vec::new();
    let mut open: Option<OpenItem> = None;
    let mut terminal: Option<(String, Value)> = None;
    for ev in parse_sse(bytes) {
        let name = ev
            .event
            .clone()
            .expect("every Responses event has an event: line");
        let d: Value = serde_json::from_str(&ev.data).expect("event data is JSON");
        assert_eq!(d["type"], json!(name), "event name equals JSON type");
        assert!(terminal.is_none(), "event {name} after the terminal event");
        let seq = d["sequence_number"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} without sequence_number"));
        if let Some(prev) = last_seq {
            assert!(seq > prev, "sequence_number {seq} of {name} after {prev}");
        }
        last_seq = Some(seq);
        if names.is_empty() {
            assert_eq!(
                name, "response.created",
                "the stream starts with response.created"
            );
        }
        names.push(name.clone());
        let check_open = |open: &Option<OpenItem>, kind: &str| {
            let o = open
                .as_ref()
                .unwrap_or_else(|| panic!("{name} with no open item"));
            assert_eq!(o.kind, kind, "{name} for a {} item", o.kind);
            assert_eq!(d["item_id"], json!(o.id), "{name} item_id");
            assert_eq!(d["output_index"], json!(o.index), "{name} output_index");
        };
        match name.as_str() {
            "response.created" => {
                assert!(id.is_none(), "second response.created");
                let r = &d["response"];
                assert_eq!(r["object"], "response");
                assert_eq!(r["status"], "in_progress");
                let rid = r["id"].as_str().expect("response.id").to_owned();
                assert!(!rid.is_empty(), "empty response id");
                id = Some(rid);
            }
            "response.in_progress" => assert_eq!(d["response"]["id"], json!(id)),
            "response.output_item.added" => {
                assert!(open.is_none(), "item added while another is open");
                let index = d["output_index"].as_u64().expect("output_index");
                assert_eq!(
                    index,
                    items.len() as u64,
                    "output_index is not the next position"
                );
                let item = &d["item"];
                let iid = item["id"].as_str().expect("item id").to_owned();
                assert!(!iid.is_empty(), "empty item id");
                let kind = item["type"].as_str().expect("item type").to_owned();
                match kind.as_str() {
                    "function_call" => assert_eq!(item["arguments"], "", "arguments start empty"),
                    "custom_tool_call" => assert_eq!(item["input"], "", "input starts empty"),
                    _ => {}
                }
                open = Some(OpenItem {
                    index,
                    id: iid,
                    kind,
                    text: String::new(),
                    part_added: false,
                    summary_parts: Vec::new(),
                });
            }
            "response.content_part.added" => {
                check_open(&open, "message");
                let o = open.as_mut().expect("checked");
                assert!(!o.part_added, "second content part");
                assert_eq!(d["content_index"], 0);
                o.part_added = true;
            }
            "response.output_text.delta" => {
                check_open(&open, "message");
                let o = open.as_mut().expect("checked");
                assert!(o.part_added, "text delta before content_part.added");
                o.text.push_str(d["delta"].as_str().expect("delta"));
            }
            "response.output_text.done" | "response.content_part.done" => {
                check_open(&open, "message");
                let o = open.as_ref().expect("checked");
                let text = if name.ends_with("output_text.done") {
                    &d["text"]
                } else {
                    &d["part"]["text"]
                };
                assert_eq!(text, &json!(o.text), "{name} text differs from the deltas");
            }
            "response.reasoning_summary_part.added" => {
                check_open(&open, "reasoning");
                let o = open.as_mut().expect("checked");
                assert_eq!(d["summary_index"], json!(o.summary_parts.len()));
                o.summary_parts.push(String::new());
            }
            "response.reasoning_summary_text.delta" => {
                check_open(&open, "reasoning");
                let o = open.as_mut().expect("checked");
                let i = d["summary_index"].as_u64().expect("summary_index") as usize;
                let part = o
                    .summary_parts
                    .get_mut(i)
                    .unwrap_or_else(|| panic!("summary delta for part {i} never added"));
                part.push_str(d["delta"].as_str().expect("delta"));
            }
            "response.reasoning_summary_text.done" | "response.reasoning_summary_part.done" => {
                check_open(&open, "reasoning");
                let o = open.as_ref().expect("checked");
                let i = d["summary_index"].as_u64().expect("summary_index") as usize;
                let text = if name.ends_with("text.done") {
                    &d["text"]
                } else {
                    &d["part"]["text"]
                };
                assert_eq!(text, &json!(o.summary_parts[i]), "{name} text differs");
            }
            "response.reasoning_text.delta" => {
                check_open(&open, "reasoning");
                let o = open.as_mut().expect("checked");
                o.text.push_str(d["delta"].as_str().expect("delta"));
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let kind = if name.contains("function_call") {
                    "function_call"
                } else {
                    "custom_tool_call"
                };
                check_open(&open, kind);
                let o = open.as_mut().expect("checked");
                o.text.push_str(d["delta"].as_str().expect("delta"));
            }
            "response.function_call_arguments.done" => {
                check_open(&open, "function_call");
                let o = open.as_ref().expect("checked");
                assert_eq!(
                    d["arguments"],
                    json!(o.text),
                    "arguments differ from the deltas"
                );
            }
            "response.custom_tool_call_input.done" => {
                check_open(&open, "custom_tool_call");
                let o = open.as_ref().expect("checked");
                assert_eq!(d["input"], json!(o.text), "input differs from the deltas");
            }
            "response.output_item.done" => {
                let o = open.take().expect("output_item.done with no open item");
                let item = d["item"].clone();
                assert_eq!(
                    d["output_index"],
                    json!(o.index),
                    "output_item.done output_index"
                );
                assert_eq!(item["id"], json!(o.id), "output_item.done id");
                assert_eq!(item["type"], json!(o.kind), "output_item.done type");
                match o.kind.as_str() {
                    "message" => {
                        assert_eq!(item["status"], "completed");
                        assert_eq!(item["role"], "assistant");
                        assert_eq!(item["content"][0]["type"], "output_text");
                        assert_eq!(item["content"][0]["text"], json!(o.text), "message text");
                    }
                    "reasoning" => {
                        let summary: Vec<&str> = item["summary"]
                            .as_array()
                            .expect("reasoning summary")
                            .iter()
                            .map(|p| p["text"].as_str().expect("summary text"))
                            .collect();
                        let streamed: Vec<&str> = o
                            .summary_parts
                            .iter()
                            .map(String::as_str)
                            .filter(|s| !s.is_empty())
                            .collect();
                        assert_eq!(summary, streamed, "reasoning summary differs from deltas");
                    }
                    "function_call" | "custom_tool_call" => {
                        assert_eq!(item["status"], "completed");
                        assert!(!item["call_id"].as_str().expect("call_id").is_empty());
                        assert!(!item["name"].as_str().expect("name").is_empty());
                        let field = if o.kind == "function_call" {
                            "arguments"
                        } else {
                            "input"
                        };
                        assert_eq!(item[field], json!(o.text), "{field} differ from the deltas");
                    }
                    _ => {}
                }
                items.push(item);
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let r = d["response"].clone();
                assert_eq!(r["id"], json!(id), "terminal response id");
                let status = name.trim_start_matches("response.");
                // A `response.completed` may carry an `incomplete` response (a cut answer), as
                // agent-shim sends it for Codex.
                let allowed: &[&str] = if status == "completed" {
                    &["completed", "incomplete"]
                } else {
                    &[status]
                };
                assert!(
                    allowed.iter().any(|s| r["status"] == *s),
                    "terminal status {} under {name}",
                    r["status"]
                );
                if status == "failed" {
                    let e = &r["error"];
                    assert!(e["code"].is_string(), "response.failed without error.code");
                    assert!(
                        e["message"].is_string(),
                        "response.failed without error.message"
                    );
                } else {
                    assert!(open.is_none(), "{name} while an item is open");
                    assert_eq!(
                        r["output"],
                        json!(items),
                        "terminal output differs from items"
                    );
                    let u = &r["usage"];
                    let (i, o) = (u["input_tokens"].as_u64(), u["output_tokens"].as_u64());
                    let (i, o) = (
                        i.expect("usage.input_tokens"),
                        o.expect("usage.output_tokens"),
                    );
                    assert_eq!(
                        u["total_tokens"].as_u64(),
                        Some(i + o),
                        "usage.total_tokens"
                    );
                    if status == "incomplete" {
                        assert!(r["incomplete_details"]["reason"].is_string());
                    }
                }
                terminal = Some((name.clone(), r));
            }
            other => panic!("unknown event {other}"),
        }
    }
    let (terminal, response) = terminal.expect("stream ended without a terminal response event");
    RebuiltResponse {
        response,
        items,
        terminal,
        event_names: names,
    }
}
