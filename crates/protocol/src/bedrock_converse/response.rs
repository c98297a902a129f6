//! Bedrock Converse responses, stop reasons, usage and errors ⇄ internal model (protocols.md §7.3;
//! API reference "Converse", `ConverseResponse`, `StopReason`, `TokenUsage`; the operation's
//! errors in the `bedrock-runtime` Smithy model).

use super::types::{ConverseResponse, ErrorBody, WireUsage};
use crate::ir::{
    ApiError, ErrorKind, Part, ReasoningPart, Response, StopReason, ToolCall, ToolKind, Usage,
};
use crate::target::{ResponseContext, anthropic_tool_id};
use serde_json::{Value, json};

/// Maps a `stopReason`. `end_turn`, `tool_use`, `max_tokens`, `stop_sequence` and
/// `model_context_window_exceeded` are the internal reasons of the same name (the sequence that
/// stopped Claude is read from `additionalModelResponseFields.stop_sequence`);
/// `guardrail_intervened` and `content_filtered` are a refusal; unknown values are `end_turn`.
///
/// Errors: `malformed_model_output` and `malformed_tool_use` (the model's answer could not be
/// read) → an `api_error`: there is no answer to forward.
pub fn parse_stop_reason(s: &str, fields: Option<&Value>) -> Result<StopReason, ApiError> {
    Ok(match s {
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence(
            fields
                .and_then(|f| f.get("stop_sequence"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        "guardrail_intervened" | "content_filtered" => StopReason::Refusal,
        "malformed_model_output" | "malformed_tool_use" => {
            return Err(ApiError::new(
                ErrorKind::Api,
                format!("the upstream model's output could not be read (Bedrock stopReason {s})"),
            ));
        }
        _ => StopReason::EndTurn,
    })
}

/// The `stopReason` for a stop reason (a refusal is `content_filtered`; Converse has no
/// `pause_turn`).
pub fn stop_reason_str(r: &StopReason) -> &'static str {
    match r {
        StopReason::EndTurn | StopReason::PauseTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence(_) => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "content_filtered",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
    }
}

/// `additionalModelResponseFields` carrying the stop sequence, for a stop reason that has one.
pub(super) fn response_fields(r: &StopReason) -> Option<Value> {
    match r {
        StopReason::StopSequence(Some(s)) => Some(json!({ "stop_sequence": s })),
        _ => None,
    }
}

/// Converts wire usage: Converse's `inputTokens` counts only uncached input, so the prompt is
/// `inputTokens + cacheReadInputTokens + cacheWriteInputTokens` (user guide, "Prompt caching").
pub fn usage_from_wire(u: &WireUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_write_input_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.input_tokens.unwrap_or(0) + read + write,
        output_tokens: u.output_tokens.unwrap_or(0),
        cache_read_tokens: read,
        cache_creation_tokens: write,
        reasoning_tokens: 0,
    }
}

/// The `usage` (`TokenUsage`) object for internal usage.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "inputTokens": u.uncached_input(),
        "outputTokens": u.output_tokens,
        "totalTokens": u.input_tokens + u.output_tokens,
        "cacheReadInputTokens": u.cache_read_tokens,
        "cacheWriteInputTokens": u.cache_creation_tokens,
    })
}

/// Decodes a `ConverseResponse` from an upstream: `{output: {message: {role, content}},
/// stopReason, usage, metrics, additionalModelResponseFields}`. Text, reasoning and tool calls
/// are kept in order; tool-call ids are made ones Anthropic clients accept and names restored
/// through `ctx.tool_names`, like the other decoders.
///
/// Errors: a body that is not a Converse response, a malformed stop reason
/// ([`parse_stop_reason`]), or a tool call without a name → `api_error`.
pub fn decode_response(body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
    let w: ConverseResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Api,
            format!("upstream sent an invalid Converse response: {e}"),
        )
    })?;
    let stop_reason = parse_stop_reason(
        w.stop_reason.as_deref().unwrap_or("end_turn"),
        w.additional_model_response_fields.as_ref(),
    )?;
    let blocks = w
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default();
    let mut content = Vec::with_capacity(blocks.len());
    let mut calls = 0;
    for b in blocks {
        if let Some(t) = b.text.filter(|t| !t.is_empty()) {
            content.push(Part::Text(t));
        } else if let Some(r) = b.reasoning_content {
            let part = match (r.reasoning_text, r.redacted_content) {
                (Some(t), _) => ReasoningPart {
                    text: t.text,
                    signature: t.signature.filter(|s| !s.is_empty()),
                    ..ReasoningPart::default()
                },
                (None, Some(data)) => ReasoningPart {
                    redacted: Some(data),
                    ..ReasoningPart::default()
                },
                (None, None) => continue,
            };
            content.push(Part::Reasoning(part));
        } else if let Some(u) = b.tool_use {
            let raw_id = u.tool_use_id.unwrap_or_default();
            let name = u.name.filter(|n| !n.is_empty());
            let Some(name) = name else {
                return Err(ApiError::nameless_tool_call(&raw_id));
            };
            content.push(Part::ToolCall(ToolCall {
                id: anthropic_tool_id(&raw_id, || ctx.tool_id(calls)),
                name: ctx.tool_names.restore(&name),
                arguments: u
                    .input
                    .map(|r| r.get().to_owned())
                    .unwrap_or_else(|| "{}".into()),
                kind: ToolKind::Function,
            }));
            calls += 1;
        }
    }
    Ok(Response {
        id: ctx.id.clone(),
        model: ctx.model.clone(),
        content,
        stop_reason,
        usage: w.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
    })
}

/// Encodes a complete response as a `ConverseResponse` body (for a Converse client, and for
/// round-trip tests): content in order, empty text left out, `metrics.latencyMs` 0.
pub fn encode_response(r: &Response, _ctx: &ResponseContext) -> Vec<u8> {
    let mut content = Vec::with_capacity(r.content.len());
    for p in &r.content {
        match p {
            Part::Text(t) if !t.is_empty() => content.push(json!({ "text": t })),
            Part::Reasoning(rp) => content.push(reasoning_block(rp)),
            Part::ToolCall(c) => content.push(json!({"toolUse": {
                "toolUseId": c.id,
                "name": c.name,
                "input": crate::anthropic::response::tool_input(c),
            }})),
            _ => {}
        }
    }
    let mut body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason_str(&r.stop_reason),
        "usage": usage_json(&r.usage),
        "metrics": {"latencyMs": 0},
    });
    if let Some(f) = response_fields(&r.stop_reason) {
        body["additionalModelResponseFields"] = f;
    }
    crate::wire::to_json(&body)
}

/// A `reasoningContent` block: `{redactedContent}` or `{reasoningText: {text, signature?}}`.
fn reasoning_block(r: &ReasoningPart) -> Value {
    if let Some(data) = &r.redacted {
        return json!({"reasoningContent": {"redactedContent": data}});
    }
    let mut text = json!({ "text": r.text });
    if let Some(s) = &r.signature {
        text["signature"] = json!(s);
    }
    json!({"reasoningContent": {"reasoningText": text}})
}

/// The kind of a Bedrock exception, by its name as the `:exception-type` of a stream frame
/// (`throttlingException`) or the `x-amzn-ErrorType` header of an HTTP error
/// (`ThrottlingException`, possibly followed by `:` and a namespace URL); case-insensitive.
/// From the exceptions of the `Converse`/`ConverseStream` operations and the AWS common errors:
///
/// | exception | kind |
/// |---|---|
/// | `ThrottlingException`, `ServiceQuotaExceededException` | rate limit |
/// | `ValidationException`, `ConflictException` | invalid request (see [`exception_error`] for context-length messages) |
/// | `AccessDeniedException` | permission |
/// | `UnrecognizedClientException`, `ExpiredTokenException`, `InvalidSignatureException`, `IncompleteSignatureException`, `MissingAuthenticationTokenException` | authentication |
/// | `ResourceNotFoundException` | not found |
/// | `ServiceUnavailableException`, `ModelNotReadyException`, `ModelStreamErrorException` | overloaded |
/// | `ModelTimeoutException` | timeout |
/// | `InternalServerException`, `ModelErrorException`, anything else | api error |
pub fn exception_kind(exception_type: &str) -> ErrorKind {
    let name = exception_type.split(':').next().unwrap_or("").trim();
    match name.to_ascii_lowercase().as_str() {
        "throttlingexception" | "servicequotaexceededexception" => ErrorKind::RateLimit,
        "validationexception" | "conflictexception" => ErrorKind::InvalidRequest,
        "accessdeniedexception" => ErrorKind::Permission,
        "unrecognizedclientexception"
        | "expiredtokenexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "missingauthenticationtokenexception" => ErrorKind::Authentication,
        "resourcenotfoundexception" => ErrorKind::NotFound,
        "serviceunavailableexception" | "modelnotreadyexception" | "modelstreamerrorexception" => {
            ErrorKind::Overloaded
        }
        "modeltimeoutexception" => ErrorKind::Timeout,
        _ => ErrorKind::Api,
    }
}

/// The error for a Bedrock exception and its message: [`exception_kind`], except that an invalid
/// request whose message says the prompt is too long ("Input is too long for requested model",
/// Anthropic's "prompt is too long", "too many input tokens", …) is a context-length error.
pub fn exception_error(exception_type: &str, message: &str) -> ApiError {
    let mut kind = exception_kind(exception_type);
    if matches!(kind, ErrorKind::InvalidRequest | ErrorKind::Api) && is_too_long(message) {
        kind = ErrorKind::ContextLengthExceeded;
    }
    let message = if message.is_empty() {
        exception_type.split(':').next().unwrap_or("").to_owned()
    } else {
        message.to_owned()
    };
    ApiError::new(kind, message)
}

/// Whether a Bedrock error message says the input does not fit the model.
fn is_too_long(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    crate::openai_chat::response::is_context_length_message(message)
        || m.contains("input is too long")
        || m.contains("too many input tokens")
        || m.contains("exceed context limit")
        || m.contains("exceeds the context")
}

/// The exception name for a kind, as the `x-amzn-ErrorType` of an HTTP error.
pub fn exception_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimit => "ThrottlingException",
        ErrorKind::Overloaded => "ServiceUnavailableException",
        ErrorKind::InvalidRequest
        | ErrorKind::ContextLengthExceeded
        | ErrorKind::RequestTooLarge => "ValidationException",
        ErrorKind::Authentication => "UnrecognizedClientException",
        ErrorKind::Permission | ErrorKind::Billing => "AccessDeniedException",
        ErrorKind::NotFound => "ResourceNotFoundException",
        ErrorKind::Timeout => "ModelTimeoutException",
        ErrorKind::Api | ErrorKind::Unreachable => "InternalServerException",
    }
}

/// The exception event for a kind in a ConverseStream (whose union has only five:
/// `ConverseStreamOutput`).
pub fn stream_exception_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimit => "throttlingException",
        ErrorKind::Overloaded => "serviceUnavailableException",
        ErrorKind::Timeout => "modelStreamErrorException",
        ErrorKind::Api | ErrorKind::Unreachable => "internalServerException",
        _ => "validationException",
    }
}

/// The HTTP status a Converse client gets for `e`: its own, except Bedrock's 503 for overload
/// (`ServiceUnavailableException`; 529 is Anthropic's) and 403 for billing (Bedrock reports
/// account problems as `AccessDeniedException`).
pub fn error_status(e: &ApiError) -> u16 {
    match e.kind {
        ErrorKind::Overloaded => 503,
        ErrorKind::Billing => 403,
        _ => e.status,
    }
}

/// Encodes an error as Bedrock's `{"message": "…"}` (the exception name goes in the
/// `x-amzn-ErrorType` header: [`exception_type`]).
pub fn encode_error(e: &ApiError) -> Vec<u8> {
    crate::wire::to_json(&json!({ "message": e.message }))
}

/// The message of a Bedrock error body, if `body` is one.
pub fn decode_error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body).ok()?.message
}

/// The internal error for a Bedrock HTTP error: the kind of its `x-amzn-ErrorType` exception
/// ([`exception_error`]) or, without one, of its status; the status kept when it agrees with
/// the kind; the body's `message`, else the start of the body.
pub fn upstream_error(status: u16, exception: Option<&str>, body: &[u8]) -> ApiError {
    let message = decode_error_message(body).unwrap_or_else(|| {
        String::from_utf8_lossy(&body[..body.len().min(500)])
            .trim()
            .to_owned()
    });
    let kind = match exception.filter(|e| !e.is_empty()) {
        Some(e) => exception_error(e, &message).kind,
        None => crate::classify::classify(Some(status), &[], &message),
    };
    ApiError {
        kind,
        status: if ErrorKind::from_status(status) == kind {
            status
        } else {
            kind.status()
        },
        message,
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
