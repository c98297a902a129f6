//! Resolves a scripted [`Reply`] against one request into a protocol-neutral
//! plan: templated text, delta boundaries, tool-call argument fragments,
//! finish reason and usage numbers. Also owns id generation.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::inspect::RequestView;
use crate::script::Reply;

/// Default maximum delta size (bytes) when `text_chunks` is not set.
const DEFAULT_CHUNK: usize = 16;
/// Default number of argument fragments per tool call.
const DEFAULT_ARG_FRAGMENTS: usize = 3;

/// A reply resolved for one request.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Model echoed back (the requested one).
    pub model: String,
    /// Full assistant text ("" = no text).
    pub text: String,
    /// Byte ranges of `text` to stream as deltas (concatenation = `text`).
    pub text_deltas: Vec<Range<usize>>,
    /// Full reasoning text ("" = no reasoning).
    pub reasoning: String,
    /// Byte ranges of `reasoning` to stream as deltas.
    pub reasoning_deltas: Vec<Range<usize>>,
    /// Tool calls in order.
    pub tool_calls: Vec<PlannedCall>,
    /// Chat-style finish reason ("stop", "length", "tool_calls", ...).
    pub finish: String,
    /// Token counts.
    pub usage: Usage,
}

/// A tool call with its arguments string and streaming fragments.
#[derive(Debug)]
pub(crate) struct PlannedCall {
    /// Script-given id, if any (renderers generate protocol-style ids).
    pub id: Option<String>,
    pub name: String,
    /// Arguments JSON text (verbatim when the script gave a string).
    pub arguments: String,
    /// Byte ranges of `arguments` to stream as fragments.
    pub fragments: Vec<Range<usize>>,
}

impl PlannedCall {
    /// The fragments as string slices.
    pub fn fragment_strs(&self) -> impl Iterator<Item = &str> {
        self.fragments.iter().map(|r| &self.arguments[r.clone()])
    }

    /// The arguments parsed as JSON (for Anthropic `input`); a string that is
    /// not valid JSON is passed as a JSON string.
    pub fn arguments_value(&self) -> Value {
        serde_json::from_str(&self.arguments)
            .unwrap_or_else(|_| Value::String(self.arguments.clone()))
    }
}

/// Token usage of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Prompt tokens including cached.
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    /// Part of `output` spent on reasoning.
    pub reasoning: u64,
    /// Prompt tokens written to the cache, 5-minute and 1-hour lifetimes.
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
}

impl Usage {
    /// Prompt tokens neither read from nor written to the cache (Anthropic `input_tokens`).
    pub fn uncached_input(&self) -> u64 {
        self.input
            .saturating_sub(self.cached)
            .saturating_sub(self.cache_write_5m + self.cache_write_1h)
    }
}

impl Plan {
    /// Resolves `reply` for the request described by `view`.
    pub fn build(reply: &Reply, view: &RequestView<'_>) -> Plan {
        let model = view.model.to_string();
        let base_text = if reply.echo {
            view.raw.to_string()
        } else {
            reply
                .text
                .as_deref()
                .map(|t| apply_templates(t, view))
                .unwrap_or_default()
        };
        let chunks = reply.stream.text_chunks;
        let (text, text_deltas) = match reply.repeat_text {
            Some(n) if !base_text.is_empty() => {
                let n = n.max(1) as usize;
                let len = base_text.len();
                let deltas = (0..n).map(|i| i * len..(i + 1) * len).collect();
                (base_text.repeat(n), deltas)
            }
            _ => {
                let deltas = split_text(&base_text, chunks);
                (base_text, deltas)
            }
        };
        let reasoning = reply
            .reasoning
            .as_deref()
            .map(|t| apply_templates(t, view))
            .unwrap_or_default();
        let reasoning_deltas = split_text(&reasoning, chunks);
        let frags = reply
            .stream
            .arg_fragments
            .unwrap_or(DEFAULT_ARG_FRAGMENTS)
            .max(1);
        let tool_calls: Vec<PlannedCall> = reply
            .tool_calls
            .iter()
            .map(|tc| {
                let arguments = match &tc.arguments {
                    None => "{}".to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                };
                PlannedCall {
                    id: tc.id.clone(),
                    name: tc.name.clone(),
                    fragments: split_even(&arguments, frags),
                    arguments,
                }
            })
            .collect();
        let finish = match &reply.finish_reason {
            Some(f) => chat_finish(f).to_string(),
            None if tool_calls.is_empty() => "stop".to_string(),
            None => "tool_calls".to_string(),
        };
        let spec = reply.usage.clone().unwrap_or_default();
        let reasoning_words = word_count(&reasoning);
        let default_output = (word_count(&text)
            + reasoning_words
            + tool_calls
                .iter()
                .map(|c| c.arguments.len() as u64 / 4 + 1)
                .sum::<u64>())
        .max(1);
        let output = spec.output.unwrap_or(default_output);
        let usage = Usage {
            input: spec.input.unwrap_or(view.raw.len() as u64 / 4),
            output,
            cached: spec.cached.unwrap_or(0),
            reasoning: reasoning_words.min(output),
            cache_write_5m: spec.cache_write_5m.unwrap_or(0),
            cache_write_1h: spec.cache_write_1h.unwrap_or(0),
        };
        Plan {
            model,
            text,
            text_deltas,
            reasoning,
            reasoning_deltas,
            tool_calls,
            finish,
            usage,
        }
    }

    /// The text deltas as string slices.
    pub fn text_delta_strs(&self) -> impl Iterator<Item = &str> {
        self.text_deltas.iter().map(|r| &self.text[r.clone()])
    }

    /// The reasoning deltas as string slices.
    pub fn reasoning_delta_strs(&self) -> impl Iterator<Item = &str> {
        self.reasoning_deltas
            .iter()
            .map(|r| &self.reasoning[r.clone()])
    }
}

fn word_count(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Replaces `{{last_tool_result}}` and `{{model}}`; other text is kept.
pub(crate) fn apply_templates(t: &str, view: &RequestView<'_>) -> String {
    if !t.contains("{{") {
        return t.to_string();
    }
    let mut out = t.replace("{{model}}", view.model);
    if out.contains("{{last_tool_result}}") {
        out = out.replace("{{last_tool_result}}", &view.last_tool_result());
    }
    out
}

/// Splits text either into `n` roughly equal parts or (n = None) into
/// word-boundary chunks of at most [`DEFAULT_CHUNK`] bytes.
fn split_text(s: &str, n: Option<usize>) -> Vec<Range<usize>> {
    match n {
        Some(n) => split_even(s, n),
        None => split_words(s, DEFAULT_CHUNK),
    }
}

/// Splits `s` into `n` parts of roughly equal char counts, skipping empty
/// parts (so fewer than `n` when `s` is short; none when `s` is empty).
pub(crate) fn split_even(s: &str, n: usize) -> Vec<Range<usize>> {
    let n = n.max(1);
    let chars = s.chars().count();
    let mut bounds: Vec<usize> = Vec::with_capacity(n + 1);
    let mut char_iter = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()));
    let mut pos = 0;
    let mut byte = char_iter.next().unwrap_or(0);
    for k in 0..=n {
        let target = k * chars / n;
        while pos < target {
            byte = char_iter.next().unwrap_or(s.len());
            pos += 1;
        }
        bounds.push(byte);
    }
    bounds
        .windows(2)
        .filter(|w| w[0] < w[1])
        .map(|w| w[0]..w[1])
        .collect()
}

/// Splits `s` into chunks of at most `max` bytes, cutting before whitespace
/// where possible (so chunks look like tokens: "Hello", " world"); a word
/// longer than `max` is cut at a char boundary.
pub(crate) fn split_words(s: &str, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < s.len() {
        if s.len() - start <= max {
            out.push(start..s.len());
            break;
        }
        let window_end = start + max;
        let mut cut = None;
        let mut last_boundary = None;
        for (i, c) in s[start..].char_indices().skip(1) {
            let abs = start + i;
            if abs > window_end {
                break;
            }
            last_boundary = Some(abs);
            if c.is_whitespace() {
                cut = Some(abs);
            }
        }
        let end = cut.or(last_boundary).unwrap_or_else(|| {
            // A single char longer than `max` bytes: take it whole.
            start + s[start..].chars().next().map_or(1, char::len_utf8)
        });
        out.push(start..end);
        start = end;
    }
    out
}

/// Normalises a finish reason to the Chat vocabulary.
pub(crate) fn chat_finish(f: &str) -> &str {
    match f {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    }
}

/// Maps a Chat finish reason to an Anthropic stop_reason.
pub(crate) fn anthropic_stop(f: &str) -> &str {
    match f {
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        other => other,
    }
}

/// Maps a Chat finish reason to a Responses status and incomplete reason.
pub(crate) fn responses_status(f: &str) -> (&'static str, Option<&'static str>) {
    match f {
        "length" => ("incomplete", Some("max_output_tokens")),
        "content_filter" => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A unique id such as `chatcmpl-3f9a…` (process-unique, random-looking).
pub(crate) fn gen_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:016x}{:08x}", splitmix(seed ^ n), n & 0xffff_ffff)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Protocol, Reply, ToolCallSpec};
    use serde_json::json;

    fn slices<'a>(s: &'a str, r: &[Range<usize>]) -> Vec<&'a str> {
        r.iter().map(|r| &s[r.clone()]).collect()
    }

    #[test]
    fn split_words_cuts_before_spaces() {
        let s = "Hello world, this is a fairly long sentence.";
        let parts = split_words(s, 16);
        let v = slices(s, &parts);
        assert_eq!(v.concat(), s);
        assert!(v.iter().all(|p| p.len() <= 16), "{v:?}");
        assert_eq!(v[0], "Hello world,");
        assert!(v[1].starts_with(' '));
        let long = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(
            slices(long, &split_words(long, 16)),
            ["abcdefghijklmnop", "qrstuvwxyz"]
        );
        let uni = "héllo wörld ünïcödé façade";
        assert_eq!(slices(uni, &split_words(uni, 5)).concat(), uni);
        assert!(split_words("", 16).is_empty());
    }

    #[test]
    fn split_even_parts() {
        let s = r#"{"command":"ls -la"}"#;
        let v = slices(s, &split_even(s, 3));
        assert_eq!(v.len(), 3);
        assert_eq!(v.concat(), s);
        assert_eq!(slices("ab", &split_even("ab", 5)), ["a", "b"]);
        assert!(split_even("", 3).is_empty());
        let uni = "ééééé";
        assert_eq!(slices(uni, &split_even(uni, 2)).concat(), uni);
    }

    fn view_of(body: &Value, raw: &str) -> RequestView<'static> {
        let body: &'static Value = Box::leak(Box::new(body.clone()));
        let raw: &'static str = Box::leak(raw.to_string().into_boxed_str());
        RequestView::new(Protocol::OpenaiChat, "/v1/chat/completions", raw, body)
    }

    #[test]
    fn templates() {
        let body = json!({"model":"gpt-x","messages":[{"role":"tool","content":"42 files"}]});
        let v = view_of(&body, "{}");
        assert_eq!(
            apply_templates("{{model}} saw {{last_tool_result}}; {{other}}", &v),
            "gpt-x saw 42 files; {{other}}"
        );
        assert_eq!(apply_templates("plain", &v), "plain");
        let none = json!({"model":"m","messages":[{"role":"user","content":"x"}]});
        assert_eq!(
            apply_templates("[{{last_tool_result}}]", &view_of(&none, "")),
            "[]"
        );
    }

    #[test]
    fn plan_defaults() {
        let body = json!({"model":"m"});
        let raw = "x".repeat(400);
        let v = view_of(&body, &raw);
        let reply = Reply {
            text: Some("one two three".into()),
            tool_calls: vec![ToolCallSpec {
                id: None,
                name: "Bash".into(),
                arguments: Some(json!({"command":"ls"})),
            }],
            ..Reply::default()
        };
        let p = Plan::build(&reply, &v);
        assert_eq!(p.finish, "tool_calls");
        assert_eq!(p.usage.input, 100);
        assert_eq!(p.usage.cached, 0);
        assert_eq!(p.usage.output, 3 + 16 / 4 + 1);
        assert_eq!(p.tool_calls[0].arguments, r#"{"command":"ls"}"#);
        assert_eq!(p.tool_calls[0].fragments.len(), 3);
        assert_eq!(
            p.tool_calls[0].fragment_strs().collect::<String>(),
            r#"{"command":"ls"}"#
        );
        assert_eq!(p.text_delta_strs().collect::<String>(), "one two three");
        assert_eq!(p.model, "m");
    }

    #[test]
    fn plan_overrides_repeat_and_echo() {
        let body = json!({"model":"m"});
        let v = view_of(&body, r#"{"model":"m"}"#);
        let reply: Reply = serde_json::from_value(json!({
            "text": "ab ", "repeat_text": 4, "finish_reason": "max_tokens",
            "usage": {"input": 10, "output": 5, "cached": 3},
            "tool_calls": [{"name": "f", "arguments": "{not json"}]
        }))
        .expect("reply");
        let p = Plan::build(&reply, &v);
        assert_eq!(p.text, "ab ab ab ab ");
        assert_eq!(p.text_delta_strs().collect::<Vec<_>>(), ["ab "; 4]);
        assert_eq!(p.finish, "length");
        assert_eq!(
            p.usage,
            Usage {
                input: 10,
                output: 5,
                cached: 3,
                reasoning: 0,
                cache_write_5m: 0,
                cache_write_1h: 0,
            }
        );
        assert_eq!(p.usage.uncached_input(), 7);
        assert_eq!(p.tool_calls[0].arguments_value(), json!("{not json"));
        let echo: Reply =
            serde_json::from_value(json!({"echo": true, "text": "ignored"})).expect("reply");
        assert_eq!(Plan::build(&echo, &v).text, r#"{"model":"m"}"#);
    }

    #[test]
    fn finish_mappings() {
        assert_eq!(anthropic_stop("stop"), "end_turn");
        assert_eq!(anthropic_stop("length"), "max_tokens");
        assert_eq!(anthropic_stop("tool_calls"), "tool_use");
        assert_eq!(chat_finish("tool_use"), "tool_calls");
        assert_eq!(
            responses_status("length"),
            ("incomplete", Some("max_output_tokens"))
        );
        assert_eq!(responses_status("tool_calls"), ("completed", None));
    }

    #[test]
    fn ids_are_unique() {
        let a = gen_id("chatcmpl-");
        let b = gen_id("chatcmpl-");
        assert_ne!(a, b);
        assert!(a.starts_with("chatcmpl-"));
        assert_eq!(a.len(), "chatcmpl-".len() + 24);
    }
}
