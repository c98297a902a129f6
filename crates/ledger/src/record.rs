//! The ledger's unit: one record per client request, with the final outcome (not one per
//! attempt), built by the gateway when the response ends or the client goes away.

use serde::{Deserialize, Serialize};

/// Token counts of one request, by kind. `input` is the whole prompt, cached parts included
/// (OpenAI's `prompt_tokens`; Anthropic's `input_tokens + cache_read_input_tokens +
/// cache_creation_input_tokens`); `output` includes `reasoning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    /// Reasoning tokens, already counted in `output`.
    pub reasoning: u64,
    /// Prompt tokens read from the provider's cache (part of `input`).
    pub cache_read: u64,
    /// Prompt tokens written to the cache with the 5-minute lifetime (part of `input`; all cache
    /// writes when the provider does not split them).
    pub cache_write_5m: u64,
    /// Prompt tokens written to the cache with the 1-hour lifetime (part of `input`).
    pub cache_write_1h: u64,
}

impl Tokens {
    /// Prompt tokens neither read from nor written to the cache, floored at 0.
    pub fn uncached_input(&self) -> u64 {
        self.input
            .saturating_sub(self.cache_read)
            .saturating_sub(self.cache_write_5m)
            .saturating_sub(self.cache_write_1h)
    }
}

/// One client request as the ledger keeps it. Times are Unix milliseconds, durations
/// microseconds, cost an exact fixed-point decimal in picodollars (1e-12 USD; `None` = unknown,
/// never guessed). No prompt or completion text unless body capture is on
/// (`general_settings.store_prompts_in_spend_logs`): then `request_body` and `response_body`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// When the request arrived (Unix ms).
    pub time_ms: i64,
    /// The gateway's id for the request (UUID v7), unique across instances.
    pub request_id: String,
    /// The client's session (`x-claude-code-session-id`, `x-session-id`, …), when it sent one.
    pub session_id: Option<String>,
    /// The directory token of the entered directory (`x-agent-shim-directory`), when known.
    pub directory: Option<String>,
    /// The profile (`x-agent-shim-profile`), when known.
    pub profile: Option<String>,
    /// The agent (`claude-code`, `codex`, `opencode`, …) from the adapter's header or the user agent.
    pub agent: Option<String>,
    /// The client's protocol (`anthropic`, `openai-chat`, `openai-responses`).
    pub client_protocol: String,
    /// The model the client asked for.
    pub requested_model: String,
    /// The model group that served it (after aliases, scenario rules and fallbacks).
    pub model_group: Option<String>,
    /// The deployment that served it (its id).
    pub deployment: Option<String>,
    /// The provider of that deployment (`anthropic`, `openai`, `bedrock`, …).
    pub provider: Option<String>,
    /// The upstream model id that served it.
    pub served_model: Option<String>,
    /// What chose the group when it is not the one asked for: a scenario rule (`background`,
    /// `long_context`, …) or `fallback`.
    pub route: Option<String>,
    /// The HTTP status the client received.
    pub status: u16,
    /// Why it failed (`rate_limit`, `overloaded`, `timeout`, `upstream`, `invalid_request`,
    /// `not_found`, `client_disconnected`, …); `None` for a success.
    pub error_class: Option<String>,
    pub tokens: Tokens,
    /// Cost in picodollars (1e-12 USD); `None` when the model has no price.
    pub cost_pico_usd: Option<i64>,
    /// The price table's version that priced it (`litellm@<date>`, `reported` for a cost the
    /// provider reported itself, `model_info` for a configured price).
    pub price_version: Option<String>,
    /// From arrival to the response's end (µs).
    pub latency_us: i64,
    /// From arrival to the first byte sent to the client (µs).
    pub ttfb_us: Option<i64>,
    pub stream: bool,
    /// What translation could not carry (the `x-agent-shim-dropped` header), comma-separated.
    pub dropped: Option<String>,
    /// Attempts made (retries and fallbacks count on; 0 when none reached an upstream).
    pub attempts: u32,
    /// The attempts in order, `deployment:status` joined by `,`
    /// (e.g. `openai-1:502,openai-1:502,claude-fallback:200`).
    pub attempt_path: Option<String>,
    /// Bytes of the response body the client received.
    pub response_bytes: u64,
    /// With body capture on: the request body the client sent (never its headers, so never
    /// its API key), as text (invalid UTF-8 replaced), at most the capture cap; a truncated
    /// body ends with [`TRUNCATED_MARK`]. `None`: not captured, or cleared by the body
    /// retention. Only the one-record read (`Store::request`) returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// With body capture on: the response body as the client received it (a stream's SSE
    /// text), capped and marked as `request_body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

/// What ends a captured body cut at the cap, followed by `<cap> of <total> bytes]` (a
/// stream's total is the bytes the client received).
pub const TRUNCATED_MARK: &str = "\n[truncated by agent-shim: first ";
