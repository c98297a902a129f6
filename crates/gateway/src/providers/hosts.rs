//! Provider-table rows of the OpenAI-compatible hosts LiteLLM users have in their configs
//! (issue 11 §2): each row's endpoint, key variables and quirks, with the reference it follows.
//! Endpoints and variable names are LiteLLM's (`get_llm_provider_logic.py` and the providers'
//! `*Config` classes), so a LiteLLM `config.yaml` finds its keys where LiteLLM does; where the
//! provider's own documentation moved the endpoint since, the row says so.
//!
//! Quirks listed in `rejects` are parameters the provider's API reference leaves out of its
//! request schema or documents as unsupported; the gateway removes them from every request
//! (translated or passed through) unless the definition sets `drop_params: false`.

use super::table::{OPENAI_LIKE, ProviderInfo};
use protocol::target::{MaxTokensField, ReasoningControl};

/// `together_ai/<org>/<model>`: Together AI. Together's docs moved the endpoint from
/// `api.together.xyz` (LiteLLM's default) to `api.together.ai`; both answer. It takes `top_k`.
pub const TOGETHER_AI: ProviderInfo = ProviderInfo {
    name: "together_ai",
    api_base: Some("https://api.together.ai/v1"),
    base_env: Some("TOGETHER_AI_API_BASE"),
    // Together's own name, and the first LiteLLM tries; then LiteLLM's others, in its order.
    key_env: Some("TOGETHER_API_KEY"),
    key_env_also: &[
        "TOGETHER_AI_API_KEY",
        "TOGETHERAI_API_KEY",
        "TOGETHER_AI_TOKEN",
    ],
    accepts: &["top_k"],
    rejects: &["metadata", "service_tier", "store"],
    docs: "https://docs.together.ai/docs/inference/openai-compatibility",
    ..OPENAI_LIKE
};

/// `fireworks_ai/<model>`: Fireworks AI. A bare model id is Fireworks' public model
/// `accounts/fireworks/models/<id>`, as LiteLLM sends it; `accounts/<you>/models/<id>` is kept.
pub const FIREWORKS_AI: ProviderInfo = ProviderInfo {
    name: "fireworks_ai",
    api_base: Some("https://api.fireworks.ai/inference/v1"),
    base_env: Some("FIREWORKS_API_BASE"),
    // In LiteLLM's order (`FireworksAIConfig`).
    key_env: Some("FIREWORKS_API_KEY"),
    key_env_also: &[
        "FIREWORKS_AI_API_KEY",
        "FIREWORKSAI_API_KEY",
        "FIREWORKS_AI_TOKEN",
    ],
    accepts: &["top_k"],
    rejects: &["metadata", "service_tier", "store"],
    model_prefix: Some("accounts/fireworks/models/"),
    docs: "https://docs.fireworks.ai/api-reference/post-chatcompletions",
    ..OPENAI_LIKE
};

/// `nvidia_nim/<org>/<model>`: NVIDIA NIM (build.nvidia.com's hosted API, or a self-hosted NIM
/// with `api_base`). The NIM request schema has no `metadata`, `user`, `logit_bias`, `n` or
/// `parallel_tool_calls` (LiteLLM's NvidiaNimConfig lists what each model takes).
pub const NVIDIA_NIM: ProviderInfo = ProviderInfo {
    name: "nvidia_nim",
    api_base: Some("https://integrate.api.nvidia.com/v1"),
    base_env: Some("NVIDIA_NIM_API_BASE"),
    key_env: Some("NVIDIA_NIM_API_KEY"),
    rejects: &[
        "metadata",
        "service_tier",
        "store",
        "user",
        "logit_bias",
        "n",
        "parallel_tool_calls",
    ],
    reasoning: ReasoningControl::None,
    docs: "https://docs.api.nvidia.com/nim/reference/llm-apis",
    ..OPENAI_LIKE
};

/// `github/<publisher>/<model>`: GitHub Models, with a GitHub token that has `models:read`.
/// LiteLLM's default, `models.inference.ai.azure.com`, was retired; GitHub documents
/// `models.github.ai/inference`, where model ids are `publisher/model` (`openai/gpt-4.1`).
pub const GITHUB: ProviderInfo = ProviderInfo {
    name: "github",
    api_base: Some("https://models.github.ai/inference"),
    base_env: Some("GITHUB_API_BASE"),
    key_env: Some("GITHUB_API_KEY"),
    // GitHub's own docs and `gh` use GITHUB_TOKEN.
    key_env_also: &["GITHUB_TOKEN"],
    // The inference request schema lists model, messages, frequency/presence penalties,
    // max_tokens, modalities, response_format, seed, stop, stream(_options), temperature,
    // tool_choice, tools and top_p only.
    rejects: &[
        "metadata",
        "service_tier",
        "store",
        "user",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "n",
        "parallel_tool_calls",
    ],
    reasoning: ReasoningControl::None,
    docs: "https://docs.github.com/en/rest/models/inference",
    ..OPENAI_LIKE
};

/// `cloudflare/@cf/<vendor>/<model>`: Workers AI's OpenAI-compatible endpoint, whose URL holds
/// the account id: from `api_base`, CLOUDFLARE_API_BASE or CLOUDFLARE_ACCOUNT_ID (LiteLLM's
/// names). LiteLLM's own base (`…/ai/run/`, the native API) is read as the same account's
/// `…/ai/v1`.
pub const CLOUDFLARE: ProviderInfo = ProviderInfo {
    name: "cloudflare",
    transport: &super::cloudflare::CLOUDFLARE,
    api_base: Some("https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1"),
    base_env: Some("CLOUDFLARE_API_BASE"),
    key_env: Some("CLOUDFLARE_API_KEY"),
    // Cloudflare calls it an API token.
    key_env_also: &["CLOUDFLARE_API_TOKEN"],
    rejects: &[
        "metadata",
        "service_tier",
        "store",
        "user",
        "logit_bias",
        "n",
    ],
    docs: "https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility/",
    ..OPENAI_LIKE
};

/// `cohere/<model>`: Cohere's Compatibility API (its OpenAI Chat surface). Its documented
/// unsupported parameters are below; `reasoning_effort` takes only `none`/`high`, which Claude
/// Code's efforts do not map to, so reasoning requests are not sent.
pub const COHERE: ProviderInfo = ProviderInfo {
    name: "cohere",
    api_base: Some("https://api.cohere.ai/compatibility/v1"),
    key_env: Some("COHERE_API_KEY"),
    // The Cohere SDKs' name.
    key_env_also: &["CO_API_KEY"],
    rejects: &[
        "store",
        "metadata",
        "modalities",
        "audio",
        "logit_bias",
        "top_logprobs",
        "n",
        "prediction",
        "user",
        "service_tier",
        "parallel_tool_calls",
    ],
    reasoning: ReasoningControl::None,
    docs: "https://docs.cohere.com/docs/compatibility-api",
    ..OPENAI_LIKE
};

/// `perplexity/<model>`: Perplexity, LiteLLM's endpoint and key variables. Chat goes to Sonar
/// Chat Completions, which Perplexity retired on 2026-09-27; `api_mode: responses` reaches its
/// Agent API (`/v1/responses`, model ids such as `perplexity/sonar` or `openai/gpt-5.5`), which
/// takes function tools ([`super::perplexity`]). The parameters below are outside what LiteLLM
/// sends either API (`PerplexityChatConfig` / `PerplexityResponsesConfig` supported params):
/// neither takes `tool_choice`, Sonar no seed, stop, logprobs or logit_bias.
pub const PERPLEXITY: ProviderInfo = ProviderInfo {
    name: "perplexity",
    transport: &super::perplexity::PERPLEXITY,
    api_base: Some("https://api.perplexity.ai"),
    base_env: Some("PERPLEXITY_API_BASE"),
    key_env: Some("PERPLEXITYAI_API_KEY"),
    // LiteLLM reads both names (PERPLEXITY_API_KEY is Perplexity's own).
    key_env_also: &["PERPLEXITY_API_KEY"],
    rejects: &[
        "metadata",
        "service_tier",
        "store",
        "user",
        "n",
        "seed",
        "stop",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "parallel_tool_calls",
        "tool_choice",
        "include",
        "prompt_cache_key",
    ],
    // `reasoning_effort` (Sonar reasoning models) and `reasoning` (Agent API), sent when the
    // definition declares `supports_reasoning`.
    reasoning: ReasoningControl::Effort,
    max_tokens_field: MaxTokensField::MaxTokens,
    docs: "https://docs.litellm.ai/docs/providers/perplexity",
    ..OPENAI_LIKE
};

/// `moonshot/<model>`: Moonshot AI (Kimi). It reads `max_tokens` (LiteLLM renames
/// `max_completion_tokens`), and its thinking models require `reasoning_content` on assistant
/// turns with tool calls, so reasoning is sent back as DeepSeek's is.
pub const MOONSHOT: ProviderInfo = ProviderInfo {
    name: "moonshot",
    api_base: Some("https://api.moonshot.ai/v1"),
    base_env: Some("MOONSHOT_API_BASE"),
    key_env: Some("MOONSHOT_API_KEY"),
    rejects: &["metadata", "service_tier", "store", "functions"],
    max_tokens_field: MaxTokensField::MaxTokens,
    reasoning: ReasoningControl::None,
    echo_reasoning_content: true,
    docs: "https://platform.moonshot.ai/docs/api/chat",
    ..OPENAI_LIKE
};

/// `zai/<model>`: Z.AI (GLM), its general API. GLM thinking is `thinking.type`, not
/// `reasoning_effort`: reasoning requests are not sent (thinking is on by default).
pub const ZAI: ProviderInfo = ProviderInfo {
    name: "zai",
    api_base: Some("https://api.z.ai/api/paas/v4"),
    base_env: Some("ZAI_API_BASE"),
    key_env: Some("ZAI_API_KEY"),
    rejects: &["metadata", "service_tier", "store", "logit_bias", "n"],
    reasoning: ReasoningControl::None,
    docs: "https://docs.z.ai/api-reference/llm/chat-completion",
    ..OPENAI_LIKE
};

/// `dashscope/<model>`: Alibaba Cloud Model Studio's OpenAI-compatible mode. LiteLLM's default
/// is the Beijing region; set DASHSCOPE_API_BASE to
/// `https://dashscope-intl.aliyuncs.com/compatible-mode/v1` for Singapore. Qwen thinking is
/// `enable_thinking`, not `reasoning_effort`.
pub const DASHSCOPE: ProviderInfo = ProviderInfo {
    name: "dashscope",
    api_base: Some("https://dashscope.aliyuncs.com/compatible-mode/v1"),
    base_env: Some("DASHSCOPE_API_BASE"),
    key_env: Some("DASHSCOPE_API_KEY"),
    rejects: &["metadata", "service_tier", "store", "logit_bias"],
    reasoning: ReasoningControl::None,
    docs: "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
    ..OPENAI_LIKE
};

/// `lm_studio/<model>`: LM Studio's local server (its default port); no key unless the user set
/// one. It takes `top_k`.
pub const LM_STUDIO: ProviderInfo = ProviderInfo {
    name: "lm_studio",
    api_base: Some("http://localhost:1234/v1"),
    base_env: Some("LM_STUDIO_API_BASE"),
    key_env: Some("LM_STUDIO_API_KEY"),
    key_required: false,
    accepts: &["top_k"],
    max_tokens_field: MaxTokensField::MaxTokens,
    reasoning: ReasoningControl::None,
    docs: "https://lmstudio.ai/docs/app/api/endpoints/openai",
    ..OPENAI_LIKE
};

/// `openai_like/<model>`: any OpenAI-compatible server at `api_base` (required). The key is
/// `api_key` only: no variable is read, so no key reaches an endpoint it was not meant for.
pub const OPENAI_LIKE_ANY: ProviderInfo = ProviderInfo {
    name: "openai_like",
    api_base: None,
    key_env: None,
    key_required: false,
    max_tokens_field: MaxTokensField::MaxTokens,
    docs: "https://docs.litellm.ai/docs/providers/openai_compatible",
    ..OPENAI_LIKE
};

/// `custom_openai/<model>`: the same as `openai_like`. LiteLLM sends OPENAI_API_KEY to this URL
/// when `api_key` is not given; agent-shim does not (give `api_key: os.environ/OPENAI_API_KEY`
/// to do so knowingly).
pub const CUSTOM_OPENAI: ProviderInfo = ProviderInfo {
    name: "custom_openai",
    ..OPENAI_LIKE_ANY
};

#[cfg(test)]
mod tests {
    use crate::model::{LitellmParams, ModelDefinition};
    use crate::providers::deployment::{Deployment, Endpoint, Origin};
    use std::collections::HashMap;

    fn def(model: &str) -> ModelDefinition {
        ModelDefinition {
            model_name: "m".into(),
            litellm_params: LitellmParams {
                model: model.into(),
                ..LitellmParams::default()
            },
            model_info: Default::default(),
        }
    }

    /// The notes of README.md's provider table.
    #[test]
    fn rows_carry_the_quirks_the_readme_names() {
        let s: HashMap<String, String> = HashMap::new();
        let d = |m: &str| Deployment::new(def(m), Origin::Config, &s).unwrap();
        assert!(!d("together_ai/m").target.chat.drops("top_k"));
        assert!(d("cerebras/m").target.chat.drops("top_k"));
        for m in ["deepseek/m", "moonshot/m"] {
            assert!(d(m).target.chat.echo_reasoning_content, "{m}");
        }
        assert!(!d("openai/m").target.chat.echo_reasoning_content);
        use protocol::target::{SchemaDialect, ToolIdFormat};
        assert_eq!(d("mistral/m").target.chat.tool_ids, ToolIdFormat::Alnum9);
        assert_eq!(d("gemini/m").target.chat.schema, SchemaDialect::Gemini);
        assert_eq!(d("claude-sonnet-x").provider.name, "anthropic");
        assert_eq!(d("gpt-x").provider.name, "openai");
        let p = d("perplexity/sonar");
        for param in ["tool_choice", "seed", "stop", "store"] {
            assert!(p.target.chat.drops(param), "{param}");
            assert!(p.target.responses.drops(param), "{param}");
        }
    }

    #[test]
    fn every_row_calls_its_documented_endpoint_by_default() {
        let s: HashMap<String, String> = [("CLOUDFLARE_ACCOUNT_ID".into(), "acc".into())].into();
        for (model, url, id) in [
            (
                "together_ai/m",
                "https://api.together.ai/v1/chat/completions",
                "m",
            ),
            (
                "fireworks_ai/glm-5p2",
                "https://api.fireworks.ai/inference/v1/chat/completions",
                "accounts/fireworks/models/glm-5p2",
            ),
            (
                "fireworks_ai/accounts/me/models/tuned",
                "https://api.fireworks.ai/inference/v1/chat/completions",
                "accounts/me/models/tuned",
            ),
            (
                "nvidia_nim/meta/m",
                "https://integrate.api.nvidia.com/v1/chat/completions",
                "meta/m",
            ),
            (
                "github/openai/gpt-4.1",
                "https://models.github.ai/inference/chat/completions",
                "openai/gpt-4.1",
            ),
            (
                "cloudflare/@cf/meta/m",
                "https://api.cloudflare.com/client/v4/accounts/acc/ai/v1/chat/completions",
                "@cf/meta/m",
            ),
            (
                "cohere/command-a",
                "https://api.cohere.ai/compatibility/v1/chat/completions",
                "command-a",
            ),
            (
                "perplexity/sonar-pro",
                "https://api.perplexity.ai/chat/completions",
                "sonar-pro",
            ),
            (
                "moonshot/kimi",
                "https://api.moonshot.ai/v1/chat/completions",
                "kimi",
            ),
            (
                "zai/glm",
                "https://api.z.ai/api/paas/v4/chat/completions",
                "glm",
            ),
            (
                "dashscope/qwen",
                "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
                "qwen",
            ),
            (
                "lm_studio/m",
                "http://localhost:1234/v1/chat/completions",
                "m",
            ),
        ] {
            let d = Deployment::new(def(model), Origin::Config, &s).unwrap();
            assert_eq!(d.shown_url(Endpoint::Generate), url, "{model}");
            assert_eq!(d.upstream_model, id, "{model}");
        }
        let mut agent_api = def("perplexity/perplexity/sonar");
        agent_api.litellm_params.api_mode = Some(crate::model::ApiMode::Responses);
        let d = Deployment::new(agent_api, Origin::Config, &s).unwrap();
        assert_eq!(
            d.shown_url(Endpoint::Generate),
            "https://api.perplexity.ai/v1/responses"
        );
        assert_eq!(d.upstream_model, "perplexity/sonar");
        for model in ["openai_like/m", "custom_openai/m"] {
            let e = Deployment::new(def(model), Origin::Config, &s).unwrap_err();
            assert!(e.to_string().contains("set litellm_params.api_base"), "{e}");
        }
    }
}
