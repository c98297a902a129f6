//! The provider data table (DESIGN.md §2, §4.1): per provider, its protocol, default endpoint, key
//! variable and quirks. Quirks are data here, applied by the protocol crate's encoders; nothing
//! else in the gateway branches on a provider's name.
//!
//! Sources: each provider's API reference (URL in `docs`), protocols.md §8 and the issue threads
//! cited there. Parameters listed in `rejects` are documented as unsupported or were reported to
//! fail with a 400/422.

use super::hosts;
use crate::transport::TransportKind;
use crate::transport::http::HTTP;
use crate::transport::mock::MOCK as MOCK_TRANSPORT;
pub use protocol::Protocol;
use protocol::target::{MaxTokensField, ReasoningControl, SchemaDialect, ToolIdFormat};

/// One row of the table.
#[derive(Debug)]
pub struct ProviderInfo {
    /// The `litellm_params.model` prefix.
    pub name: &'static str,
    /// The wire API its endpoint speaks (a [`TransportKind`] may pick another per model id).
    pub protocol: Protocol,
    /// How requests travel: HTTP, the mock, AWS (SigV4 and event-stream), a child process.
    pub transport: &'static dyn TransportKind,
    /// Default `api_base`; `None` when the user must give one. `{NAME}` in it is the value of the
    /// variable NAME (environment, then `.secrets`): Cloudflare's account id.
    pub api_base: Option<&'static str>,
    /// Variable read for the endpoint before the default when the definition gives no
    /// `api_base` (LiteLLM's `<PROVIDER>_API_BASE`).
    pub base_env: Option<&'static str>,
    /// Environment variable holding the key; `None` when no key is needed.
    pub key_env: Option<&'static str>,
    /// Other variables LiteLLM reads for the key, tried in order after `key_env`.
    pub key_env_also: &'static [&'static str],
    /// Whether a request without a key is refused before it is sent.
    pub key_required: bool,
    /// Request parameters the provider rejects.
    pub rejects: &'static [&'static str],
    /// Non-OpenAI parameters the provider accepts (others, such as `top_k`, are not sent).
    pub accepts: &'static [&'static str],
    pub max_tokens_field: MaxTokensField,
    /// Largest output-token limit the provider accepts, when one applies to all its models.
    pub max_output_tokens: Option<u32>,
    pub reasoning: ReasoningControl,
    pub tool_ids: ToolIdFormat,
    pub schema: SchemaDialect,
    /// Send reasoning back as `reasoning_content` (DeepSeek thinking mode with tools).
    pub echo_reasoning_content: bool,
    /// Accepts `stream_options.include_usage`.
    pub stream_usage: bool,
    /// Put before a model id that has no `/` (Fireworks' `accounts/fireworks/models/`).
    pub model_prefix: Option<&'static str>,
    /// The API reference the row follows.
    pub docs: &'static str,
}

/// The defaults every OpenAI-compatible row starts from.
pub(super) const OPENAI_LIKE: ProviderInfo = ProviderInfo {
    name: "openai",
    protocol: Protocol::OpenAiChat,
    transport: &HTTP,
    api_base: Some("https://api.openai.com/v1"),
    base_env: None,
    key_env: Some("OPENAI_API_KEY"),
    key_env_also: &[],
    key_required: true,
    rejects: &[],
    accepts: &[],
    max_tokens_field: MaxTokensField::MaxTokens,
    max_output_tokens: None,
    reasoning: ReasoningControl::Effort,
    tool_ids: ToolIdFormat::Any,
    schema: SchemaDialect::Full,
    echo_reasoning_content: false,
    stream_usage: true,
    model_prefix: None,
    docs: "https://platform.openai.com/docs/api-reference/chat/create",
};

/// The `anthropic` row: also a bare `claude…` model name.
pub const ANTHROPIC: ProviderInfo = ProviderInfo {
    name: "anthropic",
    protocol: Protocol::Anthropic,
    api_base: Some("https://api.anthropic.com"),
    key_env: Some("ANTHROPIC_API_KEY"),
    // A Messages parameter: kept on pass-through (the Chat rule of dropping it does not apply).
    accepts: &["top_k"],
    docs: "https://docs.claude.com/en/api/messages",
    ..OPENAI_LIKE
};

/// The `openai` row: also a model name with no prefix, and an unknown prefix with `api_base`.
pub const OPENAI: ProviderInfo = ProviderInfo {
    // o-series and gpt-5 reject `max_tokens` (litellm#13381).
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    ..OPENAI_LIKE
};

/// The `mock` row: a definition with `mock_response`.
pub const MOCK: ProviderInfo = ProviderInfo {
    name: "mock",
    protocol: Protocol::OpenAiChat,
    transport: &MOCK_TRANSPORT,
    api_base: None,
    key_env: None,
    key_required: false,
    docs: "https://docs.litellm.ai/docs/completion/mock_requests",
    ..OPENAI_LIKE
};

/// Every provider agent-shim knows, by prefix.
pub static PROVIDERS: &[ProviderInfo] = &[
    ANTHROPIC,
    OPENAI,
    ProviderInfo {
        name: "bedrock",
        // InvokeModel for Claude; the transport picks Converse for other model ids.
        protocol: Protocol::Anthropic,
        transport: &crate::providers::bedrock::BEDROCK,
        // The endpoint follows the region: bedrock-runtime.<region>.amazonaws.com.
        api_base: None,
        // Signed with AWS credentials (aws_* parameters, the profile or the environment).
        key_env: None,
        key_required: false,
        docs: "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
        ..ANTHROPIC
    },
    ProviderInfo {
        name: "claude-code",
        // The user's own `claude` CLI, run headless; its stream-json is re-framed as Messages.
        protocol: Protocol::Anthropic,
        transport: &crate::providers::claude_code::CLAUDE_CODE,
        api_base: None,
        // The CLI's own login (or `extra_env`) authenticates; no key is read or sent.
        key_env: None,
        key_required: false,
        docs: "https://docs.claude.com/en/docs/claude-code/sdk/sdk-headless",
        ..ANTHROPIC
    },
    ProviderInfo {
        name: "cerebras",
        api_base: Some("https://api.cerebras.ai/v1"),
        key_env: Some("CEREBRAS_API_KEY"),
        // 422 on metadata (livekit/agents#1274), 400 on top_k (mnfst/modelparams.dev#115); the
        // API reference lists the penalties, logit_bias and parallel_tool_calls as unsupported.
        rejects: &[
            "metadata",
            "frequency_penalty",
            "presence_penalty",
            "logit_bias",
            "parallel_tool_calls",
            "service_tier",
        ],
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        docs: "https://inference-docs.cerebras.ai/api-reference/chat-completions",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "groq",
        api_base: Some("https://api.groq.com/openai/v1"),
        key_env: Some("GROQ_API_KEY"),
        // "`metadata` is not supported with this model" (skye-harris/hass_local_openai_llm#59);
        // the API reference lists logprobs, logit_bias and n > 1 as unsupported.
        rejects: &[
            "metadata",
            "logprobs",
            "top_logprobs",
            "logit_bias",
            "n",
            "service_tier",
        ],
        schema: SchemaDialect::NoSchemaKeyword,
        docs: "https://console.groq.com/docs/openai",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "deepseek",
        api_base: Some("https://api.deepseek.com"),
        key_env: Some("DEEPSEEK_API_KEY"),
        rejects: &["metadata", "parallel_tool_calls", "service_tier"],
        // V4 models take `reasoning_effort`; in thinking mode with tools `reasoning_content` must
        // come back on assistant turns, else 400 (abhigyanpatwari/GitNexus#43).
        echo_reasoning_content: true,
        docs: "https://api-docs.deepseek.com/api/create-chat-completion",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "mistral",
        api_base: Some("https://api.mistral.ai/v1"),
        key_env: Some("MISTRAL_API_KEY"),
        // Mistral rejects unknown fields (422 extra_forbidden).
        rejects: &[
            "metadata",
            "user",
            "logit_bias",
            "logprobs",
            "top_logprobs",
            "service_tier",
            "stream_options",
            "reasoning_effort",
        ],
        reasoning: ReasoningControl::None,
        tool_ids: ToolIdFormat::Alnum9,
        stream_usage: false,
        docs: "https://docs.mistral.ai/api/#tag/chat",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "xai",
        api_base: Some("https://api.x.ai/v1"),
        key_env: Some("XAI_API_KEY"),
        rejects: &["metadata", "service_tier"],
        docs: "https://docs.x.ai/docs/api-reference#chat-completions",
        ..OPENAI_LIKE
    },
    hosts::PERPLEXITY,
    ProviderInfo {
        name: "openrouter",
        api_base: Some("https://openrouter.ai/api/v1"),
        key_env: Some("OPENROUTER_API_KEY"),
        accepts: &["top_k"],
        docs: "https://openrouter.ai/docs/api-reference/chat-completion",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "gemini",
        api_base: Some("https://generativelanguage.googleapis.com/v1beta/openai"),
        key_env: Some("GEMINI_API_KEY"),
        rejects: &[
            "metadata",
            "parallel_tool_calls",
            "logit_bias",
            "service_tier",
            "user",
        ],
        schema: SchemaDialect::Gemini,
        docs: "https://ai.google.dev/gemini-api/docs/openai",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "ollama",
        api_base: Some("http://localhost:11434/v1"),
        key_env: None,
        key_required: false,
        accepts: &["top_k"],
        reasoning: ReasoningControl::None,
        docs: "https://github.com/ollama/ollama/blob/main/docs/openai.md",
        ..OPENAI_LIKE
    },
    ProviderInfo {
        name: "hosted_vllm",
        api_base: None,
        base_env: Some("HOSTED_VLLM_API_BASE"),
        key_env: Some("HOSTED_VLLM_API_KEY"),
        key_required: false,
        accepts: &["top_k"],
        reasoning: ReasoningControl::None,
        docs: "https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
        ..OPENAI_LIKE
    },
    super::azure::AZURE_ROW,
    super::azure::AZURE_AI_ROW,
    super::vertex::VERTEX_ROW,
    hosts::TOGETHER_AI,
    hosts::FIREWORKS_AI,
    hosts::NVIDIA_NIM,
    hosts::GITHUB,
    hosts::CLOUDFLARE,
    hosts::COHERE,
    hosts::MOONSHOT,
    hosts::ZAI,
    hosts::DASHSCOPE,
    hosts::LM_STUDIO,
    hosts::OPENAI_LIKE_ANY,
    hosts::CUSTOM_OPENAI,
    MOCK,
];

/// The row for a provider prefix.
pub fn provider(name: &str) -> Option<&'static ProviderInfo> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// The prefixes agent-shim knows, for error messages.
pub fn provider_names() -> Vec<&'static str> {
    PROVIDERS
        .iter()
        .map(|p| p.name)
        .filter(|n| *n != "mock")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_unique_and_networked_providers_have_an_endpoint_or_need_one() {
        let mut names: Vec<_> = PROVIDERS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROVIDERS.len());
        // These serve the user's own endpoint: the definition (or the base variable) names it.
        let own_endpoint = [
            "hosted_vllm",
            "azure",
            "azure_ai",
            "openai_like",
            "custom_openai",
        ];
        for p in PROVIDERS {
            if p.transport.needs_api_base() && !own_endpoint.contains(&p.name) {
                assert!(p.api_base.is_some(), "{} has no default api_base", p.name);
            }
            assert!(!p.key_required || p.key_env.is_some(), "{}", p.name);
            assert!(
                p.key_env.is_some() || p.key_env_also.is_empty(),
                "{}",
                p.name
            );
            assert!(p.docs.starts_with("https://"), "{}", p.name);
        }
    }

    /// README.md's provider table names every row with its default endpoint, its base
    /// variable and its key variables in the order they are tried.
    #[test]
    fn the_readmes_provider_table_matches_this_table() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        let section = readme
            .split("\n### Providers\n")
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .expect("README.md has a Providers section");
        for p in PROVIDERS.iter().filter(|p| p.name != "mock") {
            let cell = format!("`{}`", p.name);
            let line = section
                .lines()
                .find(|l| {
                    l.strip_prefix("| ")
                        .and_then(|l| l.split(" |").next())
                        .is_some_and(|first| first.split(", ").any(|n| n == cell))
                })
                .unwrap_or_else(|| panic!("README.md has no provider row for {}", p.name));
            let cells: Vec<&str> = line.split(" | ").collect();
            let (endpoint, keys) = (cells[1], cells[2]);
            if let Some(base) = p.api_base {
                assert!(
                    endpoint.contains(&format!("`{base}`")),
                    "{}: {line}",
                    p.name
                );
            }
            if let Some(var) = p.base_env {
                assert!(endpoint.contains(&format!("`{var}`")), "{}: {line}", p.name);
            }
            let vars: Vec<String> = p
                .key_env
                .into_iter()
                .chain(p.key_env_also.iter().copied())
                .map(|v| format!("`{v}`"))
                .collect();
            let at: Vec<usize> = vars
                .iter()
                .map(|v| {
                    keys.find(v.as_str())
                        .unwrap_or_else(|| panic!("{}: {v}", p.name))
                })
                .collect();
            assert!(
                at.is_sorted(),
                "{}: key variables out of order: {line}",
                p.name
            );
            if p.key_env.is_some() && !p.key_required {
                assert!(keys.contains("(optional)"), "{}: {line}", p.name);
            }
            if p.key_env.is_none() && p.transport.needs_api_base() {
                assert!(
                    keys.starts_with("none") || keys.contains("api_key"),
                    "{}: {line}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn openai_row_uses_max_completion_tokens() {
        assert_eq!(
            provider("openai").unwrap().max_tokens_field,
            MaxTokensField::MaxCompletionTokens
        );
        assert_eq!(provider("anthropic").unwrap().protocol, Protocol::Anthropic);
        assert!(provider("nope").is_none());
    }
}
