//! Streams for and from the Responses API: recorded Chat chunk sequences into Responses SSE (what
//! Codex reads), checked by `check::rebuild_responses`; recorded Responses upstream streams into
//! Anthropic SSE, checked by `check::rebuild`.

use crate::pipeline::run;
use bytes::BytesMut;
use protocol::check::{RebuiltResponse, rebuild, rebuild_responses};
use protocol::ir::{
    ApiError, BlockStart, Delta, ErrorKind, StopReason, StreamEvent, Tool, ToolKind, Usage,
};
use protocol::openai_responses::StreamEncoder;
use protocol::stream::ClientEncoder;
use protocol::target::{ResponseContext, ToolNames};
use protocol::{anthropic, openai_chat, openai_responses};
use serde_json::{Value, json};

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "resp_test1".into(),
        model: "gpt-5.1-codex".into(),
        created: 1_760_000_000,
        tool_names: ToolNames::default(),
    }
}

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{dir}/{name}.sse",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A recorded Chat stream into Responses SSE, the same for whole and 7-byte reads.
fn chat_to_responses_with(
    fixture: &str,
    c: ResponseContext,
) -> (Vec<StreamEvent>, RebuiltResponse) {
    let bytes = read("chat_stream", fixture);
    let mut outs = Vec::new();
    for chunk in [1 << 20, 7] {
        let mut d = openai_chat::StreamDecoder::new(c.clone(), 42);
        let mut e = StreamEncoder::new(c.clone());
        outs.push(run(&bytes, chunk, &mut d, &mut e));
    }
    assert_eq!(outs[0], outs[1], "chunking changed the stream of {fixture}");
    let (events, out) = outs.swap_remove(0);
    (events, rebuild_responses(&out))
}

fn chat_to_responses(fixture: &str) -> RebuiltResponse {
    chat_to_responses_with(fixture, ctx()).1
}

fn item_types(r: &RebuiltResponse) -> Vec<&str> {
    r.items
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect()
}

#[test]
fn text_only() {
    let r = chat_to_responses("text_only");
    assert_eq!(
        r.event_names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(r.terminal, "response.completed");
    let resp = &r.response;
    assert_eq!(resp["id"], "resp_test1");
    assert_eq!(resp["object"], "response");
    assert_eq!(resp["model"], "gpt-5.1-codex");
    assert_eq!(resp["created_at"], 1_760_000_000);
    assert_eq!(
        resp["output"],
        json!([{"id": "msg_test1_0", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello, world", "annotations": []}]}])
    );
    assert_eq!(
        resp["usage"],
        json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
               "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": 15})
    );
}

#[test]
fn sequence_numbers_start_at_zero_and_step_by_one() {
    let bytes = read("chat_stream", "reasoning_text_tool");
    let mut d = openai_chat::StreamDecoder::new(ctx(), 0);
    let mut e = StreamEncoder::new(ctx());
    let (_, out) = run(&bytes, 1 << 20, &mut d, &mut e);
    let seqs: Vec<u64> = protocol::check::parse_sse(&out)
        .iter()
        .map(|ev| {
            serde_json::from_str::<Value>(&ev.data).unwrap()["sequence_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn tool_call_fragments_are_forwarded_and_the_done_item_is_complete() {
    let r = chat_to_responses("tool_call_fragments");
    let deltas = r
        .event_names
        .iter()
        .filter(|n| *n == "response.function_call_arguments.delta")
        .count();
    assert_eq!(
        deltas, 5,
        "each upstream fragment is forwarded as it arrives"
    );
    assert_eq!(
        r.items,
        [
            json!({"id": "fc_test1_0", "type": "function_call", "status": "completed",
                "arguments": "{\"command\": \"echo hi\", \"description\": \"say hi\"}",
                "call_id": "call_abc", "name": "Bash"})
        ]
    );
    assert_eq!(r.response["usage"]["input_tokens"], 100);
    assert_eq!(
        r.response["usage"]["input_tokens_details"]["cached_tokens"],
        40
    );
    assert_eq!(r.response["usage"]["total_tokens"], 120);
}

#[test]
fn parallel_calls_are_separate_items() {
    for fixture in [
        "parallel_tool_calls",
        "interleaved_parallel_calls",
        "interleaved_names_first",
    ] {
        let r = chat_to_responses(fixture);
        assert_eq!(
            item_types(&r),
            ["function_call", "function_call"],
            "{fixture}"
        );
        assert_eq!(r.items[0]["call_id"], "call_1", "{fixture}");
        assert_eq!(r.items[1]["call_id"], "call_2", "{fixture}");
        for it in &r.items {
            let args: Value = serde_json::from_str(it["arguments"].as_str().unwrap()).unwrap();
            assert!(args.is_object(), "{fixture}: {args}");
        }
    }
}

#[test]
fn reasoning_then_text_then_tool() {
    let r = chat_to_responses("reasoning_text_tool");
    assert_eq!(item_types(&r), ["reasoning", "message", "function_call"]);
    assert_eq!(
        r.items[0],
        json!({"id": "rs_test1_0", "type": "reasoning",
               "summary": [{"type": "summary_text", "text": "The user wants the date."}]})
    );
    assert_eq!(r.items[1]["content"][0]["text"], "Let me check.");
    assert_eq!(r.items[2]["arguments"], "{\"command\":\"date\"}");
    let names = &r.event_names;
    let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
    assert!(
        pos("response.reasoning_summary_part.added") < pos("response.reasoning_summary_text.delta")
    );
    assert!(pos("response.reasoning_summary_part.done") < pos("response.content_part.added"));
    assert_eq!(
        r.response["usage"]["output_tokens_details"]["reasoning_tokens"],
        8
    );
}

#[test]
fn usage_only_final_chunk() {
    let r = chat_to_responses("usage_only_final_chunk");
    assert_eq!(r.items[0]["content"][0]["text"], "Done");
    assert_eq!(r.response["usage"]["input_tokens"], 7);
    assert_eq!(r.response["usage"]["output_tokens"], 1);
}

#[test]
fn upstream_error_mid_stream_becomes_response_failed() {
    let r = chat_to_responses("error_mid_stream");
    assert_eq!(r.terminal, "response.failed");
    assert_eq!(r.response["status"], "failed");
    assert_eq!(r.response["error"]["code"], "server_error");
    assert_eq!(r.response["error"]["message"], "The server is overloaded");
    assert!(
        r.event_names
            .contains(&"response.output_text.delta".to_owned())
    );

    let cut = chat_to_responses("cut_without_finish");
    assert_eq!(cut.terminal, "response.failed");
}

/// Internal events straight into the encoder.
fn encode(events: &[StreamEvent], c: ResponseContext) -> RebuiltResponse {
    let mut e = StreamEncoder::new(c);
    let mut out = BytesMut::new();
    for ev in events {
        e.encode(ev, &mut out);
    }
    rebuild_responses(&out)
}

#[test]
fn error_codes_codex_acts_on() {
    for (kind, message, code) in [
        (
            ErrorKind::ContextLengthExceeded,
            "too long",
            "context_length_exceeded",
        ),
        (
            ErrorKind::InvalidRequest,
            "This model's maximum context length is 8192 tokens",
            "context_length_exceeded",
        ),
        (
            ErrorKind::RateLimit,
            "Rate limit reached. Please try again in 2s.",
            "rate_limit_exceeded",
        ),
        (
            ErrorKind::Billing,
            "You exceeded your current quota",
            "insufficient_quota",
        ),
        // Gemini words its per-minute limits so: only the kind says it is a used-up quota.
        (
            ErrorKind::RateLimit,
            "You exceeded your current quota, please check your plan and billing details.",
            "rate_limit_exceeded",
        ),
        (ErrorKind::Overloaded, "busy", "server_error"),
    ] {
        // An error before anything else still gives a well-formed stream.
        let r = encode(&[StreamEvent::Error(ApiError::new(kind, message))], ctx());
        assert_eq!(
            r.event_names,
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
        assert_eq!(r.response["error"]["code"], code, "{kind:?} {message}");
        assert_eq!(
            r.response["error"]["message"], message,
            "the upstream message is kept"
        );
    }
}

fn start() -> StreamEvent {
    StreamEvent::MessageStart {
        id: "x".into(),
        model: "m".into(),
        usage: Usage::default(),
    }
}

/// Codex takes only `response.completed` as success, so a cut answer is a completed event whose
/// response says `incomplete`.
#[test]
fn max_tokens_is_a_completed_event_with_an_incomplete_response() {
    let usage = Usage {
        input_tokens: 5,
        output_tokens: 9,
        ..Usage::default()
    };
    let r = encode(
        &[
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Text("cut of".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Finish {
                stop_reason: StopReason::MaxTokens,
                usage,
            },
        ],
        ctx(),
    );
    assert_eq!(r.terminal, "response.completed");
    assert_eq!(r.response["status"], "incomplete");
    assert_eq!(
        r.response["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(r.response["output"][0]["content"][0]["text"], "cut of");
    assert_eq!(r.response["usage"]["total_tokens"], 14);
}

#[test]
fn unclosed_blocks_are_closed_before_completion_and_close_ends_a_cut_stream() {
    let r = encode(
        &[
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Text("hi".into()),
            },
            StreamEvent::Finish {
                stop_reason: StopReason::EndTurn,
                usage: Usage::default(),
            },
        ],
        ctx(),
    );
    assert_eq!(r.terminal, "response.completed");
    assert_eq!(r.items.len(), 1);

    let mut e = StreamEncoder::new(ctx());
    let mut out = BytesMut::new();
    e.encode(&start(), &mut out);
    e.close(&mut out);
    assert!(e.is_finished());
    e.encode(&StreamEvent::Ping, &mut out);
    assert_eq!(rebuild_responses(&out).terminal, "response.failed");
}

fn custom_ctx() -> ResponseContext {
    let tools = [Tool {
        name: "apply_patch".into(),
        description: None,
        parameters: None,
        kind: ToolKind::Custom,
        format: None,
        strict: None,
    }];
    ResponseContext {
        tool_names: ToolNames::from_tools(&tools),
        ..ctx()
    }
}

const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";

#[test]
fn custom_tool_called_as_a_function_upstream_reaches_the_client_as_custom_tool_call() {
    // The Chat upstream saw apply_patch as a function with one string parameter `input`.
    let args = json!({ "input": PATCH }).to_string();
    let (a, b) = args.split_at(17);
    let chunk = |delta: Value, finish: Value| {
        json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string()
    };
    let sse = [
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_P", "type": "function",
            "function": {"name": "apply_patch", "arguments": a}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ]
    .iter()
    .map(|d| format!("data: {d}\n\n"))
    .collect::<String>()
        + "data: [DONE]\n\n";
    let mut d = openai_chat::StreamDecoder::new(custom_ctx(), 0);
    let mut e = StreamEncoder::new(custom_ctx());
    let (_, out) = run(sse.as_bytes(), 1 << 20, &mut d, &mut e);
    let r = rebuild_responses(&out);
    assert_eq!(
        r.items,
        [
            json!({"id": "ctc_test1_0", "type": "custom_tool_call", "status": "completed",
                "call_id": "call_P", "name": "apply_patch", "input": PATCH})
        ]
    );
    assert!(
        r.event_names
            .contains(&"response.custom_tool_call_input.done".to_owned())
    );
    assert!(!r.event_names.iter().any(|n| n.contains("function_call")));
}

#[test]
fn mock_answers_stream_as_valid_responses_sse() {
    let resp = protocol::ir::Response {
        id: "resp_test1".into(),
        model: "m".into(),
        content: vec![protocol::ir::Part::Text(
            "héllo wörld, a mock answer".into(),
        )],
        stop_reason: StopReason::EndTurn,
        usage: Usage {
            input_tokens: 3,
            output_tokens: 6,
            ..Usage::default()
        },
    };
    let r = encode(&protocol::stream::events_of_response(&resp, 4), ctx());
    assert_eq!(
        r.items[0]["content"][0]["text"],
        "héllo wörld, a mock answer"
    );
}

// ---------------------------------------------------------------------------------------------
// A Responses upstream.

fn from_responses(
    fixture: &str,
    client: &mut dyn ClientEncoder,
    c: ResponseContext,
) -> (Vec<StreamEvent>, BytesMut) {
    let bytes = read("responses_stream", fixture);
    let mut d = openai_responses::StreamDecoder::new(c.clone(), 11);
    let whole = run(&bytes, 1 << 20, &mut d, client);
    let mut d = openai_responses::StreamDecoder::new(c, 11);
    let mut sink = anthropic::StreamEncoder::new();
    let small = run(&bytes, 5, &mut d, &mut sink);
    assert_eq!(whole.0, small.0, "chunking changed the events of {fixture}");
    whole
}

fn anthropic_ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_01X".into(),
        model: "claude-sonnet-4-5".into(),
        ..ctx()
    }
}

#[test]
fn responses_upstream_to_anthropic_client() {
    let mut enc = anthropic::StreamEncoder::new();
    let (_, out) = from_responses("reasoning_text_tool", &mut enc, anthropic_ctx());
    let r = rebuild(&out);
    assert!(r.error.is_none());
    let m = r.message;
    assert_eq!(m["id"], "msg_01X");
    let content = m["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], "**Planning**\n\nCheck the date.");
    assert_eq!(content[1], json!({"type": "text", "text": "Let me check."}));
    assert_eq!(
        content[2],
        json!({"type": "tool_use", "id": "call_D1", "name": "exec_command", "input": {"cmd": "date"}})
    );
    assert_eq!(m["stop_reason"], "tool_use");
    // 120 prompt tokens, 64 of them cached.
    assert_eq!(m["usage"]["input_tokens"], 56);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 64);
    assert_eq!(m["usage"]["output_tokens"], 48);
}

#[test]
fn responses_upstream_through_the_internal_model_to_a_responses_client() {
    let mut enc = StreamEncoder::new(ctx());
    let (_, out) = from_responses("reasoning_text_tool", &mut enc, ctx());
    let r = rebuild_responses(&out);
    assert_eq!(item_types(&r), ["reasoning", "message", "function_call"]);
    assert_eq!(r.items[2]["call_id"], "call_D1");
    assert_eq!(
        r.response["usage"]["input_tokens_details"]["cached_tokens"],
        64
    );

    let mut enc = StreamEncoder::new(custom_ctx());
    let (events, out) = from_responses("custom_tool_call", &mut enc, custom_ctx());
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::BlockStart {
            block: BlockStart::ToolCall {
                kind: ToolKind::Custom,
                ..
            },
            ..
        }
    )));
    let r = rebuild_responses(&out);
    assert_eq!(r.items[0]["type"], "custom_tool_call");
    assert_eq!(r.items[0]["input"], PATCH);
    let input_deltas = r
        .event_names
        .iter()
        .filter(|n| *n == "response.custom_tool_call_input.delta")
        .count();
    assert_eq!(input_deltas, 2, "raw input is streamed as it comes");
}

#[test]
fn responses_upstream_without_deltas_and_cut_by_the_limit() {
    let mut enc = anthropic::StreamEncoder::new();
    let (_, out) = from_responses("incomplete_without_deltas", &mut enc, anthropic_ctx());
    let m = rebuild(&out).message;
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "A long answer that was cut"}])
    );
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["usage"]["output_tokens"], 16);
}

#[test]
fn responses_upstream_failure_keeps_its_kind() {
    let mut enc = anthropic::StreamEncoder::new();
    let (events, out) = from_responses("failed_rate_limit", &mut enc, anthropic_ctx());
    let Some(StreamEvent::Error(e)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(e.kind, ErrorKind::RateLimit);
    let err = rebuild(&out).error.expect("an error event");
    assert_eq!(err["type"], "rate_limit_error");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("try again in 1.5s")
    );

    // Into a Responses client, the code survives for Codex's retry timing.
    let mut enc = StreamEncoder::new(ctx());
    let (_, out) = from_responses("failed_rate_limit", &mut enc, ctx());
    let r = rebuild_responses(&out);
    assert_eq!(r.response["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn responses_upstream_cut_short_is_an_error() {
    let bytes = read("responses_stream", "reasoning_text_tool");
    let cut = &bytes[..bytes.len() / 2];
    let mut d = openai_responses::StreamDecoder::new(anthropic_ctx(), 0);
    let mut e = anthropic::StreamEncoder::new();
    let (_, out) = run(cut, 1 << 20, &mut d, &mut e);
    assert!(rebuild(&out).error.is_some());
}
