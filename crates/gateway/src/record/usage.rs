//! Token usage read from an upstream's own bytes without re-serialising them: the `usage`
//! object of a whole answer ([`from_body`]), and the usage-bearing events of a stream as they
//! pass ([`UsageScan`]: Anthropic's `message_start` / `message_delta`, Chat's chunk with
//! `usage`, Responses' `response.completed`). Only the `usage` object is deserialized, into a
//! borrowed struct of numbers (no allocation); an event is looked at only when a `memchr` finds
//! `"usage"` in it. Text inside JSON strings never matches: its quotes are escaped.

use ledger::Tokens;
use memchr::memmem::{Finder, FinderRev};
use protocol::Protocol;
use protocol::ir::Usage;
use serde::Deserialize;
use std::sync::LazyLock;

/// The fields of the three protocols' usage objects, all optional (absent or `null`).
#[derive(Debug, Default, Deserialize)]
struct Raw {
    // Anthropic and Responses.
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    // Anthropic.
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
    // Chat.
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    completion_tokens_details: Option<Details>,
    // Responses.
    input_tokens_details: Option<Details>,
    output_tokens_details: Option<Details>,
}

/// Anthropic's split of cache writes by lifetime.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

/// OpenAI's `*_tokens_details`.
#[derive(Debug, Default, Deserialize)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

/// Usage as reported so far in a stream, field by field (a later report of a field replaces
/// an earlier one: Anthropic's `message_delta` carries cumulative counts).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Seen {
    /// Anthropic: `input_tokens` (uncached); OpenAI: the whole prompt.
    input: Option<u64>,
    output: Option<u64>,
    reasoning: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    cache_write_5m: Option<u64>,
    cache_write_1h: Option<u64>,
}

impl Seen {
    fn merge(&mut self, r: &Raw) {
        let set = |to: &mut Option<u64>, v: Option<u64>| {
            if v.is_some() {
                *to = v;
            }
        };
        set(&mut self.input, r.input_tokens.or(r.prompt_tokens));
        set(&mut self.output, r.output_tokens.or(r.completion_tokens));
        set(&mut self.cache_read, r.cache_read_input_tokens);
        set(&mut self.cache_write, r.cache_creation_input_tokens);
        if let Some(c) = r.cache_creation {
            set(&mut self.cache_write_5m, c.ephemeral_5m_input_tokens);
            set(&mut self.cache_write_1h, c.ephemeral_1h_input_tokens);
        }
        for d in [&r.prompt_tokens_details, &r.input_tokens_details]
            .into_iter()
            .flatten()
        {
            set(&mut self.cache_read, d.cached_tokens);
        }
        for d in [&r.completion_tokens_details, &r.output_tokens_details]
            .into_iter()
            .flatten()
        {
            set(&mut self.reasoning, d.reasoning_tokens);
        }
    }

    /// The counts in the ledger's terms ([`Tokens`]: `input` is the whole prompt).
    fn tokens(&self, protocol: Protocol) -> Tokens {
        let cache_read = self.cache_read.unwrap_or(0);
        let (w5, w1) = match (self.cache_write_5m, self.cache_write_1h) {
            (None, None) => (self.cache_write.unwrap_or(0), 0),
            (a, b) => (a.unwrap_or(0), b.unwrap_or(0)),
        };
        let input = self.input.unwrap_or(0);
        let input = match protocol {
            // Anthropic's `input_tokens` leaves out the cache's reads and writes.
            Protocol::Anthropic => input + cache_read + self.cache_write.unwrap_or(w5 + w1),
            _ => input,
        };
        Tokens {
            input,
            output: self.output.unwrap_or(0),
            reasoning: self.reasoning.unwrap_or(0),
            cache_read,
            cache_write_5m: w5,
            cache_write_1h: w1,
        }
    }
}

/// The `usage` object in `json`: the last `"usage"` key followed by an object (a usage object
/// comes after the content in every protocol's answer); `None` when there is none or it is
/// `null`.
fn find(json: &[u8]) -> Option<Raw> {
    for at in USAGE_REV.rfind_iter(json) {
        let rest = &json[at + USAGE_KEY.len()..];
        let rest = skip_ws(rest);
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let rest = skip_ws(rest);
        if rest.first() != Some(&b'{') {
            // `"usage": null` (Chat's chunks before the last, Responses' first events).
            return None;
        }
        let mut de = serde_json::Deserializer::from_slice(rest);
        return Raw::deserialize(&mut de).ok();
    }
    None
}

/// The `"usage"` key's searchers, built once (building one costs more than a search).
static USAGE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(USAGE_KEY));
static USAGE_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(USAGE_KEY));
const USAGE_KEY: &[u8] = b"\"usage\"";

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(b.len());
    &b[n..]
}

/// The usage a whole answer of `protocol` reports, read from its bytes; `None` when it
/// reports none.
pub fn from_body(protocol: Protocol, body: &[u8]) -> Option<Tokens> {
    let raw = find(body)?;
    let mut seen = Seen::default();
    seen.merge(&raw);
    Some(seen.tokens(protocol))
}

/// Reads the usage of a passed stream event by event.
#[derive(Debug, Clone, Copy)]
pub struct UsageScan {
    protocol: Protocol,
    seen: Seen,
    any: bool,
}

impl UsageScan {
    /// A scan of a stream in `protocol`.
    pub fn new(protocol: Protocol) -> UsageScan {
        UsageScan {
            protocol,
            seen: Seen::default(),
            any: false,
        }
    }

    /// Looks at one event's data; `true` when it carried usage (then [`UsageScan::tokens`]
    /// changed).
    pub fn on_event(&mut self, data: &[u8]) -> bool {
        if USAGE.find(data).is_none() {
            return false;
        }
        match find(data) {
            Some(raw) => {
                self.seen.merge(&raw);
                self.any = true;
                true
            }
            None => false,
        }
    }

    /// The usage seen so far; `None` before any event carried usage.
    pub fn tokens(&self) -> Option<Tokens> {
        self.any.then(|| self.seen.tokens(self.protocol))
    }
}

/// The internal model's usage in the ledger's terms (its `input_tokens` is the whole prompt; a
/// cache write whose lifetime the protocol does not say counts as 5-minute).
pub fn from_ir(u: &Usage) -> Tokens {
    Tokens {
        input: u.input_tokens,
        output: u.output_tokens,
        reasoning: u.reasoning_tokens,
        cache_read: u.cache_read_tokens,
        cache_write_5m: u.cache_creation_tokens,
        cache_write_1h: 0,
    }
}

/// `t` with the cache writes split by lifetime as `split` (the upstream's own report) says,
/// when it says so for the same total.
pub fn with_split(mut t: Tokens, split: Option<Tokens>) -> Tokens {
    if let Some(s) = split
        && s.cache_write_5m + s.cache_write_1h == t.cache_write_5m + t.cache_write_1h
    {
        t.cache_write_5m = s.cache_write_5m;
        t.cache_write_1h = s.cache_write_1h;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(protocol: Protocol, events: &[&str]) -> Option<Tokens> {
        let mut s = UsageScan::new(protocol);
        for e in events {
            s.on_event(e.as_bytes());
        }
        s.tokens()
    }

    #[test]
    fn anthropic_stream_start_and_delta_with_the_cache_split() {
        // As recorded from api.anthropic.com (ids shortened).
        let start = r#"{"type":"message_start","message":{"model":"claude-sonnet-4-5","id":"msg_01","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":2048,"cache_read_input_tokens":10000,"cache_creation":{"ephemeral_5m_input_tokens":48,"ephemeral_1h_input_tokens":2000},"output_tokens":1,"service_tier":"standard"}}}"#;
        let text = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"the \"usage\": {\"output_tokens\": 999} field"}}"#;
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":3,"cache_creation_input_tokens":2048,"cache_read_input_tokens":10000,"output_tokens":57}}"#;
        let got = scan(Protocol::Anthropic, &[start, text, delta]).unwrap();
        assert_eq!(
            got,
            Tokens {
                input: 3 + 2048 + 10000,
                output: 57,
                reasoning: 0,
                cache_read: 10000,
                cache_write_5m: 48,
                cache_write_1h: 2000,
            }
        );
        // Cut after the start: what was seen so far.
        let so_far = scan(Protocol::Anthropic, &[start, text]).unwrap();
        assert_eq!((so_far.input, so_far.output), (12051, 1));
    }

    #[test]
    fn chat_usage_chunk_after_null_usages() {
        let mid = r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\"usage\":{}"},"finish_reason":null}],"usage":null}"#;
        let last = r#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0}}}"#;
        assert_eq!(scan(Protocol::OpenAiChat, &[mid]), None);
        let got = scan(Protocol::OpenAiChat, &[mid, last, "[DONE]"]).unwrap();
        assert_eq!(
            got,
            Tokens {
                input: 1200,
                output: 300,
                reasoning: 128,
                cache_read: 1024,
                ..Tokens::default()
            }
        );
    }

    #[test]
    fn responses_completed_event() {
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[],"usage":null}}"#;
        let done = r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":500,"input_tokens_details":{"cached_tokens":256},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":30},"total_tokens":540}}}"#;
        let got = scan(Protocol::OpenAiResponses, &[created, done]).unwrap();
        assert_eq!(
            (got.input, got.output, got.reasoning, got.cache_read),
            (500, 40, 30, 256)
        );
    }

    #[test]
    fn whole_bodies_take_the_usage_after_the_content() {
        // A tool's input object may hold a `usage` key of its own; the answer's comes last.
        let anthropic = br#"{"id":"msg_1","type":"message","content":[{"type":"tool_use","id":"t","name":"x","input":{"usage":{"input_tokens":7}}}],"usage" : {"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}}"#;
        let t = from_body(Protocol::Anthropic, anthropic).unwrap();
        assert_eq!(
            (t.input, t.output, t.cache_read, t.cache_write_5m),
            (60, 5, 30, 20)
        );
        let chat = br#"{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
        let t = from_body(Protocol::OpenAiChat, chat).unwrap();
        assert_eq!((t.input, t.output), (9, 2));
        assert_eq!(from_body(Protocol::OpenAiChat, br#"{"choices":[]}"#), None);
        assert_eq!(from_body(Protocol::OpenAiChat, br#"{"usage":null}"#), None);
    }

    #[test]
    fn events_without_usage_are_not_parsed() {
        let mut s = UsageScan::new(Protocol::Anthropic);
        // Not JSON at all: never parsed, since it has no `"usage"`.
        assert!(!s.on_event(b"{{{ not json"));
        assert!(s.tokens().is_none());
    }
}
