//! The one table of LiteLLM proxy config keys agent-shim implements, section by section. A key
//! of a LiteLLM config that is not listed here gets one warning at load (file, line, what is
//! ignored): nothing is dropped silently (issue 11 §1).
//!
//! Ownership, for whoever implements a key: add it to its section here and its warning goes.
//! - the router keys (fallbacks, cooldowns, strategies, limits, timeouts, retries) are
//!   [`crate::settings::router::ROUTER_KEYS`], read under `router_settings` and
//!   `litellm_settings` alike; `ROUTER` and `LITELLM_SETTINGS` list the others read there;
//! - the provider keys of `PARAMS` (`api_version`, `azure_ad_token`, `vertex_*`) are read by the
//!   provider rows that need them (a deployment of a provider the table lacks is named by its
//!   definition error instead);
//! - `model_info` is taken whole: its facts are shown by `/model/info` and `models show`, as
//!   LiteLLM does; only a `mode` agent-shim does not serve is named ([`SERVED_MODES`]). Its
//!   price keys (`input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
//!   `cache_creation_input_token_cost[_above_1hr]`, `output_cost_per_reasoning_token`, the
//!   `*_above_<N>k_tokens` tiers) price the deployment's usage over the price table's
//!   (`ledger::prices`); as in LiteLLM, the same keys in `litellm_params` win over them.

/// agent-shim's own top-level keys (DESIGN.md §3).
pub const AGENT_SHIM: &[&str] = &[
    "host",
    "port",
    "master_key",
    "database_url",
    "usage_retention_days",
    "body_capture_max_bytes",
    "body_capture_retention_days",
    "lease_minutes",
    "janitor_interval_seconds",
    "proxy",
    "log_level",
    "max_request_body_mb",
    "default_profile",
];

/// LiteLLM's top-level sections agent-shim reads.
pub const TOP: &[&str] = &[
    "model_list",
    "environment_variables",
    "general_settings",
    "litellm_settings",
    "router_settings",
    "credential_list",
];

/// LiteLLM's top-level sections agent-shim accepts and ignores, each named in a warning.
pub const TOP_IGNORED: &[(&str, &str)] = &[
    ("callback_settings", "callbacks are not implemented"),
    ("guardrails", "guardrails are not implemented"),
    ("mcp_servers", "the MCP gateway is not implemented"),
    ("vector_store_registry", "vector stores are not implemented"),
    ("files_settings", "the files API is not implemented"),
    ("finetune_settings", "fine-tuning is not implemented"),
    (
        "assistant_settings",
        "the assistants API is not implemented",
    ),
    (
        "include",
        "included files are not read; merge them into this file",
    ),
    ("prompts", "prompt management is not implemented"),
    ("search_tools", "search tools are not implemented"),
];

/// `general_settings` keys agent-shim reads.
pub const GENERAL: &[&str] = &[
    "master_key",
    "database_url",
    "disable_spend_logs",
    "store_prompts_in_spend_logs",
];

/// `litellm_settings` keys agent-shim reads besides the router keys
/// ([`crate::settings::router::ROUTER_KEYS`], read as under `router_settings`): `drop_params`,
/// the default of every deployment's `drop_params`.
pub const LITELLM_SETTINGS: &[&str] = &["drop_params"];

/// `router_settings` keys implemented besides the router keys
/// ([`crate::settings::router::ROUTER_KEYS`]): `model_group_alias`, read where names resolve.
pub const ROUTER: &[&str] = &["model_group_alias"];

/// `model_list` entry keys.
pub const MODEL_ENTRY: &[&str] = &["model_name", "litellm_params", "model_info"];

/// Whether agent-shim implements the `litellm_params` key `key`: one of [`PARAMS`], or a request
/// parameter a definition fixes for every request (the gateway's [`gateway::OVERRIDABLE`]), or a
/// price key (LiteLLM's custom pricing in `litellm_params`, [`ledger::prices::table::is_price_key`]).
pub fn is_param(key: &str) -> bool {
    PARAMS.contains(&key)
        || gateway::OVERRIDABLE.contains(&key)
        || ledger::prices::table::is_price_key(key)
}

/// `litellm_params` keys implemented besides the overridable request parameters ([`is_param`]).
pub const PARAMS: &[&str] = &[
    "model",
    "api_base",
    "api_key",
    "key_command",
    "drop_params",
    "additional_drop_params",
    "mock_response",
    "max_tokens",
    "extra_headers",
    "api_mode",
    "custom_llm_provider",
    "litellm_credential_name",
    // Bedrock.
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_profile_name",
    "aws_role_name",
    "aws_session_name",
    "aws_bedrock_runtime_endpoint",
    // Router and rate limits, per deployment.
    "order",
    "weight",
    "rpm",
    "tpm",
    "timeout",
    "stream_timeout",
    "max_parallel_requests",
    "num_retries",
    // Provider rows (Azure, Vertex AI).
    "api_version",
    "azure_ad_token",
    "vertex_project",
    "vertex_location",
    "vertex_credentials",
];

/// `credential_list` entry keys.
pub const CREDENTIAL: &[&str] = &["credential_name", "credential_values", "credential_info"];

/// `model_info.mode` values agent-shim serves (chat, Messages and Responses requests).
pub const SERVED_MODES: &[&str] = &["chat", "completion", "responses"];

/// What a warning says about an ignored key, when more than "not implemented" can be said.
pub fn why(section: &str, key: &str) -> &'static str {
    match (section, key) {
        (_, "callbacks" | "success_callback" | "failure_callback" | "service_callback") => {
            "callbacks are not implemented (usage goes to the gateway log and `agent-shim usage`)"
        }
        (_, "cache" | "cache_params" | "cache_responses") => "response caching is not implemented",
        (_, "set_verbose" | "json_logs" | "debug" | "log_verbose" | "log_level") => {
            "logging is set with log_level in config.yaml or AGENT_SHIM_LOG"
        }
        (_, "redis_host" | "redis_port" | "redis_password" | "redis_url") => {
            "state is kept per gateway; Redis is not used"
        }
        ("litellm_params", "organization") => "the OpenAI-Organization header is not sent",
        ("litellm_params", "thinking") => {
            "a fixed thinking setting is not applied; clients send their own"
        }
        _ => "not implemented",
    }
}
