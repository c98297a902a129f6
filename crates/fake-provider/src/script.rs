//! The script format: what the fake provider answers, parsed from JSON with
//! `deny_unknown_fields` so typos fail loudly, plus load-time validation.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bedrock::config::{AwsConfig, BedrockOperation};

/// One of the API families the fake provider can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// OpenAI Chat Completions (any POST path ending in `/chat/completions`).
    OpenaiChat,
    /// Anthropic Messages (POST paths ending in `/messages`, `/messages/count_tokens`).
    Anthropic,
    /// OpenAI Responses (any POST path ending in `/responses`).
    OpenaiResponses,
    /// AWS Bedrock InvokeModel for Claude (`/model/{modelId}/invoke`,
    /// `/model/{modelId}/invoke-with-response-stream`): Anthropic Messages bodies.
    BedrockInvoke,
    /// AWS Bedrock Converse (`/model/{modelId}/converse`, `/model/{modelId}/converse-stream`).
    BedrockConverse,
}

impl Protocol {
    /// The script spelling of this protocol (`"openai-chat"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenaiChat => "openai-chat",
            Protocol::Anthropic => "anthropic",
            Protocol::OpenaiResponses => "openai-responses",
            Protocol::BedrockInvoke => "bedrock-invoke",
            Protocol::BedrockConverse => "bedrock-converse",
        }
    }

    /// All protocols (the default of [`Script::protocols`]).
    pub fn all() -> Vec<Protocol> {
        vec![
            Protocol::OpenaiChat,
            Protocol::Anthropic,
            Protocol::OpenaiResponses,
            Protocol::BedrockInvoke,
            Protocol::BedrockConverse,
        ]
    }

    /// Whether this is one of the AWS Bedrock families.
    pub fn is_bedrock(self) -> bool {
        matches!(self, Protocol::BedrockInvoke | Protocol::BedrockConverse)
    }
}

/// A complete script: which protocols answer, auth, models, and the ordered
/// steps that decide every reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// API families that answer; the others return 404. Default: all.
    #[serde(default = "Protocol::all")]
    pub protocols: Vec<Protocol>,
    /// If set, every API request must carry this key (Bearer; `x-api-key` for
    /// Anthropic; Azure's `api-key` for the OpenAI families); otherwise 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Model ids listed by `GET /v1/models`. Default `["fake-model"]`.
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Extra fields of listed models, by id, merged into their `GET /v1/models` entries (the
    /// metadata providers add: `context_length`, `pricing`, `display_name` …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_fields: BTreeMap<String, serde_json::Map<String, Value>>,
    /// The most models one page of Anthropic's list holds, whatever `limit` asks (Anthropic's
    /// own cap is 1,000), so clients' paging (`after_id`) can be exercised. Default: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models_page_size: Option<usize>,
    /// Record received requests (default true; turn off for benchmarks).
    #[serde(default = "default_true")]
    pub record: bool,
    /// Ordered steps; the first matching, non-exhausted one answers.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Reply used when no step matches; absent means a 500 error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Reply>,
    /// AWS: SigV4 credentials for the Bedrock routes, the fake SSO portal and STS. Absent:
    /// Bedrock requests are not authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsConfig>,
    /// Google Vertex AI: the service account the fake token endpoint accepts and the project
    /// and location its routes serve. Absent: no Vertex routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex: Option<crate::vertex::VertexConfig>,
}

fn default_models() -> Vec<String> {
    vec!["fake-model".to_string()]
}

fn default_true() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for Script {
    fn default() -> Self {
        Script {
            protocols: Protocol::all(),
            api_key: None,
            models: default_models(),
            model_fields: BTreeMap::new(),
            models_page_size: None,
            record: true,
            steps: Vec::new(),
            default: None,
            aws: None,
            vertex: None,
        }
    }
}

impl Script {
    /// A script with no steps whose default reply is `text`.
    pub fn with_default_text(text: impl Into<String>) -> Script {
        Script {
            default: Some(Reply::text(text)),
            ..Script::default()
        }
    }

    /// Parses and validates a script from JSON text.
    pub fn from_json(s: &str) -> Result<Script, String> {
        let script: Script = serde_json::from_str(s).map_err(|e| format!("invalid script: {e}"))?;
        script.validate()?;
        Ok(script)
    }

    /// Reads, parses and validates a script file; errors name the file and
    /// carry serde's line/column.
    pub fn from_file(p: &Path) -> Result<Script, String> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read script {}: {e}", p.display()))?;
        let script: Script = serde_json::from_str(&text)
            .map_err(|e| format!("invalid script {}: {e}", p.display()))?;
        script
            .validate()
            .map_err(|e| format!("invalid script {}: {e}", p.display()))?;
        Ok(script)
    }

    /// Checks values serde cannot: status ranges, zero counts, header syntax.
    pub fn validate(&self) -> Result<(), String> {
        for (i, step) in self.steps.iter().enumerate() {
            step.reply
                .validate()
                .map_err(|e| format!("steps[{i}].reply: {e}"))?;
        }
        if let Some(d) = &self.default {
            d.validate().map_err(|e| format!("default: {e}"))?;
        }
        Ok(())
    }
}

/// One scripted step: conditions, an optional use limit, and the reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Conditions that must all hold (absent = always).
    #[serde(default)]
    pub when: When,
    /// How many times this step may answer (absent = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// What to answer.
    pub reply: Reply,
}

/// Matching conditions of a [`Step`]; every field is optional and all given
/// fields must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Substring of the raw request body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Normalised role of the last conversational item: "user", "assistant"
    /// or "tool" (other raw roles such as "system" compare verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_role: Option<String>,
    /// Whether the request has a non-empty `tools` array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_tools: Option<bool>,
    /// Equals `body.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Equals the request path (without query string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Equals `body.stream` (absent in the body counts as false); for Bedrock, whether the
    /// operation streams (`InvokeModelWithResponseStream`, `ConverseStream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The API family the request arrived on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// The Bedrock operation (`"InvokeModel"`, `"InvokeModelWithResponseStream"`,
    /// `"Converse"`, `"ConverseStream"`); never holds for the other families. For Bedrock,
    /// `model` compares the decoded model id of the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<BedrockOperation>,
}

/// What to answer. Rendered in whichever protocol the request used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Assistant text; supports `{{last_tool_result}}` and `{{model}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reasoning / thinking text (same templates as `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallSpec>,
    /// Chat-style finish reason override ("stop", "length", "tool_calls",
    /// "content_filter"); Anthropic stop reasons are accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Token usage override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageSpec>,
    /// HTTP error status (400..=599): answer with an error body instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Error details: for `status` replies, and for `stream.fail_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSpec>,
    /// Extra response headers (any reply).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Streaming options (used only when the request has `"stream": true`, or is a streaming
    /// Bedrock operation; for Bedrock an "event" is an event-stream frame).
    #[serde(default, skip_serializing_if = "StreamOpts::is_default")]
    pub stream: StreamOpts,
    /// Repeat `text` N times; streamed as exactly N deltas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_text: Option<u32>,
    /// Use the raw received request body as the text.
    #[serde(default, skip_serializing_if = "is_false")]
    pub echo: bool,
    /// Sleep this long before sending the response head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// A fault to inject instead of (or into) the well-formed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// Compress the answer with gzip (`content-encoding: gzip`) whether or not the request
    /// asked for it, as some servers and proxies do; a stream is flushed event by event, so it
    /// still arrives incrementally.
    #[serde(default, skip_serializing_if = "is_false")]
    pub gzip: bool,
}

/// A misbehaving upstream, for testing what its clients do. Applies to streaming and
/// non-streaming requests alike. With [`Reply::status`], `reset` still resets, `cut` and `stall`
/// apply to the error body, and the others are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Read the request, then close the connection with a TCP reset before any response byte.
    Reset,
    /// Answer 200 with an HTML page (`text/html`), as a captive portal or a misrouted proxy does.
    Html,
    /// Answer a streaming request with the complete JSON answer (`application/json`), and a
    /// non-streaming one with the SSE stream (`text/event-stream`).
    WrongKind,
    /// A stream gets an event whose data is not JSON after its first event; a non-streaming
    /// answer is JSON cut in the middle, sent under `application/json` with a clean end.
    Garbage,
    /// Send the first half of the answer (its events, or the bytes of its JSON body), then
    /// abort the connection without the chunked terminator.
    Cut,
    /// Send the first half of the answer, then nothing more until the client goes away.
    Stall,
}

impl Reply {
    /// A reply with just `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: Some(text.into()),
            ..Reply::default()
        }
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.status
            && !(400..=599).contains(&s)
        {
            return Err(format!("status {s} is not an error status (400..=599)"));
        }
        for (k, v) in &self.headers {
            axum::http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid header name {k:?}"))?;
            axum::http::HeaderValue::from_str(v)
                .map_err(|_| format!("invalid header value for {k:?}"))?;
        }
        let s = &self.stream;
        for (name, v) in [
            ("stream.text_chunks", s.text_chunks),
            ("stream.arg_fragments", s.arg_fragments),
            ("stream.chunk_bytes", s.chunk_bytes),
        ] {
            if v == Some(0) {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.repeat_text == Some(0) {
            return Err("repeat_text must be at least 1".to_string());
        }
        for (i, tc) in self.tool_calls.iter().enumerate() {
            if tc.name.is_empty() {
                return Err(format!("tool_calls[{i}].name is empty"));
            }
        }
        Ok(())
    }
}

/// A scripted tool call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallSpec {
    /// Call id; generated per protocol (`call_…`, `toolu_…`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tool name.
    pub name: String,
    /// A JSON value (serialised compactly) or a string sent verbatim.
    /// Absent means `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

/// Token usage override; absent fields use defaults (input = body bytes/4,
/// output = rough word count of the reply, cached = 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSpec {
    /// Total prompt tokens, including cached ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    /// Cached prompt tokens (part of `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<u64>,
    /// Prompt tokens written to the cache with the 5-minute lifetime (part of `input`;
    /// Anthropic renders them in `cache_creation_input_tokens` and `cache_creation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<u64>,
    /// Prompt tokens written to the cache with the 1-hour lifetime (part of `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<u64>,
}

/// Error details for error replies and mid-stream failures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    /// Error type (e.g. "rate_limit_error"); defaults by status/protocol.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// OpenAI-style `code` (Chat/Responses only; e.g. "rate_limit_exceeded").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Streaming options of a [`Reply`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOpts {
    /// Split text (and reasoning) into N roughly equal deltas. Default:
    /// word-boundary chunks of at most 16 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_chunks: Option<usize>,
    /// Split each tool call's arguments string into N fragments (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_fragments: Option<usize>,
    /// Sleep between events.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// After N events, emit a protocol-specific mid-stream error and end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_after: Option<usize>,
    /// After N events, abort the connection with no terminator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_after: Option<usize>,
    /// Chat: send the usage-only chunk before `[DONE]` (default true).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub include_usage: bool,
    /// Chat: interleave fragments of several tool calls by round.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parallel_interleave: bool,
    /// Chat: put usage on the finish_reason chunk instead of its own chunk.
    #[serde(default, skip_serializing_if = "is_false")]
    pub usage_in_finish_chunk: bool,
    /// Anthropic: send a `ping` event after `message_start` (default true).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub ping: bool,
    /// Re-split the whole SSE byte stream into body chunks of at most N
    /// bytes (exercises parsers on events split across reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_bytes: Option<usize>,
    /// Let the HTTP layer coalesce ready events into fewer writes (default
    /// false: every event is flushed as its own write).
    #[serde(default, skip_serializing_if = "is_false")]
    pub coalesce: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for StreamOpts {
    fn default() -> Self {
        StreamOpts {
            text_chunks: None,
            arg_fragments: None,
            delay_ms: 0,
            fail_after: None,
            cut_after: None,
            include_usage: true,
            parallel_interleave: false,
            usage_in_finish_chunk: false,
            ping: true,
            chunk_bytes: None,
            coalesce: false,
        }
    }
}

impl StreamOpts {
    fn is_default(&self) -> bool {
        *self == StreamOpts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_example() {
        let s = Script::from_json(
            r#"{
              "protocols": ["openai-chat"],
              "api_key": "sk-upstream",
              "models": ["m1"],
              "record": true,
              "steps": [
                { "when": { "contains": "hello", "last_role": "tool", "has_tools": true,
                            "model": "m1", "path": "/v1/chat/completions" },
                  "times": 1,
                  "reply": { "text": "hi", "tool_calls": [{"name": "Bash", "arguments": {"command": "ls"}}],
                             "stream": {"text_chunks": 2, "fail_after": 3} } }
              ],
              "default": { "text": "default answer" }
            }"#,
        )
        .expect("valid script");
        assert_eq!(s.protocols, vec![Protocol::OpenaiChat]);
        assert_eq!(s.steps[0].times, Some(1));
        assert_eq!(s.steps[0].reply.stream.text_chunks, Some(2));
        assert!(s.steps[0].reply.stream.include_usage);
        assert_eq!(s.default, Some(Reply::text("default answer")));
    }

    #[test]
    fn defaults() {
        let s = Script::from_json("{}").expect("empty script");
        assert_eq!(s, Script::default());
        assert_eq!(s.protocols.len(), 5);
        assert_eq!(s.models, vec!["fake-model"]);
        assert!(s.record);
    }

    #[test]
    fn unknown_fields_fail_loudly() {
        let err = Script::from_json(r#"{"steps":[{"reply":{"txt":"x"}}]}"#).unwrap_err();
        assert!(err.contains("unknown field `txt`"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = Script::from_json(r#"{"protocols":["grpc"]}"#).unwrap_err();
        assert!(err.contains("grpc"), "{err}");
    }

    #[test]
    fn validation_errors() {
        let err = Script::from_json(r#"{"default":{"status":200}}"#).unwrap_err();
        assert!(err.contains("default: status 200"), "{err}");
        let err =
            Script::from_json(r#"{"steps":[{"reply":{"stream":{"text_chunks":0}}}]}"#).unwrap_err();
        assert!(err.contains("steps[0].reply: stream.text_chunks"), "{err}");
        let err = Script::from_json(r#"{"default":{"headers":{"bad name":"x"}}}"#).unwrap_err();
        assert!(err.contains("invalid header name"), "{err}");
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("fp-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let p = dir.join("bad.json");
        std::fs::write(
            &p,
            "{\n  \"steps\": [\n    {\"reply\": {\"text\": 5}}\n  ]\n}",
        )
        .expect("write");
        let err = Script::from_file(&p).unwrap_err();
        assert!(err.contains("bad.json"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let missing = Script::from_file(&dir.join("missing.json")).unwrap_err();
        assert!(missing.contains("missing.json"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn serialize_round_trip() {
        let s = Script::from_json(
            r#"{"api_key":"k","steps":[{"when":{"stream":true},"reply":{"text":"a","stream":{"ping":false}}}],"default":{"status":429,"error":{"type":"rate_limit_error"}}}"#,
        )
        .expect("valid");
        let json = serde_json::to_string(&s).expect("serialize");
        assert_eq!(Script::from_json(&json).expect("round trip"), s);
    }
}
