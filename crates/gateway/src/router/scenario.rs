//! Scenario routing for coding agents (issue 11 §3): a profile's `router:` rules, in the spirit of
//! claude-code-router's `Router` (`background`, `longContext` with `longContextThreshold`,
//! `think`, `image`, `webSearch`), choose another model for a request by what the request is.
//! The first rule that matches, in the order [`Scenario::ALL`], wins.
//!
//! This module owns the rules and their matching, a pure function over the decoded request
//! ([`ScenarioRules::choose`]); [`crate::dispatch`] evaluates them only for a profile that has
//! rules, and counts input tokens only when a `long_context` rule exists and the body is larger
//! than the threshold (a token is at least a byte).

use protocol::ir::{Part, Reasoning, Request, Role};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The input tokens above which `long_context` applies when the profile names no threshold
/// (claude-code-router's default `longContextThreshold`).
pub const DEFAULT_LONG_CONTEXT_THRESHOLD: u64 = 60_000;

/// A request's kind, as a rule names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A haiku-tier request: Claude Code's background work (titles, summaries, topic checks).
    Background,
    /// More estimated input tokens than the threshold.
    LongContext,
    /// Thinking (reasoning) enabled.
    Think,
    /// The last user turn carries an image.
    Image,
    /// A web search tool is offered.
    WebSearch,
}

impl Scenario {
    /// Every scenario, in the order the rules are tried.
    pub const ALL: [Scenario; 5] = [
        Scenario::Background,
        Scenario::LongContext,
        Scenario::Think,
        Scenario::Image,
        Scenario::WebSearch,
    ];

    /// The rule's name, as written under `router:` and shown in `x-agent-shim-route`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Background => "background",
            Scenario::LongContext => "long_context",
            Scenario::Think => "think",
            Scenario::Image => "image",
            Scenario::WebSearch => "web_search",
        }
    }
}

/// A profile's `router:` rules: each names the model that serves requests of its scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<String>,
    /// Input tokens above which `long_context` applies ([`DEFAULT_LONG_CONTEXT_THRESHOLD`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context_threshold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<String>,
}

/// The rule that chose a request's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub scenario: Scenario,
    /// The model the rule names (resolved like a requested model).
    pub model: String,
}

impl ScenarioRules {
    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        Scenario::ALL.iter().all(|s| self.model_for(*s).is_none())
    }

    /// The model a scenario's rule names, if set.
    pub fn model_for(&self, s: Scenario) -> Option<&str> {
        match s {
            Scenario::Background => self.background.as_deref(),
            Scenario::LongContext => self.long_context.as_deref(),
            Scenario::Think => self.think.as_deref(),
            Scenario::Image => self.image.as_deref(),
            Scenario::WebSearch => self.web_search.as_deref(),
        }
    }

    /// The `long_context` threshold in input tokens.
    pub fn threshold(&self) -> u64 {
        self.long_context_threshold
            .unwrap_or(DEFAULT_LONG_CONTEXT_THRESHOLD)
    }

    /// Whether the caller must count input tokens for a body of `body_len` bytes: a
    /// `long_context` rule exists and the body could exceed the threshold.
    pub fn needs_tokens(&self, body_len: usize) -> bool {
        self.long_context.is_some() && body_len as u64 > self.threshold()
    }

    /// The first rule that matches `req` (asked for as `requested`), in the order
    /// [`Scenario::ALL`]. `haiku_tier` is the profile's haiku-tier model when it differs from
    /// the other tiers' (what `agent-shim with` gives Claude Code as
    /// `ANTHROPIC_DEFAULT_HAIKU_MODEL`). `input_tokens` is the tokenizer's count, `None` when not
    /// counted (then `long_context` does not match: see [`ScenarioRules::needs_tokens`]).
    pub fn choose(
        &self,
        requested: &str,
        haiku_tier: Option<&str>,
        req: &Request,
        input_tokens: Option<u64>,
    ) -> Option<Chosen> {
        Scenario::ALL.into_iter().find_map(|s| {
            let model = self.model_for(s)?;
            let hit = match s {
                Scenario::Background => is_background(requested, haiku_tier),
                Scenario::LongContext => input_tokens.is_some_and(|n| n > self.threshold()),
                Scenario::Think => matches!(req.reasoning, Some(Reasoning::Enabled { .. })),
                Scenario::Image => last_user_has_image(req),
                Scenario::WebSearch => offers_web_search(req),
            };
            hit.then(|| Chosen {
                scenario: s,
                model: model.to_owned(),
            })
        })
    }
}

/// A haiku-tier model id: what Claude Code sends its background work (titles, summaries, the
/// topic check) to (`ANTHROPIC_DEFAULT_HAIKU_MODEL`, "also used for background work"): a Claude
/// haiku id, or the profile's own haiku-tier model (with a `[…]` suffix such as `[1m]` or not).
fn is_background(requested: &str, haiku_tier: Option<&str>) -> bool {
    let base = requested.split('[').next().unwrap_or(requested).trim();
    // Case-insensitive without a lowercased copy per request.
    let says_haiku = requested
        .as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"haiku"));
    says_haiku || haiku_tier.is_some_and(|h| h == base)
}

/// Whether the last user turn carries an image, directly or in a tool result (Claude Code's
/// `Read` of a picture answers with an image inside a `tool_result`).
fn last_user_has_image(req: &Request) -> bool {
    let Some(last) = req.messages.iter().rev().find(|m| m.role == Role::User) else {
        return false;
    };
    last.content.iter().any(|p| match p {
        Part::Image(_) => true,
        Part::ToolResult(r) => r.content.iter().any(|c| matches!(c, Part::Image(_))),
        _ => false,
    })
}

/// Whether a web search tool is offered: a server tool (`web_search_20250305`, Responses'
/// `web_search`/`web_search_preview`), which decoders record as dropped `tools.<type>`, or a
/// function tool named like one.
fn offers_web_search(req: &Request) -> bool {
    let named = |n: &str| {
        let n = n.to_ascii_lowercase();
        n.starts_with("web_search") || n == "websearch"
    };
    req.dropped
        .iter()
        .any(|d| d.strip_prefix("tools.").is_some_and(named))
        || req.tools.iter().any(|t| named(&t.name))
}

/// How often each profile's rules chose a model, for `/health` and `agent-shim status`. The
/// lock is held for one map update, never across an `.await`.
#[derive(Debug, Default)]
pub struct RouteCounts(Mutex<BTreeMap<RouteKey, (u64, u64)>>);

/// A count's key: profile, rule, model.
type RouteKey = (String, &'static str, String);

impl RouteCounts {
    /// Counts one request of `profile` that `rule` sent to `model`, at `now_ms`.
    pub fn record(&self, profile: &str, rule: Scenario, model: &str, now_ms: u64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = (profile.to_owned(), rule.as_str(), model.to_owned());
        let e = m.entry(key).or_insert((0, 0));
        e.0 += 1;
        e.1 = now_ms;
    }

    /// The counts as JSON: `[{profile, rule, model, requests, last_ms}]`, sorted.
    pub fn to_json(&self) -> serde_json::Value {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .map(|((profile, rule, model), (n, last))| {
                serde_json::json!({"profile": profile, "rule": rule, "model": model,
                    "requests": n, "last_ms": last})
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
