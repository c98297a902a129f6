//! Anthropic Messages response and error bodies ⇄ internal model.

use super::request::FOREIGN_SIGNATURE;
use super::types::{ErrorBody, MessagesResponse, WireUsage};
use crate::ir::{
    ApiError, ErrorKind, Part, ReasoningPart, Response, StopReason, ToolCall, ToolKind, Usage,
};
use crate::wire::raw_object;
use serde::Serialize;
use serde_json::value::RawValue;

/// The wire name of a stop reason.
pub fn stop_reason_str(r: &StopReason) -> &'static str {
    match r {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence(_) => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
        StopReason::PauseTurn => "pause_turn",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
    }
}

/// Parses a wire stop reason; unknown values are [`StopReason::EndTurn`].
pub fn parse_stop_reason(s: &str, sequence: Option<String>) -> StopReason {
    match s {
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence(sequence),
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        "pause_turn" => StopReason::PauseTurn,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        _ => StopReason::EndTurn,
    }
}

/// The `usage` object, always with both cache fields (Claude Code ≥2.1.79 expects the full shape,
/// litellm#24176).
#[derive(Serialize)]
pub struct OutUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl From<&Usage> for OutUsage {
    fn from(u: &Usage) -> OutUsage {
        OutUsage {
            input_tokens: u.uncached_input(),
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_tokens,
            cache_read_input_tokens: u.cache_read_tokens,
        }
    }
}

/// Converts wire usage to the internal form (prompt = input + cache reads + cache writes).
pub fn usage_from_wire(u: &WireUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let created = u.cache_creation_input_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.input_tokens.unwrap_or(0) + read + created,
        output_tokens: u.output_tokens.unwrap_or(0),
        cache_read_tokens: read,
        cache_creation_tokens: created,
        reasoning_tokens: 0,
    }
}

#[derive(Serialize)]
struct OutResponse<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: OutUsage,
}

/// A response content block.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Box<RawValue>,
    },
}

/// Encodes a complete response as a Messages response body. Content is ordered thinking, text,
/// tool_use (an assistant turn with thinking must start with it, anthropics/claude-code#20692);
/// empty text is omitted.
pub fn encode_response(r: &Response) -> Vec<u8> {
    let mut content = Vec::with_capacity(r.content.len());
    for rank in 0..3 {
        for p in &r.content {
            match (rank, p) {
                (0, Part::Reasoning(rp)) => content.push(reasoning_block(rp)),
                (1, Part::Text(t)) if !t.is_empty() => content.push(OutBlock::Text { text: t }),
                (2, Part::ToolCall(c)) => content.push(OutBlock::ToolUse {
                    id: &c.id,
                    name: &c.name,
                    input: tool_input(c),
                }),
                _ => {}
            }
        }
    }
    let stop_sequence = match &r.stop_reason {
        StopReason::StopSequence(s) => s.as_deref(),
        _ => None,
    };
    let out = OutResponse {
        id: &r.id,
        kind: "message",
        role: "assistant",
        model: &r.model,
        content,
        stop_reason: stop_reason_str(&r.stop_reason),
        stop_sequence,
        usage: OutUsage::from(&r.usage),
    };
    crate::wire::to_json(&out)
}

/// The `tool_use.input` object of a call: custom (raw-string) calls are wrapped as `{"input": …}`.
pub fn tool_input(c: &ToolCall) -> Box<RawValue> {
    if c.kind == ToolKind::Custom {
        let v = serde_json::json!({ "input": c.arguments });
        return crate::wire::raw_value(&v);
    }
    raw_object(&c.arguments)
}

fn reasoning_block(r: &ReasoningPart) -> OutBlock<'_> {
    match &r.redacted {
        Some(data) => OutBlock::RedactedThinking { data },
        None => OutBlock::Thinking {
            thinking: &r.text,
            signature: r.signature.as_deref().unwrap_or(FOREIGN_SIGNATURE),
        },
    }
}

/// Decodes a Messages response from an Anthropic upstream. `model` is the name to show the client.
pub fn decode_response(body: &[u8], model: &str) -> Result<Response, ApiError> {
    let w: MessagesResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Api,
            format!("upstream sent an invalid Messages response: {e}"),
        )
    })?;
    let mut content = Vec::with_capacity(w.content.len());
    for b in w.content {
        match b.kind.as_str() {
            "text" => content.push(Part::Text(b.text.unwrap_or_default())),
            "thinking" => content.push(Part::Reasoning(ReasoningPart {
                text: b.thinking.unwrap_or_default(),
                signature: b.signature,
                ..ReasoningPart::default()
            })),
            "redacted_thinking" => content.push(Part::Reasoning(ReasoningPart {
                redacted: b.data,
                ..ReasoningPart::default()
            })),
            "tool_use" => content.push(Part::ToolCall(ToolCall {
                id: b.id.unwrap_or_default(),
                name: b.name.unwrap_or_default(),
                arguments: b
                    .input
                    .map(|r| r.get().to_owned())
                    .unwrap_or_else(|| "{}".into()),
                kind: ToolKind::Function,
            })),
            _ => {}
        }
    }
    Ok(Response {
        id: w.id.unwrap_or_default(),
        model: model.to_owned(),
        content,
        stop_reason: parse_stop_reason(
            w.stop_reason.as_deref().unwrap_or("end_turn"),
            w.stop_sequence,
        ),
        usage: w.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
    })
}

/// The wire `error.type` for a kind (Anthropic's error types, protocols.md §1.6; `timeout_error`
/// is the API's 504 type).
pub fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::ContextLengthExceeded => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Billing => "billing_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::Api | ErrorKind::Unreachable => "api_error",
    }
}

/// The HTTP status an Anthropic client gets for `e`: its own status, except that a used-up quota
/// is 402 `billing_error` (Anthropic's status for it) whatever the upstream said: OpenAI's 429
/// would make Claude Code and the SDKs retry a request that cannot succeed.
pub fn error_status(e: &ApiError) -> u16 {
    match e.kind {
        ErrorKind::Billing => 402,
        _ => e.status,
    }
}

#[derive(Serialize)]
struct OutError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: OutErrorDetail<'a>,
}

#[derive(Serialize)]
struct OutErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// Encodes an error as `{"type":"error","error":{"type","message"}}`.
pub fn encode_error(e: &ApiError) -> Vec<u8> {
    crate::wire::to_json(&OutError {
        kind: "error",
        error: OutErrorDetail {
            kind: error_type(e.kind),
            message: &e.message,
        },
    })
}

/// The message of an Anthropic error body, if `body` is one.
pub fn decode_error_message(body: &[u8]) -> Option<String> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match (e.error.kind, e.error.message) {
        (Some(k), Some(m)) => Some(format!("{k}: {m}")),
        (_, m) => m,
    }
}
