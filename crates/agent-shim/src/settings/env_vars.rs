//! Every environment variable agent-shim reads or sets, defined once. The gateway's own are beside
//! the code that reads them: the upstream proxies (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, read once by `serve`) in `gateway::upstream_proxy`.

/// Relocates the config directory (default `$XDG_CONFIG_HOME/agent-shim`).
pub const CONFIG_DIR: &str = "AGENT_SHIM_CONFIG_DIR";
/// Relocates the state directory (default `$XDG_STATE_HOME/agent-shim`).
pub const STATE_DIR: &str = "AGENT_SHIM_STATE_DIR";
/// Relocates the cache directory (default `$XDG_CACHE_HOME/agent-shim`): the remote model
/// catalogue (`models list --remote`) and Codex's model catalogue template.
pub const CACHE_DIR: &str = "AGENT_SHIM_CACHE_DIR";
/// Set by the shell completion scripts (`agent-shim completion bash|zsh|fish`) to the shell's
/// name when they ask this binary for candidates (clap_complete's `CompleteEnv`). Not the generic
/// `COMPLETE`, which another tool may have set in the environment.
pub const COMPLETE: &str = "AGENT_SHIM_COMPLETE";
/// Gateway port for every command (beats config.yaml, loses to `--port`).
pub const PORT: &str = "AGENT_SHIM_PORT";
/// Gateway address for every command (beats config.yaml, loses to `--host`).
pub const HOST: &str = "AGENT_SHIM_HOST";
/// The gateway's master key (beats `.secrets`, loses to config.yaml `master_key`).
pub const MASTER_KEY: &str = "AGENT_SHIM_MASTER_KEY";
/// Log filter of the gateway (tracing-subscriber syntax), beats config.yaml `log_level`.
pub const LOG: &str = "AGENT_SHIM_LOG";
/// The current directory's profile (set by `.envrc.user`).
pub const PROFILE: &str = "AGENT_SHIM_PROFILE";
/// The current directory's token (set by `.envrc`), watched by the shell hook.
pub const TOKEN: &str = "AGENT_SHIM_TOKEN";

// What agents read.
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
pub const ANTHROPIC_AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
pub const API_TIMEOUT_MS: &str = "API_TIMEOUT_MS";
pub const ANTHROPIC_DEFAULT_OPUS_MODEL: &str = "ANTHROPIC_DEFAULT_OPUS_MODEL";
pub const ANTHROPIC_DEFAULT_SONNET_MODEL: &str = "ANTHROPIC_DEFAULT_SONNET_MODEL";
pub const ANTHROPIC_DEFAULT_HAIKU_MODEL: &str = "ANTHROPIC_DEFAULT_HAIKU_MODEL";
pub const ANTHROPIC_MODEL: &str = "ANTHROPIC_MODEL";
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
pub const OPENAI_MODEL: &str = "OPENAI_MODEL";
/// Extra headers Claude Code sends (`Name: Value` lines); carries the profile to the gateway.
pub const ANTHROPIC_CUSTOM_HEADERS: &str = "ANTHROPIC_CUSTOM_HEADERS";
/// Context window Claude Code assumes for the session's models; honoured only together with
/// `CLAUDE_CODE_DISABLE_1M_CONTEXT=1` (observed on Claude Code 2.1.197).
pub const CLAUDE_CODE_MAX_CONTEXT_TOKENS: &str = "CLAUDE_CODE_MAX_CONTEXT_TOKENS";
pub const CLAUDE_CODE_DISABLE_1M_CONTEXT: &str = "CLAUDE_CODE_DISABLE_1M_CONTEXT";
