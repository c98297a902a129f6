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

/// Quirks of an AWS Bedrock Converse upstream (`POST /model/{modelId}/converse` and
/// `/converse-stream` on `bedrock-runtime.{region}.amazonaws.com`; protocols.md §7).
#[derive(Debug, Clone, Default)]
pub struct ConverseTarget {
    /// The model id, inference-profile id or ARN. It goes in the URL path (percent-encoded: `:`
    /// is `%3A`), never in the body, so the encoder does not use it.
    pub model: String,
    /// Output-token cap: `inferenceConfig.maxTokens` is the client's limit clamped to it, or it
    /// when the client gave none.
    pub max_output_tokens: Option<u32>,
    /// Whether the model takes Anthropic's `thinking` object in `additionalModelRequestFields`
    /// (Claude models with extended thinking). Without it reasoning requests are dropped.
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
/// (first 55 characters, `_`, 8 hex digits of their SHA-256, as LiteLLM does), names with
/// characters outside `[a-zA-Z0-9_-]` made [strict](ToolNames::strict), and the way back;
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
        let mut pairs = Vec::new();
        for n in names {
            let short = Self::cut(n);
            if short != n {
                pairs.push((short.clone().into_owned(), n.to_owned()));
            }
            let strict = Self::strict(n);
            if strict != n && strict != short {
                pairs.push((strict.into_owned(), n.to_owned()));
            }
        }
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
        let mut cut = 55.min(name.len());
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{}", &name[..cut], hash_hex8(name))
    }

    /// The name for an upstream that takes only `[a-zA-Z0-9_-]{1,64}` (Bedrock Converse's
    /// `ToolName` shape): `name` itself when it fits, [`ToolNames::shorten_name`] when it is only
    /// too long; otherwise every other character becomes `_` and `_` plus 8 hex digits of the
    /// original's SHA-256 follow (after at most 55 characters), so distinct names stay distinct
    /// and [`ToolNames::restore`] finds the original.
    pub fn strict(name: &str) -> std::borrow::Cow<'_, str> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !name.is_empty() && name.chars().all(allowed) {
            return Self::cut(name);
        }
        let clean: String = name
            .chars()
            .take(55)
            .map(|c| if allowed(c) { c } else { '_' })
            .collect();
        std::borrow::Cow::Owned(format!("{clean}_{}", hash_hex8(name)))
    }

    /// The name to send upstream.
    pub fn shorten<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        Self::cut(name)
    }

    /// `name`, or its short form when it is longer than [`ToolNames::MAX_LEN`].
    fn cut(name: &str) -> std::borrow::Cow<'_, str> {
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

/// The first 8 hex digits of the SHA-256 of `s`.
pub(crate) fn hash_hex8(s: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(s.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
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
    fn strict_names_fit_the_converse_pattern_and_round_trip() {
        let names = ToolNames::new(["Bash", "container.exec", "", "ünï"]);
        let fits = |n: &str| {
            (1..=64).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        assert_eq!(ToolNames::strict("Bash"), "Bash");
        for n in ["container.exec", "", "ünï", &"x.".repeat(50)] {
            let s = ToolNames::strict(n);
            assert!(fits(&s), "{s:?}");
            assert_ne!(s, n);
        }
        assert!(ToolNames::strict("container.exec").starts_with("container_exec_"));
        assert_ne!(ToolNames::strict("a.b"), ToolNames::strict("a:b"));
        for n in ["container.exec", "", "ünï"] {
            assert_eq!(names.restore(&ToolNames::strict(n)), n);
        }
        // A long name with other characters keeps its Chat short form too.
        let long = "mcp.server.".to_owned() + &"y".repeat(60);
        let names = ToolNames::new([long.as_str()]);
        assert_eq!(names.restore(&ToolNames::shorten_name(&long)), long);
        assert_eq!(names.restore(&ToolNames::strict(&long)), long);
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
