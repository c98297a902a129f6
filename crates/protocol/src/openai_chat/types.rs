//! OpenAI Chat Completions wire types (API reference "Chat Completions", platform.openai.com).
//!
//! Deserialisation is lenient where real providers deviate (protocols.md §6): ids may be integers
//! (Poolside), tool arguments may be objects rather than JSON strings, reasoning arrives as
//! `reasoning_content` (DeepSeek, vLLM), `reasoning` (OpenRouter; a string or `{text|content}`) or
//! `thinking` parts inside `content` (Mistral), and message content may be a string or an array of
//! parts.

use crate::wire::{ImageUrl, StringOr, lenient_string};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::Value;
use serde_json::value::RawValue;

/// Reasoning text: a string, or an object with `text` or `content`.
fn reasoning_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(m)) => m
            .get("text")
            .or_else(|| m.get("content"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    })
}

/// A piece of an assistant message's `content` in a response or a stream delta, in the order
/// the upstream sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSegment {
    /// Answer text: a string `content`, or a `text` part.
    Text(String),
    /// Reasoning sent inside `content`: Mistral's `thinking` part (Magistral, and Mistral models
    /// with `reasoning_effort`), `{"type":"thinking","thinking":[{"type":"text","text":…}]}`
    /// (docs.mistral.ai, "Reasoning"; `ThinkChunk` in Mistral's API specification).
    Thinking(String),
}

/// A typed part of a response's `content` (`text`, Mistral's `thinking`; parts without text, such
/// as Mistral's `reference`, carry nothing to forward).
#[derive(Debug, Deserialize)]
struct OutputPart {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    text: Option<String>,
    /// Mistral: an array of `text` (and `reference`) chunks; accepted as a plain string too.
    thinking: Option<StringOr<ThinkingPiece>>,
}

/// One chunk of a Mistral `thinking` part.
#[derive(Debug, Deserialize)]
struct ThinkingPiece {
    #[serde(default, deserialize_with = "lenient_string")]
    text: Option<String>,
}

/// Assistant content: a string, or typed parts in order (see [`ContentSegment`]).
fn content_segments<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ContentSegment>, D::Error> {
    Ok(match Option::<StringOr<OutputPart>>::deserialize(d)? {
        None => Vec::new(),
        Some(StringOr::String(s)) => vec![ContentSegment::Text(s)],
        Some(StringOr::Items(parts)) => parts
            .into_iter()
            .filter_map(|p| match (p.kind.as_deref(), p.thinking) {
                (Some("thinking"), Some(StringOr::String(s))) => Some(ContentSegment::Thinking(s)),
                (Some("thinking"), Some(StringOr::Items(pieces))) => Some(
                    ContentSegment::Thinking(pieces.into_iter().filter_map(|t| t.text).collect()),
                ),
                (Some("thinking"), None) => p.text.map(ContentSegment::Thinking),
                _ => p.text.map(ContentSegment::Text),
            })
            .collect(),
    })
}

/// `POST /v1/chat/completions` request body, as a client sends it.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop: Option<StringOr<String>>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<IgnoredAny>,
    pub tools: Option<Vec<ChatTool>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub reasoning_effort: Option<String>,
    pub response_format: Option<Value>,
    pub user: Option<String>,
    pub n: Option<u32>,
    pub seed: Option<IgnoredAny>,
    pub frequency_penalty: Option<IgnoredAny>,
    pub presence_penalty: Option<IgnoredAny>,
    pub logit_bias: Option<IgnoredAny>,
    pub logprobs: Option<IgnoredAny>,
    pub metadata: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<StringOr<ContentPart>>,
    pub tool_calls: Option<Vec<ChatToolCall>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub tool_call_id: Option<String>,
    #[serde(default, deserialize_with = "reasoning_text")]
    pub reasoning_content: Option<String>,
}

/// A content part (`text`, `image_url`, `file`, `input_audio`).
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub image_url: Option<ImageUrl>,
    pub file: Option<FilePart>,
}

#[derive(Debug, Deserialize)]
pub struct FilePart {
    pub file_data: Option<String>,
    pub filename: Option<String>,
}

/// A tool call in an assistant message or a response.
#[derive(Debug, Deserialize)]
pub struct ChatToolCall {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub function: Option<FunctionCall>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub arguments: Option<String>,
}

/// A tool definition: `{type:"function", function:{name, description, parameters, strict}}`.
#[derive(Debug, Deserialize)]
pub struct ChatTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub function: Option<ChatFunction>,
}

#[derive(Debug, Deserialize)]
pub struct ChatFunction {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Box<RawValue>>,
    pub strict: Option<bool>,
}

/// A non-streamed `chat.completion`.
#[derive(Debug, Deserialize)]
pub struct ChatResponse {
    pub id: Option<String>,
    #[serde(default)]
    pub choices: Vec<ResponseChoice>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseChoice {
    pub message: Option<ResponseMessage>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseMessage {
    #[serde(default, deserialize_with = "content_segments")]
    pub content: Vec<ContentSegment>,
    #[serde(default, deserialize_with = "reasoning_text")]
    pub reasoning_content: Option<String>,
    #[serde(default, deserialize_with = "reasoning_text")]
    pub reasoning: Option<String>,
    pub tool_calls: Option<Vec<ChatToolCall>>,
    pub refusal: Option<String>,
}

/// One `chat.completion.chunk`.
#[derive(Debug, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<WireUsage>,
    pub error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkChoice {
    pub delta: Option<ChunkDelta>,
    pub finish_reason: Option<String>,
    pub error: Option<WireError>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ChunkDelta {
    #[serde(default, deserialize_with = "content_segments")]
    pub content: Vec<ContentSegment>,
    #[serde(default, deserialize_with = "reasoning_text")]
    pub reasoning_content: Option<String>,
    #[serde(default, deserialize_with = "reasoning_text")]
    pub reasoning: Option<String>,
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    pub refusal: Option<String>,
}

/// A fragment of a streamed tool call. Per OpenAI, `id` and `name` come only in the first fragment
/// of each `index`; providers deviate (see module docs).
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    pub index: Option<u32>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub function: Option<FunctionCall>,
}

/// `usage`. `prompt_tokens` includes cached tokens.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct WireUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub prompt_tokens_details: Option<PromptDetails>,
    pub completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek's name for cache hits.
    pub prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct PromptDetails {
    pub cached_tokens: Option<u64>,
    pub cache_creation_tokens: Option<u64>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub struct CompletionDetails {
    pub reasoning_tokens: Option<u64>,
}

/// `{"error": {message, type, code}}`, as an HTTP body or inside a stream chunk.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: WireError,
}

#[derive(Debug, Deserialize, Clone)]
pub struct WireError {
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
}
