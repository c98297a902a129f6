//! Encoding the internal model as a Chat Completions request for an upstream (mapping table:
//! protocols.md §4.1); the decoding side is [`super::request_decode`].

use super::schema::clean_schema;
use crate::anthropic::request::CUSTOM_TOOL_SCHEMA;
use crate::ir::{
    Dropped, Effort, Message, Part, Reasoning, Request, Role, Tool, ToolChoice, ToolKind, join_text,
};
use crate::target::{
    ChatTarget, MaxTokensField, ReasoningControl, ToolIdFormat, ToolNames, alnum9_id,
};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::borrow::Cow;

/// OpenAI accepts at most this many stop sequences.
const MAX_STOP: usize = 4;

#[derive(Serialize)]
struct OutRequest<'a> {
    model: &'a str,
    messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a [String]>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: OutContent<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

/// `content`: `null` (tool-only assistant turns must not send `""`, vercel/ai#14618), a string,
/// or parts.
enum OutContent<'a> {
    Null,
    Text(Cow<'a, str>),
    Parts(Vec<OutPart<'a>>),
}

impl Serialize for OutContent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OutContent::Null => s.serialize_none(),
            OutContent::Text(t) => s.serialize_str(t),
            OutContent::Parts(p) => p.serialize(s),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutPart<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: OutUrl },
    File { file: OutFile<'a> },
}

#[derive(Serialize)]
struct OutUrl {
    url: String,
}

#[derive(Serialize)]
struct OutFile<'a> {
    file_data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<&'a str>,
}

#[derive(Serialize)]
struct OutToolCall<'a> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunctionCall<'a>,
}

#[derive(Serialize)]
struct OutFunctionCall<'a> {
    name: Cow<'a, str>,
    arguments: Cow<'a, str>,
}

#[derive(Serialize)]
struct OutTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunction<'a>,
}

#[derive(Serialize)]
struct OutFunction<'a> {
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    parameters: Cow<'a, RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

/// Encodes a request for a Chat Completions upstream, applying `target`'s quirks. Everything the
/// upstream will not receive is added to `dropped`. Returns the JSON body.
pub fn encode_request(req: &Request, target: &ChatTarget, dropped: &mut Dropped) -> Vec<u8> {
    if !req.cache_breakpoints.is_empty() {
        // Prompt caching is automatic on these APIs; explicit breakpoints have no equivalent.
        dropped.add("cache_control");
    }
    let names = ToolNames::new(req.tools.iter().map(|t| t.name.as_str()));
    let id = |id: &'_ str| -> String {
        match target.tool_ids {
            ToolIdFormat::Alnum9 => alnum9_id(id),
            ToolIdFormat::Any => id.to_owned(),
        }
    };
    let system_role = if target.developer_role {
        "developer"
    } else {
        "system"
    };
    let mut messages: Vec<OutMessage> = Vec::with_capacity(req.messages.len() + 1);
    let system: Vec<&str> = req
        .system
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if !system.is_empty() {
        messages.push(text_message(system_role, Cow::Owned(system.join("\n\n"))));
    }
    // System messages inside the conversation (Claude Code appends them after the user's turn)
    // break strict chat templates ("Expected last role User or Tool") and, between a tool call and
    // its result, OpenAI's ordering rule. Leading ones join the system prompt; later ones are
    // carried as <system-reminder> text in the next user turn, or the last one.
    let mut pending: Vec<String> = Vec::new();
    let mut seen_turn = false;
    for m in &req.messages {
        match m.role {
            Role::System => {
                let t = join_text(&m.content);
                if t.is_empty() {
                } else if !seen_turn && messages.len() <= 1 {
                    append_system(&mut messages, system_role, t);
                } else {
                    pending.push(format!("<system-reminder>\n{t}\n</system-reminder>"));
                }
            }
            Role::User => {
                seen_turn = true;
                encode_user(m, &id, &mut messages, dropped);
                attach_reminders(&mut messages, &mut pending, false);
            }
            Role::Assistant => {
                seen_turn = true;
                encode_assistant(m, target, &names, &id, &mut messages, dropped);
            }
        }
    }
    attach_reminders(&mut messages, &mut pending, true);

    let tools: Vec<OutTool> = req
        .tools
        .iter()
        .map(|t| encode_tool(t, target, &names))
        .collect();
    let has_tools = !tools.is_empty();
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

    // The limit's cap and field are the provider quirks pass-through applies too (`quirks`).
    let (max_tokens, max_completion_tokens) = match target.output_limit(req.max_tokens) {
        None if req.max_tokens.is_some() => {
            dropped.add("max_tokens");
            (None, None)
        }
        None => (None, None),
        Some((MaxTokensField::MaxTokens, n)) => (Some(n), None),
        Some((MaxTokensField::MaxCompletionTokens, n)) => (None, Some(n)),
    };
    let stop = if keep("stop", !req.stop.is_empty(), dropped) {
        if req.stop.len() > MAX_STOP {
            dropped.add("stop_sequences");
        }
        Some(&req.stop[..req.stop.len().min(MAX_STOP)])
    } else {
        None
    };
    let tool_choice = match &req.tool_choice {
        Some(c) if has_tools && keep("tool_choice", true, dropped) => Some(match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(n) => json!({"type":"function","function":{"name": names.shorten(n)}}),
        }),
        _ => None,
    };
    let reasoning_effort = match req.reasoning {
        Some(Reasoning::Enabled {
            effort,
            budget_tokens,
        }) => {
            if target.reasoning == ReasoningControl::Effort && !target.drops("reasoning_effort") {
                let e = effort
                    .or(budget_tokens.map(Effort::from_budget))
                    .unwrap_or(Effort::Medium);
                Some(match e {
                    Effort::Minimal | Effort::Low => "low",
                    Effort::Medium => "medium",
                    Effort::High => "high",
                })
            } else {
                dropped.add("thinking");
                None
            }
        }
        _ => None,
    };
    let out = OutRequest {
        model: &target.model,
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: req
            .temperature
            .filter(|_| keep("temperature", true, dropped)),
        top_p: req.top_p.filter(|_| keep("top_p", true, dropped)),
        top_k: req.top_k.filter(|_| keep("top_k", true, dropped)),
        stop,
        stream: req.stream,
        stream_options: (req.stream && target.stream_usage && !target.drops("stream_options"))
            .then(|| json!({"include_usage": true})),
        tools,
        tool_choice,
        parallel_tool_calls: req
            .parallel_tool_calls
            .filter(|_| keep("parallel_tool_calls", has_tools, dropped)),
        reasoning_effort,
        response_format: req
            .response_format
            .as_ref()
            .filter(|_| keep("response_format", true, dropped)),
        user: req.user.as_deref().filter(|_| keep("user", true, dropped)),
    };
    crate::wire::to_json(&out)
}

/// Adds `text` to the leading system message, creating it when absent.
fn append_system(messages: &mut Vec<OutMessage<'_>>, role: &'static str, text: String) {
    match messages.first_mut() {
        Some(first) if first.role == role => {
            if let OutContent::Text(t) = &mut first.content {
                let joined = format!("{t}\n\n{text}");
                *t = Cow::Owned(joined);
            }
        }
        _ => messages.insert(0, text_message(role, Cow::Owned(text))),
    }
}

/// Appends pending system reminders to the last message when it is a user turn with content
/// (not a tool result); at the end of the conversation (`last`), in a new user turn otherwise.
fn attach_reminders(messages: &mut Vec<OutMessage<'_>>, pending: &mut Vec<String>, last: bool) {
    if pending.is_empty() {
        return;
    }
    let text = pending.join("\n\n");
    match messages.last_mut() {
        Some(m) if m.role == "user" => {
            pending.clear();
            match &mut m.content {
                OutContent::Text(t) => {
                    let joined = format!("{t}\n\n{text}");
                    *t = Cow::Owned(joined);
                }
                OutContent::Parts(parts) => parts.push(OutPart::Text {
                    text: Cow::Owned(text),
                }),
                OutContent::Null => m.content = OutContent::Text(Cow::Owned(text)),
            }
        }
        _ if last => {
            pending.clear();
            messages.push(text_message("user", Cow::Owned(text)));
        }
        _ => {}
    }
}

fn text_message<'a>(role: &'static str, text: Cow<'a, str>) -> OutMessage<'a> {
    OutMessage {
        role,
        content: OutContent::Text(text),
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning_content: None,
    }
}

/// A user turn: its tool results first, as `tool` messages (they must follow the assistant turn
/// that called them, openai/codex#7051), then images from those results (tool messages carry text
/// only), then the rest of the turn.
fn encode_user<'a>(
    m: &'a Message,
    id: &impl Fn(&str) -> String,
    out: &mut Vec<OutMessage<'a>>,
    dropped: &mut Dropped,
) {
    let mut result_images: Vec<OutPart> = Vec::new();
    for p in &m.content {
        if let Part::ToolResult(r) = p {
            let mut text = r.text();
            if r.is_error {
                text.insert_str(0, "Error: ");
            }
            out.push(OutMessage {
                role: "tool",
                content: OutContent::Text(Cow::Owned(text)),
                tool_calls: Vec::new(),
                tool_call_id: Some(Cow::Owned(id(&r.call_id))),
                reasoning_content: None,
            });
            for c in &r.content {
                if let Part::Image(src) = c {
                    if result_images.is_empty() {
                        let note = format!("Images returned by tool call {}:", r.call_id);
                        result_images.push(OutPart::Text {
                            text: Cow::Owned(note),
                        });
                    }
                    result_images.push(OutPart::ImageUrl {
                        image_url: OutUrl { url: src.to_url() },
                    });
                }
            }
        }
    }
    if !result_images.is_empty() {
        out.push(parts_message(result_images));
    }
    let rest: Vec<&Part> = m
        .content
        .iter()
        .filter(|p| !matches!(p, Part::ToolResult(_)))
        .collect();
    if rest.is_empty() {
        return;
    }
    let only_text = rest.iter().all(|p| matches!(p, Part::Text(_)));
    if only_text {
        let texts: Vec<&str> = rest
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        let text = if texts.len() == 1 {
            Cow::Borrowed(texts[0])
        } else {
            Cow::Owned(texts.join("\n\n"))
        };
        out.push(text_message("user", text));
        return;
    }
    let mut parts = Vec::with_capacity(rest.len());
    for p in rest {
        match p {
            Part::Text(t) => parts.push(OutPart::Text {
                text: Cow::Borrowed(t),
            }),
            Part::Image(src) => parts.push(OutPart::ImageUrl {
                image_url: OutUrl { url: src.to_url() },
            }),
            Part::File {
                media_type,
                data,
                name,
            } => parts.push(OutPart::File {
                file: OutFile {
                    file_data: format!("data:{media_type};base64,{data}"),
                    filename: name.as_deref(),
                },
            }),
            _ => dropped.add("content"),
        }
    }
    out.push(parts_message(parts));
}

fn parts_message(parts: Vec<OutPart<'_>>) -> OutMessage<'_> {
    OutMessage {
        role: "user",
        content: OutContent::Parts(parts),
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning_content: None,
    }
}

fn encode_assistant<'a>(
    m: &'a Message,
    target: &ChatTarget,
    names: &ToolNames,
    id: &impl Fn(&str) -> String,
    out: &mut Vec<OutMessage<'a>>,
    dropped: &mut Dropped,
) {
    let mut texts: Vec<&str> = Vec::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in &m.content {
        match p {
            Part::Text(t) if !t.is_empty() => texts.push(t),
            Part::Reasoning(r) => reasoning.push_str(&r.text),
            Part::ToolCall(c) => calls.push(OutToolCall {
                id: Cow::Owned(id(&c.id)),
                kind: "function",
                function: OutFunctionCall {
                    name: Cow::Owned(names.shorten(&c.name).into_owned()),
                    arguments: match c.kind {
                        ToolKind::Custom => Cow::Owned(json!({"input": c.arguments}).to_string()),
                        ToolKind::Function if c.arguments.trim().is_empty() => Cow::Borrowed("{}"),
                        ToolKind::Function => Cow::Borrowed(&c.arguments),
                    },
                },
            }),
            _ => {}
        }
    }
    let reasoning_content = if reasoning.is_empty() {
        None
    } else if target.echo_reasoning_content {
        Some(reasoning)
    } else {
        dropped.add("thinking");
        None
    };
    if texts.is_empty() && calls.is_empty() && reasoning_content.is_none() {
        return;
    }
    let content = match texts.len() {
        0 if !calls.is_empty() => OutContent::Null,
        0 => OutContent::Text(Cow::Borrowed("")),
        1 => OutContent::Text(Cow::Borrowed(texts[0])),
        _ => OutContent::Text(Cow::Owned(texts.join("\n\n"))),
    };
    out.push(OutMessage {
        role: "assistant",
        content,
        tool_calls: calls,
        tool_call_id: None,
        reasoning_content,
    });
}

fn encode_tool<'a>(t: &'a Tool, target: &ChatTarget, names: &ToolNames) -> OutTool<'a> {
    let mut description = t.description.as_deref().map(Cow::Borrowed);
    let parameters: Cow<'a, RawValue> = match (&t.parameters, t.kind) {
        (Some(p), _) => clean_schema(p, target.schema),
        (None, _) => {
            if let Some(def) = t
                .format
                .as_ref()
                .and_then(|f| f.get("definition"))
                .and_then(Value::as_str)
            {
                let d = description.map(Cow::into_owned).unwrap_or_default();
                description = Some(Cow::Owned(format!(
                    "{d}\n\nPass the whole input as the string parameter `input`. Its grammar:\n{def}"
                )));
            }
            Cow::Owned(crate::wire::raw_literal(CUSTOM_TOOL_SCHEMA))
        }
    };
    OutTool {
        kind: "function",
        function: OutFunction {
            name: names.shorten(&t.name),
            description,
            parameters,
            strict: t.strict.filter(|_| !target.drops("strict")),
        },
    }
}
