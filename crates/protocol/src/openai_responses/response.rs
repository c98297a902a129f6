//! Responses response objects and errors ⇄ internal model (API reference "The response object";
//! what Codex reads from it: protocols.md §3.3–3.4).
//!
//! The output-item builders here are shared with the stream encoder, so a streamed answer's
//! `response.output_item.done` items and `response.completed` output equal a non-streamed one's.

use super::types::{InputItem, WireError, WireResponse, WireUsage};
use super::{ANTHROPIC_REDACTED_PREFIX, ANTHROPIC_SIGNATURE_PREFIX, item_id};
use crate::ir::{
    ApiError, ErrorKind, Part, ReasoningPart, Response, StopReason, ToolCall, ToolKind, Usage,
};
use crate::openai_chat::response::is_context_length_message;
use crate::target::{ResponseContext, anthropic_tool_id};
use crate::wire::StringOr;
use serde_json::{Value, json};

/// `(status, incomplete_details.reason)` for a stop reason: output cut by the token limit or a
/// content filter is `incomplete`, as the API reports it.
pub fn status_of(r: &StopReason) -> (&'static str, Option<&'static str>) {
    match r {
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => {
            ("incomplete", Some("max_output_tokens"))
        }
        StopReason::Refusal => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// The `usage` object. `input_tokens` includes cached tokens and `output_tokens` reasoning
/// tokens, as in the internal model.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

/// Converts wire usage to the internal form.
pub fn usage_from_wire(u: &WireUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens.unwrap_or(0),
        output_tokens: u.output_tokens.unwrap_or(0),
        cache_read_tokens: u
            .input_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_creation_tokens: 0,
        reasoning_tokens: u
            .output_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

/// A `response` object (the body of a non-streamed answer and of the `response.*` lifecycle
/// events).
pub fn response_object(
    ctx: &ResponseContext,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
    incomplete: Option<&str>,
    error: Option<Value>,
) -> Value {
    json!({
        "id": ctx.id,
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete.map(|r| json!({"reason": r})),
        "model": ctx.model,
        "output": output,
        "usage": usage.map(usage_json),
    })
}

/// A `message` output item holding one `output_text` part.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "in_progress" {
        json!([])
    } else {
        json!([output_text_part(text)])
    };
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

/// An `output_text` content part.
pub fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

/// A `reasoning` output item: the text as one summary part, and `encrypted_content` when the
/// reasoning carries something to replay.
pub fn reasoning_item(id: &str, text: &str, encrypted: Option<&str>) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(e) = encrypted {
        item["encrypted_content"] = Value::String(e.to_owned());
    }
    item
}

/// A `function_call` output item.
pub fn function_call_item(id: &str, call_id: &str, name: &str, args: &str, status: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "arguments": args,
           "call_id": call_id, "name": name})
}

/// A `custom_tool_call` output item.
pub fn custom_call_item(id: &str, call_id: &str, name: &str, input: &str, status: &str) -> Value {
    json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id,
           "name": name, "input": input})
}

/// What a reasoning part carries for replay in `encrypted_content`: OpenAI's own blob, or an
/// Anthropic signature / redacted-thinking payload under a prefix, so a Responses client's next
/// request restores it for an Anthropic upstream.
pub fn encrypted_of(r: &ReasoningPart) -> Option<String> {
    if let Some(e) = &r.encrypted {
        return Some(e.clone());
    }
    if let Some(d) = &r.redacted {
        return Some(format!("{ANTHROPIC_REDACTED_PREFIX}{d}"));
    }
    r.signature
        .as_ref()
        .filter(|s| !s.is_empty() && s.as_str() != crate::anthropic::FOREIGN_SIGNATURE)
        .map(|s| format!("{ANTHROPIC_SIGNATURE_PREFIX}{s}"))
}

/// The raw input of a custom tool the upstream saw as a function with one string parameter
/// `input`: the inner string of `{"input": "…"}`, else the arguments unchanged.
pub fn unwrap_custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => match o.get("input") {
            Some(Value::String(s)) => s.clone(),
            _ => match o.values().next() {
                Some(Value::String(s)) if o.len() == 1 => s.clone(),
                _ => arguments.to_owned(),
            },
        },
        _ => arguments.to_owned(),
    }
}

/// Whether a call to `name` goes to the client as a `custom_tool_call`, and its input: a
/// [`ToolKind::Custom`] call carries the raw input; a function call to a tool the client
/// defined as custom carries `{"input": …}`.
pub fn custom_input(c: &ToolCall, ctx: &ResponseContext) -> Option<String> {
    match c.kind {
        ToolKind::Custom => Some(c.arguments.clone()),
        ToolKind::Function if ctx.tool_names.is_custom(&c.name) => {
            Some(unwrap_custom_input(&c.arguments))
        }
        ToolKind::Function => None,
    }
}

/// Encodes a complete answer as a Responses `response` object for a Responses client.
pub fn encode_response(r: &Response, ctx: &ResponseContext) -> Vec<u8> {
    let mut output = Vec::with_capacity(r.content.len());
    for (n, p) in r.content.iter().enumerate() {
        match p {
            Part::Reasoning(rp) => output.push(reasoning_item(
                &item_id(&ctx.id, "rs", n),
                &rp.text,
                encrypted_of(rp).as_deref(),
            )),
            Part::Text(t) if !t.is_empty() => {
                output.push(message_item(&item_id(&ctx.id, "msg", n), t, "completed"))
            }
            Part::ToolCall(c) => output.push(match custom_input(c, ctx) {
                Some(input) => custom_call_item(
                    &item_id(&ctx.id, "ctc", n),
                    &c.id,
                    &c.name,
                    &input,
                    "completed",
                ),
                None => function_call_item(
                    &item_id(&ctx.id, "fc", n),
                    &c.id,
                    &c.name,
                    &c.arguments,
                    "completed",
                ),
            }),
            _ => {}
        }
    }
    let (status, incomplete) = status_of(&r.stop_reason);
    let body = response_object(ctx, status, output, Some(&r.usage), incomplete, None);
    crate::wire::to_json(&body)
}

/// Decodes a `response` object from a Responses upstream. A `failed` response is returned as its
/// error.
pub fn decode_response(body: &[u8], ctx: &ResponseContext) -> Result<Response, ApiError> {
    let w: WireResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Api,
            format!("upstream sent an invalid Responses response: {e}"),
        )
    })?;
    if w.status.as_deref() == Some("failed") {
        return Err(error_from_wire(&w.error.unwrap_or_default()));
    }
    let mut content = Vec::new();
    let mut saw_tools = false;
    for item in w.output {
        if let Some(p) = output_item_part(item, ctx, content.len()) {
            if let Part::ToolCall(c) = &p
                && c.name.is_empty()
            {
                return Err(ApiError::nameless_tool_call(&c.id));
            }
            saw_tools |= matches!(p, Part::ToolCall(_));
            content.push(p);
        }
    }
    Ok(Response {
        id: ctx.id.clone(),
        model: ctx.model.clone(),
        content,
        stop_reason: stop_reason(w.status.as_deref(), w.incomplete_details, saw_tools),
        usage: w.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
    })
}

/// The stop reason of a finished response.
pub fn stop_reason(
    status: Option<&str>,
    incomplete: Option<super::types::IncompleteDetails>,
    saw_tools: bool,
) -> StopReason {
    if status == Some("incomplete") {
        return match incomplete.and_then(|d| d.reason).as_deref() {
            Some("content_filter") => StopReason::Refusal,
            _ => StopReason::MaxTokens,
        };
    }
    if saw_tools {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    }
}

/// One complete output item as a part (`message`, `reasoning`, `function_call`,
/// `custom_tool_call`); hosted-tool items have none. `n` numbers calls without an id.
pub fn output_item_part(item: InputItem, ctx: &ResponseContext, n: usize) -> Option<Part> {
    match item.kind.as_deref()? {
        "message" => {
            let text = message_text(item.content);
            (!text.is_empty()).then_some(Part::Text(text))
        }
        "reasoning" => {
            let text = reasoning_text(&item);
            Some(Part::Reasoning(ReasoningPart {
                text,
                encrypted: item.encrypted_content,
                ..ReasoningPart::default()
            }))
        }
        kind @ ("function_call" | "custom_tool_call") => {
            let custom = kind == "custom_tool_call";
            let id = item.call_id.or(item.id).unwrap_or_default();
            Some(Part::ToolCall(ToolCall {
                id: anthropic_tool_id(&id, || ctx.tool_id(n)),
                name: ctx.tool_names.restore(item.name.as_deref().unwrap_or("")),
                arguments: if custom {
                    item.input.unwrap_or_default()
                } else {
                    item.arguments.unwrap_or_else(|| "{}".into())
                },
                kind: if custom {
                    ToolKind::Custom
                } else {
                    ToolKind::Function
                },
            }))
        }
        _ => None,
    }
}

/// The text of a message item: its `output_text` and `refusal` parts.
pub fn message_text(content: Option<StringOr<super::types::ContentPart>>) -> String {
    match content {
        None => String::new(),
        Some(StringOr::String(s)) => s,
        Some(StringOr::Items(parts)) => parts
            .into_iter()
            .filter_map(|p| p.text.or(p.refusal))
            .collect(),
    }
}

/// The text of a reasoning item: raw reasoning when present, else the summary parts.
pub fn reasoning_text(item: &InputItem) -> String {
    if let Some(StringOr::Items(parts)) = &item.content {
        let raw: String = parts.iter().filter_map(|p| p.text.as_deref()).collect();
        if !raw.is_empty() {
            return raw;
        }
    }
    item.summary
        .iter()
        .flatten()
        .filter_map(|p| p.text.as_deref())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The `response.error.code` for an error, from the codes Codex acts on (protocols.md §3.3):
/// `context_length_exceeded` (it compacts), `insufficient_quota` (it stops), `rate_limit_exceeded`
/// (it waits for the "try again in N s" of the message); anything else is `server_error`, which
/// it retries.
pub fn failure_code(e: &ApiError) -> &'static str {
    match e.kind {
        ErrorKind::ContextLengthExceeded => "context_length_exceeded",
        _ if is_context_length_message(&e.message) => "context_length_exceeded",
        ErrorKind::Billing => "insufficient_quota",
        ErrorKind::RateLimit => "rate_limit_exceeded",
        _ => "server_error",
    }
}

/// The internal error for a Responses error object (`response.error` or an `error` event).
pub fn error_from_wire(e: &WireError) -> ApiError {
    let message = e
        .message
        .clone()
        .unwrap_or_else(|| "upstream response failed".into());
    let labels = [e.code.as_deref(), e.kind.as_deref()];
    let labels: Vec<&str> = labels.into_iter().flatten().collect();
    ApiError::new(crate::classify::classify(None, &labels, &message), message)
}

/// The HTTP status a Responses client gets for `e` (OpenAI's, as for Chat).
pub fn error_status(e: &ApiError) -> u16 {
    crate::openai_chat::response::error_status(e)
}

/// Encodes an error body, in OpenAI's shape (`{"error":{"message","type","param","code"}}`,
/// shared by Chat Completions and Responses).
pub fn encode_error(e: &ApiError) -> Vec<u8> {
    crate::openai_chat::encode_error(e)
}

/// The message of an OpenAI error body, if `body` is one.
pub fn decode_error_message(body: &[u8]) -> Option<String> {
    crate::openai_chat::decode_error_message(body)
}
