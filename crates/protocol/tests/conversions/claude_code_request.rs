//! What Claude Code sends, translated for Chat Completions upstreams with different quirks.

use protocol::anthropic;
use protocol::ir::Dropped;
use protocol::openai_chat;
use protocol::target::{ChatTarget, MaxTokensField, ReasoningControl, SchemaDialect, ToolIdFormat};
use serde_json::{Value, json};

fn fixture() -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/claude_code_request.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn to_chat(target: &ChatTarget) -> (Value, Dropped) {
    let req = anthropic::decode_request(&fixture()).unwrap();
    let mut dropped = req.dropped.clone();
    let body = openai_chat::encode_request(&req, target, &mut dropped);
    (serde_json::from_slice(&body).unwrap(), dropped)
}

fn openai_like() -> ChatTarget {
    ChatTarget {
        model: "gpt-x".into(),
        stream_usage: true,
        reasoning: ReasoningControl::Effort,
        drop: vec!["top_k".into()],
        ..ChatTarget::default()
    }
}

#[test]
fn messages_are_mapped_in_order_with_tool_results_first() {
    let (body, _) = to_chat(&openai_like());
    let msgs = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "tool",
            "user",
            "assistant",
            "tool",
            "user"
        ]
    );
    assert_eq!(
        msgs[0]["content"],
        "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli\n\nYou are Claude Code."
    );
    assert_eq!(
        msgs[1]["content"],
        json!([
            {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
            {"type": "text", "text": "What is in the repo?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ])
    );
    assert_eq!(msgs[2]["content"], "I'll look.");
    assert_eq!(msgs[2]["tool_calls"][0]["id"], "toolu_01A");
    assert_eq!(msgs[2]["tool_calls"][0]["type"], "function");
    assert_eq!(msgs[2]["tool_calls"][0]["function"]["name"], "Bash");
    let args: Value = serde_json::from_str(
        msgs[2]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"command": "ls", "description": "List files"}));
    assert!(
        msgs[2].get("reasoning_content").is_none(),
        "thinking is not sent to a non-DeepSeek target"
    );
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "content": "README.md\nsrc", "tool_call_id": "toolu_01A"})
    );
    assert_eq!(msgs[4]["content"], "Error: File does not exist.");
    assert_eq!(
        msgs[5]["content"],
        "<system-reminder>todo list empty</system-reminder>"
    );
    // A tool-only assistant turn has content null, not "".
    assert_eq!(msgs[6]["content"], Value::Null);
    assert_eq!(msgs[7]["content"], "captured");
    // The tool result's image follows as a user message: tool messages carry text only. The
    // system message that came before this turn rides along as a reminder, after the tool result.
    assert_eq!(
        msgs[8]["content"][1]["image_url"]["url"],
        "data:image/jpeg;base64,/9j/4AAQ"
    );
    assert_eq!(
        msgs[8]["content"][2]["text"],
        "<system-reminder>\nMid-conversation system note.\n</system-reminder>"
    );
}

#[test]
fn parameters_tools_and_dropped_fields() {
    let (body, dropped) = to_chat(&openai_like());
    assert_eq!(body["model"], "gpt-x");
    assert_eq!(body["max_tokens"], 32000);
    assert_eq!(body["temperature"], 1.0);
    assert_eq!(body["top_p"], 0.9);
    assert!(body.get("top_k").is_none());
    assert_eq!(body["stop"], json!(["</done>"]));
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["reasoning_effort"], "high");
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["parallel_tool_calls"], false);
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3, "the web_search server tool is not offered");
    assert_eq!(tools[0]["type"], "function");
    assert_eq!(tools[0]["function"]["name"], "Bash");
    assert_eq!(
        tools[0]["function"]["parameters"]["required"],
        json!(["command"])
    );
    for k in [
        "metadata",
        "context_management",
        "thinking",
        "output_config",
        "system",
    ] {
        assert!(body.get(k).is_none(), "{k} must not reach a Chat upstream");
    }
    let d: Vec<&str> = dropped.iter().collect();
    for f in [
        "cache_control",
        "metadata",
        "context_management",
        "tools.web_search_20250305",
        "top_k",
    ] {
        assert!(d.contains(&f), "{f} reported as dropped in {d:?}");
    }
}

#[test]
fn cerebras_like_target_caps_and_renames_max_tokens() {
    let t = ChatTarget {
        model: "gpt-oss-120b".into(),
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        max_output_tokens: Some(8192),
        drop: vec!["top_k".into(), "parallel_tool_calls".into()],
        ..openai_like()
    };
    let (body, dropped) = to_chat(&t);
    assert!(body.get("max_tokens").is_none());
    assert_eq!(body["max_completion_tokens"], 8192);
    assert!(body.get("parallel_tool_calls").is_none());
    assert!(dropped.iter().any(|d| d == "parallel_tool_calls"));
}

#[test]
fn target_without_reasoning_control_drops_thinking() {
    let t = ChatTarget {
        reasoning: ReasoningControl::None,
        ..openai_like()
    };
    let (body, dropped) = to_chat(&t);
    assert!(body.get("reasoning_effort").is_none());
    assert!(dropped.iter().any(|d| d == "thinking"));
}

#[test]
fn mistral_gets_nine_character_ids_consistently() {
    let t = ChatTarget {
        tool_ids: ToolIdFormat::Alnum9,
        ..openai_like()
    };
    let (body, _) = to_chat(&t);
    let msgs = body["messages"].as_array().unwrap();
    let call_id = msgs[2]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(call_id.len(), 9);
    assert!(call_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        msgs[3]["tool_call_id"], call_id,
        "tool result refers to the same mapped id"
    );
}

#[test]
fn deepseek_gets_reasoning_content_back() {
    let t = ChatTarget {
        echo_reasoning_content: true,
        ..openai_like()
    };
    let (body, _) = to_chat(&t);
    assert_eq!(
        body["messages"][2]["reasoning_content"],
        "Let me list files."
    );
}

#[test]
fn gemini_and_groq_schemas_are_cleaned() {
    let (body, _) = to_chat(&ChatTarget {
        schema: SchemaDialect::Gemini,
        ..openai_like()
    });
    let p = &body["tools"][0]["function"]["parameters"];
    assert!(p.get("$schema").is_none() && p.get("additionalProperties").is_none());
    let (body, _) = to_chat(&ChatTarget {
        schema: SchemaDialect::NoSchemaKeyword,
        ..openai_like()
    });
    let p = &body["tools"][0]["function"]["parameters"];
    assert!(p.get("$schema").is_none());
    assert_eq!(p["additionalProperties"], false);
}

#[test]
fn developer_role_for_reasoning_models() {
    let (body, _) = to_chat(&ChatTarget {
        developer_role: true,
        ..openai_like()
    });
    assert_eq!(body["messages"][0]["role"], "developer");
}

#[test]
fn invalid_bodies_are_invalid_request_errors() {
    for bad in [&b"{"[..], b"[]", b"{\"messages\": []}", b"{\"model\": 3}"] {
        let e = anthropic::decode_request(bad).unwrap_err();
        assert_eq!(e.status, 400, "{}", String::from_utf8_lossy(bad));
        assert!(e.message.starts_with("invalid Messages request body"));
    }
}

/// Regression: Claude Code 2.1.197 appends a `system` message after the user's turn; a Chat
/// request ending in a system message fails on strict templates.
#[test]
fn trailing_system_message_is_folded_into_the_last_user_turn() {
    let body = json!({"model": "m", "max_tokens": 10, "system": "top", "messages": [
        {"role": "system", "content": "leading"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Available agent types"}]});
    let req = anthropic::decode_request(body.to_string().as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&openai_chat::encode_request(
        &req,
        &openai_like(),
        &mut Dropped::default(),
    ))
    .unwrap();
    assert_eq!(
        out["messages"],
        json!([{"role": "system", "content": "top\n\nleading"},
               {"role": "user", "content": "hi\n\n<system-reminder>\nAvailable agent types\n</system-reminder>"}])
    );
}
