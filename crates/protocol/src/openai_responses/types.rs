//! OpenAI Responses API wire types (API reference "Responses", platform.openai.com; what Codex
//! sends: protocols.md §3.2).
//!
//! Input and output items are one flat struct keyed by `type` rather than a tagged enum, as in
//! the Anthropic types: serde's tagged enums buffer their content and cannot yield the
//! [`RawValue`]s that keep tool schemas byte-exact. Deserialisation is lenient: a message may omit
//! `type` (the API's "easy input message"), ids may be numbers, and a tool output may be a
//! string, an array of content parts, or an object with `content`.

use crate::wire::{ImageUrl, StringOr, lenient_string};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

/// `POST /v1/responses` request body, as a client sends it.
#[derive(Debug, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    /// A string (one user message) or a list of items.
    #[serde(default)]
    pub input: Option<StringOr<InputItem>>,
    pub instructions: Option<String>,
    pub tools: Option<Vec<WireTool>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub reasoning: Option<ReasoningConfig>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub stream: bool,
    pub user: Option<String>,
    pub safety_identifier: Option<String>,
    pub store: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub previous_response_id: Option<String>,
    /// A conversation id (string or `{id}`): server-side state, like `previous_response_id`.
    pub conversation: Option<Value>,
    pub include: Option<IgnoredAny>,
    pub prompt_cache_key: Option<IgnoredAny>,
    pub prompt_cache_retention: Option<IgnoredAny>,
    pub client_metadata: Option<IgnoredAny>,
    pub stream_options: Option<IgnoredAny>,
    pub metadata: Option<IgnoredAny>,
    pub truncation: Option<String>,
    pub service_tier: Option<IgnoredAny>,
    pub background: Option<bool>,
    pub top_logprobs: Option<IgnoredAny>,
    pub max_tool_calls: Option<IgnoredAny>,
    pub prompt: Option<IgnoredAny>,
}

/// Any input (or output) item. Which fields are set depends on `type`; a missing `type` with a
/// `role` is a message.
#[derive(Debug, Deserialize, Default)]
pub struct InputItem {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    // message
    pub role: Option<String>,
    /// Message content (string or parts); reasoning `content` (`reasoning_text` parts).
    pub content: Option<StringOr<ContentPart>>,
    // function_call, custom_tool_call, *_output
    #[serde(default, deserialize_with = "lenient_string")]
    pub call_id: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub arguments: Option<String>,
    /// `custom_tool_call.input`: the raw input string.
    pub input: Option<String>,
    /// `function_call_output.output` / `custom_tool_call_output.output`.
    pub output: Option<Value>,
    // reasoning
    pub summary: Option<Vec<ContentPart>>,
    pub encrypted_content: Option<String>,
    pub status: Option<String>,
}

/// A content part: `input_text`, `input_image`, `input_file`, `output_text`, `refusal`,
/// `summary_text`, `reasoning_text`.
#[derive(Debug, Deserialize, Default)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub refusal: Option<String>,
    /// `input_image.image_url`: a URL or a data URL (some clients send `{url}`).
    pub image_url: Option<ImageUrl>,
    pub file_id: Option<String>,
    /// `input_file.file_data`: a data URL (or bare base64).
    pub file_data: Option<String>,
    pub file_url: Option<String>,
    pub filename: Option<String>,
}

/// A tool definition. `function`: `{name, description, parameters, strict}`; `custom`: `{name,
/// description, format:{type, syntax, definition}}`; built-in tools (`web_search`,
/// `local_shell`, `namespace`, `image_generation`, `file_search`, …) carry only a `type`.
#[derive(Debug, Deserialize)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Box<RawValue>>,
    pub strict: Option<bool>,
    pub format: Option<Value>,
}

/// `reasoning`: `{effort, summary}`.
#[derive(Debug, Deserialize)]
pub struct ReasoningConfig {
    pub effort: Option<String>,
    pub summary: Option<IgnoredAny>,
}

/// `text`: `{format:{type:"text"|"json_object"|"json_schema", name, schema, strict}, verbosity}`.
#[derive(Debug, Deserialize)]
pub struct TextConfig {
    pub format: Option<TextFormat>,
    pub verbosity: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub schema: Option<Value>,
    pub strict: Option<bool>,
    pub description: Option<String>,
}

/// A response object, as a Responses upstream returns it (whole, or inside `response.*` stream
/// events).
#[derive(Debug, Deserialize, Default)]
pub struct WireResponse {
    pub id: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub output: Vec<InputItem>,
    pub usage: Option<WireUsage>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub error: Option<WireError>,
}

#[derive(Debug, Deserialize, Default)]
pub struct IncompleteDetails {
    pub reason: Option<String>,
}

/// `usage`. `input_tokens` includes cached tokens; `output_tokens` includes reasoning tokens.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct WireUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub input_tokens_details: Option<InputDetails>,
    pub output_tokens_details: Option<OutputDetails>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct InputDetails {
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct OutputDetails {
    pub reasoning_tokens: Option<u64>,
}

/// `response.error` or the body of an `error` event: `{code, message}`.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct WireError {
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
}

/// One stream event of a Responses upstream. Fields are set according to `type`.
#[derive(Debug, Deserialize)]
pub struct WireEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub response: Option<WireResponse>,
    pub output_index: Option<u64>,
    pub item: Option<InputItem>,
    pub delta: Option<String>,
    pub summary_index: Option<u64>,
    // error event
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    pub error: Option<WireError>,
}
