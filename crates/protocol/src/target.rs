//! What an encoder needs to know about the upstream it writes for: the upstream model id and the
//! provider's quirks (DESIGN.md §4.1). The gateway fills these from the provider data table and
//! the model definition; the protocol crate only applies them.

/// Which field carries the output-token limit in a Chat Completions request. OpenAI's o-series
/// and gpt-5 reject `max_tokens` ("Use 'max_completion_tokens' instead", litellm#13381); Cerebras
/// documents `max_completion_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

/// How a Chat upstream is told to reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningControl {
    /// No control: reasoning requests are dropped.
    #[default]
    None,
    /// `reasoning_effort: "low"|"medium"|"high"` (OpenAI, Groq, Cerebras, xAI, Gemini, OpenRouter).
    Effort,
}

/// Tool-call id rules of the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolIdFormat {
    #[default]
    Any,
    /// Exactly 9 characters `[a-zA-Z0-9]` (Mistral; langchain-ai/langchain#24668).
    Alnum9,
}

/// Which JSON-Schema subset the upstream accepts in tool parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaDialect {
    #[default]
    Full,
    /// Gemini's OpenAI endpoint: an OpenAPI-3 subset (no `$schema`, `additionalProperties`,
    /// `exclusiveMinimum`, `propertyNames`, `const`, …).
    Gemini,
    /// Everything but the `$schema` keyword (Groq, per claude-code-router's groq transformer).
    NoSchemaKeyword,
}

/// Quirks of an OpenAI Chat Completions upstream.
#[derive(Debug, Clone, Default)]
pub struct ChatTarget {
    /// The model id the upstream expects (the part after the provider prefix).
    pub model: String,
    pub max_tokens_field: MaxTokensField,
    /// Output-token cap; the client's `max_tokens` is clamped to it.
    pub max_output_tokens: Option<u32>,
    /// Request parameters never to send (provider rejects + the model's `additional_drop_params`).
    pub drop: Vec<String>,
    pub reasoning: ReasoningControl,
    /// Send `developer` instead of `system` (OpenAI reasoning models).
    pub developer_role: bool,
    pub tool_ids: ToolIdFormat,
    /// Send reasoning back as `reasoning_content` on assistant messages (DeepSeek requires it in
    /// thinking mode with tools).
    pub echo_reasoning_content: bool,
    /// Ask for `stream_options.include_usage` when streaming.
    pub stream_usage: bool,
    pub schema: SchemaDialect,
}

impl ChatTarget {
    /// Whether `param` must not be sent.
    pub fn drops(&self, param: &str) -> bool {
        self.drop.iter().any(|d| d == param)
    }
}

/// Quirks of an Anthropic Messages upstream.
#[derive(Debug, Clone, Default)]
pub struct AnthropicTarget {
    pub model: String,
    pub max_output_tokens: Option<u32>,
    /// Whether the model accepts `thinking`.
    pub supports_thinking: bool,
}

/// Quirks of an OpenAI Responses upstream (OpenAI's own `/v1/responses` and compatible hosts).
#[derive(Debug, Clone, Default)]
pub struct ResponsesTarget {
    /// The model id the upstream expects.
    pub model: String,
    /// Output-token cap; the client's limit is clamped to it.
    pub max_output_tokens: Option<u32>,
    /// Request parameters never to send.
    pub drop: Vec<String>,
}

impl ResponsesTarget {
    /// Whether `param` must not be sent.
    pub fn drops(&self, param: &str) -> bool {
        self.drop.iter().any(|d| d == param)
    }
}

/// Tool names longer than an upstream's 64-character limit, shortened deterministically
/// (first 55 characters, `_`, 8 hex digits of their SHA-256, as LiteLLM does), and the way back;
/// plus the names of the request's custom (raw-string) tools, whose calls a Responses client must
/// receive as `custom_tool_call`s although the upstream saw a function.
/// Built from the request's tool list, so no state outlives a request.
#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    /// (short, original) for every name that had to be shortened.
    pairs: Vec<(String, String)>,
    /// Names of the [`ToolKind::Custom`](crate::ir::ToolKind::Custom) tools.
    custom: Vec<String>,
}

impl ToolNames {
    /// OpenAI's limit on function names.
    pub const MAX_LEN: usize = 64;

    /// The mapping for the tool names of a request.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> ToolNames {
        let pairs = names
            .into_iter()
            .filter(|n| n.len() > Self::MAX_LEN)
            .map(|n| (Self::shorten_name(n), n.to_owned()))
            .collect();
        ToolNames {
            pairs,
            custom: Vec::new(),
        }
    }

    /// The mapping for a request's tools, remembering which are custom tools.
    pub fn from_tools(tools: &[crate::ir::Tool]) -> ToolNames {
        let mut names = ToolNames::new(tools.iter().map(|t| t.name.as_str()));
        names.custom = tools
            .iter()
            .filter(|t| t.kind == crate::ir::ToolKind::Custom)
            .map(|t| t.name.clone())
            .collect();
        names
    }

    /// Whether `name` (the client's name) is a custom tool of the request.
    pub fn is_custom(&self, name: &str) -> bool {
        self.custom.iter().any(|c| c == name)
    }

    /// The deterministic short form of `name`.
    pub fn shorten_name(name: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(name.as_bytes());
        let mut cut = 55.min(name.len());
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}_{hex}", &name[..cut])
    }

    /// The name to send upstream.
    pub fn shorten<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        if name.len() > Self::MAX_LEN {
            std::borrow::Cow::Owned(Self::shorten_name(name))
        } else {
            std::borrow::Cow::Borrowed(name)
        }
    }

    /// The client's name for a name the upstream used.
    pub fn restore(&self, name: &str) -> String {
        self.pairs
            .iter()
            .find(|(short, _)| short == name)
            .map_or_else(|| name.to_owned(), |(_, long)| long.clone())
    }
}

/// `id` as exactly 9 characters `[a-zA-Z0-9]`: kept when it already is, else derived from its
/// SHA-256 so the same id maps to the same value in every request of a conversation.
pub fn alnum9_id(id: &str) -> String {
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_owned();
    }
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let digest = Sha256::digest(id.as_bytes());
    digest[..9]
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A tool-call id that Anthropic accepts (`^[a-zA-Z0-9_-]+$`): other characters become `_`
/// (provider ids such as `functions.Bash:0`), an empty id becomes `fallback`.
pub fn anthropic_tool_id(id: &str, fallback: impl FnOnce() -> String) -> String {
    if id.is_empty() {
        return fallback();
    }
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return id.to_owned();
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tool_names_round_trip() {
        let long = "mcp__some_server__".to_owned() + &"x".repeat(60);
        let names = ToolNames::new(["short", long.as_str()]);
        let short = names.shorten(&long);
        assert!(short.len() <= ToolNames::MAX_LEN);
        assert_eq!(names.restore(&short), long);
        assert_eq!(names.shorten("short"), "short");
        assert_eq!(names.restore("short"), "short");
    }

    #[test]
    fn alnum9_is_stable_and_idempotent() {
        let a = alnum9_id("toolu_01ABCDEF");
        assert_eq!(a.len(), 9);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(alnum9_id("toolu_01ABCDEF"), a);
        assert_eq!(alnum9_id(&a), a);
    }

    #[test]
    fn anthropic_ids_are_sanitised() {
        assert_eq!(
            anthropic_tool_id("functions.Bash:0", || "x".into()),
            "functions_Bash_0"
        );
        assert_eq!(anthropic_tool_id("", || "toolu_gen".into()), "toolu_gen");
        assert_eq!(anthropic_tool_id("call_abc-1", || "x".into()), "call_abc-1");
    }
}

/// What a response decoder or encoder needs to know about the request it answers.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    /// The id to give the answer (`msg_…`, `chatcmpl-…` or `resp_…`, chosen by the gateway).
    pub id: String,
    /// The model name to show the client (the name it asked for).
    pub model: String,
    /// Unix time in seconds, for the `created` fields.
    pub created: u64,
    /// The request's long tool names, to restore them in tool calls, and (built with
    /// [`ToolNames::from_tools`]) its custom tools, whose calls Responses clients get as
    /// `custom_tool_call`s.
    pub tool_names: ToolNames,
}

impl ResponseContext {
    /// The `MessageStart` of a stream answering this request: usage carries `input_estimate` until
    /// the upstream's own count arrives.
    pub fn message_start(&self, input_estimate: u64) -> crate::ir::StreamEvent {
        crate::ir::StreamEvent::MessageStart {
            id: self.id.clone(),
            model: self.model.clone(),
            usage: crate::ir::Usage {
                input_tokens: input_estimate,
                ..crate::ir::Usage::default()
            },
        }
    }

    /// A fresh tool-call id for a call the upstream sent without one: `toolu_<answer id>_<n>`.
    pub fn tool_id(&self, n: usize) -> String {
        let base: String = self
            .id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("toolu_{base}_{n}")
    }
}
