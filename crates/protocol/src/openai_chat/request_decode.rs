//! Decoding a Chat Completions client's request into the internal model (mapping table:
//! protocols.md §4.1); the encoding side is [`super::request`].

use super::types::{ChatRequest, ContentPart};
use crate::ir::{
    ApiError, Dropped, Effort, ImageSource, Message, Part, Reasoning, ReasoningPart, Request, Role,
    Tool, ToolCall, ToolChoice, ToolKind, ToolResult,
};
use crate::shape::{self, ShapeError};
use crate::wire::StringOr;
use serde_json::Value;

/// Every content part with a `type` has one of [`PART_TYPES`] (a part without one is text).
fn check_part_types(w: &ChatRequest) -> Result<(), ShapeError> {
    for (i, m) in w.messages.iter().enumerate() {
        let Some(StringOr::Items(parts)) = &m.content else {
            continue;
        };
        for (j, p) in parts.iter().enumerate() {
            if let Some(kind) = &p.kind {
                ShapeError::check_name(kind, PART_TYPES, || {
                    format!("messages[{i}].content[{j}].type")
                })?;
            }
        }
    }
    Ok(())
}

/// Every content part `type` a Chat message may hold: OpenAI's (API reference "Chat
/// Completions") and Mistral's `thinking` (replayed reasoning, which is dropped). Any other
/// `type` is refused, as OpenAI refuses it.
pub const PART_TYPES: &[&str] = &[
    "text",
    "image_url",
    "input_audio",
    "file",
    "refusal",
    "audio",
    "thinking",
];

/// Decodes a Chat Completions request body.
///
/// Errors: invalid JSON or a field of the wrong shape (a content part of an unknown `type`
/// among them) → `invalid_request_error` naming the field's path and what was expected
/// ([`shape`]).
pub fn decode_request(body: &[u8]) -> Result<Request, ApiError> {
    const WHAT: &str = "invalid Chat Completions request body";
    let w: ChatRequest = shape::from_json(body).map_err(|e| e.into_api_error(WHAT))?;
    check_part_types(&w).map_err(|e| e.into_api_error(WHAT))?;
    let mut req = Request {
        model: w.model,
        max_tokens: w.max_completion_tokens.or(w.max_tokens),
        temperature: w.temperature,
        top_p: w.top_p,
        top_k: w.top_k,
        stream: w.stream,
        parallel_tool_calls: w.parallel_tool_calls,
        response_format: w.response_format,
        user: w.user,
        ..Request::default()
    };
    req.stop = match w.stop {
        Some(StringOr::String(s)) => vec![s],
        Some(StringOr::Items(v)) => v,
        None => Vec::new(),
    };
    for (name, present) in [
        ("n", w.n.is_some_and(|n| n > 1)),
        ("seed", w.seed.is_some()),
        ("frequency_penalty", w.frequency_penalty.is_some()),
        ("presence_penalty", w.presence_penalty.is_some()),
        ("logit_bias", w.logit_bias.is_some()),
        ("logprobs", w.logprobs.is_some()),
        ("metadata", w.metadata.is_some()),
    ] {
        if present {
            req.dropped.add(name);
        }
    }
    let _ = w.stream_options;
    let mut in_prefix = true;
    for m in w.messages {
        let role = m.role.as_str();
        if role == "system" || role == "developer" {
            let text = content_text(m.content);
            if in_prefix {
                req.system.push(text);
            } else {
                req.messages.push(Message {
                    role: Role::System,
                    content: vec![Part::Text(text)],
                });
            }
            continue;
        }
        in_prefix = false;
        match role {
            "assistant" => {
                let mut content = Vec::new();
                if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                    content.push(Part::Reasoning(ReasoningPart {
                        text: r,
                        ..ReasoningPart::default()
                    }));
                }
                let text = content_text(m.content);
                if !text.is_empty() {
                    content.push(Part::Text(text));
                }
                for c in m.tool_calls.unwrap_or_default() {
                    let f = c.function.unwrap_or(super::types::FunctionCall {
                        name: None,
                        arguments: None,
                    });
                    content.push(Part::ToolCall(ToolCall {
                        id: c.id.unwrap_or_default(),
                        name: f.name.unwrap_or_default(),
                        arguments: f.arguments.unwrap_or_else(|| "{}".into()),
                        kind: ToolKind::Function,
                    }));
                }
                req.messages.push(Message {
                    role: Role::Assistant,
                    content,
                });
            }
            "tool" | "function" => {
                let result = Part::ToolResult(ToolResult {
                    call_id: m.tool_call_id.unwrap_or_default(),
                    content: content_parts(m.content, &mut req.dropped),
                    is_error: false,
                    kind: ToolKind::Function,
                });
                match req.messages.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && last
                                .content
                                .iter()
                                .all(|p| matches!(p, Part::ToolResult(_))) =>
                    {
                        last.content.push(result)
                    }
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            _ => {
                let content = content_parts(m.content, &mut req.dropped);
                req.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
        }
    }
    for t in w.tools.unwrap_or_default() {
        match (t.kind.as_deref(), t.function) {
            (None | Some("function"), Some(f)) => req.tools.push(Tool {
                name: f.name,
                description: f.description,
                parameters: Some(f.parameters.unwrap_or_else(|| {
                    crate::wire::raw_literal(r#"{"type":"object","properties":{}}"#)
                })),
                kind: ToolKind::Function,
                format: None,
                strict: f.strict,
            }),
            (kind, _) => req
                .dropped
                .add(&format!("tools.{}", kind.unwrap_or("unknown"))),
        }
    }
    req.tool_choice = w.tool_choice.and_then(|c| match c {
        Value::String(s) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Value::Object(o) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Tool(n.to_owned())),
        _ => None,
    });
    req.reasoning = w.reasoning_effort.map(|e| match e.as_str() {
        "none" => Reasoning::Disabled,
        other => Reasoning::Enabled {
            budget_tokens: None,
            effort: Effort::parse(other),
        },
    });
    Ok(req)
}

fn content_text(c: Option<StringOr<ContentPart>>) -> String {
    match c {
        None => String::new(),
        Some(StringOr::String(s)) => s,
        Some(StringOr::Items(parts)) => parts
            .into_iter()
            .filter_map(|p| p.text)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn content_parts(c: Option<StringOr<ContentPart>>, dropped: &mut Dropped) -> Vec<Part> {
    match c {
        None => Vec::new(),
        Some(StringOr::String(s)) => vec![Part::Text(s)],
        Some(StringOr::Items(parts)) => parts
            .into_iter()
            .filter_map(|p| match p.kind.as_deref() {
                Some("image_url") => p
                    .image_url
                    .map(|u| Part::Image(ImageSource::from_url(u.url()))),
                Some("file") => {
                    let f = p.file?;
                    match ImageSource::from_url(f.file_data.as_deref().unwrap_or("")) {
                        ImageSource::Base64 { media_type, data } => Some(Part::File {
                            media_type,
                            data,
                            name: f.filename,
                        }),
                        ImageSource::Url(_) => {
                            dropped.add("file");
                            None
                        }
                    }
                }
                Some("text") | None => p.text.map(Part::Text),
                Some(other) => {
                    dropped.add(other);
                    None
                }
            })
            .collect(),
    }
}
