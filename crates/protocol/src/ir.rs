//! The internal model every protocol decodes into and encodes from (DESIGN.md §4.1).
//!
//! It follows the Anthropic Messages shape, the richest of the three wire APIs: a conversation is a
//! list of messages made of typed parts; tool results are parts of user messages; reasoning is a
//! part of assistant messages. Adding a protocol means writing a decoder into and an encoder out of
//! these types, never a converter per pair.

use serde_json::value::RawValue;

/// A generation request, protocol-neutral.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The model the client asked for (a model group name, before routing).
    pub model: String,
    /// System prompt pieces, in order (Anthropic `system`, Chat `system`/`developer` messages that
    /// precede the conversation, Responses `instructions`).
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tool definitions offered to the model.
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` when the client asked for at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    /// Output-token limit requested by the client.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    pub stream: bool,
    pub reasoning: Option<Reasoning>,
    /// End-user identifier (Anthropic `metadata.user_id`, OpenAI `user`).
    pub user: Option<String>,
    /// Structured output, as Chat's `response_format` object
    /// (`{type:"json_schema", json_schema:{name, schema, strict}}` or `{type:"json_object"}`).
    pub response_format: Option<serde_json::Value>,
    /// Prompt-cache breakpoints the client set (Anthropic `cache_control`), in the order it set
    /// them. Encoders for upstreams without explicit breakpoints report `cache_control` as dropped.
    pub cache_breakpoints: Vec<CacheBreakpoint>,
    /// Names of request fields the decoder could not carry into this model, reported to the
    /// client in `x-agent-shim-dropped` (DESIGN.md §4.1).
    pub dropped: Dropped,
}

/// A prompt-cache breakpoint: the prompt up to and including the item at [`CacheBreakpoint::at`]
/// may be cached (Anthropic `cache_control: {type: "ephemeral", ttl}` on a system block, a tool or
/// a content block; Bedrock Converse `cachePoint` after one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheBreakpoint {
    pub at: CacheSpot,
    /// The cache lifetime the client asked for (`"5m"`, `"1h"`), if any.
    pub ttl: Option<String>,
}

/// The item a [`CacheBreakpoint`] follows, by its position in the [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSpot {
    /// `system[i]`.
    System(usize),
    /// `tools[i]`.
    Tool(usize),
    /// `messages[message].content[part]` (for a tool result, the whole result).
    Part { message: usize, part: usize },
}

/// The set of field names lost in a translation, in first-seen order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped(Vec<String>);

impl Dropped {
    /// Records that `field` could not be carried over.
    pub fn add(&mut self, field: &str) {
        if !self.0.iter().any(|f| f == field) {
            self.0.push(field.to_owned());
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Comma-separated list, the value of the `x-agent-shim-dropped` header.
    pub fn header_value(&self) -> String {
        self.0.join(",")
    }
    pub fn extend(&mut self, other: &Dropped) {
        for f in other.iter() {
            self.add(f);
        }
    }
}

/// Who wrote a message. Tool results travel inside [`Role::User`] messages, as in Anthropic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A system message inside the conversation (Claude Code sends these mid-conversation).
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
}

/// One piece of message content.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Image(ImageSource),
    /// A document such as a PDF, base64-encoded.
    File {
        media_type: String,
        data: String,
        name: Option<String>,
    },
    ToolCall(ToolCall),
    ToolResult(ToolResult),
    Reasoning(ReasoningPart),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

impl ImageSource {
    /// The image as a URL: a data URL for inline images (`data:<media type>;base64,<data>`).
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            ImageSource::Url(u) => u.clone(),
        }
    }

    /// Parses a URL, recognising data URLs as inline base64 images.
    pub fn from_url(url: &str) -> ImageSource {
        if let Some(rest) = url.strip_prefix("data:")
            && let Some((media_type, data)) = rest.split_once(";base64,")
        {
            return ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
        ImageSource::Url(url.to_owned())
    }
}

/// Whether a tool takes JSON arguments (`function`) or one raw string (Responses `custom`, e.g.
/// Codex's `apply_patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolKind {
    #[default]
    Function,
    Custom,
}

#[derive(Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (for [`ToolKind::Custom`], the raw input string).
    pub arguments: String,
    pub kind: ToolKind,
}

#[derive(Debug, Clone)]
pub struct ToolResult {
    pub call_id: String,
    /// Text and image parts.
    pub content: Vec<Part>,
    pub is_error: bool,
    pub kind: ToolKind,
}

impl ToolResult {
    /// The text parts joined by newlines (what a text-only tool message can carry).
    pub fn text(&self) -> String {
        join_text(&self.content)
    }
}

/// Joins the text parts of `parts` with newlines, ignoring other parts.
pub fn join_text(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        if let Part::Text(t) = p {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
    }
    out
}

/// Model reasoning ("thinking"). `signature` and `redacted` are Anthropic's; `encrypted` is the
/// Responses API's `encrypted_content`. A part from one family means nothing to another.
#[derive(Debug, Clone, Default)]
pub struct ReasoningPart {
    pub text: String,
    pub signature: Option<String>,
    /// Anthropic `redacted_thinking.data`.
    pub redacted: Option<String>,
    /// Responses `reasoning.encrypted_content`.
    pub encrypted: Option<String>,
}

/// A tool definition.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, kept as raw JSON text so large schemas pass without being
    /// re-serialised. `None` for [`ToolKind::Custom`] tools.
    pub parameters: Option<Box<RawValue>>,
    pub kind: ToolKind,
    /// For custom tools: the input grammar's description (`format` of a Responses custom tool).
    pub format: Option<serde_json::Value>,
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// The model must call some tool (Anthropic `any`, OpenAI `required`).
    Required,
    None,
    /// The model must call this tool.
    Tool(String),
}

/// How much the model should reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    Disabled,
    /// Reasoning on; `budget_tokens` from Anthropic `thinking.budget_tokens`, `effort` from an
    /// effort level (Anthropic `output_config.effort`, OpenAI `reasoning_effort`).
    Enabled {
        budget_tokens: Option<u32>,
        effort: Option<Effort>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
}

impl Effort {
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }

    /// Parses an effort name; Anthropic's `max` and OpenAI's `xhigh` count as [`Effort::High`].
    pub fn parse(s: &str) -> Option<Effort> {
        Some(match s {
            "minimal" | "none" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" | "max" | "xhigh" => Effort::High,
            _ => return None,
        })
    }

    /// The effort bucket of a thinking budget in tokens (claude-code-router's buckets:
    /// ≤1024 low, ≤8192 medium, else high).
    pub fn from_budget(budget: u32) -> Effort {
        match budget {
            0..=1024 => Effort::Low,
            1025..=8192 => Effort::Medium,
            _ => Effort::High,
        }
    }
}

/// A complete (non-streamed) model answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub id: String,
    /// The model name to show the client (the alias it asked for).
    pub model: String,
    /// Reasoning, text and tool-call parts, in that order.
    pub content: Vec<Part>,
    pub stop_reason: StopReason,
    pub usage: Usage,
}

/// Why generation stopped (Anthropic's vocabulary; see "Stop reasons" in the Messages docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StopReason {
    #[default]
    EndTurn,
    MaxTokens,
    StopSequence(Option<String>),
    ToolUse,
    Refusal,
    PauseTurn,
    ContextWindowExceeded,
}

/// Token counts. `input_tokens` is the whole prompt, cached parts included (OpenAI's
/// `prompt_tokens`); Anthropic's uncached `input_tokens` is derived by subtracting the cache fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    /// Reasoning tokens, already counted in `output_tokens`.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Anthropic's `input_tokens`: the prompt minus cache reads and writes, floored at 0.
    pub fn uncached_input(&self) -> u64 {
        self.input_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_creation_tokens)
    }
}

/// One event of a streamed answer, protocol-neutral. Decoders emit well-formed sequences:
/// `MessageStart`, then blocks in index order (`BlockStart`, `Delta`*, `BlockStop`) with exactly
/// one block open at a time, then `Finish`; or an `Error` at any point, after which nothing follows.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart {
        id: String,
        model: String,
        usage: Usage,
    },
    BlockStart {
        index: usize,
        block: BlockStart,
    },
    Delta {
        index: usize,
        delta: Delta,
    },
    BlockStop {
        index: usize,
    },
    /// The end of the message: stop reason and final usage.
    Finish {
        stop_reason: StopReason,
        usage: Usage,
    },
    /// Keep-alive during a long silence.
    Ping,
    /// A failure after the stream began.
    Error(ApiError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    Text,
    Reasoning,
    /// Anthropic `redacted_thinking`, carried whole.
    RedactedReasoning {
        data: String,
    },
    ToolCall {
        id: String,
        name: String,
        kind: ToolKind,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    Reasoning(String),
    /// Anthropic thinking signature, sent just before the thinking block stops.
    Signature(String),
    /// A fragment of a tool call's arguments (JSON text, or raw input for custom tools).
    ToolArguments(String),
}

/// The category of an API error: what the client must do about it (see [`crate::classify`]).
/// Each client protocol's encoder writes the HTTP status and error type its clients act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    /// The account's quota, credit or spending limit is used up (OpenAI `insufficient_quota`,
    /// Anthropic `billing_error` and `enforced_spend_limit_reached`, HTTP 402): no retry helps
    /// until the billing is fixed.
    Billing,
    /// The prompt does not fit the model's context window.
    ContextLengthExceeded,
    Api,
    Overloaded,
    Timeout,
    /// The gateway could not reach the upstream.
    Unreachable,
}

impl ErrorKind {
    /// The HTTP status code for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::ContextLengthExceeded => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Billing => 402,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimit => 429,
            ErrorKind::Api => 500,
            ErrorKind::Unreachable => 502,
            ErrorKind::Timeout => 504,
            ErrorKind::Overloaded => 529,
        }
    }

    /// The kind for an upstream HTTP status.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 409 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimit,
            503 | 529 => ErrorKind::Overloaded,
            504 | 408 => ErrorKind::Timeout,
            _ => ErrorKind::Api,
        }
    }
}

/// An error to report to the client in its own protocol's error shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// HTTP status to answer with (usually `kind.status()`, or the upstream's own status).
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            status: kind.status(),
            message: message.into(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::InvalidRequest, message)
    }

    /// An upstream's tool call without a name. It cannot be forwarded: clients answer a call by
    /// its name, and Anthropic refuses an empty one when the history comes back.
    pub fn nameless_tool_call(call_id: &str) -> ApiError {
        let id = if call_id.is_empty() { "none" } else { call_id };
        ApiError::new(
            ErrorKind::Api,
            format!("upstream sent a tool call without a name (call id {id})"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}
