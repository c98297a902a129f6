//! Encoding the internal model as a Bedrock Converse request body (mapping table: protocols.md
//! §7.2; shapes and limits: API reference "Converse" and the `bedrock-runtime` Smithy model); the
//! decoding side is [`super::request_decode`].
//!
//! The rules Bedrock enforces, each answered here:
//! - roles alternate and the conversation starts with a user turn ("A conversation must start
//!   with a user message"): consecutive turns of one role are merged; a conversation that starts
//!   with the assistant gets a [`PLACEHOLDER_TEXT`] user turn first;
//! - no message has empty `content` ("The content field in the Message object at messages.N is
//!   empty") and no text block is blank ("The text field in the ContentBlock object … is blank"):
//!   blank text is left out, and a turn left with nothing (an assistant turn of unsigned
//!   reasoning, say) is omitted, its neighbours merging; an empty tool result carries
//!   [`EMPTY_TOOL_RESULT`];
//! - images and documents only in user turns (`Message.content` docs); a document needs a text
//!   block beside it ("A text block must be included when using documents");
//! - `toolConfig` whenever the history holds `toolUse`/`toolResult` blocks ("The toolConfig field
//!   must be defined when using toolUse and toolResult content blocks"): a stub tool when the
//!   request offers none ([`STUB_TOOL_NAME`]);
//! - `ToolName` is `[a-zA-Z0-9_-]{1,64}` ([`ToolNames::strict`]) and `ToolUseId`
//!   `[a-zA-Z0-9_.:-]{1,64}` ([`super::tool_use_id`]); `toolChoice` has no `none` member: the
//!   tools are withheld instead;
//! - `inferenceConfig.temperature` and `topP` are in 0..=1.

use super::formats::{document_format, document_name, image_format, tool_use_id};
use super::tools::{stub_tool, tool_spec, tool_use};
use super::types::*;
use crate::anthropic::request::{CUSTOM_TOOL_SCHEMA, FOREIGN_SIGNATURE};
use crate::ir::{
    CacheBreakpoint, CacheSpot, Dropped, Effort, ImageSource, Message, Part, Reasoning,
    ReasoningPart, Request, Role, ToolChoice, ToolResult, join_text,
};
use crate::target::{ConverseTarget, ToolNames};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// The tool offered when the history holds tool blocks but the request offers no tools (or
/// `tool_choice` is `none`): Bedrock refuses such a history without a `toolConfig`
/// (vxcontrol/pentagi#160; patriceckhart/zot#18 injects a stub the same way). Its description
/// tells the model not to call it.
pub const STUB_TOOL_NAME: &str = "agent_shim_no_tools";
const STUB_TOOL_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

/// The text of a user turn Bedrock requires but the conversation lacks (a conversation that
/// starts with the assistant; a document sent without text).
pub const PLACEHOLDER_TEXT: &str = ".";

/// The text of a tool result that has no content (Bedrock refuses blank text, hermes-agent#55092).
pub const EMPTY_TOOL_RESULT: &str = "(no output)";

/// At most this many `cachePoint`s per request (Bedrock user guide, "Prompt caching": four
/// checkpoints for Claude, Anthropic's own limit of four breakpoints).
const MAX_CACHE_POINTS: usize = 4;

/// Encodes a request for a Bedrock Converse upstream as the body of `POST
/// /model/{modelId}/converse` (or `/converse-stream`: the body is the same); the model id goes in
/// the URL. Everything the upstream will not receive is added to `dropped` under its
/// client-facing name (`cache_control`, `image_url`, `reasoning`, `thinking`, `top_k`, …).
///
/// Prompt-cache breakpoints ([`Request::cache_breakpoints`]) become `{cachePoint: {type:
/// "default"}}` right after the block, system text or tool they follow (Bedrock user guide,
/// "Prompt caching"), at most four. Images must be base64 (`source.bytes`): an image given by URL
/// is dropped (`image_url`), so the gateway must fetch URL images first. Reasoning is sent back
/// only when signed (`reasoningText {text, signature}`, or `redactedContent`).
pub fn encode_request(req: &Request, t: &ConverseTarget, dropped: &mut Dropped) -> Vec<u8> {
    let custom_schema = crate::wire::raw_literal(CUSTOM_TOOL_SCHEMA);
    let stub_schema = crate::wire::raw_literal(STUB_TOOL_SCHEMA);
    let mut e = Encoder {
        req,
        dropped,
        tool_blocks: false,
        cache_points: 0,
        documents: Vec::new(),
    };
    let mut tool_config = e.tool_config(&custom_schema);
    let system = e.system();
    let messages = e.messages();
    if tool_config.is_none() && e.tool_blocks {
        tool_config = Some(OutToolConfig {
            tools: vec![stub_tool(&stub_schema)],
            tool_choice: None,
        });
    }
    let claude = is_claude(t);
    let cap = t.max_output_tokens;
    let max_tokens = match (req.max_tokens, cap) {
        (Some(m), Some(c)) => Some(m.min(c).max(1)),
        (m, c) => m.or(c).map(|m| m.max(1)),
    };
    let mut fields = Map::new();
    let thinking = e.thinking(t, max_tokens);
    let (mut temperature, mut top_p, mut top_k) = (req.temperature, req.top_p, req.top_k);
    if let Some(th) = thinking {
        // Extended thinking takes no temperature, top_k or top_p below 0.95 (Anthropic docs,
        // "Extended thinking": feature compatibility).
        if temperature.take().is_some_and(|x| x != 1.0) {
            e.dropped.add("temperature");
        }
        if top_k.take().is_some() {
            e.dropped.add("top_k");
        }
        if top_p.is_some_and(|p| p < 0.95) {
            top_p = None;
            e.dropped.add("top_p");
        }
        fields.insert("thinking".into(), th);
    }
    if let Some(k) = top_k {
        // Only Anthropic's models are known to take `top_k` under this name; other models
        // refuse unknown fields ("extraneous key … is not permitted").
        if claude {
            fields.insert("top_k".into(), json!(k));
        } else {
            e.dropped.add("top_k");
        }
    }
    if req.parallel_tool_calls == Some(false) && !req.tools.is_empty() {
        e.dropped.add("parallel_tool_calls");
    }
    if req.user.is_some() {
        e.dropped.add("user");
    }
    let output_config = req
        .response_format
        .as_ref()
        .and_then(|f| output_config(f, e.dropped));
    let stop_sequences: Vec<&str> = req
        .stop
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let out = OutRequest {
        messages,
        system,
        inference_config: OutInference {
            max_tokens,
            temperature: temperature.map(|x| x.clamp(0.0, 1.0)),
            top_p: top_p.map(|x| x.clamp(0.0, 1.0)),
            stop_sequences,
        },
        tool_config,
        additional_model_request_fields: fields,
        // Which sequence stopped Claude is in its own response field, returned when asked for;
        // a pointer to a field a model does not have is ignored (API reference,
        // `additionalModelResponseFieldPaths`).
        additional_model_response_field_paths: (!req.stop.is_empty()).then_some(["/stop_sequence"]),
        output_config,
    };
    crate::wire::to_json(&out)
}

/// Whether the model is one of Anthropic's (whose own parameters `additionalModelRequestFields`
/// may carry): the target says it takes `thinking`, or its id names Claude.
fn is_claude(t: &ConverseTarget) -> bool {
    t.supports_thinking || t.model.contains("anthropic.") || t.model.contains("claude")
}

/// `outputConfig` for a Chat-style `response_format` `{type:"json_schema", json_schema:{name,
/// schema}}`; other formats (`json_object`) have no Converse equivalent.
fn output_config(f: &Value, dropped: &mut Dropped) -> Option<Value> {
    let js = f.get("json_schema").filter(|_| f["type"] == "json_schema");
    let Some(schema) = js.and_then(|j| j.get("schema")) else {
        dropped.add("response_format");
        return None;
    };
    let mut def = json!({"schema": schema.to_string()});
    if let Some(name) = js.and_then(|j| j.get("name")).and_then(Value::as_str) {
        def["name"] = json!(name);
    }
    Some(json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": def}}}))
}

/// The state of one encoding.
struct Encoder<'a, 'd> {
    req: &'a Request,
    dropped: &'d mut Dropped,
    /// A `toolUse` or `toolResult` block was written.
    tool_blocks: bool,
    cache_points: usize,
    /// Names of the documents written.
    documents: Vec<String>,
}

impl<'a> Encoder<'a, '_> {
    /// The breakpoint the client set after `at`, if any.
    fn mark(&self, at: CacheSpot) -> Option<&'a CacheBreakpoint> {
        self.req.cache_breakpoints.iter().find(|b| b.at == at)
    }

    /// A `cachePoint` for `b`, unless the request already has the most Bedrock allows.
    fn cache_point(&mut self, b: &'a CacheBreakpoint) -> Option<OutCachePoint<'a>> {
        if self.cache_points >= MAX_CACHE_POINTS {
            self.dropped.add("cache_control");
            return None;
        }
        self.cache_points += 1;
        let ttl = b.ttl.as_deref().filter(|t| matches!(*t, "5m" | "1h"));
        Some(OutCachePoint {
            kind: "default",
            ttl,
        })
    }

    /// `toolConfig` for the offered tools (none when `tool_choice` is `none`: Converse's
    /// `ToolChoice` has no such member, so the tools are withheld).
    fn tool_config(&mut self, custom_schema: &'a RawValue) -> Option<OutToolConfig<'a>> {
        let req = self.req;
        if req.tools.is_empty() {
            return None;
        }
        if req.tool_choice == Some(ToolChoice::None) {
            if (0..req.tools.len()).any(|i| self.mark(CacheSpot::Tool(i)).is_some()) {
                self.dropped.add("cache_control");
            }
            return None;
        }
        let mut tools = Vec::with_capacity(req.tools.len() + 1);
        for (i, tool) in req.tools.iter().enumerate() {
            tools.push(OutTool::ToolSpec(tool_spec(tool, custom_schema)));
            if let Some(b) = self.mark(CacheSpot::Tool(i))
                && let Some(cp) = self.cache_point(b)
            {
                tools.push(OutTool::CachePoint(cp));
            }
        }
        let tool_choice = req.tool_choice.as_ref().and_then(|c| match c {
            ToolChoice::Auto => Some(json!({"auto": {}})),
            ToolChoice::Required => Some(json!({"any": {}})),
            ToolChoice::Tool(n) => Some(json!({"tool": {"name": ToolNames::strict(n)}})),
            ToolChoice::None => None,
        });
        Some(OutToolConfig { tools, tool_choice })
    }

    /// `system`: the system prompt pieces (blank ones left out), each followed by its
    /// `cachePoint`, then the system messages that precede the conversation.
    fn system(&mut self) -> Vec<OutSystem<'a>> {
        let req = self.req;
        let mut out = Vec::new();
        for (i, s) in req.system.iter().enumerate() {
            if !s.trim().is_empty() {
                out.push(OutSystem::Text(Cow::Borrowed(s)));
            }
            if let Some(b) = self.mark(CacheSpot::System(i)) {
                self.system_cache_point(b, &mut out);
            }
        }
        let leading = req.messages.iter().take_while(|m| m.role == Role::System);
        for (mi, m) in leading.enumerate() {
            let t = join_text(&m.content);
            if !t.trim().is_empty() {
                out.push(OutSystem::Text(Cow::Owned(t)));
            }
            if let Some(b) = (0..m.content.len())
                .rev()
                .find_map(|part| self.mark(CacheSpot::Part { message: mi, part }))
            {
                self.system_cache_point(b, &mut out);
            }
        }
        out
    }

    fn system_cache_point(&mut self, b: &'a CacheBreakpoint, out: &mut Vec<OutSystem<'a>>) {
        match out.last() {
            Some(OutSystem::Text(_)) => {
                if let Some(cp) = self.cache_point(b) {
                    out.push(OutSystem::CachePoint(cp));
                }
            }
            _ => self.dropped.add("cache_control"),
        }
    }

    /// The conversation as alternating turns that start with a user turn.
    fn messages(&mut self) -> Vec<OutMessage<'a>> {
        let req = self.req;
        let start = req
            .messages
            .iter()
            .take_while(|m| m.role == Role::System)
            .count();
        let mut turns: Vec<OutMessage<'a>> = Vec::with_capacity(req.messages.len());
        for (mi, m) in req.messages.iter().enumerate().skip(start) {
            let (role, blocks) = match m.role {
                Role::System => ("user", self.system_reminder(mi, m)),
                Role::User => ("user", self.user_blocks(mi, m)),
                Role::Assistant => ("assistant", self.assistant_blocks(mi, m)),
            };
            if blocks.is_empty() {
                // An empty turn is omitted rather than sent with a placeholder: Bedrock refuses
                // empty content, and merging its neighbours keeps the roles alternating.
                continue;
            }
            match turns.last_mut() {
                Some(last) if last.role == role => last.content.extend(blocks),
                _ => turns.push(OutMessage {
                    role,
                    content: blocks,
                }),
            }
        }
        if turns.first().is_some_and(|t| t.role == "assistant") {
            turns.insert(
                0,
                OutMessage {
                    role: "user",
                    content: vec![OutBlock::Text(Cow::Borrowed(PLACEHOLDER_TEXT))],
                },
            );
        }
        for t in turns.iter_mut().filter(|t| t.role == "user") {
            finish_user_turn(&mut t.content);
        }
        turns
    }

    /// A system message inside the conversation: Converse has no system turn, so its text goes
    /// to the user as a `<system-reminder>` (what Claude Code itself uses for such notes).
    fn system_reminder(&mut self, mi: usize, m: &'a Message) -> Vec<OutBlock<'a>> {
        let t = join_text(&m.content);
        let mut out = Vec::new();
        if !t.trim().is_empty() {
            let text = format!("<system-reminder>\n{t}\n</system-reminder>");
            out.push(OutBlock::Text(Cow::Owned(text)));
        }
        if let Some(b) = (0..m.content.len())
            .rev()
            .find_map(|part| self.mark(CacheSpot::Part { message: mi, part }))
        {
            self.block_cache_point(b, &mut out);
        }
        out
    }

    fn user_blocks(&mut self, mi: usize, m: &'a Message) -> Vec<OutBlock<'a>> {
        let mut out = Vec::with_capacity(m.content.len());
        for (pi, p) in m.content.iter().enumerate() {
            match p {
                Part::Text(_) | Part::Image(_) | Part::File { .. } => {
                    out.extend(self.plain(p).map(OutBlock::from));
                }
                Part::ToolResult(r) => {
                    self.tool_blocks = true;
                    out.push(OutBlock::ToolResult(self.tool_result(r)));
                }
                Part::ToolCall(_) | Part::Reasoning(_) => self.dropped.add("content"),
            }
            if let Some(b) = self.mark(CacheSpot::Part {
                message: mi,
                part: pi,
            }) {
                self.block_cache_point(b, &mut out);
            }
        }
        out
    }

    fn assistant_blocks(&mut self, mi: usize, m: &'a Message) -> Vec<OutBlock<'a>> {
        let mut out = Vec::with_capacity(m.content.len());
        for (pi, p) in m.content.iter().enumerate() {
            match p {
                Part::Text(t) if !t.trim().is_empty() => out.push(OutBlock::Text(Cow::Borrowed(t))),
                Part::Text(_) => {}
                Part::Reasoning(r) => match reasoning(r) {
                    Some(b) => out.push(OutBlock::ReasoningContent(b)),
                    None => self.dropped.add("reasoning"),
                },
                Part::ToolCall(c) => {
                    self.tool_blocks = true;
                    out.push(OutBlock::ToolUse(tool_use(c)));
                }
                // Images and documents only in user turns (`Message.content` docs).
                Part::Image(_) | Part::File { .. } | Part::ToolResult(_) => {
                    self.dropped.add("content")
                }
            }
            if let Some(b) = self.mark(CacheSpot::Part {
                message: mi,
                part: pi,
            }) {
                self.block_cache_point(b, &mut out);
            }
        }
        out
    }

    /// A `cachePoint` after the last block written, if there is one to follow.
    fn block_cache_point(&mut self, b: &'a CacheBreakpoint, out: &mut Vec<OutBlock<'a>>) {
        match out.last() {
            Some(OutBlock::CachePoint(_)) | None => self.dropped.add("cache_control"),
            Some(_) => {
                if let Some(cp) = self.cache_point(b) {
                    out.push(OutBlock::CachePoint(cp));
                }
            }
        }
    }

    fn image(&mut self, src: &'a ImageSource) -> Option<OutImage<'a>> {
        match src {
            ImageSource::Base64 { media_type, data } => match image_format(media_type) {
                Some(format) if !data.is_empty() => Some(OutImage {
                    format,
                    source: OutBytes { bytes: data },
                }),
                _ => {
                    self.dropped.add("image");
                    None
                }
            },
            // Converse takes image bytes or S3 locations only: the gateway fetches URL images
            // into base64 before encoding; one that is still a URL here is dropped.
            ImageSource::Url(_) => {
                self.dropped.add("image_url");
                None
            }
        }
    }

    fn document(
        &mut self,
        media_type: &str,
        data: &'a str,
        name: Option<&str>,
    ) -> Option<OutDocument<'a>> {
        match document_format(media_type) {
            Some(format) if !data.is_empty() => {
                let name = document_name(name, &self.documents);
                self.documents.push(name.clone());
                Some(OutDocument {
                    format,
                    name,
                    source: OutBytes { bytes: data },
                })
            }
            _ => {
                self.dropped.add("document");
                None
            }
        }
    }

    /// A text, image or document part as the block both user turns and tool results carry;
    /// `None` for blank text and for media Converse cannot take (recorded in `dropped`).
    fn plain(&mut self, p: &'a Part) -> Option<OutResultBlock<'a>> {
        match p {
            Part::Text(t) if !t.trim().is_empty() => Some(OutResultBlock::Text(Cow::Borrowed(t))),
            Part::Image(src) => self.image(src).map(OutResultBlock::Image),
            Part::File {
                media_type,
                data,
                name,
            } => self
                .document(media_type, data, name.as_deref())
                .map(OutResultBlock::Document),
            _ => None,
        }
    }

    fn tool_result(&mut self, r: &'a ToolResult) -> OutToolResult<'a> {
        let mut content = Vec::with_capacity(r.content.len());
        for p in &r.content {
            match p {
                Part::Text(_) | Part::Image(_) | Part::File { .. } => content.extend(self.plain(p)),
                _ => self.dropped.add("content"),
            }
        }
        if content.is_empty() {
            content.push(OutResultBlock::Text(Cow::Borrowed(EMPTY_TOOL_RESULT)));
        }
        OutToolResult {
            tool_use_id: tool_use_id(&r.call_id),
            content,
            status: if r.is_error { "error" } else { "success" },
        }
    }

    /// `additionalModelRequestFields.thinking` (Anthropic's object, which Bedrock passes to
    /// Claude), or `None` with the reason recorded.
    fn thinking(&mut self, t: &ConverseTarget, max_tokens: Option<u32>) -> Option<Value> {
        let Some(Reasoning::Enabled {
            budget_tokens,
            effort,
        }) = self.req.reasoning
        else {
            return None;
        };
        // Thinking cannot be combined with a forced tool (Anthropic docs, "Extended thinking");
        // the client's explicit tool choice wins.
        let forced = matches!(
            self.req.tool_choice,
            Some(ToolChoice::Required | ToolChoice::Tool(_))
        );
        if !t.supports_thinking || forced {
            self.dropped.add("thinking");
            return None;
        }
        let budget = budget_tokens
            .unwrap_or(match effort {
                Some(Effort::High) => 16_384,
                Some(Effort::Medium) | None => 8_192,
                _ => 2_048,
            })
            .max(1024);
        if max_tokens.is_some_and(|m| budget >= m) {
            // `budget_tokens` must be below `max_tokens`.
            self.dropped.add("thinking");
            return None;
        }
        Some(json!({"type": "enabled", "budget_tokens": budget}))
    }
}

/// Signed reasoning as a `reasoningContent` block; unsigned reasoning (another family's, or
/// Anthropic-client reasoning marked [`FOREIGN_SIGNATURE`]) cannot be verified and is not sent.
fn reasoning(r: &ReasoningPart) -> Option<OutReasoning<'_>> {
    if let Some(data) = r.redacted.as_deref().filter(|d| !d.is_empty()) {
        return Some(OutReasoning::RedactedContent(data));
    }
    let signature = r
        .signature
        .as_deref()
        .filter(|s| !s.is_empty() && *s != FOREIGN_SIGNATURE)?;
    Some(OutReasoning::ReasoningText {
        text: &r.text,
        signature,
    })
}

/// Puts a user turn in the order Bedrock's Claude expects and adds what it requires: tool
/// results first (each with the `cachePoint` that follows it), then the rest; a text block when
/// the turn has a document but no text.
fn finish_user_turn(content: &mut Vec<OutBlock<'_>>) {
    if content.iter().any(|b| matches!(b, OutBlock::Document(_)))
        && !content.iter().any(|b| matches!(b, OutBlock::Text(_)))
    {
        content.push(OutBlock::Text(Cow::Borrowed(PLACEHOLDER_TEXT)));
    }
    let is_result = |b: &OutBlock<'_>| matches!(b, OutBlock::ToolResult(_));
    let Some(first_other) = content.iter().position(|b| !is_result(b)) else {
        return;
    };
    if !content[first_other..].iter().any(is_result) {
        return;
    }
    // Units of a block and the cache points after it, stably sorted results-first.
    let mut units: Vec<(bool, Vec<OutBlock<'_>>)> = Vec::new();
    for b in content.drain(..) {
        match (&b, units.last_mut()) {
            (OutBlock::CachePoint(_), Some(unit)) => unit.1.push(b),
            _ => units.push((!is_result(&b), vec![b])),
        }
    }
    units.sort_by_key(|u| u.0);
    content.extend(units.into_iter().flat_map(|u| u.1));
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
