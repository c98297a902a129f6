//! Chat Completions responses and errors ⇄ internal model (protocols.md §4.2).

use super::types::{ChatResponse, ContentSegment, ErrorBody, WireUsage};
use crate::ir::{
    ApiError, ErrorKind, Part, ReasoningPart, Response, StopReason, ToolCall, ToolKind, Usage,
};
use crate::target::{ResponseContext, anthropic_tool_id};
use serde::Serialize;
use serde_json::json;

/// Maps a `finish_reason`. `saw_tool_calls` wins: some providers say `stop` after tool calls.
pub fn stop_reason(finish: Option<&str>, saw_tool_calls: bool) -> StopReason {
    if saw_tool_calls {
        return StopReason::ToolUse;
    }
    match finish {
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// The `finish_reason` for a stop reason.
pub fn finish_reason(r: &StopReason) -> &'static str {
    match r {
        StopReason::EndTurn | StopReason::StopSequence(_) | StopReason::PauseTurn => "stop",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
    }
}

/// Converts wire usage (`prompt_tokens` includes cached tokens).
pub fn usage_from_wire(u: &WireUsage) -> Usage {
    let prompt = u.prompt_tokens.unwrap_or(0);
    let details = u.prompt_tokens_details.unwrap_or_default();
    Usage {
        input_tokens: prompt,
        output_tokens: u.completion_tokens.unwrap_or(0),
        cache_read_tokens: details
            .cached_tokens
            .or(u.prompt_cache_hit_tokens)
            .unwrap_or(0),
        cache_creation_tokens: details.cache_creation_tokens.unwrap_or(0),
        reasoning_tokens: u
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

/// Decodes a `chat.completion` from an upstream.
pub fn decode_response(body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
    let w: ChatResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Api,
            format!("upstream sent an invalid Chat Completions response: {e}"),
        )
    })?;
    let choice = w.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let mut content = Vec::new();
    let mut saw_tools = false;
    if let Some(m) = choice.and_then(|c| c.message) {
        if let Some(r) = m.reasoning_content.or(m.reasoning) {
            push_reasoning(&mut content, r);
        }
        let mut saw_text = false;
        for segment in m.content {
            match segment {
                ContentSegment::Thinking(r) => push_reasoning(&mut content, r),
                ContentSegment::Text(t) => {
                    saw_text |= !t.is_empty();
                    push_text(&mut content, t);
                }
            }
        }
        if !saw_text && let Some(r) = m.refusal {
            push_text(&mut content, r);
        }
        for (n, c) in m.tool_calls.unwrap_or_default().into_iter().enumerate() {
            saw_tools = true;
            let f = c.function.unwrap_or(super::types::FunctionCall {
                name: None,
                arguments: None,
            });
            content.push(Part::ToolCall(ToolCall {
                id: anthropic_tool_id(c.id.as_deref().unwrap_or(""), || ctx.tool_id(n)),
                name: ctx.tool_names.restore(f.name.as_deref().unwrap_or("")),
                arguments: f.arguments.unwrap_or_else(|| "{}".into()),
                kind: ToolKind::Function,
            }));
        }
    }
    Ok(Response {
        id: ctx.id.clone(),
        model: ctx.model.clone(),
        content,
        stop_reason: stop_reason(finish.as_deref(), saw_tools),
        usage: w.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
    })
}

/// Appends reasoning text, extending the last part when it is reasoning too.
fn push_reasoning(content: &mut Vec<Part>, text: String) {
    if text.is_empty() {
        return;
    }
    match content.last_mut() {
        Some(Part::Reasoning(r)) => r.text.push_str(&text),
        _ => content.push(Part::Reasoning(ReasoningPart {
            text,
            ..ReasoningPart::default()
        })),
    }
}

/// Appends answer text, extending the last part when it is text too.
fn push_text(content: &mut Vec<Part>, text: String) {
    if text.is_empty() {
        return;
    }
    match content.last_mut() {
        Some(Part::Text(t)) => t.push_str(&text),
        _ => content.push(Part::Text(text)),
    }
}

/// The Chat `usage` object for internal usage.
pub fn usage_json(u: &Usage) -> serde_json::Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    })
}

/// What separates two text (or two reasoning) blocks in a Chat message's single `content` (or
/// `reasoning_content`) string: a blank line, so that separate messages of the upstream (a
/// Responses upstream's `commentary` and `final_answer` items, text on either side of interleaved
/// thinking) do not run together.
pub const BLOCK_SEPARATOR: &str = "\n\n";

/// Appends a block's text to a Chat string, after [`BLOCK_SEPARATOR`] when both are non-empty.
fn append_block(to: &mut String, block: &str) {
    if block.is_empty() {
        return;
    }
    if !to.is_empty() {
        to.push_str(BLOCK_SEPARATOR);
    }
    to.push_str(block);
}

/// Encodes a complete response as a `chat.completion` body for a Chat client.
pub fn encode_response(r: &Response, ctx: &ResponseContext) -> Vec<u8> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in &r.content {
        match p {
            Part::Text(t) => append_block(&mut text, t),
            Part::Reasoning(rp) => append_block(&mut reasoning, &rp.text),
            Part::ToolCall(c) => calls.push(json!({
                "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            })),
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { serde_json::Value::Null } else { json!(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    let body = json!({
        "id": r.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(&r.stop_reason)}],
        "usage": usage_json(&r.usage),
    });
    crate::wire::to_json(&body)
}

/// `(type, code)` of an OpenAI error body for a kind. A used-up quota is OpenAI's own
/// `insufficient_quota`, which Codex and other OpenAI clients stop on.
pub fn error_type_code(kind: ErrorKind) -> (&'static str, Option<&'static str>) {
    match kind {
        ErrorKind::Billing => ("insufficient_quota", Some("insufficient_quota")),
        ErrorKind::InvalidRequest => ("invalid_request_error", None),
        ErrorKind::ContextLengthExceeded => {
            ("invalid_request_error", Some("context_length_exceeded"))
        }
        ErrorKind::Authentication => ("authentication_error", Some("invalid_api_key")),
        ErrorKind::Permission => ("permission_error", None),
        ErrorKind::NotFound => ("invalid_request_error", Some("model_not_found")),
        ErrorKind::RequestTooLarge => ("invalid_request_error", Some("request_too_large")),
        ErrorKind::RateLimit => ("rate_limit_error", Some("rate_limit_exceeded")),
        ErrorKind::Overloaded => ("server_error", Some("server_is_overloaded")),
        ErrorKind::Timeout => ("server_error", Some("timeout")),
        ErrorKind::Unreachable => ("server_error", Some("upstream_unreachable")),
        ErrorKind::Api => ("server_error", None),
    }
}

/// The HTTP status an OpenAI (Chat or Responses) client gets for `e`: its own status, except that
/// a used-up quota is 429, as OpenAI sends `insufficient_quota`.
pub fn error_status(e: &ApiError) -> u16 {
    match e.kind {
        ErrorKind::Billing => 429,
        _ => e.status,
    }
}

#[derive(Serialize)]
struct OutError<'a> {
    error: OutErrorDetail<'a>,
}

#[derive(Serialize)]
struct OutErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<()>,
    code: Option<&'static str>,
}

/// Encodes an error as `{"error":{"message","type","param","code"}}`.
pub fn encode_error(e: &ApiError) -> Vec<u8> {
    let (kind, code) = error_type_code(e.kind);
    crate::wire::to_json(&OutError {
        error: OutErrorDetail {
            message: &e.message,
            kind,
            param: None,
            code,
        },
    })
}

/// The message of an OpenAI error body, if `body` is one.
pub fn decode_error_message(body: &[u8]) -> Option<String> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    e.error.message
}

/// Whether an upstream error message says the prompt exceeded the context window (wordings of
/// OpenAI, vLLM, Groq, Cerebras and others).
pub fn is_context_length_message(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("context_length_exceeded")
        || m.contains("context length")
        || m.contains("context window")
        || m.contains("maximum context")
        || m.contains("prompt is too long")
        || (m.contains("too many tokens") && m.contains("prompt"))
}
