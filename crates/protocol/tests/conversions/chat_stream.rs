//! Recorded Chat Completions chunk sequences through the stream state machine into Anthropic SSE.

use bytes::BytesMut;
use protocol::anthropic::StreamEncoder;
use protocol::check::{Rebuilt, rebuild};
use protocol::ir::StreamEvent;
use protocol::openai_chat::StreamDecoder;
use protocol::sse::SseParser;
use protocol::target::{ResponseContext, ToolNames};
use serde_json::json;

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_test1".into(),
        model: "claude-sonnet-4-5".into(),
        created: 1,
        tool_names: ToolNames::default(),
    }
}

/// Feeds the fixture in `chunk`-byte pieces (the upstream's TCP reads), as the gateway does.
fn translate_events(fixture: &str, chunk: usize) -> (Vec<StreamEvent>, BytesMut) {
    let path = format!(
        "{}/tests/fixtures/chat_stream/{fixture}.sse",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut parser = SseParser::new();
    let mut decoder = StreamDecoder::new(ctx(), 42);
    let mut encoder = StreamEncoder::new();
    let mut sse = Vec::new();
    let mut events = Vec::new();
    let mut out = BytesMut::new();
    for piece in bytes.chunks(chunk) {
        sse.clear();
        parser.feed(piece, &mut sse).unwrap();
        for e in &sse {
            let before = events.len();
            decoder.on_event(e, &mut events);
            for ev in &events[before..] {
                encoder.encode(ev, &mut out);
            }
        }
    }
    sse.clear();
    parser.finish(&mut sse);
    let before = events.len();
    for e in &sse {
        decoder.on_event(e, &mut events);
    }
    decoder.on_end(&mut events);
    for ev in &events[before..] {
        encoder.encode(ev, &mut out);
    }
    (events, out)
}

fn translate(fixture: &str) -> Rebuilt {
    // Whole-event reads and 7-byte reads must give the same stream.
    let (events_a, a) = translate_events(fixture, 1 << 20);
    let (events_b, b) = translate_events(fixture, 7);
    assert_eq!(
        events_a, events_b,
        "chunking changed the events of {fixture}"
    );
    assert_eq!(a, b);
    rebuild(&a)
}

#[test]
fn text_only() {
    let r = translate("text_only");
    assert_eq!(
        r.event_names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let m = r.message;
    assert_eq!(m["id"], "msg_test1");
    assert_eq!(m["model"], "claude-sonnet-4-5");
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "Hello, world"}])
    );
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["usage"]["input_tokens"], 12);
    assert_eq!(m["usage"]["output_tokens"], 3);
}

#[test]
fn one_tool_call_in_many_fragments_is_forwarded_fragment_by_fragment() {
    let (events, out) = translate_events("tool_call_fragments", 1 << 20);
    let arg_deltas = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::Delta {
                    delta: protocol::ir::Delta::ToolArguments(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        arg_deltas, 5,
        "each upstream fragment is forwarded as it arrives"
    );
    let m = rebuild(&out).message;
    assert_eq!(
        m["content"],
        json!([{"type": "tool_use", "id": "call_abc", "name": "Bash",
                "input": {"command": "echo hi", "description": "say hi"}}])
    );
    assert_eq!(m["stop_reason"], "tool_use");
    // prompt 100 with 40 cached: Anthropic input_tokens counts only the uncached part.
    assert_eq!(m["usage"]["input_tokens"], 60);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 40);
    assert_eq!(m["usage"]["output_tokens"], 20);
}

#[test]
fn two_parallel_tool_calls_get_their_own_blocks() {
    let m = translate("parallel_tool_calls").message;
    assert_eq!(
        m["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"file_path": "a.txt"}},
            {"type": "tool_use", "id": "call_2", "name": "Read", "input": {"file_path": "b.txt"}},
        ])
    );
}

#[test]
fn reasoning_then_text_then_tool_call() {
    let m = translate("reasoning_text_tool").message;
    let content = m["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], "The user wants the date.");
    assert_eq!(
        content[0]["signature"],
        protocol::anthropic::FOREIGN_SIGNATURE
    );
    assert_eq!(content[1], json!({"type": "text", "text": "Let me check."}));
    assert_eq!(content[2]["input"], json!({"command": "date"}));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["output_tokens"], 25);
}

#[test]
fn usage_only_final_chunk_is_merged_into_message_delta() {
    let r = translate("usage_only_final_chunk");
    assert_eq!(
        r.message["content"],
        json!([{"type": "text", "text": "Done"}])
    );
    assert_eq!(r.message["usage"]["input_tokens"], 7);
    assert_eq!(r.message["usage"]["output_tokens"], 1);
    assert_eq!(
        r.event_names
            .iter()
            .filter(|n| *n == "message_delta")
            .count(),
        1
    );
}

#[test]
fn upstream_error_mid_stream_becomes_an_anthropic_error_event() {
    let r = translate("error_mid_stream");
    let err = r.error.expect("an error event");
    assert_eq!(
        err["type"], "overloaded_error",
        "the upstream code says overloaded"
    );
    assert_eq!(err["message"], "The server is overloaded");
    assert_eq!(r.message["content"][0]["text"], "Partial");
}

#[test]
fn interleaved_fragments_of_parallel_calls_are_not_mixed_up() {
    let m = translate("interleaved_parallel_calls").message;
    assert_eq!(
        m["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "Glob", "input": {"pattern": "*.rs"}},
            {"type": "tool_use", "id": "call_2", "name": "Grep", "input": {"pattern": "fn main"}},
        ])
    );
}

#[test]
fn ollama_reusing_index_zero_with_new_ids_gives_two_calls() {
    let m = translate("ollama_reused_index").message;
    assert_eq!(m["content"][0]["input"], json!({"file_path": "a"}));
    assert_eq!(m["content"][1]["input"], json!({"file_path": "b"}));
    // finish_reason "stop" after tool calls still means tool_use.
    assert_eq!(m["stop_reason"], "tool_use");
}

#[test]
fn gemini_calls_without_index_and_with_dotted_ids() {
    let m = translate("gemini_no_index").message;
    assert_eq!(m["content"][0]["id"], "functions_Bash_0");
    assert_eq!(m["content"][1]["id"], "functions_Bash_1");
    assert_eq!(m["content"][1]["input"], json!({"command": "pwd"}));
    assert_eq!(m["usage"]["output_tokens"], 4);
}

#[test]
fn stream_cut_before_finish_is_an_error() {
    let r = translate("cut_without_finish");
    assert!(r.error.is_some());
    assert_eq!(r.message["content"][0]["text"], "Half an ans");
}

#[test]
fn long_tool_names_are_restored() {
    let long = format!("mcp__server__{}", "x".repeat(70));
    let short = ToolNames::shorten_name(&long);
    let mut c = ctx();
    c.tool_names = ToolNames::new([long.as_str()]);
    let chunk = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":short,"arguments":"{}"}}]},"finish_reason":"tool_calls"}]});
    let mut d = StreamDecoder::new(c, 0);
    let mut events = Vec::new();
    d.on_chunk(serde_json::from_value(chunk).unwrap(), &mut events);
    d.on_end(&mut events);
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart {
                block: protocol::ir::BlockStart::ToolCall { name, .. },
                ..
            } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![long]);
}

/// Regression: empty arguments counted as complete JSON, so the second call's name closed the
/// first call before any of its arguments arrived.
#[test]
fn interleaved_calls_that_send_all_names_first() {
    let m = translate("interleaved_names_first").message;
    assert_eq!(m["content"][0]["input"], json!({"file_path": "a"}));
    assert_eq!(m["content"][1]["input"], json!({"file_path": "b"}));
}
