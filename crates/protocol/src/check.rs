//! Stream checks for tests: rebuilds a message from Anthropic SSE the way the Anthropic SDK's
//! stream accumulator does, and fails on every protocol violation Claude Code rejects ("Content
//! block not found", litellm#13373; "Content block is not a text block", sgl-project/sglang#24294).

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
    p.feed(bytes, &mut out);
    p.finish(&mut out);
    out
}

/// Validates and accumulates an Anthropic event stream. Panics with the reason on a violation.
pub fn rebuild(bytes: &[u8]) -> Rebuilt {
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
                    } else {
                        serde_json::from_str(&partial_json)
                            .expect("tool input JSON is complete and valid")
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
