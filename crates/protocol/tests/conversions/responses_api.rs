//! Non-streamed Responses answers: other protocols' responses into a Responses `response` object,
//! a Responses upstream's object into other protocols, custom tools and reasoning round trips.

use protocol::ir::{ApiError, ErrorKind, Part, ToolKind};
use protocol::target::{ResponseContext, ToolNames};
use protocol::{anthropic, openai_chat, openai_responses};
use serde_json::{Value, json};

const PATCH: &str = "*** Begin Patch\n*** Delete File: old.txt\n*** End Patch\n";

/// A Codex request with a custom `apply_patch` tool, and the context its answer is built with.
fn codex_request() -> (protocol::ir::Request, ResponseContext) {
    let body = json!({
        "model": "gpt-5.1-codex", "input": "delete old.txt",
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}},
            {"type": "custom", "name": "apply_patch", "description": "Edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
        ],
    })
    .to_string();
    let req = openai_responses::decode_request(body.as_bytes()).unwrap();
    let ctx = ResponseContext {
        id: "resp_abc".into(),
        model: "gpt-5.1-codex".into(),
        created: 77,
        tool_names: ToolNames::from_tools(&req.tools),
    };
    (req, ctx)
}

#[test]
fn chat_answer_with_a_custom_tool_call_round_trips_to_the_responses_client() {
    let (req, ctx) = codex_request();
    // Offered upstream as a function with one string parameter.
    let mut dropped = req.dropped.clone();
    let chat_req: Value = serde_json::from_slice(&openai_chat::encode_request(
        &req,
        &protocol::target::ChatTarget::default(),
        &mut dropped,
    ))
    .unwrap();
    let f = &chat_req["tools"][1]["function"];
    assert_eq!(f["name"], "apply_patch");
    assert_eq!(f["parameters"]["properties"]["input"]["type"], "string");
    assert!(f["description"].as_str().unwrap().contains("start: /.+/"));

    let chat_answer = json!({"choices": [{"message": {"role": "assistant", "content": "Deleting.",
        "reasoning_content": "Simple.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "apply_patch",
                "arguments": json!({"input": PATCH}).to_string()}},
            {"id": "call_2", "type": "function", "function": {"name": "exec_command",
                "arguments": "{\"cmd\":\"ls\"}"}}]},
        "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 5}}});
    let r = openai_chat::decode_response(chat_answer.to_string().as_bytes(), &ctx).unwrap();
    let body: Value = serde_json::from_slice(&openai_responses::encode_response(&r, &ctx)).unwrap();
    assert_eq!(body["id"], "resp_abc");
    assert_eq!(body["object"], "response");
    assert_eq!(body["created_at"], 77);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["incomplete_details"], Value::Null);
    let output = body["output"].as_array().unwrap();
    assert_eq!(
        output[0],
        json!({"id": "rs_abc_0", "type": "reasoning",
               "summary": [{"type": "summary_text", "text": "Simple."}]})
    );
    assert_eq!(
        output[1],
        json!({"id": "msg_abc_1", "type": "message", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": "Deleting.", "annotations": []}]})
    );
    assert_eq!(
        output[2],
        json!({"id": "ctc_abc_2", "type": "custom_tool_call", "status": "completed",
               "call_id": "call_1", "name": "apply_patch", "input": PATCH})
    );
    assert_eq!(output[3]["type"], "function_call");
    assert_eq!(output[3]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 5}, "output_tokens": 10,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 30})
    );
}

#[test]
fn anthropic_answer_keeps_its_signature_through_codex_history() {
    let (_, ctx) = codex_request();
    let answer = json!({"id": "msg_1", "type": "message", "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Delete it.", "signature": "EqQBsig=="},
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": PATCH}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}});
    let r = anthropic::decode_response(answer.to_string().as_bytes(), "gpt-5.1-codex").unwrap();
    let body: Value = serde_json::from_slice(&openai_responses::encode_response(&r, &ctx)).unwrap();
    let out = body["output"].as_array().unwrap();
    assert_eq!(out[1]["type"], "custom_tool_call");
    assert_eq!(out[1]["input"], PATCH);
    let encrypted = out[0]["encrypted_content"].as_str().unwrap();
    assert_ne!(encrypted, "EqQBsig==", "marked as Anthropic's");

    // Codex replays the items; an Anthropic upstream gets its signed thinking back.
    let mut history = vec![json!({"role": "user", "content": "delete old.txt"})];
    history.extend(out.iter().cloned());
    history
        .push(json!({"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done"}));
    let next = json!({"model": "m", "input": history}).to_string();
    let req = openai_responses::decode_request(next.as_bytes()).unwrap();
    let mut dropped = req.dropped.clone();
    let target = protocol::target::AnthropicTarget {
        model: "claude".into(),
        supports_thinking: true,
        ..Default::default()
    };
    let body: Value =
        serde_json::from_slice(&anthropic::encode_request(&req, &target, &mut dropped)).unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "Delete it.", "signature": "EqQBsig=="},
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": PATCH}},
        ])
    );
    assert!(dropped.is_empty(), "{dropped:?}");
}

#[test]
fn truncated_answers_are_incomplete() {
    let (_, ctx) = codex_request();
    let chat = json!({"choices": [{"message": {"content": "part"}, "finish_reason": "length"}]});
    let r = openai_chat::decode_response(chat.to_string().as_bytes(), &ctx).unwrap();
    let body: Value = serde_json::from_slice(&openai_responses::encode_response(&r, &ctx)).unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(
        body["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
}

fn upstream_ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_9".into(),
        model: "claude-sonnet-4-5".into(),
        created: 1,
        tool_names: ToolNames::default(),
    }
}

#[test]
fn responses_upstream_object_to_anthropic_and_chat() {
    let upstream = json!({
        "id": "resp_up", "object": "response", "status": "completed", "model": "gpt-5.1",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "a"},
                {"type": "summary_text", "text": "b"}], "encrypted_content": "gAAA"},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
            {"id": "ws_1", "type": "web_search_call", "status": "completed"},
            {"id": "fc_1", "type": "function_call", "call_id": "call_9", "name": "Read",
             "arguments": "{\"file_path\":\"x\"}", "status": "completed"}],
        "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 2}, "output_tokens": 5,
                  "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 14}});
    let r = openai_responses::decode_response(upstream.to_string().as_bytes(), &upstream_ctx())
        .unwrap();
    let Part::Reasoning(rp) = &r.content[0] else {
        panic!()
    };
    assert_eq!(rp.text, "a\n\nb");
    assert_eq!(rp.encrypted.as_deref(), Some("gAAA"));
    assert!(
        matches!(&r.content[2], Part::ToolCall(c) if c.kind == ToolKind::Function && c.id == "call_9")
    );
    assert_eq!(r.usage.reasoning_tokens, 3);
    let m: Value = serde_json::from_slice(&anthropic::encode_response(&r)).unwrap();
    assert_eq!(m["id"], "msg_9");
    assert_eq!(m["content"][1], json!({"type": "text", "text": "Hi"}));
    assert_eq!(m["content"][2]["input"], json!({"file_path": "x"}));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["input_tokens"], 7);
    let c: Value =
        serde_json::from_slice(&openai_chat::encode_response(&r, &upstream_ctx())).unwrap();
    assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");

    let failed = json!({"id": "resp_x", "status": "failed",
        "error": {"code": "context_length_exceeded", "message": "Your input exceeds the context window"}});
    let e = openai_responses::decode_response(failed.to_string().as_bytes(), &upstream_ctx())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ContextLengthExceeded);
}

#[test]
fn error_bodies_use_the_openai_shape() {
    let e = ApiError::new(ErrorKind::RateLimit, "slow down");
    let b: Value = serde_json::from_slice(&openai_responses::encode_error(&e)).unwrap();
    assert_eq!(
        b,
        json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null,
                         "code": "rate_limit_exceeded"}})
    );
    assert_eq!(
        openai_responses::decode_error_message(&serde_json::to_vec(&b).unwrap()).as_deref(),
        Some("slow down")
    );
}
