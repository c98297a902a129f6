//! AWS Bedrock Converse upstreams: what Claude Code and Chat clients send, translated into
//! Converse bodies (checked against the rules Bedrock enforces, protocols.md §7.2 and the fixed
//! bugs of field-2026-11.md §4.2), and Converse answers and streams translated back.

use crate::pipeline::run;
use protocol::bedrock_converse::{self as converse, EMPTY_TOOL_RESULT, STUB_TOOL_NAME};
use protocol::check::rebuild;
use protocol::ir::{CacheBreakpoint, CacheSpot, Request, StreamEvent};
use protocol::target::{ConverseTarget, ResponseContext, ToolNames};
use protocol::{anthropic, openai_chat};
use serde_json::{Value, json};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn claude() -> ConverseTarget {
    ConverseTarget {
        model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".into(),
        max_output_tokens: Some(64_000),
        supports_thinking: true,
    }
}

fn encode(req: &Request, t: &ConverseTarget) -> (Vec<u8>, Value, Vec<String>) {
    let mut dropped = req.dropped.clone();
    let body = converse::encode_request(req, t, &mut dropped);
    let v: Value = serde_json::from_slice(&body).unwrap();
    (body, v, dropped.iter().map(str::to_owned).collect())
}

fn ctx(tools: &[protocol::ir::Tool]) -> ResponseContext {
    ResponseContext {
        id: "msg_bedrock1".into(),
        model: "cc-sonnet".into(),
        created: 1_760_000_000,
        tool_names: ToolNames::from_tools(tools),
    }
}

/// The rules every Converse body must keep: roles alternate starting with the user, no
/// `content: null` or empty content, no blank text, `toolConfig` whenever tool blocks are in the
/// history, a `cachePoint` only after another block.
fn assert_valid_converse(v: &Value) {
    assert!(
        v.get("modelId").is_none() && v.get("model").is_none(),
        "the model id is in the URL"
    );
    let text = v.to_string();
    assert!(!text.contains("null"), "no null anywhere: {text}");
    let messages = v["messages"].as_array().unwrap();
    let mut expected = "user";
    let mut tool_blocks = false;
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m["role"], expected, "messages[{i}]: roles alternate");
        expected = if expected == "user" {
            "assistant"
        } else {
            "user"
        };
        let content = m["content"].as_array().unwrap();
        assert!(!content.is_empty(), "messages[{i}].content is empty");
        for (j, b) in content.iter().enumerate() {
            let b = b.as_object().unwrap();
            assert_eq!(b.len(), 1, "messages[{i}].content[{j}] is a union");
            if let Some(t) = b.get("text") {
                assert!(!t.as_str().unwrap().trim().is_empty(), "blank text");
            }
            if b.contains_key("cachePoint") {
                assert!(j > 0 && content[j - 1].get("cachePoint").is_none());
            }
            tool_blocks |= b.contains_key("toolUse") || b.contains_key("toolResult");
        }
    }
    if tool_blocks {
        assert!(
            v["toolConfig"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
        );
    }
}

#[test]
fn claude_code_request_to_converse() {
    let req = anthropic::decode_request(&fixture("claude_code_request.json")).unwrap();
    assert_eq!(
        req.cache_breakpoints,
        [
            CacheBreakpoint {
                at: CacheSpot::System(1),
                ttl: None
            },
            CacheBreakpoint {
                at: CacheSpot::Part {
                    message: 0,
                    part: 1
                },
                ttl: None
            },
            CacheBreakpoint {
                at: CacheSpot::Tool(0),
                ttl: None
            },
        ]
    );
    let (_, v, dropped) = encode(&req, &claude());
    assert_valid_converse(&v);
    assert_eq!(
        v["system"],
        json!([
            {"text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli"},
            {"text": "You are Claude Code."},
            {"cachePoint": {"type": "default"}},
        ])
    );
    let m = v["messages"].as_array().unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(
        m[0]["content"],
        json!([
            {"text": "<system-reminder>ctx</system-reminder>"},
            {"text": "What is in the repo?"},
            {"cachePoint": {"type": "default"}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
        ]),
        "the URL image is not sent"
    );
    assert_eq!(
        m[1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "Let me list files.", "signature": "EqQBCkYIBRgCKkD"}}},
            {"text": "I'll look."},
            {"toolUse": {"toolUseId": "toolu_01A", "name": "Bash", "input": {"command": "ls", "description": "List files"}}},
            {"toolUse": {"toolUseId": "toolu_01B", "name": "Read", "input": {"file_path": "/r/README.md"}}},
        ])
    );
    assert_eq!(
        m[2]["content"],
        json!([
            {"toolResult": {"toolUseId": "toolu_01A", "content": [{"text": "README.md"}, {"text": "src"}], "status": "success"}},
            {"toolResult": {"toolUseId": "toolu_01B", "content": [{"text": "File does not exist."}], "status": "error"}},
            {"text": "<system-reminder>todo list empty</system-reminder>"},
            {"text": "<system-reminder>\nMid-conversation system note.\n</system-reminder>"},
        ])
    );
    assert_eq!(
        m[3]["content"],
        json!([{"toolUse": {"toolUseId": "toolu_01C", "name": "Screenshot", "input": {}}}])
    );
    assert_eq!(
        m[4]["content"],
        json!([{"toolResult": {"toolUseId": "toolu_01C", "status": "success", "content": [
            {"text": "captured"},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
        ]}}])
    );
    let tools = v["toolConfig"]["tools"].as_array().unwrap();
    assert_eq!(
        tools.len(),
        4,
        "three tools and the cache point; no web_search"
    );
    assert_eq!(tools[0]["toolSpec"]["name"], "Bash");
    assert_eq!(
        tools[0]["toolSpec"]["inputSchema"]["json"]["required"],
        json!(["command"])
    );
    assert_eq!(tools[1], json!({"cachePoint": {"type": "default"}}));
    assert_eq!(tools[3]["toolSpec"]["name"], "Screenshot");
    assert!(tools[3]["toolSpec"].get("description").is_none());
    assert_eq!(v["toolConfig"]["toolChoice"], json!({"auto": {}}));
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 32000, "stopSequences": ["</done>"]})
    );
    assert_eq!(
        v["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 16384}})
    );
    assert_eq!(
        v["additionalModelResponseFieldPaths"],
        json!(["/stop_sequence"])
    );
    for f in [
        "metadata",
        "context_management",
        "tools.web_search_20250305",
        "image_url",
        "top_k",
        "top_p",
        "parallel_tool_calls",
    ] {
        assert!(
            dropped.contains(&f.to_owned()),
            "{f} reported in {dropped:?}"
        );
    }
    assert!(
        !dropped.contains(&"cache_control".to_owned()),
        "every breakpoint became a cachePoint: {dropped:?}"
    );
    assert!(
        !dropped.contains(&"temperature".to_owned()),
        "temperature 1 is thinking's own"
    );
}

#[test]
fn a_model_without_thinking_gets_plain_inference_config() {
    let req = anthropic::decode_request(&fixture("claude_code_request.json")).unwrap();
    let t = ConverseTarget {
        model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc".into(),
        max_output_tokens: Some(8192),
        supports_thinking: false,
    };
    let (_, v, dropped) = encode(&req, &t);
    assert_valid_converse(&v);
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 8192, "temperature": 1.0, "topP": 0.9, "stopSequences": ["</done>"]})
    );
    assert!(v.get("additionalModelRequestFields").is_none());
    assert!(dropped.contains(&"thinking".to_owned()));
    assert!(dropped.contains(&"top_k".to_owned()));
}

#[test]
fn chat_request_with_a_tool_result_and_an_image() {
    let req = openai_chat::decode_request(&fixture("chat_request.json")).unwrap();
    let t = ConverseTarget {
        model: "amazon.nova-pro-v1:0".into(),
        ..ConverseTarget::default()
    };
    let (_, v, dropped) = encode(&req, &t);
    assert_valid_converse(&v);
    assert_eq!(v["system"], json!([{"text": "Be brief."}]));
    let m = v["messages"].as_array().unwrap();
    assert_eq!(
        m[0]["content"],
        json!([
            {"text": "Weather in Paris?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
        ])
    );
    assert_eq!(
        m[1]["content"],
        json!([{"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}]),
        "the unsigned reasoning_content is not replayed"
    );
    assert_eq!(
        m[2]["content"][0],
        json!({"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C, cloudy"}], "status": "success"}})
    );
    assert_eq!(m[2]["content"][1], json!({"text": "And tomorrow?"}));
    assert_eq!(v["inferenceConfig"]["maxTokens"], 300);
    assert!(dropped.contains(&"reasoning".to_owned()), "{dropped:?}");
}

#[test]
fn a_history_of_tool_calls_without_tools_gets_a_stub_tool_config() {
    let body = json!({
        "model": "m", "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "Summarise the session."},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": ""}]},
            {"role": "assistant", "content": [{"type": "text", "text": ""}]},
            {"role": "user", "content": "Now summarise."}
        ]
    });
    let req = anthropic::decode_request(body.to_string().as_bytes()).unwrap();
    let (_, v, _) = encode(&req, &claude());
    assert_valid_converse(&v);
    assert_eq!(
        v["toolConfig"]["tools"][0]["toolSpec"]["name"],
        STUB_TOOL_NAME
    );
    let m = v["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "the empty assistant turn is omitted");
    assert_eq!(
        m[2]["content"],
        json!([
            {"toolResult": {"toolUseId": "toolu_1", "content": [{"text": EMPTY_TOOL_RESULT}], "status": "success"}},
            {"text": "Now summarise."},
        ])
    );
}

#[test]
fn a_signature_survives_byte_for_byte() {
    let sig = "EqQB\u{2b}/x==\\u0041/é";
    let body = json!({
        "model": "m", "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": sig}, {"type": "text", "text": "a"}]},
            {"role": "user", "content": "again"}
        ]
    });
    let req = anthropic::decode_request(body.to_string().as_bytes()).unwrap();
    let (_, v, _) = encode(&req, &claude());
    assert_eq!(
        v["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]["signature"],
        sig
    );

    // And back: from a Converse answer to an Anthropic client.
    let answer = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "t", "signature": sig}}},
            {"text": "a"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
    });
    let r = converse::decode_response(answer.to_string().as_bytes(), &ctx(&[])).unwrap();
    let out: Value = serde_json::from_slice(&anthropic::encode_response(&r)).unwrap();
    assert_eq!(out["content"][0]["signature"], sig);
}

#[test]
fn each_stop_reason_reaches_an_anthropic_client() {
    for (reason, anthropic_reason) in [
        ("end_turn", "end_turn"),
        ("tool_use", "tool_use"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        (
            "model_context_window_exceeded",
            "model_context_window_exceeded",
        ),
        ("guardrail_intervened", "refusal"),
        ("content_filtered", "refusal"),
    ] {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
            "stopReason": reason,
            "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6},
            "additionalModelResponseFields": {"stop_sequence": "</done>"}
        });
        let r = converse::decode_response(answer.to_string().as_bytes(), &ctx(&[])).unwrap();
        let out: Value = serde_json::from_slice(&anthropic::encode_response(&r)).unwrap();
        assert_eq!(out["stop_reason"], anthropic_reason, "{reason}");
        if reason == "stop_sequence" {
            assert_eq!(out["stop_sequence"], "</done>");
        }
    }
    for reason in ["malformed_model_output", "malformed_tool_use"] {
        let answer = json!({"output": {"message": {"role": "assistant", "content": []}},
            "stopReason": reason, "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6}});
        let e = converse::decode_response(answer.to_string().as_bytes(), &ctx(&[])).unwrap_err();
        let body: Value = serde_json::from_slice(&anthropic::encode_error(&e)).unwrap();
        assert_eq!(body["error"]["type"], "api_error", "{reason}");
    }
}

/// A recorded ConverseStream into Anthropic SSE, the same for whole and 7-byte reads.
fn to_anthropic(name: &str) -> (Vec<StreamEvent>, bytes::BytesMut) {
    let bytes = fixture(&format!("converse_stream/{name}.sse"));
    let tools = [protocol::ir::Tool {
        name: "Bash".into(),
        description: None,
        parameters: None,
        kind: protocol::ir::ToolKind::Function,
        format: None,
        strict: None,
    }];
    let mut outs = Vec::new();
    for chunk in [1 << 20, 7] {
        let mut d = converse::StreamDecoder::new(ctx(&tools), 900);
        let mut e = anthropic::StreamEncoder::new();
        outs.push(run(&bytes, chunk, &mut d, &mut e));
    }
    assert_eq!(outs[0], outs[1], "chunking changed the stream");
    outs.swap_remove(0)
}

#[test]
fn a_stream_with_reasoning_text_and_a_tool_call_reaches_claude_code() {
    let (_, out) = to_anthropic("reasoning_text_tool");
    let r = rebuild(&out);
    assert!(r.error.is_none());
    let m = &r.message;
    assert_eq!(m["id"], "msg_bedrock1");
    assert_eq!(m["model"], "cc-sonnet");
    assert_eq!(
        m["content"],
        json!([
            {"type": "thinking", "thinking": "The user wants the files listed.", "signature": "EqQBCkYIBRgCKkD+sig/x+=="},
            {"type": "text", "text": "I'll list them."},
            {"type": "tool_use", "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "Bash",
             "input": {"command": "ls -la", "description": "List files"}},
        ])
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 1520, "output_tokens": 96,
            "cache_creation_input_tokens": 1024, "cache_read_input_tokens": 12288})
    );
    assert!(
        !String::from_utf8_lossy(&out).contains("\"text_delta\",\"text\":\"\""),
        "the empty reasoning delta is not sent as text"
    );
}

#[test]
fn an_exception_mid_stream_ends_it_with_an_anthropic_error() {
    let (events, out) = to_anthropic("exception_mid_stream");
    let r = rebuild(&out);
    assert_eq!(r.message["content"][0]["text"], "Here is the");
    let e = r.error.unwrap();
    assert_eq!(e["type"], "overloaded_error");
    assert_eq!(e["message"], "Model stream was interrupted, please retry.");
    assert!(matches!(events.last(), Some(StreamEvent::Error(_))));
}

#[test]
fn a_stream_cut_before_message_stop_is_an_error() {
    let (_, out) = to_anthropic("cut_before_message_stop");
    let r = rebuild(&out);
    assert_eq!(r.message["content"][0]["text"], "Partial answer");
    let e = r.error.unwrap();
    assert_eq!(e["type"], "api_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("before messageStop")
    );
}

#[test]
fn converse_bodies_round_trip_through_decode_and_encode() {
    let t = claude();
    // From Claude Code's request: encode, decode, encode again gives the same bytes.
    let req = anthropic::decode_request(&fixture("claude_code_request.json")).unwrap();
    let (first, _, _) = encode(&req, &t);
    let back = converse::decode_request(&first).unwrap();
    let (second, _, _) = encode(&back, &t);
    assert_eq!(
        String::from_utf8(second).unwrap(),
        String::from_utf8(first).unwrap()
    );

    // A Converse body of its own: what decodes encodes to itself from the first pass on.
    let req = converse::decode_request(&fixture("converse_request.json")).unwrap();
    assert!(req.model.is_empty());
    let (first, v, _) = encode(&req, &t);
    assert_valid_converse(&v);
    assert_eq!(
        v["messages"][2]["content"][0]["toolResult"]["content"][1],
        json!({"text": "{\"lines\": 1, \"\": \"empty key\"}"}),
        "JSON tool output (with an empty key) is sent as text"
    );
    assert_eq!(
        v["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]["signature"],
        "EqQBCkYIBRgCKkD+sig/x+=="
    );
    let (second, _, _) = encode(&converse::decode_request(&first).unwrap(), &t);
    assert_eq!(second, first);

    // And a Chat client's request.
    let req = openai_chat::decode_request(&fixture("chat_request.json")).unwrap();
    let (first, _, _) = encode(&req, &t);
    let (second, _, _) = encode(&converse::decode_request(&first).unwrap(), &t);
    assert_eq!(second, first);
}

#[test]
fn converse_streams_round_trip_through_the_encoder() {
    let (events, _) = to_anthropic("reasoning_text_tool");
    let mut enc = converse::StreamEncoder::new(ctx(&[]));
    let mut bytes = bytes::BytesMut::new();
    for e in &events {
        enc.encode(e, &mut bytes);
    }
    let mut d = converse::StreamDecoder::new(ctx(&[]), 900);
    let mut again = Vec::new();
    for e in protocol::check::parse_sse(&bytes) {
        d.on_event(&e, &mut again);
    }
    d.on_end(&mut again);
    assert_eq!(again, events);
}
