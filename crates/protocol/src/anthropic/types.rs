//! Anthropic Messages wire types (docs: "Messages" API reference, platform.claude.com).
//!
//! Content blocks are one flat struct keyed by `type` rather than a tagged enum: serde's tagged
//! enums buffer their content, which is slower and cannot yield the [`RawValue`] that keeps
//! `tool_use.input` and `input_schema` byte-exact.

use crate::wire::StringOr;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// `POST /v1/messages` (and `/v1/messages/count_tokens`) request body.
#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    #[serde(default)]
    pub messages: Vec<WireMessage>,
    pub system: Option<StringOr<Block>>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub stream: bool,
    pub tools: Option<Vec<WireTool>>,
    pub tool_choice: Option<WireToolChoice>,
    pub thinking: Option<Thinking>,
    pub metadata: Option<IgnoredAny>,
    pub output_config: Option<OutputConfig>,
    pub output_format: Option<serde_json::Value>,
    pub context_management: Option<IgnoredAny>,
    pub service_tier: Option<IgnoredAny>,
    pub container: Option<IgnoredAny>,
    pub mcp_servers: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: String,
    #[serde(default)]
    pub content: StringOr<Block>,
}

/// Every content block `type` a Messages request may hold (API reference "Messages", content
/// blocks of user and assistant turns): those the internal model carries, and the server-tool
/// and citation ones it cannot (dropped on translation, named in `x-agent-shim-dropped`). Any
/// other `type` is refused, as Anthropic refuses it.
pub const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
];

/// Any content block. Which fields are set depends on `type`.
#[derive(Debug, Deserialize, Default)]
pub struct Block {
    #[serde(rename = "type")]
    pub kind: String,
    // text
    pub text: Option<String>,
    // image, document
    pub source: Option<Source>,
    pub title: Option<String>,
    // tool_use, server_tool_use
    pub id: Option<String>,
    pub name: Option<String>,
    pub input: Option<Box<RawValue>>,
    // tool_result
    pub tool_use_id: Option<String>,
    pub content: Option<StringOr<Block>>,
    pub is_error: Option<bool>,
    // thinking, redacted_thinking
    pub thinking: Option<String>,
    pub signature: Option<String>,
    pub data: Option<String>,
    /// `{type:"ephemeral", ttl}`: kept as a value, read leniently (only `ttl` matters).
    pub cache_control: Option<serde_json::Value>,
}

/// Image or document source.
#[derive(Debug, Deserialize)]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: String,
    pub media_type: Option<String>,
    pub data: Option<String>,
    pub url: Option<String>,
}

/// A tool definition: custom tools carry `input_schema`; Anthropic-defined and server tools
/// (`web_search_20250305`, `bash_20250124`, …) carry a versioned `type` instead.
#[derive(Debug, Deserialize)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Option<Box<RawValue>>,
    pub strict: Option<bool>,
    pub cache_control: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct WireToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub disable_parallel_tool_use: Option<bool>,
}

/// `thinking`: `{type:"enabled", budget_tokens}`, `{type:"adaptive"}` or `{type:"disabled"}`.
#[derive(Debug, Deserialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: String,
    pub budget_tokens: Option<u32>,
}

/// `output_config`: `{effort, format}`.
#[derive(Debug, Deserialize)]
pub struct OutputConfig {
    pub effort: Option<String>,
    pub format: Option<serde_json::Value>,
}

/// A non-streamed Messages response, as an Anthropic upstream returns it.
#[derive(Debug, Deserialize)]
pub struct MessagesResponse {
    pub id: Option<String>,
    #[serde(default)]
    pub content: Vec<Block>,
    pub stop_reason: Option<String>,
    pub stop_sequence: Option<String>,
    pub usage: Option<WireUsage>,
}

/// `usage` of a response, `message_start` or `message_delta`.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct WireUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
}

/// An error body: `{"type":"error","error":{"type","message"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}
