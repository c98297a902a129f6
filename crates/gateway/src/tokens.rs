//! Token counting for `/v1/messages/count_tokens` with a real tokenizer (tiktoken's o200k_base).
//! Claude's own tokenizer is not public, so for non-Anthropic upstreams this is an estimate; it
//! counts system, messages and tools so Claude Code compacts in time (CLIProxyAPI#679).
//!
//! The vocabulary takes ~150 ms and ~20 MB to load: it is loaded on the first count, on a
//! blocking thread, so a gateway that is never asked to count (Codex, opencode) never pays.

use protocol::ir::{Part, Request};
use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

static BPE: OnceLock<Result<CoreBPE, String>> = OnceLock::new();

/// The tokenizer, or why its embedded vocabulary did not load (kept: it is not retried).
fn bpe() -> Result<&'static CoreBPE, String> {
    BPE.get_or_init(|| tiktoken_rs::o200k_base().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| format!("the o200k_base vocabulary did not load: {e}"))
}

/// Tokens an image is counted as (Anthropic's estimate for a ~1.15 megapixel image).
const IMAGE_TOKENS: u64 = 1600;
/// Per-message framing overhead.
const MESSAGE_OVERHEAD: u64 = 4;

fn count(bpe: &CoreBPE, text: &str) -> u64 {
    bpe.encode_ordinary(text).len() as u64
}

/// Input tokens of a request: system, every message part and every tool definition. Errors
/// only when the tokenizer's embedded vocabulary cannot load (a broken build), saying so.
pub fn count_request(req: &Request) -> Result<u64, String> {
    let bpe = bpe()?;
    let mut n: u64 = req.system.iter().map(|s| count(bpe, s)).sum();
    for m in &req.messages {
        n += MESSAGE_OVERHEAD;
        n += parts(bpe, &m.content);
    }
    for t in &req.tools {
        n += count(bpe, &t.name);
        n += t.description.as_deref().map_or(0, |d| count(bpe, d));
        n += t.parameters.as_ref().map_or(0, |p| count(bpe, p.get()));
    }
    Ok(n)
}

fn parts(bpe: &CoreBPE, content: &[Part]) -> u64 {
    content
        .iter()
        .map(|p| match p {
            Part::Text(t) => count(bpe, t),
            Part::Image(_) => IMAGE_TOKENS,
            Part::File { data, .. } => data.len() as u64 / 4,
            Part::ToolCall(c) => count(bpe, &c.name) + count(bpe, &c.arguments),
            Part::ToolResult(r) => parts(bpe, &r.content),
            Part::Reasoning(r) => count(bpe, &r.text),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_system_messages_and_tools() {
        let body = br#"{"model":"m","system":"You are helpful.","messages":[{"role":"user","content":"Hello there"}],
            "tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object"}}]}"#;
        let req = protocol::anthropic::decode_request(body).unwrap();
        let n = count_request(&req).unwrap();
        // "You are helpful." (4) + "Hello there" (2) + overhead (4) + tool name, description, schema.
        assert!((15..40).contains(&n), "{n}");
        let bare = br#"{"model":"m","messages":[{"role":"user","content":"Hello there"}]}"#;
        assert!(count_request(&protocol::anthropic::decode_request(bare).unwrap()).unwrap() < n);
    }
}
