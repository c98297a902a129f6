//! Unit tests of [`super::encode_request`].

use super::*;
use crate::ir::{Dropped, Message, Tool, ToolCall, ToolKind};
use serde_json::Value;

fn claude() -> ConverseTarget {
    ConverseTarget {
        model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".into(),
        max_output_tokens: Some(8000),
        supports_thinking: true,
    }
}

fn llama() -> ConverseTarget {
    ConverseTarget {
        model: "meta.llama3-70b-instruct-v1:0".into(),
        ..ConverseTarget::default()
    }
}

fn enc(req: &Request, t: &ConverseTarget) -> (Value, Vec<String>) {
    let mut d = Dropped::default();
    let body = encode_request(req, t, &mut d);
    let v: Value = serde_json::from_slice(&body).unwrap();
    (v, d.iter().map(str::to_owned).collect())
}

fn msg(role: Role, content: Vec<Part>) -> Message {
    Message { role, content }
}

fn text(t: &str) -> Part {
    Part::Text(t.into())
}

fn call(id: &str, name: &str) -> Part {
    Part::ToolCall(ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: r#"{"a":1}"#.into(),
        kind: ToolKind::Function,
    })
}

fn result(id: &str, content: Vec<Part>, is_error: bool) -> Part {
    Part::ToolResult(ToolResult {
        call_id: id.into(),
        content,
        is_error,
        kind: ToolKind::Function,
    })
}

fn tool(name: &str) -> Tool {
    Tool {
        name: name.into(),
        description: Some("d".into()),
        parameters: Some(crate::wire::raw_literal(r#"{"type":"object"}"#)),
        kind: ToolKind::Function,
        format: None,
        strict: Some(true),
    }
}

fn roles(v: &Value) -> Vec<&str> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect()
}

#[test]
fn turns_alternate_start_with_the_user_and_are_never_empty() {
    let req = Request {
        system: vec!["S".into(), "  ".into()],
        messages: vec![
            msg(Role::Assistant, vec![text("prefill")]),
            msg(Role::User, vec![text("a"), text(" ")]),
            msg(
                Role::Assistant,
                vec![Part::Reasoning(ReasoningPart {
                    text: "unsigned".into(),
                    ..ReasoningPart::default()
                })],
            ),
            msg(Role::User, vec![text("b")]),
            msg(Role::System, vec![text("note")]),
            msg(Role::User, vec![text("")]),
        ],
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &claude());
    assert_eq!(v["system"], json!([{"text": "S"}]));
    assert_eq!(roles(&v), ["user", "assistant", "user"]);
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"text": PLACEHOLDER_TEXT}])
    );
    assert_eq!(
        v["messages"][2]["content"],
        json!([{"text": "a"}, {"text": "b"}, {"text": "<system-reminder>\nnote\n</system-reminder>"}]),
        "the empty assistant turn is omitted and the user turns around it merged"
    );
    assert_eq!(dropped, ["reasoning"]);
    assert!(!serde_json::to_string(&v).unwrap().contains("null"));
}

#[test]
fn images_are_base64_only() {
    let img = |media_type: &str| {
        Part::Image(ImageSource::Base64 {
            media_type: media_type.into(),
            data: "iVBORw0KGgo=".into(),
        })
    };
    let req = Request {
        messages: vec![msg(
            Role::User,
            vec![
                text("look"),
                img("image/png"),
                img("image/jpg"),
                img("image/bmp"),
                Part::Image(ImageSource::Url("https://example.com/a.png".into())),
            ],
        )],
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &claude());
    assert_eq!(
        v["messages"][0]["content"],
        json!([
            {"text": "look"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"image": {"format": "jpeg", "source": {"bytes": "iVBORw0KGgo="}}},
        ])
    );
    assert_eq!(dropped, ["image", "image_url"]);
}

#[test]
fn tools_calls_and_results() {
    let req = Request {
        messages: vec![
            msg(Role::User, vec![text("go")]),
            msg(
                Role::Assistant,
                vec![
                    text("ok"),
                    call("call 1/x", "container.exec"),
                    call("t2", "Read"),
                ],
            ),
            msg(
                Role::User,
                vec![
                    text("also this"),
                    result("call 1/x", vec![text("out")], false),
                    result("t2", vec![text(" ")], true),
                ],
            ),
        ],
        tools: vec![tool("container.exec"), tool("Read")],
        tool_choice: Some(ToolChoice::Tool("container.exec".into())),
        parallel_tool_calls: Some(false),
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &llama());
    let strict = ToolNames::strict("container.exec");
    assert!(strict.starts_with("container_exec_"));
    assert_eq!(
        v["toolConfig"],
        json!({
            "tools": [
                {"toolSpec": {"name": strict, "description": "d", "inputSchema": {"json": {"type": "object"}}}},
                {"toolSpec": {"name": "Read", "description": "d", "inputSchema": {"json": {"type": "object"}}}},
            ],
            "toolChoice": {"tool": {"name": strict}},
        }),
        "strict is not forwarded (it breaks schemas with maxItems, litellm#39115)"
    );
    assert_eq!(
        v["messages"][1]["content"],
        json!([
            {"text": "ok"},
            {"toolUse": {"toolUseId": "call_1_x", "name": strict, "input": {"a": 1}}},
            {"toolUse": {"toolUseId": "t2", "name": "Read", "input": {"a": 1}}},
        ])
    );
    assert_eq!(
        v["messages"][2]["content"],
        json!([
            {"toolResult": {"toolUseId": "call_1_x", "content": [{"text": "out"}], "status": "success"}},
            {"toolResult": {"toolUseId": "t2", "content": [{"text": EMPTY_TOOL_RESULT}], "status": "error"}},
            {"text": "also this"},
        ]),
        "tool results come first in their turn"
    );
    assert_eq!(dropped, ["parallel_tool_calls"]);
}

#[test]
fn a_history_with_tool_blocks_always_has_a_tool_config() {
    let history = vec![
        msg(Role::User, vec![text("go")]),
        msg(Role::Assistant, vec![call("t1", "Bash")]),
        msg(Role::User, vec![result("t1", vec![text("done")], false)]),
    ];
    let no_tools = Request {
        messages: history.clone(),
        ..Request::default()
    };
    let (v, _) = enc(&no_tools, &claude());
    assert_eq!(
        v["toolConfig"]["tools"][0]["toolSpec"]["name"],
        STUB_TOOL_NAME
    );
    assert!(v["toolConfig"].get("toolChoice").is_none());

    let choice_none = Request {
        messages: history,
        tools: vec![tool("Bash")],
        tool_choice: Some(ToolChoice::None),
        ..Request::default()
    };
    let (v, _) = enc(&choice_none, &claude());
    let tools = v["toolConfig"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1, "tool_choice none withholds the tools");
    assert_eq!(tools[0]["toolSpec"]["name"], STUB_TOOL_NAME);

    let plain = Request {
        messages: vec![msg(Role::User, vec![text("hi")])],
        tools: vec![tool("Bash")],
        tool_choice: Some(ToolChoice::None),
        ..Request::default()
    };
    assert!(enc(&plain, &claude()).0.get("toolConfig").is_none());
}

#[test]
fn only_signed_reasoning_is_replayed() {
    let r = |signature: Option<&str>, redacted: Option<&str>| {
        Part::Reasoning(ReasoningPart {
            text: "think".into(),
            signature: signature.map(str::to_owned),
            redacted: redacted.map(str::to_owned),
            encrypted: None,
        })
    };
    let req = Request {
        messages: vec![
            msg(Role::User, vec![text("q")]),
            msg(
                Role::Assistant,
                vec![
                    r(Some("EqQB+/sig=="), None),
                    r(None, Some("cmVkYWN0ZWQ=")),
                    r(Some(FOREIGN_SIGNATURE), None),
                    r(Some(""), None),
                    text("a"),
                ],
            ),
        ],
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &claude());
    assert_eq!(
        v["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "think", "signature": "EqQB+/sig=="}}},
            {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
            {"text": "a"},
        ])
    );
    assert_eq!(dropped, ["reasoning"]);
}

#[test]
fn inference_config_thinking_and_top_k() {
    let base = Request {
        messages: vec![msg(Role::User, vec![text("q")])],
        max_tokens: Some(32_000),
        temperature: Some(0.7),
        top_p: Some(0.9),
        top_k: Some(40),
        stop: vec!["</done>".into(), String::new()],
        ..Request::default()
    };
    let (v, dropped) = enc(&base, &claude());
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 8000, "temperature": 0.7, "topP": 0.9, "stopSequences": ["</done>"]})
    );
    assert_eq!(v["additionalModelRequestFields"], json!({"top_k": 40}));
    assert_eq!(
        v["additionalModelResponseFieldPaths"],
        json!(["/stop_sequence"])
    );
    assert!(dropped.is_empty());

    let (v, dropped) = enc(&base, &llama());
    assert_eq!(v["inferenceConfig"]["maxTokens"], 32_000);
    assert!(v.get("additionalModelRequestFields").is_none());
    assert_eq!(dropped, ["top_k"]);

    let thinking = Request {
        reasoning: Some(Reasoning::Enabled {
            budget_tokens: Some(4096),
            effort: None,
        }),
        ..base.clone()
    };
    let (v, dropped) = enc(&thinking, &claude());
    assert_eq!(
        v["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4096}})
    );
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 8000, "stopSequences": ["</done>"]}),
        "thinking takes no temperature, and no top_p below 0.95"
    );
    assert_eq!(dropped, ["temperature", "top_k", "top_p"]);

    let (v, dropped) = enc(&thinking, &llama());
    assert!(v.get("additionalModelRequestFields").is_none());
    assert_eq!(dropped, ["thinking", "top_k"]);

    let too_big = Request {
        reasoning: Some(Reasoning::Enabled {
            budget_tokens: None,
            effort: Some(Effort::High),
        }),
        ..base.clone()
    };
    let (v, dropped) = enc(&too_big, &claude());
    assert!(
        v["additionalModelRequestFields"].get("thinking").is_none(),
        "a 16384-token budget does not fit under maxTokens 8000"
    );
    assert_eq!(dropped, ["thinking"]);

    let forced = Request {
        tools: vec![tool("Bash")],
        tool_choice: Some(ToolChoice::Required),
        ..thinking
    };
    let (v, dropped) = enc(&forced, &claude());
    assert!(v["additionalModelRequestFields"].get("thinking").is_none());
    assert_eq!(v["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(dropped, ["thinking"]);
}

fn breakpoint(at: CacheSpot) -> CacheBreakpoint {
    CacheBreakpoint { at, ttl: None }
}

#[test]
fn cache_points_follow_what_the_client_marked() {
    let part = |message, part| CacheSpot::Part { message, part };
    let req = Request {
        system: vec!["A".into(), "B".into()],
        messages: vec![
            msg(
                Role::User,
                vec![
                    text("x"),
                    Part::Image(ImageSource::Url("https://e/a.png".into())),
                ],
            ),
            msg(Role::Assistant, vec![text("y")]),
            msg(Role::User, vec![text("z")]),
            msg(Role::User, vec![text(" ")]),
        ],
        tools: vec![tool("Bash"), tool("Read")],
        cache_breakpoints: vec![
            CacheBreakpoint {
                at: CacheSpot::System(1),
                ttl: Some("1h".into()),
            },
            breakpoint(CacheSpot::Tool(1)),
            breakpoint(part(0, 1)),
            breakpoint(part(1, 0)),
            breakpoint(part(2, 0)),
            breakpoint(part(3, 0)),
        ],
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &claude());
    assert_eq!(
        v["system"],
        json!([{"text": "A"}, {"text": "B"}, {"cachePoint": {"type": "default", "ttl": "1h"}}])
    );
    assert_eq!(
        v["toolConfig"]["tools"][2],
        json!({"cachePoint": {"type": "default"}})
    );
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"text": "x"}, {"cachePoint": {"type": "default"}}]),
        "a mark on a dropped block moves to the block before it"
    );
    assert_eq!(
        v["messages"][1]["content"],
        json!([{"text": "y"}, {"cachePoint": {"type": "default"}}])
    );
    assert_eq!(
        v["messages"][2]["content"],
        json!([{"text": "z"}]),
        "a fifth cache point is one too many; a mark on a blank turn has nothing to follow"
    );
    assert_eq!(dropped, ["image_url", "cache_control"]);
    assert_eq!(roles(&v), ["user", "assistant", "user"]);
}

#[test]
fn documents_need_text_and_safe_names() {
    let file = |name: &str| Part::File {
        media_type: "application/pdf".into(),
        data: "JVBERi0=".into(),
        name: Some(name.into()),
    };
    let req = Request {
        messages: vec![msg(
            Role::User,
            vec![file("report.v2.pdf"), file("report v2 pdf")],
        )],
        ..Request::default()
    };
    let (v, _) = enc(&req, &claude());
    assert_eq!(
        v["messages"][0]["content"],
        json!([
            {"document": {"format": "pdf", "name": "report v2 pdf", "source": {"bytes": "JVBERi0="}}},
            {"document": {"format": "pdf", "name": "report v2 pdf (2)", "source": {"bytes": "JVBERi0="}}},
            {"text": PLACEHOLDER_TEXT},
        ])
    );
}

#[test]
fn structured_output_goes_to_output_config() {
    let req = Request {
        messages: vec![msg(Role::User, vec![text("q")])],
        response_format: Some(json!({"type": "json_schema",
            "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})),
        user: Some("u1".into()),
        ..Request::default()
    };
    let (v, dropped) = enc(&req, &claude());
    assert_eq!(
        v["outputConfig"],
        json!({"textFormat": {"type": "json_schema",
            "structure": {"jsonSchema": {"schema": "{\"type\":\"object\"}", "name": "out"}}}})
    );
    assert_eq!(dropped, ["user"]);
    let json_object = Request {
        response_format: Some(json!({"type": "json_object"})),
        ..req
    };
    let (v, dropped) = enc(&json_object, &claude());
    assert!(v.get("outputConfig").is_none());
    assert_eq!(dropped, ["user", "response_format"]);
}

#[test]
fn tool_use_ids_fit_the_pattern_and_stay_stable() {
    assert_eq!(tool_use_id("toolu_01A"), "toolu_01A");
    assert_eq!(tool_use_id("functions.Bash:0"), "functions.Bash:0");
    assert_eq!(tool_use_id("call 1"), "call_1");
    let long = "x".repeat(80);
    let id = tool_use_id(&long);
    assert_eq!(id.len(), 64);
    assert_eq!(tool_use_id(&long), id);
    assert_ne!(tool_use_id(&"y".repeat(80)), id);
    assert!(!tool_use_id("").is_empty());
}
