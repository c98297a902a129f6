//! Anthropic Messages request ⇄ internal model.

use super::types::{BLOCK_TYPES, Block, MessagesRequest, Source, WireTool};
use crate::ir::{
    ApiError, CacheBreakpoint, CacheSpot, Effort, ImageSource, Message, Part, Reasoning,
    ReasoningPart, Request, Role, Tool, ToolCall, ToolChoice, ToolKind, ToolResult,
};
use crate::shape::{self, ShapeError};
use crate::target::AnthropicTarget;
use crate::wire::{StringOr, raw_object};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Signature given to thinking blocks whose reasoning came from a non-Anthropic model. Anthropic
/// signatures are model-bound, so such blocks are removed before history goes to an Anthropic
/// upstream (protocols.md §9).
pub const FOREIGN_SIGNATURE: &str = "agent-shim-foreign-reasoning";

/// Decodes a Messages request body. Fields with no equivalent in the internal model are recorded
/// in [`Request::dropped`].
///
/// Errors: invalid JSON, a body that is not a Messages request, or a field of the wrong shape
/// (a content block of an unknown `type` among them) → `invalid_request_error` naming the
/// field's path and what was expected ([`shape`]).
pub fn decode_request(body: &[u8]) -> Result<Request, ApiError> {
    const WHAT: &str = "invalid Messages request body";
    let wire: MessagesRequest = shape::from_json(body).map_err(|e| e.into_api_error(WHAT))?;
    check_block_types(&wire).map_err(|e| e.into_api_error(WHAT))?;
    Ok(from_wire(wire))
}

/// Every content block has a `type` Anthropic defines (system blocks are text).
fn check_block_types(w: &MessagesRequest) -> Result<(), ShapeError> {
    if let Some(StringOr::Items(blocks)) = &w.system {
        for (j, b) in blocks.iter().enumerate() {
            ShapeError::check_name(&b.kind, &["text"], || format!("system[{j}].type"))?;
        }
    }
    for (i, m) in w.messages.iter().enumerate() {
        let StringOr::Items(blocks) = &m.content else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            let at = || format!("messages[{i}].content[{j}]");
            ShapeError::check_name(&b.kind, BLOCK_TYPES, || format!("{}.type", at()))?;
            if let Some(StringOr::Items(inner)) = &b.content {
                for (k, c) in inner.iter().enumerate() {
                    ShapeError::check_name(&c.kind, BLOCK_TYPES, || {
                        format!("{}.content[{k}].type", at())
                    })?;
                }
            }
        }
    }
    Ok(())
}

fn from_wire(w: MessagesRequest) -> Request {
    let mut req = Request {
        model: w.model,
        max_tokens: w.max_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        top_k: w.top_k,
        stop: w.stop_sequences.unwrap_or_default(),
        stream: w.stream,
        ..Request::default()
    };
    match w.system {
        Some(StringOr::String(s)) => req.system.push(s),
        Some(StringOr::Items(blocks)) => {
            for b in blocks {
                if let Some(t) = b.text {
                    req.system.push(t);
                }
                if let Some(cc) = b.cache_control {
                    let at = req.system.len().checked_sub(1).map(CacheSpot::System);
                    mark_cache(&mut req, at, &cc);
                }
            }
        }
        None => {}
    }
    for m in w.messages {
        let role = match m.role.as_str() {
            "assistant" => Role::Assistant,
            "system" => Role::System,
            _ => Role::User,
        };
        let message = req.messages.len();
        let content = match m.content {
            StringOr::String(s) => vec![Part::Text(s)],
            StringOr::Items(blocks) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for mut b in blocks {
                    let cc = take_cache_control(&mut b);
                    if let Some(p) = block_to_part(b, &mut req) {
                        parts.push(p);
                    }
                    if let Some(cc) = cc {
                        let at = parts
                            .len()
                            .checked_sub(1)
                            .map(|part| CacheSpot::Part { message, part });
                        mark_cache(&mut req, at, &cc);
                    }
                }
                parts
            }
        };
        req.messages.push(Message { role, content });
    }
    for mut t in w.tools.unwrap_or_default() {
        let cc = t.cache_control.take();
        if let Some(tool) = tool_from_wire(t, &mut req) {
            req.tools.push(tool);
        }
        if let Some(cc) = cc {
            let at = req.tools.len().checked_sub(1).map(CacheSpot::Tool);
            mark_cache(&mut req, at, &cc);
        }
    }
    if let Some(tc) = w.tool_choice {
        if tc.disable_parallel_tool_use == Some(true) {
            req.parallel_tool_calls = Some(false);
        }
        req.tool_choice = match tc.kind.as_str() {
            "any" => Some(ToolChoice::Required),
            "none" => Some(ToolChoice::None),
            "tool" => tc.name.map(ToolChoice::Tool),
            _ => Some(ToolChoice::Auto),
        };
    }
    let effort = w
        .output_config
        .as_ref()
        .and_then(|c| c.effort.as_deref())
        .and_then(Effort::parse);
    req.reasoning = match w.thinking {
        Some(t) if t.kind == "disabled" => Some(Reasoning::Disabled),
        Some(t) => Some(Reasoning::Enabled {
            budget_tokens: t.budget_tokens,
            effort: effort.or(t.budget_tokens.map(Effort::from_budget)),
        }),
        None => effort.map(|e| Reasoning::Enabled {
            budget_tokens: None,
            effort: Some(e),
        }),
    };
    let format = w.output_config.and_then(|c| c.format).or(w.output_format);
    if let Some(f) = format {
        req.response_format = structured_output(f);
    }
    if w.metadata.is_some() {
        req.dropped.add("metadata");
    }
    if w.context_management.is_some() {
        req.dropped.add("context_management");
    }
    if w.service_tier.is_some() {
        req.dropped.add("service_tier");
    }
    if w.container.is_some() {
        req.dropped.add("container");
    }
    if w.mcp_servers.is_some() {
        req.dropped.add("mcp_servers");
    }
    req
}

/// Records a `cache_control` breakpoint after `at` (the item it was set on; the one before when
/// that item is not carried, e.g. a server-tool block). With nothing before it, it is dropped.
fn mark_cache(req: &mut Request, at: Option<CacheSpot>, cache_control: &Value) {
    match at {
        Some(at) => req.cache_breakpoints.push(CacheBreakpoint {
            at,
            ttl: cache_control
                .get("ttl")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        None => req.dropped.add("cache_control"),
    }
}

/// A block's `cache_control`, or for a `tool_result` the first among its content blocks': a
/// breakpoint inside a tool result marks the whole result.
fn take_cache_control(b: &mut Block) -> Option<Value> {
    let mut found = b.cache_control.take();
    if let Some(StringOr::Items(inner)) = &mut b.content {
        for i in inner {
            if let Some(cc) = i.cache_control.take() {
                found = found.or(Some(cc));
            }
        }
    }
    found
}

/// `output_config.format` / `output_format` (`{type:"json_schema", schema}`) as the internal form,
/// which is Chat's `response_format` object.
fn structured_output(f: Value) -> Option<Value> {
    let schema = f.get("schema")?.clone();
    Some(
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}}),
    )
}

fn block_to_part(b: Block, req: &mut Request) -> Option<Part> {
    match b.kind.as_str() {
        "text" => b.text.map(Part::Text),
        "image" => match image_source(b.source) {
            Some(src) => Some(Part::Image(src)),
            None => {
                req.dropped.add("image.source");
                None
            }
        },
        "document" => document(b.source, b.title, req),
        "tool_use" => Some(Part::ToolCall(ToolCall {
            id: b.id.unwrap_or_default(),
            name: b.name.unwrap_or_default(),
            arguments: b
                .input
                .map(|r| r.get().to_owned())
                .unwrap_or_else(|| "{}".into()),
            kind: ToolKind::Function,
        })),
        "tool_result" => {
            let content = match b.content {
                Some(StringOr::String(s)) => vec![Part::Text(s)],
                Some(StringOr::Items(items)) => items
                    .into_iter()
                    .filter_map(|i| block_to_part(i, req))
                    .collect(),
                None => Vec::new(),
            };
            Some(Part::ToolResult(ToolResult {
                call_id: b.tool_use_id.unwrap_or_default(),
                content,
                is_error: b.is_error.unwrap_or(false),
                kind: ToolKind::Function,
            }))
        }
        "thinking" => Some(Part::Reasoning(ReasoningPart {
            text: b.thinking.unwrap_or_default(),
            signature: b.signature,
            ..ReasoningPart::default()
        })),
        "redacted_thinking" => Some(Part::Reasoning(ReasoningPart {
            redacted: b.data,
            ..ReasoningPart::default()
        })),
        other => {
            req.dropped.add(other);
            None
        }
    }
}

fn image_source(src: Option<Source>) -> Option<ImageSource> {
    let s = src?;
    match s.kind.as_str() {
        "base64" => Some(ImageSource::Base64 {
            media_type: s.media_type.unwrap_or_else(|| "image/png".into()),
            data: s.data?,
        }),
        "url" => Some(ImageSource::Url(s.url?)),
        _ => None,
    }
}

fn document(src: Option<Source>, title: Option<String>, req: &mut Request) -> Option<Part> {
    let s = src?;
    match s.kind.as_str() {
        "base64" => Some(Part::File {
            media_type: s.media_type.unwrap_or_else(|| "application/pdf".into()),
            data: s.data?,
            name: title,
        }),
        "text" => s.data.map(Part::Text),
        _ => {
            req.dropped.add("document.source");
            None
        }
    }
}

fn tool_from_wire(t: WireTool, req: &mut Request) -> Option<Tool> {
    match t.input_schema {
        Some(schema) => Some(Tool {
            name: t.name,
            description: t.description,
            parameters: Some(schema),
            kind: ToolKind::Function,
            format: None,
            strict: t.strict,
        }),
        None => {
            // Anthropic-defined or server tools (web_search_…, bash_…) exist only on Anthropic.
            req.dropped
                .add(&format!("tools.{}", t.kind.as_deref().unwrap_or(&t.name)));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding: internal model → Messages request (for Anthropic upstreams of other clients).

#[derive(Serialize)]
struct OutRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Value>,
    messages: Vec<OutMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
}

#[derive(Serialize)]
struct OutMessage {
    role: &'static str,
    content: Vec<Value>,
}

#[derive(Serialize)]
struct OutTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a RawValue,
}

/// The `input_schema` given to a custom (raw-string) tool: one string property, `input`.
pub const CUSTOM_TOOL_SCHEMA: &str =
    r#"{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}"#;

/// Encodes a request for an Anthropic upstream. Fields the target cannot take are added to
/// `dropped`. Returns the JSON body.
pub fn encode_request(
    req: &Request,
    target: &AnthropicTarget,
    dropped: &mut crate::ir::Dropped,
) -> Vec<u8> {
    let custom_schema: Box<RawValue> = crate::wire::raw_literal(CUSTOM_TOOL_SCHEMA);
    if !req.cache_breakpoints.is_empty() {
        dropped.add("cache_control");
    }
    let mut system: Vec<Value> = req
        .system
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| json!({"type":"text","text":s}))
        .collect();
    let mut messages: Vec<OutMessage> = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        match m.role {
            Role::System => {
                let t = crate::ir::join_text(&m.content);
                if !t.is_empty() {
                    system.push(json!({"type":"text","text":t}));
                }
            }
            Role::User => {
                let mut results = Vec::new();
                let mut rest = Vec::new();
                for p in &m.content {
                    match p {
                        Part::ToolResult(r) => results.push(tool_result_block(r)),
                        other => rest.extend(user_block(other, dropped)),
                    }
                }
                results.extend(rest);
                if !results.is_empty() {
                    messages.push(OutMessage {
                        role: "user",
                        content: results,
                    });
                }
            }
            Role::Assistant => {
                let mut content = Vec::new();
                for p in &m.content {
                    match p {
                        Part::Reasoning(r) => {
                            if let Some(data) = &r.redacted {
                                content.push(json!({"type":"redacted_thinking","data":data}));
                            } else if let Some(sig) = r
                                .signature
                                .as_deref()
                                .filter(|s| !s.is_empty() && *s != FOREIGN_SIGNATURE)
                            {
                                content.push(
                                    json!({"type":"thinking","thinking":r.text,"signature":sig}),
                                );
                            } else {
                                dropped.add("reasoning");
                            }
                        }
                        Part::Text(t) if !t.is_empty() => {
                            content.push(json!({"type":"text","text":t}))
                        }
                        Part::ToolCall(c) => {
                            let input = if c.kind == ToolKind::Custom {
                                json!({"input": c.arguments})
                            } else {
                                serde_json::from_str(raw_object(&c.arguments).get())
                                    .unwrap_or_else(|_| json!({}))
                            };
                            content.push(
                                json!({"type":"tool_use","id":c.id,"name":c.name,"input":input}),
                            );
                        }
                        _ => {}
                    }
                }
                if !content.is_empty() {
                    messages.push(OutMessage {
                        role: "assistant",
                        content,
                    });
                }
            }
        }
    }
    let tools: Vec<OutTool> = req
        .tools
        .iter()
        .map(|t| OutTool {
            name: &t.name,
            description: t.description.as_deref(),
            input_schema: t.parameters.as_deref().unwrap_or(&custom_schema),
        })
        .collect();
    let mut tool_choice = if tools.is_empty() {
        None
    } else {
        req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => json!({"type":"auto"}),
            ToolChoice::Required => json!({"type":"any"}),
            ToolChoice::None => json!({"type":"none"}),
            ToolChoice::Tool(n) => json!({"type":"tool","name":n}),
        })
    };
    if req.parallel_tool_calls == Some(false) && !tools.is_empty() {
        let tc = tool_choice.get_or_insert_with(|| json!({"type":"auto"}));
        tc["disable_parallel_tool_use"] = Value::Bool(true);
    }
    let cap = target.max_output_tokens.unwrap_or(8192);
    let max_tokens = req.max_tokens.map_or(cap, |m| m.min(cap)).max(1);
    let thinking = match req.reasoning {
        Some(Reasoning::Enabled {
            budget_tokens,
            effort,
        }) if target.supports_thinking => {
            let budget = budget_tokens.unwrap_or(match effort {
                Some(Effort::High) => 16_384,
                Some(Effort::Medium) | None => 8_192,
                _ => 2_048,
            });
            let budget = budget.max(1024);
            (budget < max_tokens).then(|| json!({"type":"enabled","budget_tokens":budget}))
        }
        Some(Reasoning::Enabled { .. }) => {
            dropped.add("reasoning");
            None
        }
        _ => None,
    };
    let temperature = if thinking.is_some() {
        None
    } else {
        req.temperature.map(|t| t.min(1.0))
    };
    if req.response_format.is_some() {
        dropped.add("response_format");
    }
    let out = OutRequest {
        model: &target.model,
        max_tokens,
        system,
        messages,
        temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: &req.stop,
        stream: req.stream,
        tools,
        tool_choice,
        thinking,
        metadata: req.user.as_ref().map(|u| json!({"user_id": u})),
    };
    crate::wire::to_json(&out)
}

fn tool_result_block(r: &ToolResult) -> Value {
    let mut content: Vec<Value> = Vec::new();
    for p in &r.content {
        match p {
            Part::Text(t) if !t.is_empty() => content.push(json!({"type":"text","text":t})),
            Part::Image(src) => content.push(image_block(src)),
            _ => {}
        }
    }
    let mut block = json!({"type":"tool_result","tool_use_id":r.call_id,"content":content});
    if r.is_error {
        block["is_error"] = Value::Bool(true);
    }
    block
}

fn image_block(src: &ImageSource) -> Value {
    match src {
        ImageSource::Base64 { media_type, data } => {
            json!({"type":"image","source":{"type":"base64","media_type":media_type,"data":data}})
        }
        ImageSource::Url(u) => json!({"type":"image","source":{"type":"url","url":u}}),
    }
}

fn user_block(p: &Part, dropped: &mut crate::ir::Dropped) -> Option<Value> {
    match p {
        Part::Text(t) if !t.is_empty() => Some(json!({"type":"text","text":t})),
        Part::Image(src) => Some(image_block(src)),
        Part::File {
            media_type,
            data,
            name,
        } => {
            let mut b = json!({"type":"document","source":{"type":"base64","media_type":media_type,"data":data}});
            if let Some(n) = name {
                b["title"] = Value::String(n.clone());
            }
            Some(b)
        }
        Part::Text(_) => None,
        _ => {
            dropped.add("content");
            None
        }
    }
}
