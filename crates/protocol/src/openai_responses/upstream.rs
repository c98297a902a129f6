//! Internal model → Responses request, for Responses upstreams (OpenAI's `/v1/responses`) of
//! Anthropic and Chat clients. Stateless: `store: false` and the whole history as input items,
//! as Codex does (protocols.md §3.2, §3.4).

use crate::ir::{
    Dropped, Effort, ImageSource, Message, Part, Reasoning, Request, Role, Tool, ToolChoice,
    ToolKind, ToolResult, join_text,
};
use crate::target::{ResponsesTarget, ToolNames};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::borrow::Cow;

#[derive(Serialize)]
struct OutRequest<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    input: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    include: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    stream: bool,
    /// `false` (the whole history goes in every request), unless the upstream takes no `store`.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<bool>,
}

#[derive(Serialize)]
struct OutTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a Value>,
}

/// Encodes a request for a Responses upstream. Everything the upstream will not receive is
/// added to `dropped`. Returns the JSON body.
pub fn encode_request(req: &Request, target: &ResponsesTarget, dropped: &mut Dropped) -> Vec<u8> {
    if !req.cache_breakpoints.is_empty() {
        // Prompt caching is automatic on these APIs; explicit breakpoints have no equivalent.
        dropped.add("cache_control");
    }
    let names = ToolNames::new(req.tools.iter().map(|t| t.name.as_str()));
    let system: Vec<&str> = req
        .system
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let mut input = Vec::with_capacity(req.messages.len() + 4);
    for m in &req.messages {
        match m.role {
            Role::System => {
                let t = join_text(&m.content);
                if !t.is_empty() {
                    input.push(json!({"type": "message", "role": "developer", "content": t}));
                }
            }
            Role::User => encode_user(m, &mut input, dropped),
            Role::Assistant => encode_assistant(m, &names, &mut input, dropped),
        }
    }
    let keep = |param: &str, present: bool, dropped: &mut Dropped| -> bool {
        if !present {
            return false;
        }
        if target.drops(param) {
            dropped.add(param);
            return false;
        }
        true
    };
    let tools: Vec<OutTool> = req.tools.iter().map(|t| encode_tool(t, &names)).collect();
    let has_tools = !tools.is_empty();
    let tool_choice = match &req.tool_choice {
        Some(c) if keep("tool_choice", has_tools, dropped) => Some(match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(n) => {
                let custom = req
                    .tools
                    .iter()
                    .any(|t| &t.name == n && t.kind == ToolKind::Custom);
                let kind = if custom { "custom" } else { "function" };
                json!({"type": kind, "name": names.shorten(n)})
            }
        }),
        _ => None,
    };
    let reasoning = match req.reasoning {
        Some(Reasoning::Enabled {
            effort,
            budget_tokens,
        }) if keep("reasoning", true, dropped) => {
            let e = effort
                .or(budget_tokens.map(Effort::from_budget))
                .unwrap_or(Effort::Medium);
            Some(json!({"effort": e.as_str(), "summary": "auto"}))
        }
        _ => None,
    };
    if !req.stop.is_empty() {
        dropped.add("stop_sequences");
    }
    if req.top_k.is_some() {
        dropped.add("top_k");
    }
    let text = req
        .response_format
        .as_ref()
        .filter(|_| keep("text", true, dropped))
        .and_then(text_format);
    // Shared with pass-through (`quirks`).
    let max_output_tokens = target.output_limit(req.max_tokens);
    if req.max_tokens.is_some() && max_output_tokens.is_none() {
        dropped.add("max_output_tokens");
    }
    let out = OutRequest {
        model: &target.model,
        instructions: (!system.is_empty()).then(|| system.join("\n\n")),
        input,
        tools,
        tool_choice,
        parallel_tool_calls: req
            .parallel_tool_calls
            .filter(|_| keep("parallel_tool_calls", has_tools, dropped)),
        include: (reasoning.is_some() && !target.drops("include"))
            .then_some(["reasoning.encrypted_content"]),
        reasoning,
        max_output_tokens,
        temperature: req
            .temperature
            .filter(|_| keep("temperature", true, dropped)),
        top_p: req.top_p.filter(|_| keep("top_p", true, dropped)),
        text,
        user: req.user.as_deref().filter(|_| keep("user", true, dropped)),
        stream: req.stream,
        store: (!target.drops("store")).then_some(false),
    };
    crate::wire::to_json(&out)
}

/// `text: {format}` from Chat's `response_format`.
fn text_format(rf: &Value) -> Option<Value> {
    match rf.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let s = rf.get("json_schema")?;
            let mut f = json!({
                "type": "json_schema",
                "name": s.get("name").and_then(Value::as_str).unwrap_or("output"),
                "schema": s.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
            });
            if let Some(strict) = s.get("strict").and_then(Value::as_bool) {
                f["strict"] = Value::Bool(strict);
            }
            Some(json!({ "format": f }))
        }
        "json_object" => Some(json!({"format": {"type": "json_object"}})),
        _ => None,
    }
}

fn encode_tool<'a>(t: &'a Tool, names: &ToolNames) -> OutTool<'a> {
    match t.kind {
        ToolKind::Function => OutTool {
            kind: "function",
            name: names.shorten(&t.name),
            description: t.description.as_deref(),
            parameters: t.parameters.as_deref(),
            // The Responses API makes functions strict unless told otherwise, and strict mode
            // rejects the schemas most agents send.
            strict: Some(t.strict.unwrap_or(false)),
            format: None,
        },
        ToolKind::Custom => OutTool {
            kind: "custom",
            name: names.shorten(&t.name),
            description: t.description.as_deref(),
            parameters: None,
            strict: None,
            format: t.format.as_ref(),
        },
    }
}

/// A user turn: tool outputs first (they answer the preceding assistant turn), then a message
/// with the rest.
fn encode_user(m: &Message, input: &mut Vec<Value>, dropped: &mut Dropped) {
    for p in &m.content {
        if let Part::ToolResult(r) = p {
            input.push(tool_output(r));
        }
    }
    let content: Vec<Value> = m
        .content
        .iter()
        .filter_map(|p| match p {
            Part::ToolResult(_) => None,
            Part::Text(t) if t.is_empty() => None,
            Part::Text(t) => Some(json!({"type": "input_text", "text": t})),
            Part::Image(src) => Some(image_part(src)),
            Part::File {
                media_type,
                data,
                name,
            } => {
                let mut f = json!({"type": "input_file",
                    "file_data": format!("data:{media_type};base64,{data}")});
                if let Some(n) = name {
                    f["filename"] = Value::String(n.clone());
                }
                Some(f)
            }
            _ => {
                dropped.add("content");
                None
            }
        })
        .collect();
    if !content.is_empty() {
        input.push(json!({"type": "message", "role": "user", "content": content}));
    }
}

fn image_part(src: &ImageSource) -> Value {
    json!({"type": "input_image", "image_url": src.to_url(), "detail": "auto"})
}

/// `function_call_output` (text, or parts when the result has images) or
/// `custom_tool_call_output`.
fn tool_output(r: &ToolResult) -> Value {
    let mut text = r.text();
    if r.is_error {
        text.insert_str(0, "Error: ");
    }
    if r.kind == ToolKind::Custom {
        return json!({"type": "custom_tool_call_output", "call_id": r.call_id, "output": text});
    }
    let has_images = r.content.iter().any(|p| matches!(p, Part::Image(_)));
    let output = if has_images {
        let mut parts: Vec<Value> = Vec::new();
        if r.is_error {
            parts.push(json!({"type": "input_text", "text": "Error:"}));
        }
        for p in &r.content {
            match p {
                Part::Text(t) if !t.is_empty() => {
                    parts.push(json!({"type": "input_text", "text": t}))
                }
                Part::Image(src) => parts.push(image_part(src)),
                _ => {}
            }
        }
        Value::Array(parts)
    } else {
        Value::String(text)
    };
    json!({"type": "function_call_output", "call_id": r.call_id, "output": output})
}

/// An assistant turn as items, in order: reasoning the upstream can read back (its own
/// `encrypted_content`), assistant text as a message, tool calls.
fn encode_assistant(m: &Message, names: &ToolNames, input: &mut Vec<Value>, dropped: &mut Dropped) {
    for p in &m.content {
        match p {
            Part::Reasoning(r) => match &r.encrypted {
                Some(enc) => {
                    let summary: Vec<Value> = if r.text.is_empty() {
                        Vec::new()
                    } else {
                        vec![json!({"type": "summary_text", "text": r.text})]
                    };
                    input.push(json!({"type": "reasoning", "summary": summary,
                        "encrypted_content": enc}));
                }
                // Another family's reasoning means nothing to OpenAI models.
                None => dropped.add("reasoning"),
            },
            Part::Text(t) if !t.is_empty() => input.push(json!({
                "type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": t}],
            })),
            Part::ToolCall(c) => input.push(match c.kind {
                ToolKind::Custom => json!({"type": "custom_tool_call", "call_id": c.id,
                    "name": names.shorten(&c.name), "input": c.arguments}),
                ToolKind::Function => json!({"type": "function_call", "call_id": c.id,
                    "name": names.shorten(&c.name),
                    "arguments": if c.arguments.trim().is_empty() { "{}" } else { &c.arguments }}),
            }),
            _ => {}
        }
    }
}
