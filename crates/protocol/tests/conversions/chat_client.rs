//! Chat Completions clients: their requests into the internal model and out to Anthropic, and
//! Anthropic answers back into Chat shapes.

use bytes::BytesMut;
use protocol::anthropic;
use protocol::check::parse_sse;
use protocol::ir::{Dropped, Part, Role};
use protocol::openai_chat;
use protocol::target::{AnthropicTarget, ResponseContext, ToolNames};
use serde_json::{Value, json};

#[test]
fn chat_request_to_anthropic_request() {
    let chat = json!({
        "model": "m", "max_completion_tokens": 500, "temperature": 1.5, "stop": "END", "stream": true,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{\"a\":1}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get", "arguments": "{\"a\":2}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": "two"},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}],
        "tool_choice": "required", "seed": 3
    });
    let req = openai_chat::decode_request(chat.to_string().as_bytes()).unwrap();
    assert_eq!(req.system, vec!["Be brief."]);
    assert_eq!(req.messages.len(), 4);
    assert_eq!(req.messages[2].role, Role::User);
    assert_eq!(
        req.messages[2]
            .content
            .iter()
            .filter(|p| matches!(p, Part::ToolResult(_)))
            .count(),
        2
    );
    assert!(req.dropped.iter().any(|d| d == "seed"));
    let mut dropped = Dropped::default();
    let target = AnthropicTarget {
        model: "claude-x".into(),
        max_output_tokens: Some(400),
        supports_thinking: true,
    };
    let body: Value =
        serde_json::from_slice(&anthropic::encode_request(&req, &target, &mut dropped)).unwrap();
    assert_eq!(body["model"], "claude-x");
    assert_eq!(body["max_tokens"], 400);
    assert_eq!(body["temperature"], 1.0, "clamped to Anthropic's range");
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(body["messages"][1]["content"][0]["input"], json!({"a": 1}));
    assert_eq!(
        body["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "one"}]},
               {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "two"}]}])
    );
    assert_eq!(
        body["messages"][3]["content"],
        json!([{"type": "text", "text": "thanks"}])
    );
}

#[test]
fn foreign_thinking_is_not_replayed_to_anthropic() {
    let body = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "mine", "signature": protocol::anthropic::FOREIGN_SIGNATURE},
            {"type": "thinking", "thinking": "real", "signature": "EqQB"},
            {"type": "text", "text": "a"}]},
        {"role": "user", "content": "q2"}]});
    let req = anthropic::decode_request(body.to_string().as_bytes()).unwrap();
    let mut dropped = Dropped::default();
    let out: Value = serde_json::from_slice(&anthropic::encode_request(
        &req,
        &AnthropicTarget {
            model: "c".into(),
            ..AnthropicTarget::default()
        },
        &mut dropped,
    ))
    .unwrap();
    assert_eq!(
        out["messages"][1]["content"],
        json!([{"type": "thinking", "thinking": "real", "signature": "EqQB"}, {"type": "text", "text": "a"}])
    );
}

#[test]
fn anthropic_stream_to_chat_chunks() {
    let upstream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_u\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1,\"cache_read_input_tokens\":3}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let ctx = ResponseContext {
        id: "chatcmpl-1".into(),
        model: "m".into(),
        created: 1,
        tool_names: ToolNames::default(),
    };
    let mut dec = anthropic::StreamDecoder::new("m");
    let mut enc = openai_chat::StreamEncoder::new(ctx, true);
    let mut events = Vec::new();
    for e in parse_sse(upstream.as_bytes()) {
        dec.on_event(&e, &mut events);
    }
    dec.on_end(&mut events);
    let mut out = BytesMut::new();
    for e in &events {
        enc.encode(e, &mut out);
    }
    let chunks: Vec<String> = parse_sse(&out).into_iter().map(|e| e.data).collect();
    assert_eq!(chunks.last().unwrap(), "[DONE]");
    let parsed: Vec<Value> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    let text: String = parsed
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hi");
    let args: String = parsed
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"a\":1}");
    let finish: Vec<&str> = parsed
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    let usage = &parsed.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 8);
    assert_eq!(usage["completion_tokens"], 9);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 3);
}

/// Bedrock's InvokeModelWithResponseStream adds `amazon-bedrock-invocationMetrics` to
/// `message_stop`: its counts are the invocation's final usage.
#[test]
fn bedrock_invocation_metrics_are_read_into_usage() {
    let upstream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":11,\"outputTokenCount\":7,\"invocationLatency\":420,\"firstByteLatency\":90,\"cacheReadInputTokenCount\":5}}\n\n",
    );
    let mut dec = anthropic::StreamDecoder::new("m");
    let mut events = Vec::new();
    for e in parse_sse(upstream.as_bytes()) {
        dec.on_event(&e, &mut events);
    }
    let usage = events
        .iter()
        .find_map(|e| match e {
            protocol::ir::StreamEvent::Finish { usage, .. } => Some(*usage),
            _ => None,
        })
        .expect("a finish event");
    assert_eq!(usage.output_tokens, 7, "{usage:?}");
    assert_eq!(usage.cache_read_tokens, 5, "{usage:?}");
    assert_eq!(usage.uncached_input(), 11, "{usage:?}");
}
