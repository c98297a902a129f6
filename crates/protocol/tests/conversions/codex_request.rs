//! What Codex sends to `/v1/responses`, decoded and translated for Chat Completions and Anthropic
//! upstreams; other Responses request shapes; requests for a Responses upstream.

use protocol::anthropic;
use protocol::ir::{Dropped, ErrorKind, Part, Reasoning, Role, ToolChoice, ToolKind};
use protocol::openai_chat;
use protocol::openai_responses;
use protocol::target::{AnthropicTarget, ChatTarget, ReasoningControl, ResponsesTarget};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn codex() -> Vec<u8> {
    fixture("codex_request.json")
}

const PATCH: &str = "*** Begin Patch\n*** Update File: src/lib.rs\n@@\n-pub fn add(a: i32, b: i32) -> i32 { a - b }\n+pub fn add(a: i32, b: i32) -> i32 { a + b }\n*** End Patch\n";

fn chat_target() -> ChatTarget {
    ChatTarget {
        model: "qwen-3-coder".into(),
        stream_usage: true,
        reasoning: ReasoningControl::Effort,
        ..ChatTarget::default()
    }
}

fn to_chat() -> (Value, Dropped) {
    let req = openai_responses::decode_request(&codex()).unwrap();
    let mut dropped = req.dropped.clone();
    let body = openai_chat::encode_request(&req, &chat_target(), &mut dropped);
    (serde_json::from_slice(&body).unwrap(), dropped)
}

#[test]
fn codex_request_decodes_into_turns() {
    let req = openai_responses::decode_request(&codex()).unwrap();
    assert_eq!(req.model, "gpt-5.1-codex");
    assert!(req.stream);
    assert_eq!(req.parallel_tool_calls, Some(true));
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    // `reasoning: {summary:"auto"}` names no effort: the model's default, no preference.
    assert_eq!(req.reasoning, None);
    assert_eq!(
        req.system.len(),
        2,
        "instructions and the leading developer message"
    );
    assert!(req.system[0].starts_with("You are Codex"));
    assert!(req.system[1].contains("<permissions instructions>"));
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    use Role::{Assistant as A, User as U};
    assert_eq!(roles, [U, U, A, U, A, U, A, U]);

    // Reasoning, the text before the calls and both calls: one assistant message.
    let turn = &req.messages[2].content;
    assert_eq!(turn.len(), 4);
    let Part::Reasoning(r) = &turn[0] else {
        panic!("reasoning first: {turn:?}")
    };
    assert_eq!(r.encrypted.as_deref(), Some("gAAAAABpREASONING-ONE"));
    assert!(r.text.contains("Inspecting the tests"));
    assert!(matches!(&turn[1], Part::Text(t) if t.starts_with("I'll run")));
    let ids: Vec<&str> = turn[2..]
        .iter()
        .map(|p| match p {
            Part::ToolCall(c) => c.id.as_str(),
            other => panic!("expected a call, got {other:?}"),
        })
        .collect();
    assert_eq!(ids, ["call_RUN1", "call_CAT2"]);

    // Both outputs in one user message, in order; the array output is text.
    let results = &req.messages[3].content;
    assert_eq!(results.len(), 2);
    let Part::ToolResult(second) = &results[1] else {
        panic!()
    };
    assert_eq!(second.call_id, "call_CAT2");
    assert_eq!(second.text(), "pub fn add(a: i32, b: i32) -> i32 { a - b }");

    let Part::ToolCall(patch) = &req.messages[4].content[1] else {
        panic!("{:?}", req.messages[4])
    };
    assert_eq!(patch.kind, ToolKind::Custom);
    assert_eq!(patch.arguments, PATCH, "custom input is the raw string");
    let Part::ToolResult(out) = &req.messages[5].content[0] else {
        panic!()
    };
    assert_eq!(out.kind, ToolKind::Custom);

    let names: Vec<(&str, ToolKind)> = req
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("exec_command", ToolKind::Function),
            ("write_stdin", ToolKind::Function),
            ("apply_patch", ToolKind::Custom)
        ]
    );
    let dropped: Vec<&str> = req.dropped.iter().collect();
    assert!(dropped.contains(&"tools.namespace"), "{dropped:?}");
    assert!(dropped.contains(&"tools.web_search"), "{dropped:?}");
    // store:false, include, prompt_cache_key and client_metadata change nothing: not reported.
    for silent in ["store", "include", "prompt_cache_key", "client_metadata"] {
        assert!(!dropped.contains(&silent), "{silent} reported");
    }
}

#[test]
fn codex_request_to_chat() {
    let (body, dropped) = to_chat();
    assert_eq!(body["model"], "qwen-3-coder");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["parallel_tool_calls"], true);
    assert!(body.get("reasoning_effort").is_none());
    let msgs = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "tool",
            "assistant",
            "user"
        ]
    );
    assert!(msgs[0]["content"].as_str().unwrap().contains("permissions"));
    assert_eq!(
        msgs[2]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}})
    );
    // One assistant message with both calls.
    assert_eq!(msgs[3]["content"], "I'll run the tests and read the code.");
    let calls = msgs[3]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_RUN1");
    assert_eq!(calls[1]["function"]["name"], "exec_command");
    assert_eq!(
        calls[1]["function"]["arguments"],
        "{\"cmd\":\"cat src/lib.rs\"}"
    );
    assert_eq!(msgs[4]["tool_call_id"], "call_RUN1");
    assert_eq!(msgs[5]["tool_call_id"], "call_CAT2");
    // The custom call goes upstream as a function call with `{"input": raw}`.
    assert_eq!(msgs[6]["content"], Value::Null);
    let call = &msgs[6]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "apply_patch");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input": PATCH}));
    assert_eq!(msgs[7]["tool_call_id"], "call_PATCH3");
    assert!(msgs[7]["content"].as_str().unwrap().contains("Success."));

    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3);
    let patch = &tools[2]["function"];
    assert_eq!(patch["name"], "apply_patch");
    assert_eq!(
        patch["parameters"],
        json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
    );
    let desc = patch["description"].as_str().unwrap();
    assert!(desc.starts_with("Use the `apply_patch` tool"));
    assert!(
        desc.contains("begin_patch: \"*** Begin Patch\" LF"),
        "grammar: {desc}"
    );
    let dropped: Vec<&str> = dropped.iter().collect();
    for d in ["tools.namespace", "tools.web_search", "thinking"] {
        assert!(dropped.contains(&d), "{d} missing from {dropped:?}");
    }
}

#[test]
fn codex_request_to_anthropic() {
    let req = openai_responses::decode_request(&codex()).unwrap();
    let mut dropped = req.dropped.clone();
    let target = AnthropicTarget {
        model: "claude-sonnet-4-5".into(),
        max_output_tokens: Some(16_000),
        supports_thinking: true,
    };
    let body: Value =
        serde_json::from_slice(&anthropic::encode_request(&req, &target, &mut dropped)).unwrap();
    assert_eq!(body["system"][0]["text"], req.system[0]);
    assert_eq!(body["system"].as_array().unwrap().len(), 2);
    let msgs = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "user",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant",
            "user"
        ]
    );
    let turn = msgs[2]["content"].as_array().unwrap();
    let kinds: Vec<&str> = turn.iter().map(|b| b["type"].as_str().unwrap()).collect();
    // OpenAI's encrypted reasoning means nothing to Claude: dropped, not faked.
    assert_eq!(kinds, ["text", "tool_use", "tool_use"]);
    assert_eq!(
        turn[1]["input"],
        json!({"cmd": "cargo test", "workdir": "/home/dev/proj"})
    );
    let results = msgs[3]["content"].as_array().unwrap();
    assert_eq!(results[0]["tool_use_id"], "call_RUN1");
    assert_eq!(results[1]["tool_use_id"], "call_CAT2");
    assert_eq!(
        msgs[4]["content"][0],
        json!({"type": "tool_use", "id": "call_PATCH3", "name": "apply_patch", "input": {"input": PATCH}})
    );
    assert_eq!(
        body["tools"][2]["input_schema"],
        json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
    );
    assert!(dropped.iter().any(|d| d == "reasoning"));
}

#[test]
fn previous_response_id_is_refused_but_reported_by_decode() {
    let body = json!({"model": "m", "input": "hi", "previous_response_id": "resp_123"}).to_string();
    let e = openai_responses::decode_request(body.as_bytes()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("previous_response_id"), "{}", e.message);
    assert!(e.message.contains("no server-side"), "{}", e.message);
    let d = openai_responses::decode(body.as_bytes()).unwrap();
    assert_eq!(d.previous_response_id.as_deref(), Some("resp_123"));
    assert_eq!(d.request.messages.len(), 1);

    let conv = json!({"model": "m", "input": "hi", "conversation": {"id": "conv_9"}}).to_string();
    let e = openai_responses::decode_request(conv.as_bytes()).unwrap_err();
    assert!(e.message.contains("conversation"), "{}", e.message);
}

#[test]
fn string_input_and_parameters() {
    let body = json!({
        "model": "m", "input": "Say hi", "instructions": "Be brief.",
        "max_output_tokens": 300, "temperature": 0.2, "top_p": 0.5,
        "reasoning": {"effort": "high", "summary": "detailed"},
        "text": {"format": {"type": "json_schema", "name": "answer", "strict": true,
                            "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
                 "verbosity": "low"},
        "tool_choice": {"type": "custom", "name": "apply_patch"},
        "user": "u1", "metadata": {"k": "v"}, "truncation": "auto",
    })
    .to_string();
    let req = openai_responses::decode_request(body.as_bytes()).unwrap();
    assert_eq!(req.system, ["Be brief."]);
    assert_eq!(req.messages.len(), 1);
    assert!(matches!(&req.messages[0].content[0], Part::Text(t) if t == "Say hi"));
    assert_eq!(req.max_tokens, Some(300));
    assert_eq!(req.temperature, Some(0.2));
    assert_eq!(req.top_p, Some(0.5));
    assert_eq!(req.user.as_deref(), Some("u1"));
    assert!(matches!(
        req.reasoning,
        Some(Reasoning::Enabled {
            effort: Some(protocol::ir::Effort::High),
            ..
        })
    ));
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Tool("apply_patch".into()))
    );
    assert_eq!(
        req.response_format,
        Some(
            json!({"type": "json_schema", "json_schema": {"name": "answer",
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "strict": true}})
        )
    );
    let dropped: Vec<&str> = req.dropped.iter().collect();
    assert_eq!(dropped, ["text.verbosity", "metadata", "truncation"]);

    let none = json!({"model": "m", "input": "x", "reasoning": {"effort": "none"}}).to_string();
    let req = openai_responses::decode_request(none.as_bytes()).unwrap();
    assert_eq!(req.reasoning, Some(Reasoning::Disabled));
}

#[test]
fn hosted_items_and_their_outputs_are_dropped_and_failures_kept() {
    let body = json!({"model": "m", "input": [
        {"role": "user", "content": "list files"},
        {"type": "local_shell_call", "call_id": "ls1", "status": "completed",
         "action": {"type": "exec", "command": ["ls"]}},
        {"type": "function_call_output", "call_id": "ls1", "output": "a\nb"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
        {"type": "item_reference", "id": "msg_old"},
        {"type": "compaction", "encrypted_content": "xyz"},
        {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1",
         "output": {"content": "permission denied", "success": false}},
        {"type": "function_call", "call_id": "c2", "name": "view_image", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c2", "output": [
            {"type": "input_text", "text": "the image:"},
            {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQ"}]},
    ]})
    .to_string();
    let req = openai_responses::decode_request(body.as_bytes()).unwrap();
    let dropped: Vec<&str> = req.dropped.iter().collect();
    assert_eq!(
        dropped,
        [
            "local_shell_call",
            "function_call_output",
            "web_search_call",
            "item_reference",
            "compaction"
        ]
    );
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    use Role::{Assistant as A, User as U};
    assert_eq!(roles, [U, A, U, A, U]);
    let Part::ToolResult(failed) = &req.messages[2].content[0] else {
        panic!()
    };
    assert!(failed.is_error);
    assert_eq!(failed.text(), "permission denied");
    let Part::ToolResult(img) = &req.messages[4].content[0] else {
        panic!()
    };
    assert!(
        matches!(&img.content[1], Part::Image(protocol::ir::ImageSource::Base64 { media_type, .. }) if media_type == "image/jpeg")
    );
}

#[test]
fn malformed_requests_name_the_problem() {
    for (body, needle) in [
        (
            json!({"model": "m", "input": [{"content": "x"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
            "call_id",
        ),
        (
            json!({"model": "m", "tools": [{"type": "function", "parameters": {}}]}),
            "tools[0]",
        ),
        (
            json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
            "robot",
        ),
        (json!({"input": "x"}), "model"),
    ] {
        let e = openai_responses::decode_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains(needle), "{needle} not in {}", e.message);
    }
    let e = openai_responses::decode_request(b"{not json").unwrap_err();
    assert!(e.message.contains("invalid Responses request body"));
}

#[test]
fn claude_code_request_for_a_responses_upstream() {
    let req = anthropic::decode_request(&fixture("claude_code_request.json")).unwrap();
    let mut dropped = req.dropped.clone();
    let target = ResponsesTarget {
        model: "gpt-5.1".into(),
        max_output_tokens: Some(8192),
        drop: vec!["temperature".into()],
    };
    let body: Value = serde_json::from_slice(&openai_responses::encode_request(
        &req,
        &target,
        &mut dropped,
    ))
    .unwrap();
    assert_eq!(body["model"], "gpt-5.1");
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_output_tokens"], 8192);
    assert!(body.get("temperature").is_none());
    assert_eq!(
        body["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert!(
        body["instructions"]
            .as_str()
            .unwrap()
            .ends_with("You are Claude Code.")
    );
    let input = body["input"].as_array().unwrap();
    let kinds: Vec<String> = input
        .iter()
        .map(|i| {
            let t = i["type"].as_str().unwrap();
            match i["role"].as_str() {
                Some(r) => format!("{t}:{r}"),
                None => t.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message:user",
            "message:assistant",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output",
            "message:user",
            "message:developer",
            "function_call",
            "function_call_output"
        ]
    );
    assert_eq!(input[2]["call_id"], "toolu_01A");
    let args: Value = serde_json::from_str(input[2]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"command": "ls", "description": "List files"}));
    assert_eq!(input[5]["output"], "Error: File does not exist.");
    // A tool result with an image is sent as parts.
    assert_eq!(input[9]["output"][1]["type"], "input_image");
    assert_eq!(input[0]["content"][2]["type"], "input_image");
    let tool = &body["tools"][0];
    assert_eq!(tool["type"], "function");
    assert_eq!(tool["name"], "Bash");
    assert_eq!(tool["strict"], false, "the API would default to strict");
    let dropped: Vec<&str> = dropped.iter().collect();
    for d in ["temperature", "top_k", "stop_sequences", "reasoning"] {
        assert!(dropped.contains(&d), "{d} missing from {dropped:?}");
    }
}
