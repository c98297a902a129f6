//! Responses request (what Codex sends, protocols.md §3.2) → internal model (mapping table:
//! protocols.md §4.4). The way back, for Responses upstreams, is in [`super::upstream`].

use super::types::{ContentPart, InputItem, ResponsesRequest, TextConfig, WireTool};
use super::{ANTHROPIC_REDACTED_PREFIX, ANTHROPIC_SIGNATURE_PREFIX};
use crate::ir::{
    ApiError, Dropped, Effort, ImageSource, Message, Part, Reasoning, ReasoningPart, Request, Role,
    Tool, ToolCall, ToolChoice, ToolKind, ToolResult,
};
use crate::shape::{self, ShapeError};
use crate::wire::StringOr;
use serde_json::{Value, json};
use std::collections::HashSet;

/// A decoded request and the server-side state it refers to, which a gateway without a response
/// store cannot supply (protocols.md §3.4).
#[derive(Debug)]
pub struct Decoded {
    pub request: Request,
    /// `previous_response_id`: the conversation so far lives in the upstream's store.
    pub previous_response_id: Option<String>,
    /// `conversation`: likewise, a stored conversation.
    pub conversation: Option<String>,
}

impl Decoded {
    /// The error for a request that needs server-side state, if it does. Only a pass-through to
    /// a Responses upstream can serve such a request.
    pub fn state_error(&self) -> Option<ApiError> {
        let (field, id) = match (&self.previous_response_id, &self.conversation) {
            (Some(id), _) => ("previous_response_id", id),
            (None, Some(id)) => ("conversation", id),
            (None, None) => return None,
        };
        Some(ApiError::invalid_request(format!(
            "`{field}` ({id}) is not supported: this gateway keeps no server-side response \
             state. Send the whole conversation in `input` (as Codex does with store=false)."
        )))
    }
}

/// Decodes a Responses request for translation to another protocol. A request that continues
/// stored state (`previous_response_id`, `conversation`) is refused with `invalid_request_error`;
/// use [`decode`] to learn about it without refusing.
///
/// Errors: invalid JSON, a body that is not a Responses request, or a malformed tool or item →
/// `invalid_request_error` naming the problem.
pub fn decode_request(body: &[u8]) -> Result<Request, ApiError> {
    let d = decode(body)?;
    match d.state_error() {
        Some(e) => Err(e),
        None => Ok(d.request),
    }
}

/// Every content part `type` a Responses message may hold (API reference "Responses", input
/// message content and output message content), with the `text`, `summary_text` and
/// `reasoning_text` parts some clients replay. Any other `type` is refused, as OpenAI refuses it.
pub const PART_TYPES: &[&str] = &[
    "input_text",
    "input_image",
    "input_file",
    "input_audio",
    "output_text",
    "refusal",
    "text",
    "summary_text",
    "reasoning_text",
];

/// Every content part of a message item with a `type` has one of [`PART_TYPES`].
fn check_part_types(w: &ResponsesRequest) -> Result<(), ShapeError> {
    let Some(StringOr::Items(items)) = &w.input else {
        return Ok(());
    };
    for (i, item) in items.iter().enumerate() {
        if !matches!(item.kind.as_deref(), None | Some("message")) {
            continue;
        }
        let Some(StringOr::Items(parts)) = &item.content else {
            continue;
        };
        for (j, p) in parts.iter().enumerate() {
            if let Some(kind) = &p.kind {
                ShapeError::check_name(kind, PART_TYPES, || {
                    format!("input[{i}].content[{j}].type")
                })?;
            }
        }
    }
    Ok(())
}

/// Decodes a Responses request, reporting (not refusing) references to server-side state.
pub fn decode(body: &[u8]) -> Result<Decoded, ApiError> {
    const WHAT: &str = "invalid Responses request body";
    let w: ResponsesRequest = shape::from_json(body).map_err(|e| e.into_api_error(WHAT))?;
    check_part_types(&w).map_err(|e| e.into_api_error(WHAT))?;
    let mut req = Request {
        model: w.model,
        max_tokens: w.max_output_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        stream: w.stream,
        parallel_tool_calls: w.parallel_tool_calls,
        user: w.user.or(w.safety_identifier),
        ..Request::default()
    };
    if let Some(i) = w.instructions.filter(|i| !i.is_empty()) {
        req.system.push(i);
    }
    match w.input {
        Some(StringOr::String(s)) => req.messages.push(Message {
            role: Role::User,
            content: vec![Part::Text(s)],
        }),
        Some(StringOr::Items(items)) => Items::new(&mut req).run(items)?,
        None => {}
    }
    for (i, t) in w.tools.unwrap_or_default().into_iter().enumerate() {
        if let Some(tool) = tool_from_wire(t, i, &mut req.dropped)? {
            req.tools.push(tool);
        }
    }
    req.tool_choice = w.tool_choice.and_then(|c| tool_choice(c, &mut req.dropped));
    // `reasoning` without an effort asks for the model's default (Codex sends `{summary:"auto"}`
    // to models it does not know): no preference, so non-reasoning upstreams get no
    // `reasoning_effort` they would reject.
    req.reasoning = w
        .reasoning
        .and_then(|r| r.effort)
        .map(|e| match e.as_str() {
            "none" => Reasoning::Disabled,
            other => Reasoning::Enabled {
                budget_tokens: None,
                effort: Effort::parse(other),
            },
        });
    if let Some(text) = w.text {
        req.response_format = response_format(text, &mut req.dropped);
    }
    let conversation = w.conversation.and_then(|c| match c {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    for (name, present) in [
        ("store", w.store == Some(true)),
        ("metadata", w.metadata.is_some()),
        (
            "truncation",
            w.truncation.as_deref().is_some_and(|t| t != "disabled"),
        ),
        ("service_tier", w.service_tier.is_some()),
        ("background", w.background == Some(true)),
        ("top_logprobs", w.top_logprobs.is_some()),
        ("max_tool_calls", w.max_tool_calls.is_some()),
        ("prompt", w.prompt.is_some()),
    ] {
        if present {
            req.dropped.add(name);
        }
    }
    // Harmless without a store or a cache of our own: the answer does not change.
    let _ = (
        w.include,
        w.prompt_cache_key,
        w.prompt_cache_retention,
        w.client_metadata,
        w.stream_options,
    );
    Ok(Decoded {
        request: req,
        previous_response_id: w.previous_response_id,
        conversation,
    })
}

/// Folds input items into messages: a run of assistant-side items (reasoning, assistant
/// messages, function and custom tool calls) is one assistant message; consecutive tool outputs
/// are one user message of tool results.
struct Items<'r> {
    req: &'r mut Request,
    /// No conversation item yet: system/developer messages still join the system prompt.
    in_prefix: bool,
    /// The last message is an assistant turn that later assistant-side items extend.
    assistant_open: bool,
    /// Call ids seen so far; outputs for other ids are dropped (their call was dropped).
    calls: HashSet<String>,
}

impl<'r> Items<'r> {
    fn new(req: &'r mut Request) -> Items<'r> {
        Items {
            req,
            in_prefix: true,
            assistant_open: false,
            calls: HashSet::new(),
        }
    }

    fn run(mut self, items: Vec<InputItem>) -> Result<(), ApiError> {
        for (i, item) in items.into_iter().enumerate() {
            self.item(item, i)?;
        }
        Ok(())
    }

    fn item(&mut self, item: InputItem, i: usize) -> Result<(), ApiError> {
        let kind = match item.kind.as_deref() {
            Some(k) => k.to_owned(),
            None if item.role.is_some() => "message".to_owned(),
            None => {
                return Err(ApiError::invalid_request(format!(
                    "input[{i}] has neither `type` nor `role`"
                )));
            }
        };
        match kind.as_str() {
            "message" => self.message(item, i),
            "function_call" | "custom_tool_call" => {
                let custom = kind == "custom_tool_call";
                let id = item.call_id.or(item.id).ok_or_else(|| {
                    ApiError::invalid_request(format!("input[{i}] ({kind}) has no `call_id`"))
                })?;
                let name = item.name.ok_or_else(|| {
                    ApiError::invalid_request(format!("input[{i}] ({kind}) has no `name`"))
                })?;
                self.calls.insert(id.clone());
                let call = if custom {
                    ToolCall {
                        id,
                        name,
                        arguments: item.input.unwrap_or_default(),
                        kind: ToolKind::Custom,
                    }
                } else {
                    ToolCall {
                        id,
                        name,
                        arguments: item.arguments.unwrap_or_else(|| "{}".into()),
                        kind: ToolKind::Function,
                    }
                };
                self.assistant().push(Part::ToolCall(call));
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" => {
                let call_id = item.call_id.ok_or_else(|| {
                    ApiError::invalid_request(format!("input[{i}] ({kind}) has no `call_id`"))
                })?;
                if !self.calls.contains(&call_id) {
                    // The output of a call that was dropped (e.g. `local_shell_call`): a tool
                    // result without its call is rejected by every upstream.
                    self.req.dropped.add(&kind);
                    return Ok(());
                }
                let (content, is_error) = tool_output(item.output, &mut self.req.dropped);
                let kind = if kind == "custom_tool_call_output" {
                    ToolKind::Custom
                } else {
                    ToolKind::Function
                };
                self.tool_result(ToolResult {
                    call_id,
                    content,
                    is_error,
                    kind,
                });
                Ok(())
            }
            "reasoning" => {
                let part = reasoning_part(item);
                self.assistant().push(Part::Reasoning(part));
                Ok(())
            }
            // Hosted-tool calls, compaction blobs and references to stored items exist only on
            // OpenAI's side.
            other => {
                self.req.dropped.add(other);
                Ok(())
            }
        }
    }

    fn message(&mut self, item: InputItem, i: usize) -> Result<(), ApiError> {
        let role = item.role.as_deref().unwrap_or("user");
        match role {
            "system" | "developer" => {
                let text = content_text(item.content);
                self.assistant_open = false;
                if self.in_prefix {
                    self.req.system.push(text);
                } else {
                    self.req.messages.push(Message {
                        role: Role::System,
                        content: vec![Part::Text(text)],
                    });
                }
            }
            "assistant" => {
                self.in_prefix = false;
                let parts = content_parts(item.content, &mut self.req.dropped);
                self.assistant().extend(parts);
            }
            "user" => {
                self.in_prefix = false;
                self.assistant_open = false;
                let content = content_parts(item.content, &mut self.req.dropped);
                self.req.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
            other => {
                return Err(ApiError::invalid_request(format!(
                    "input[{i}] has an unknown role `{other}`"
                )));
            }
        }
        Ok(())
    }

    /// The content of the open assistant turn, opening one if needed.
    fn assistant(&mut self) -> &mut Vec<Part> {
        self.in_prefix = false;
        let open = self.assistant_open
            && matches!(self.req.messages.last(), Some(m) if m.role == Role::Assistant);
        if !open {
            self.req.messages.push(Message {
                role: Role::Assistant,
                content: Vec::new(),
            });
            self.assistant_open = true;
        }
        let last = self.req.messages.len() - 1;
        &mut self.req.messages[last].content
    }

    fn tool_result(&mut self, r: ToolResult) {
        self.in_prefix = false;
        self.assistant_open = false;
        let result = Part::ToolResult(r);
        match self.req.messages.last_mut() {
            Some(last)
                if last.role == Role::User
                    && !last.content.is_empty()
                    && last
                        .content
                        .iter()
                        .all(|p| matches!(p, Part::ToolResult(_))) =>
            {
                last.content.push(result)
            }
            _ => self.req.messages.push(Message {
                role: Role::User,
                content: vec![result],
            }),
        }
    }
}

/// A `reasoning` item: summary (or raw `content`) text, and its `encrypted_content`. Reasoning
/// this gateway gave a Responses client from an Anthropic upstream comes back with the Anthropic
/// signature (or redacted data) in `encrypted_content` and is restored as such.
fn reasoning_part(item: InputItem) -> ReasoningPart {
    let raw: Vec<String> = match item.content {
        Some(StringOr::Items(parts)) => parts.into_iter().filter_map(|p| p.text).collect(),
        Some(StringOr::String(s)) => vec![s],
        None => Vec::new(),
    };
    let summary: Vec<String> = item
        .summary
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.text)
        .collect();
    let text = if raw.iter().any(|t| !t.is_empty()) {
        raw.join("")
    } else {
        summary.join("\n\n")
    };
    let mut part = ReasoningPart {
        text,
        ..ReasoningPart::default()
    };
    if let Some(e) = item.encrypted_content {
        if let Some(sig) = e.strip_prefix(ANTHROPIC_SIGNATURE_PREFIX) {
            part.signature = Some(sig.to_owned());
        } else if let Some(data) = e.strip_prefix(ANTHROPIC_REDACTED_PREFIX) {
            part.redacted = Some(data.to_owned());
        } else {
            part.encrypted = Some(e);
        }
    }
    part
}

/// Message content as text: string content, or the text of its parts joined by newlines.
fn content_text(c: Option<StringOr<ContentPart>>) -> String {
    match c {
        None => String::new(),
        Some(StringOr::String(s)) => s,
        Some(StringOr::Items(parts)) => parts
            .into_iter()
            .filter_map(|p| p.text.or(p.refusal))
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
            .filter_map(|p| content_part(p, dropped))
            .collect(),
    }
}

/// One content part; parts with no internal equivalent are recorded in `dropped`.
fn content_part(p: ContentPart, dropped: &mut Dropped) -> Option<Part> {
    match p.kind.as_deref() {
        Some("input_text" | "output_text" | "text" | "summary_text" | "reasoning_text") | None => {
            p.text.map(Part::Text)
        }
        Some("refusal") => p.refusal.or(p.text).map(Part::Text),
        Some("input_image") => match p.image_url {
            Some(u) => Some(Part::Image(ImageSource::from_url(u.url()))),
            None => {
                dropped.add("input_image.file_id");
                None
            }
        },
        Some("input_file") => {
            let name = p.filename;
            let Some(data) = p.file_data else {
                dropped.add("input_file");
                return None;
            };
            match ImageSource::from_url(&data) {
                ImageSource::Base64 { media_type, data } => Some(Part::File {
                    media_type,
                    data,
                    name,
                }),
                // Bare base64: the API documents PDFs here.
                ImageSource::Url(data) => Some(Part::File {
                    media_type: "application/pdf".into(),
                    data,
                    name,
                }),
            }
        }
        Some(other) => {
            dropped.add(other);
            None
        }
    }
}

/// `output` of a tool output item: a string, an array of `input_text`/`input_image` parts (Codex
/// sends MCP results so), or an object `{content, success}` (older Codex). Returns the parts and
/// whether the tool failed.
fn tool_output(output: Option<Value>, dropped: &mut Dropped) -> (Vec<Part>, bool) {
    match output {
        None | Some(Value::Null) => (Vec::new(), false),
        Some(Value::String(s)) => (vec![Part::Text(s)], false),
        Some(Value::Array(items)) => {
            let parts = items
                .into_iter()
                .filter_map(|v| match serde_json::from_value::<ContentPart>(v) {
                    Ok(p) => content_part(p, dropped),
                    Err(_) => {
                        dropped.add("output");
                        None
                    }
                })
                .collect();
            (parts, false)
        }
        Some(Value::Object(o)) => {
            let failed = o.get("success").and_then(Value::as_bool) == Some(false);
            let text = match o.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => Value::Object(o.clone()).to_string(),
            };
            (vec![Part::Text(text)], failed)
        }
        Some(other) => (vec![Part::Text(other.to_string())], false),
    }
}

/// A tool definition: `function` and `custom` tools are kept; built-in tools (`web_search`,
/// `local_shell`, `namespace`, `image_generation`, `file_search`, `mcp`, …) exist only on OpenAI
/// and are recorded as `tools.<type>`.
fn tool_from_wire(t: WireTool, i: usize, dropped: &mut Dropped) -> Result<Option<Tool>, ApiError> {
    let kind = t.kind.as_deref().unwrap_or("function");
    let tool_kind = match kind {
        "function" => ToolKind::Function,
        "custom" => ToolKind::Custom,
        other => {
            dropped.add(&format!("tools.{other}"));
            return Ok(None);
        }
    };
    let name = t
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid_request(format!("tools[{i}] ({kind}) has no `name`")))?;
    Ok(Some(match tool_kind {
        ToolKind::Function => Tool {
            name,
            description: t.description,
            parameters: Some(t.parameters.unwrap_or_else(|| {
                crate::wire::raw_literal(r#"{"type":"object","properties":{}}"#)
            })),
            kind: ToolKind::Function,
            format: None,
            strict: t.strict,
        },
        ToolKind::Custom => Tool {
            name,
            description: t.description,
            parameters: None,
            kind: ToolKind::Custom,
            // `{type:"text"}` is the default: no grammar to carry.
            format: t
                .format
                .filter(|f| f.get("type").and_then(Value::as_str) != Some("text")),
            strict: None,
        },
    }))
}

/// `tool_choice`: `"auto"|"none"|"required"`, `{type:"function"|"custom", name}`; an
/// `allowed_tools` list or a hosted tool keeps only its mode.
fn tool_choice(c: Value, dropped: &mut Dropped) -> Option<ToolChoice> {
    match c {
        Value::String(s) => Some(match s.as_str() {
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => ToolChoice::Auto,
        }),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            let name = o.get("name").and_then(Value::as_str);
            match (kind, name) {
                ("function" | "custom", Some(n)) => Some(ToolChoice::Tool(n.to_owned())),
                ("allowed_tools", _) => {
                    dropped.add("tool_choice.allowed_tools");
                    match o.get("mode").and_then(Value::as_str) {
                        Some("required") => Some(ToolChoice::Required),
                        _ => Some(ToolChoice::Auto),
                    }
                }
                _ => {
                    dropped.add("tool_choice");
                    Some(ToolChoice::Auto)
                }
            }
        }
        _ => None,
    }
}

/// `text.format` as Chat's `response_format` (the internal form); `text.verbosity` is recorded.
fn response_format(text: TextConfig, dropped: &mut Dropped) -> Option<Value> {
    if text.verbosity.is_some() {
        dropped.add("text.verbosity");
    }
    let f = text.format?;
    match f.kind.as_deref() {
        Some("json_schema") => {
            let mut schema = json!({
                "name": f.name.unwrap_or_else(|| "output".into()),
                "schema": f.schema.unwrap_or_else(|| json!({"type": "object"})),
            });
            if let Some(s) = f.strict {
                schema["strict"] = Value::Bool(s);
            }
            if let Some(d) = f.description {
                schema["description"] = Value::String(d);
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        Some("json_object") => Some(json!({"type": "json_object"})),
        _ => None,
    }
}
