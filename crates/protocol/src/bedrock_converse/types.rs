//! Bedrock Converse wire types, as read (API reference "Converse" and "ConverseStream"; the shape
//! names below are those of the service's Smithy model, `com.amazonaws.bedrockruntime`).
//!
//! Converse unions (`ContentBlock`, `SystemContentBlock`, `ToolResultContentBlock`, `Tool`,
//! `ToolChoice`, `ReasoningContentBlock`, …) are JSON objects with exactly one member set. They
//! are read as flat structs with one optional field per member, like the Anthropic blocks (serde's
//! enums buffer their content and could not yield the [`RawValue`]s that keep `toolUse.input` and
//! `inputSchema.json` byte-exact); the request decoder checks that exactly one is set.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The body of `POST /model/{modelId}/converse` (`ConverseRequest` without the `modelId` label).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    #[serde(default)]
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub system: Vec<SystemBlock>,
    pub inference_config: Option<InferenceConfig>,
    pub tool_config: Option<ToolConfig>,
    pub additional_model_request_fields: Option<Map<String, Value>>,
    pub additional_model_response_field_paths: Option<IgnoredAny>,
    pub output_config: Option<OutputConfig>,
    pub guardrail_config: Option<IgnoredAny>,
    pub prompt_variables: Option<IgnoredAny>,
    pub request_metadata: Option<IgnoredAny>,
    pub performance_config: Option<IgnoredAny>,
    pub service_tier: Option<IgnoredAny>,
}

/// `Message`: `{role: "user"|"assistant", content: [ContentBlock]}`.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: Option<String>,
    pub content: Vec<ContentBlock>,
}

/// `ContentBlock` (a union).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlock {
    pub text: Option<String>,
    pub image: Option<ImageBlock>,
    pub document: Option<DocumentBlock>,
    pub tool_use: Option<ToolUseBlock>,
    pub tool_result: Option<ToolResultBlock>,
    pub reasoning_content: Option<ReasoningBlock>,
    pub cache_point: Option<CachePoint>,
    pub video: Option<IgnoredAny>,
    pub audio: Option<IgnoredAny>,
    pub guard_content: Option<IgnoredAny>,
    pub citations_content: Option<IgnoredAny>,
    pub search_result: Option<IgnoredAny>,
}

impl ContentBlock {
    /// The union's member names, each with whether it is set.
    pub fn members(&self) -> [(&'static str, bool); 12] {
        [
            ("text", self.text.is_some()),
            ("image", self.image.is_some()),
            ("document", self.document.is_some()),
            ("toolUse", self.tool_use.is_some()),
            ("toolResult", self.tool_result.is_some()),
            ("reasoningContent", self.reasoning_content.is_some()),
            ("cachePoint", self.cache_point.is_some()),
            ("video", self.video.is_some()),
            ("audio", self.audio.is_some()),
            ("guardContent", self.guard_content.is_some()),
            ("citationsContent", self.citations_content.is_some()),
            ("searchResult", self.search_result.is_some()),
        ]
    }
}

/// `ImageBlock`: `{format: png|jpeg|gif|webp, source: {bytes: <base64>} | {s3Location}}`.
#[derive(Debug, Deserialize)]
pub struct ImageBlock {
    pub format: Option<String>,
    pub source: Option<BytesSource>,
}

/// `ImageSource` / `DocumentSource` (unions): base64 `bytes`, document `text`, or S3.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BytesSource {
    pub bytes: Option<String>,
    pub text: Option<String>,
    pub s3_location: Option<IgnoredAny>,
    pub content: Option<IgnoredAny>,
}

/// `DocumentBlock`: `{format, name, source}`.
#[derive(Debug, Deserialize)]
pub struct DocumentBlock {
    pub format: Option<String>,
    pub name: Option<String>,
    pub source: Option<BytesSource>,
}

/// `ToolUseBlock`: `{toolUseId, name, input: <any JSON>}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    pub tool_use_id: Option<String>,
    pub name: Option<String>,
    pub input: Option<Box<RawValue>>,
}

/// `ToolResultBlock`: `{toolUseId, content: [ToolResultContentBlock], status: success|error}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    pub tool_use_id: Option<String>,
    #[serde(default)]
    pub content: Vec<ToolResultContent>,
    pub status: Option<String>,
}

/// `ToolResultContentBlock` (a union).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultContent {
    pub json: Option<Box<RawValue>>,
    pub text: Option<String>,
    pub image: Option<ImageBlock>,
    pub document: Option<DocumentBlock>,
    pub video: Option<IgnoredAny>,
    pub search_result: Option<IgnoredAny>,
}

/// `ReasoningContentBlock` (a union): `{reasoningText: {text, signature}}` or
/// `{redactedContent: <base64>}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningBlock {
    pub reasoning_text: Option<ReasoningText>,
    pub redacted_content: Option<String>,
}

/// `ReasoningTextBlock`: the reasoning and the signature that verifies it (to be sent back
/// unmodified, API reference `ReasoningTextBlock`).
#[derive(Debug, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
    pub signature: Option<String>,
}

/// `CachePointBlock`: `{type: "default", ttl?: "5m"|"1h"}`.
#[derive(Debug, Deserialize)]
pub struct CachePoint {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub ttl: Option<String>,
}

/// `SystemContentBlock` (a union).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemBlock {
    pub text: Option<String>,
    pub cache_point: Option<CachePoint>,
    pub guard_content: Option<IgnoredAny>,
}

/// `InferenceConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop_sequences: Option<Vec<String>>,
}

/// `ToolConfiguration`: `{tools: [Tool], toolChoice}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    #[serde(default)]
    pub tools: Vec<WireTool>,
    pub tool_choice: Option<WireToolChoice>,
}

/// `Tool` (a union): `{toolSpec}`, `{systemTool}` or `{cachePoint}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTool {
    pub tool_spec: Option<ToolSpec>,
    pub system_tool: Option<IgnoredAny>,
    pub cache_point: Option<CachePoint>,
}

/// `ToolSpecification`: `{name, description, inputSchema: {json}, strict}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: InputSchema,
    pub strict: Option<bool>,
}

/// `ToolInputSchema` (a union): `{json: <JSON Schema>}`.
#[derive(Debug, Deserialize)]
pub struct InputSchema {
    pub json: Option<Box<RawValue>>,
}

/// `ToolChoice` (a union): `{auto:{}}`, `{any:{}}` or `{tool:{name}}`.
#[derive(Debug, Deserialize)]
pub struct WireToolChoice {
    pub auto: Option<IgnoredAny>,
    pub any: Option<IgnoredAny>,
    pub tool: Option<SpecificTool>,
}

/// `SpecificToolChoice`: `{name}`.
#[derive(Debug, Deserialize)]
pub struct SpecificTool {
    pub name: String,
}

/// `OutputConfig`: `{textFormat: {type: "json_schema", structure: {jsonSchema: {schema, name,
/// description}}}}` (the schema is a JSON text inside a string).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputConfig {
    pub text_format: Option<TextFormat>,
}

/// `OutputFormat`: `{type: "json_schema", structure}`.
#[derive(Debug, Deserialize)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub structure: Option<FormatStructure>,
}

/// `OutputFormatStructure` (a union): `{jsonSchema}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatStructure {
    pub json_schema: Option<JsonSchemaDefinition>,
}

/// `JsonSchemaDefinition`: `{schema: <JSON text>, name, description}`.
#[derive(Debug, Deserialize)]
pub struct JsonSchemaDefinition {
    pub schema: String,
    pub name: Option<String>,
}

/// `ConverseResponse`: `{output: {message}, stopReason, usage, metrics,
/// additionalModelResponseFields}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: Option<ConverseOutput>,
    pub stop_reason: Option<String>,
    pub usage: Option<WireUsage>,
    pub additional_model_response_fields: Option<Value>,
}

/// `ConverseOutput` (a union): `{message}`.
#[derive(Debug, Deserialize)]
pub struct ConverseOutput {
    pub message: Option<WireMessage>,
}

/// `TokenUsage`. `inputTokens` counts only the uncached input: the prompt is `inputTokens +
/// cacheReadInputTokens + cacheWriteInputTokens` (Bedrock user guide, "Prompt caching").
#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
    pub cache_write_input_tokens: Option<u64>,
}

/// The payload of any ConverseStream event (`messageStart`, `contentBlockStart`,
/// `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`) or exception
/// (`{message}`); which fields are set depends on the event type.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct StreamPayload {
    pub role: Option<String>,
    pub content_block_index: Option<usize>,
    pub start: Option<BlockStartPayload>,
    pub delta: Option<DeltaPayload>,
    pub stop_reason: Option<String>,
    pub additional_model_response_fields: Option<Value>,
    pub usage: Option<WireUsage>,
    pub message: Option<String>,
    pub original_message: Option<String>,
}

/// `ContentBlockStart` (a union): a tool call's `{toolUse: {toolUseId, name}}`; other members
/// (`toolResult`, `image`) carry nothing a client can use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStartPayload {
    pub tool_use: Option<ToolUseStart>,
}

/// `ToolUseBlockStart`: `{toolUseId, name}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: Option<String>,
    pub name: Option<String>,
}

/// `ContentBlockDelta` (a union): `{text}`, `{toolUse: {input}}` (a fragment of the input's
/// JSON text), `{reasoningContent: {text}|{signature}|{redactedContent}}`; `citation`,
/// `toolResult` and `image` deltas are not forwarded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaPayload {
    pub text: Option<String>,
    pub tool_use: Option<ToolUseDelta>,
    pub reasoning_content: Option<ReasoningDelta>,
}

/// `ToolUseBlockDelta`: `{input: <a fragment of the input's JSON text>}`.
#[derive(Debug, Deserialize)]
pub struct ToolUseDelta {
    pub input: Option<String>,
}

/// `ReasoningContentBlockDelta` (a union): `{text}`, `{signature}` or `{redactedContent}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    pub text: Option<String>,
    pub signature: Option<String>,
    pub redacted_content: Option<String>,
}

/// An error body: `{"message": "…"}` (`Message` in some AWS services' spelling).
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(alias = "Message")]
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Request bodies as written by [`super::request::encode_request`].

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutRequest<'a> {
    pub(super) messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) system: Vec<OutSystem<'a>>,
    #[serde(skip_serializing_if = "OutInference::is_empty")]
    pub(super) inference_config: OutInference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tool_config: Option<OutToolConfig<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(super) additional_model_request_fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) additional_model_response_field_paths: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output_config: Option<Value>,
}

#[derive(Serialize)]
pub(super) struct OutMessage<'a> {
    pub(super) role: &'static str,
    pub(super) content: Vec<OutBlock<'a>>,
}

/// A `ContentBlock`: serde's external tagging writes each variant as the union's one member.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OutBlock<'a> {
    Text(Cow<'a, str>),
    Image(OutImage<'a>),
    Document(OutDocument<'a>),
    ToolUse(OutToolUse<'a>),
    ToolResult(OutToolResult<'a>),
    ReasoningContent(OutReasoning<'a>),
    CachePoint(OutCachePoint<'a>),
}

#[derive(Serialize)]
pub(super) struct OutImage<'a> {
    pub(super) format: &'static str,
    pub(super) source: OutBytes<'a>,
}

#[derive(Serialize)]
pub(super) struct OutBytes<'a> {
    pub(super) bytes: &'a str,
}

#[derive(Serialize)]
pub(super) struct OutDocument<'a> {
    pub(super) format: &'static str,
    pub(super) name: String,
    pub(super) source: OutBytes<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutToolUse<'a> {
    pub(super) tool_use_id: Cow<'a, str>,
    pub(super) name: Cow<'a, str>,
    pub(super) input: Box<RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutToolResult<'a> {
    pub(super) tool_use_id: Cow<'a, str>,
    pub(super) content: Vec<OutResultBlock<'a>>,
    pub(super) status: &'static str,
}

/// A `ToolResultContentBlock`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OutResultBlock<'a> {
    Text(Cow<'a, str>),
    Image(OutImage<'a>),
    Document(OutDocument<'a>),
}

/// A `ReasoningContentBlock`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OutReasoning<'a> {
    ReasoningText { text: &'a str, signature: &'a str },
    RedactedContent(&'a str),
}

/// `CachePointBlock`: `{type: "default", ttl?}`.
#[derive(Serialize)]
pub(super) struct OutCachePoint<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ttl: Option<&'a str>,
}

/// A `SystemContentBlock`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OutSystem<'a> {
    Text(Cow<'a, str>),
    CachePoint(OutCachePoint<'a>),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutInference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) stop_sequences: Vec<&'a str>,
}

impl OutInference<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutToolConfig<'a> {
    pub(super) tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tool_choice: Option<Value>,
}

/// A `Tool`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum OutTool<'a> {
    ToolSpec(OutToolSpec<'a>),
    CachePoint(OutCachePoint<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutToolSpec<'a> {
    pub(super) name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<&'a str>,
    pub(super) input_schema: OutSchema<'a>,
}

#[derive(Serialize)]
pub(super) struct OutSchema<'a> {
    pub(super) json: &'a RawValue,
}

impl<'a> From<OutResultBlock<'a>> for OutBlock<'a> {
    fn from(b: OutResultBlock<'a>) -> OutBlock<'a> {
        match b {
            OutResultBlock::Text(t) => OutBlock::Text(t),
            OutResultBlock::Image(i) => OutBlock::Image(i),
            OutResultBlock::Document(d) => OutBlock::Document(d),
        }
    }
}
