//! The `perplexity` provider: Perplexity's Sonar Chat Completions at
//! `https://api.perplexity.ai/chat/completions` (LiteLLM's `PerplexityChatConfig`, the row's
//! protocol), and its Agent API, an OpenAI Responses endpoint, at `…/v1/responses` with
//! `api_mode: responses` (LiteLLM's `PerplexityResponsesConfig` appends `/v1/responses` to the
//! same `api_base`). Perplexity retired Sonar Chat Completions on 2026-09-27
//! (<https://docs.perplexity.ai/docs/agent-api/migrate-from-sonar/overview>); the Agent API takes
//! function tools, so coding agents need `api_mode: responses`.

use crate::providers::deployment::Deployment;
use crate::secrets::SecretSource;
use crate::transport::http::build_at;
use crate::transport::{Transport, TransportKind};
use protocol::Protocol;
use std::borrow::Cow;

/// The table row's value for `perplexity`.
pub static PERPLEXITY: PerplexityKind = PerplexityKind;

/// [`TransportKind`] of Perplexity: HTTP, with the Responses API under `/v1`.
#[derive(Debug)]
pub struct PerplexityKind;

impl TransportKind for PerplexityKind {
    fn api_base_example(&self) -> &'static str {
        "https://api.perplexity.ai"
    }

    fn build(&self, d: &Deployment, _: &dyn SecretSource) -> Result<Box<dyn Transport>, String> {
        build_at(d, &base_for(d.protocol(), &d.api_base))
    }
}

/// The base `protocol` requests go under: for Responses, `base` + `/v1` (kept when `base`
/// already ends in `/v1` or names the endpoint); for Chat, `base` as is.
pub fn base_for(protocol: Protocol, base: &str) -> Cow<'_, str> {
    let whole = base.ends_with("/v1") || base.ends_with("/responses");
    match protocol {
        Protocol::OpenAiResponses if !whole => Cow::Owned(format!("{base}/v1")),
        _ => Cow::Borrowed(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_go_under_v1_and_chat_under_the_base() {
        let b = "https://api.perplexity.ai";
        assert_eq!(
            base_for(Protocol::OpenAiResponses, b),
            "https://api.perplexity.ai/v1"
        );
        assert_eq!(base_for(Protocol::OpenAiChat, b), b);
        for whole in ["http://h/v1", "http://h/x/responses"] {
            assert_eq!(base_for(Protocol::OpenAiResponses, whole), whole);
        }
    }
}
