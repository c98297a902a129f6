//! Non-streamed answers: Chat Completions responses into Anthropic messages, and errors.

use protocol::anthropic;
use protocol::ir::{ApiError, ErrorKind};
use protocol::openai_chat;
use protocol::target::{ResponseContext, ToolNames};
use serde_json::{Value, json};

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_1".into(),
        model: "claude-haiku".into(),
        created: 5,
        tool_names: ToolNames::default(),
    }
}

fn to_anthropic(chat: Value) -> Value {
    let r = openai_chat::decode_response(chat.to_string().as_bytes(), &ctx()).unwrap();
    serde_json::from_slice(&anthropic::encode_response(&r)).unwrap()
}

#[test]
fn text_response() {
    let m = to_anthropic(json!({
        "id": "chatcmpl-9", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                  "prompt_tokens_details": {"cached_tokens": 4}}
    }));
    assert_eq!(
        m,
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku",
               "content": [{"type": "text", "text": "Hi!"}], "stop_reason": "end_turn", "stop_sequence": null,
               "usage": {"input_tokens": 6, "output_tokens": 2, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 4}})
    );
}

#[test]
fn reasoning_text_and_tool_calls_in_order() {
    let m = to_anthropic(json!({
        "choices": [{"message": {"role": "assistant", "content": "Checking.", "reasoning_content": "hmm",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                           {"id": 7, "type": "function", "function": {"name": "Read", "arguments": {"file_path": "x"}}}]},
            "finish_reason": "tool_calls"}]
    }));
    let c = m["content"].as_array().unwrap();
    assert_eq!(c[0]["type"], "thinking");
    assert_eq!(c[1], json!({"type": "text", "text": "Checking."}));
    assert_eq!(
        c[2],
        json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}})
    );
    assert_eq!(
        c[3],
        json!({"type": "tool_use", "id": "7", "name": "Read", "input": {"file_path": "x"}})
    );
    assert_eq!(m["stop_reason"], "tool_use");
}

#[test]
fn finish_reasons() {
    for (finish, stop) in [
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("weird", "end_turn"),
    ] {
        let m = to_anthropic(
            json!({"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}),
        );
        assert_eq!(m["stop_reason"], stop);
    }
}

#[test]
fn invalid_tool_arguments_are_kept_not_lost() {
    let m = to_anthropic(json!({"choices": [{"message": {"tool_calls": [
        {"id": "c", "function": {"name": "Bash", "arguments": "{\"command\": \"ls"}}]}, "finish_reason": "tool_calls"}]}));
    assert_eq!(
        m["content"][0]["input"],
        json!({"_raw_arguments": "{\"command\": \"ls"})
    );
}

#[test]
fn error_bodies_in_each_protocol() {
    let e = ApiError::new(ErrorKind::NotFound, "model 'x' not found");
    let a: Value = serde_json::from_slice(&anthropic::encode_error(&e)).unwrap();
    assert_eq!(
        a,
        json!({"type": "error", "error": {"type": "not_found_error", "message": "model 'x' not found"}})
    );
    let o: Value = serde_json::from_slice(&openai_chat::encode_error(&e)).unwrap();
    assert_eq!(o["error"]["message"], "model 'x' not found");
    assert_eq!(o["error"]["code"], "model_not_found");
    assert_eq!(
        openai_chat::decode_error_message(
            br#"{"error":{"message":"bad key","type":"invalid_request_error"}}"#
        )
        .as_deref(),
        Some("bad key")
    );
    assert_eq!(
        anthropic::decode_error_message(
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#
        )
        .as_deref(),
        Some("rate_limit_error: slow")
    );
}
