//! The five workloads (W1–W5): their requests, the endpoints each target is sent them on, and
//! the headers each target needs.

use crate::report::Target;
use crate::services::{AGENT_SHIM_KEY, LITELLM_KEY};
use crate::{bodies, ccr};
use anyhow::{Result, bail};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};

/// A workload: one request, sent to every target.
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) path: &'static str,
    pub(crate) body: Bytes,
    pub(crate) stream: bool,
    pub(crate) passthrough: bool,
    pub(crate) anthropic: bool,
    pub(crate) marker: &'static [u8],
}

pub(crate) fn workloads(selected: &[String]) -> Result<Vec<Workload>> {
    let json = |v: serde_json::Value| Bytes::from(serde_json::to_vec(&v).expect("serializes"));
    let all = vec![
        Workload {
            id: "W1",
            title: "OpenAI chat, non-streaming, small body, pass-through",
            path: "/v1/chat/completions",
            body: json(bodies::small_chat()),
            stream: false,
            passthrough: true,
            anthropic: false,
            marker: b"assistant",
        },
        Workload {
            id: "W2",
            title: "Anthropic Messages -> OpenAI chat, non-streaming, Claude-Code-sized request",
            path: "/v1/messages",
            body: json(bodies::claude_code_messages(false)),
            stream: false,
            passthrough: false,
            anthropic: true,
            marker: b"assistant",
        },
        Workload {
            id: "W3",
            title: "Anthropic Messages -> OpenAI chat, streaming 200 chunks, Claude-Code-sized request",
            path: "/v1/messages",
            body: json(bodies::claude_code_messages(true)),
            stream: true,
            passthrough: false,
            anthropic: true,
            marker: b"message_stop",
        },
        Workload {
            id: "W4",
            title: "OpenAI Responses -> OpenAI chat, streaming 200 chunks, Codex-sized request",
            path: "/v1/responses",
            body: json(bodies::codex_responses()),
            stream: true,
            passthrough: false,
            anthropic: false,
            marker: b"response.completed",
        },
        Workload {
            id: "W5",
            title: "OpenAI chat, streaming 200 chunks, the W3 conversation, pass-through",
            path: "/v1/chat/completions",
            body: json(bodies::claude_code_chat()),
            stream: true,
            passthrough: true,
            anthropic: false,
            marker: b"[DONE]",
        },
    ];
    let mut out = Vec::new();
    for s in selected {
        match all.iter().position(|w| w.id.eq_ignore_ascii_case(s.trim())) {
            Some(i) => out.push(i),
            None => bail!("unknown workload {s:?} (w1, w2, w3, w4, w5)"),
        }
    }
    Ok(all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| out.contains(i))
        .map(|(_, w)| w)
        .collect())
}

pub(crate) fn headers(target: Target, w: &Workload) -> HeaderMap {
    let key = match target {
        Target::AgentShim | Target::AgentShimNoLedger | Target::AgentShimPg => AGENT_SHIM_KEY,
        Target::LiteLlm => LITELLM_KEY,
        Target::Ccr => ccr::CCR_KEY,
        Target::Direct | Target::Nginx => "sk-upstream",
    };
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    let bearer = HeaderValue::from_str(&format!("Bearer {key}")).expect("ascii");
    h.insert("authorization", bearer);
    if w.anthropic {
        h.insert("x-api-key", HeaderValue::from_str(key).expect("ascii"));
        h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    }
    h
}
