//! Claude Code's stream-json output, line by line, as Anthropic Messages SSE (field-2026-11.md
//! §3.3): `stream_event` lines carry raw Anthropic stream events and are re-emitted as they
//! are; an `assistant` message that arrived without partial events is synthesized as a whole
//! message's events; `result` closes the message (stop reason and usage) when the CLI has not,
//! or becomes an Anthropic `error` event when it reports a failure. [`Whole`] collects the same
//! lines into one Messages JSON for requests that do not stream.

use super::report::{Report, auth_retry, parse, rate_limited, usage_of};
use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

/// The stream event types re-emitted to the client; others (hook, status lines) are dropped.
const FORWARDED: &[&str] = &[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
];

/// What one line meant for the stream.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// More lines follow.
    More,
    /// The `result` line: the answer is complete.
    Done,
}

/// Per-request state of the mapping.
#[derive(Debug, Default)]
pub struct Mapper {
    /// Message ids whose `message_start` came as a partial event.
    partial_ids: Vec<String>,
    started: bool,
    stopped: bool,
    /// Next content block index for synthesized blocks.
    next_index: u64,
    /// The failure, text and cost the run reported.
    pub report: Report,
    /// The model the CLI reported, for synthesized events.
    model: Option<String>,
}

/// Appends one SSE event.
pub fn event(out: &mut BytesMut, data: &Value) {
    let ty = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    out.put_slice(b"event: ");
    out.put_slice(ty.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(data.to_string().as_bytes());
    out.put_slice(b"\n\n");
}

impl Mapper {
    /// Whether any message event was emitted.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether `message_stop` was emitted: a client may stop reading there, so what follows it
    /// (the `result` line) is read before it is sent.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Maps one stdout line, appending SSE to `out`. Errors name what was wrong with the line.
    pub fn line(&mut self, line: &[u8], out: &mut BytesMut) -> Result<Step, String> {
        let Some(v) = parse(line)? else {
            return Ok(Step::More);
        };
        let refused = auth_retry(&v)
            .map(|f| (f, "authentication_error"))
            .or_else(|| rate_limited(&v).map(|f| (f, "rate_limit_error")));
        if let Some((f, kind)) = refused {
            event(
                out,
                &json!({"type": "error", "error": {"type": kind, "message": f.message}}),
            );
            self.report.failure = Some(f);
            return Ok(Step::Done);
        }
        match v["type"].as_str().unwrap_or_default() {
            "system" => {
                if let Some(m) = v["model"].as_str() {
                    self.model = Some(m.to_owned());
                }
            }
            "stream_event" => self.stream_event(&v["event"], out),
            "assistant" => self.assistant(&v["message"], out),
            "result" => {
                self.result(&v, out);
                return Ok(Step::Done);
            }
            _ => {}
        }
        Ok(Step::More)
    }

    fn stream_event(&mut self, ev: &Value, out: &mut BytesMut) {
        let ty = ev["type"].as_str().unwrap_or_default();
        if !FORWARDED.contains(&ty) {
            return;
        }
        match ty {
            "message_start" => {
                if let Some(id) = ev["message"]["id"].as_str() {
                    self.partial_ids.push(id.to_owned());
                }
                if self.started && !self.stopped {
                    // A second API call of the same run: its events continue the one message.
                    return;
                }
                self.started = true;
                self.stopped = false;
            }
            "message_stop" => self.stopped = true,
            "content_block_delta" => {
                if let Some(t) = ev["delta"]["text"].as_str() {
                    self.report.text.push_str(t);
                }
            }
            _ => {}
        }
        event(out, ev);
    }

    /// An `assistant` message: already streamed when its partial events came, else synthesized.
    fn assistant(&mut self, msg: &Value, out: &mut BytesMut) {
        let id = msg["id"].as_str().unwrap_or_default();
        if self.partial_ids.iter().any(|p| p == id) {
            return;
        }
        if !self.started {
            self.start(id, msg["model"].as_str(), &msg["usage"], out);
        }
        for block in msg["content"].as_array().into_iter().flatten() {
            let index = self.next_index;
            self.next_index += 1;
            let (start, delta) = match block["type"].as_str().unwrap_or_default() {
                "text" => {
                    self.report
                        .text
                        .push_str(block["text"].as_str().unwrap_or_default());
                    (
                        json!({"type": "text", "text": ""}),
                        json!({"type": "text_delta", "text": block["text"]}),
                    )
                }
                "thinking" => (
                    json!({"type": "thinking", "thinking": ""}),
                    json!({"type": "thinking_delta", "thinking": block["thinking"]}),
                ),
                _ => continue,
            };
            event(
                out,
                &json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            event(
                out,
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            );
            if let Some(sig) = block["signature"].as_str() {
                event(
                    out,
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "signature_delta", "signature": sig}}),
                );
            }
            event(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    fn start(&mut self, id: &str, model: Option<&str>, usage: &Value, out: &mut BytesMut) {
        self.started = true;
        let id = if id.is_empty() {
            crate::ids::new_id("msg_")
        } else {
            id.to_owned()
        };
        let model = model
            .map(str::to_owned)
            .or_else(|| self.model.clone())
            .unwrap_or_default();
        let usage = if usage.is_object() {
            usage.clone()
        } else {
            json!({"input_tokens": 0, "output_tokens": 0})
        };
        event(
            out,
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}}),
        );
    }

    fn result(&mut self, v: &Value, out: &mut BytesMut) {
        self.report.result(v);
        if let Some(f) = &self.report.failure {
            event(
                out,
                &json!({"type": "error", "error": {"type": "api_error", "message": f.message}}),
            );
            return;
        }
        if self.stopped {
            return;
        }
        if !self.started {
            self.start("", None, &Value::Null, out);
            // No assistant message at all: the result's text is the answer.
            if let Some(text) = v["result"].as_str().filter(|t| !t.is_empty()) {
                self.assistant(
                    &json!({"id": "", "content": [{"type": "text", "text": text}]}),
                    out,
                );
            }
        }
        let stop = v["stop_reason"].as_str().unwrap_or("end_turn");
        event(
            out,
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": null},
                    "usage": usage_of(v)}),
        );
        event(out, &json!({"type": "message_stop"}));
        self.stopped = true;
    }
}

/// The lines of a request that does not stream, collected into one Messages JSON.
#[derive(Debug, Default)]
pub struct Whole {
    id: Option<String>,
    model: Option<String>,
    content: Vec<Value>,
    /// The failure, text and cost the run reported.
    pub report: Report,
    /// The `result` line, once read.
    result: Option<Value>,
}

impl Whole {
    /// Reads one stdout line. Errors name what was wrong with it.
    pub fn line(&mut self, line: &[u8]) -> Result<Step, String> {
        let Some(v) = parse(line)? else {
            return Ok(Step::More);
        };
        if let Some(f) = auth_retry(&v).or_else(|| rate_limited(&v)) {
            self.report.failure = Some(f);
            return Ok(Step::Done);
        }
        match v["type"].as_str().unwrap_or_default() {
            "assistant" => {
                let m = &v["message"];
                self.id = self.id.take().or(m["id"].as_str().map(str::to_owned));
                self.model = self.model.take().or(m["model"].as_str().map(str::to_owned));
                for b in m["content"].as_array().into_iter().flatten() {
                    match b["type"].as_str() {
                        Some("text") => {
                            self.report
                                .text
                                .push_str(b["text"].as_str().unwrap_or_default());
                            self.content.push(b.clone());
                        }
                        Some("thinking") => self.content.push(b.clone()),
                        _ => {}
                    }
                }
            }
            "result" => {
                self.report.result(&v);
                self.result = Some(v);
                return Ok(Step::Done);
            }
            _ => {}
        }
        Ok(Step::More)
    }

    /// The Messages JSON of the answer.
    pub fn message(&mut self) -> Value {
        let r = self.result.take().unwrap_or(Value::Null);
        let mut content = std::mem::take(&mut self.content);
        if content.is_empty()
            && let Some(t) = r["result"].as_str().filter(|t| !t.is_empty())
        {
            self.report.text = t.to_owned();
            content.push(json!({"type": "text", "text": t}));
        }
        json!({
            "id": self.id.take().unwrap_or_else(|| crate::ids::new_id("msg_")),
            "type": "message",
            "role": "assistant",
            "model": self.model.take().unwrap_or_default(),
            "content": content,
            "stop_reason": r["stop_reason"].as_str().unwrap_or("end_turn"),
            "stop_sequence": null,
            "usage": usage_of(&r),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::claude_code::report::Failure;

    const PARTIAL: &str = include_str!("fixtures/partial.jsonl");

    fn events(bytes: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(bytes).unwrap();
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (head, data) = e.split_once('\n').unwrap();
                let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(head, format!("event: {}", v["type"].as_str().unwrap()));
                v
            })
            .collect()
    }

    fn run(lines: &[&str]) -> (Mapper, Vec<Value>) {
        let mut m = Mapper::default();
        let mut out = BytesMut::new();
        for l in lines {
            m.line(l.as_bytes(), &mut out).unwrap();
        }
        (m, events(&out))
    }

    fn types(evs: &[Value]) -> Vec<&str> {
        evs.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn text(evs: &[Value]) -> String {
        evs.iter()
            .filter_map(|e| e["delta"]["text"].as_str())
            .collect()
    }

    #[test]
    fn recorded_partial_events_are_re_emitted_once_and_the_result_adds_nothing() {
        let lines: Vec<&str> = PARTIAL.lines().collect();
        let (m, evs) = run(&lines);
        assert_eq!(
            types(&evs),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(text(&evs), "Hello from the fake upstream.");
        assert_eq!(evs[5]["delta"]["stop_reason"], "end_turn");
        assert!(m.report.succeeded());
        assert_eq!(m.report.text, "Hello from the fake upstream.");
        assert!(m.report.cost_usd.is_some_and(|c| c > 0.0));
    }

    #[test]
    fn an_assistant_message_without_partial_events_is_synthesized_and_closed_by_the_result() {
        let lines: Vec<&str> = PARTIAL
            .lines()
            .filter(|l| !l.contains("\"stream_event\""))
            .collect();
        let (_, evs) = run(&lines);
        assert_eq!(
            types(&evs),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(text(&evs), "Hello from the fake upstream.");
        assert_eq!(evs[4]["usage"]["input_tokens"], 271);
        assert_eq!(evs[4]["usage"]["output_tokens"], 5);
        assert_eq!(evs[4]["usage"]["cache_read_input_tokens"], 0);
    }

    #[test]
    fn a_result_without_message_stop_closes_with_its_usage_and_stop_reason() {
        let lines: Vec<&str> = PARTIAL
            .lines()
            .filter(|l| !l.contains("message_stop") && !l.contains("message_delta"))
            .collect();
        let (_, evs) = run(&lines);
        let n = evs.len();
        assert_eq!(types(&evs[n - 2..]), ["message_delta", "message_stop"]);
        assert_eq!(evs[n - 2]["delta"]["stop_reason"], "end_turn");
        assert_eq!(evs[n - 2]["usage"]["input_tokens"], 271);
    }

    #[test]
    fn thinking_deltas_pass_and_a_failed_result_is_an_error_event() {
        let (m, evs) = run(&[
            r#"{"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":1,"output_tokens":0}}}}"#,
            r#"{"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}}"#,
            r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"result":"Invalid API key · Please run /login"}"#,
        ]);
        assert_eq!(evs[2]["delta"]["thinking"], "hmm");
        assert_eq!(evs[3]["type"], "error");
        assert_eq!(
            m.report.failure,
            Some(Failure {
                message: "Invalid API key · Please run /login".into(),
                api_status: Some(401),
                retry_after: None,
            })
        );
    }

    #[test]
    fn a_recorded_login_refusal_ends_the_run_at_once() {
        let line = include_str!("fixtures/auth_retry.jsonl").trim();
        let mut m = Mapper::default();
        let mut out = BytesMut::new();
        assert_eq!(m.line(line.as_bytes(), &mut out).unwrap(), Step::Done);
        assert_eq!(m.report.failure.as_ref().unwrap().api_status, Some(401));
        assert!(!m.started());
        let mut w = Whole::default();
        assert_eq!(w.line(line.as_bytes()).unwrap(), Step::Done);
        assert_eq!(w.report.failure.unwrap().api_status, Some(401));
    }

    #[test]
    fn an_exhausted_window_ends_the_stream_with_a_rate_limit_error() {
        let (m, evs) = run(&[
            r#"{"type":"system","subtype":"init","model":"claude-sonnet-5"}"#,
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":4102444800,"rateLimitType":"seven_day"}}"#,
        ]);
        assert_eq!(types(&evs), ["error"]);
        assert_eq!(evs[0]["error"]["type"], "rate_limit_error");
        assert!(!m.started());
        let f = m.report.failure.unwrap();
        assert_eq!(f.api_status, Some(429));
        assert!(f.retry_after.unwrap() > 60);
    }

    #[test]
    fn a_line_that_is_not_json_is_an_error_naming_it() {
        let mut m = Mapper::default();
        let e = m.line(b"oops", &mut BytesMut::new()).unwrap_err();
        assert!(e.contains("oops"), "{e}");
    }

    #[test]
    fn whole_collects_the_message_with_the_result_usage() {
        let mut w = Whole::default();
        for l in PARTIAL.lines() {
            w.line(l.as_bytes()).unwrap();
        }
        assert!(w.report.failure.is_none());
        let m = w.message();
        assert_eq!(w.report.text, "Hello from the fake upstream.");
        assert_eq!(m["content"][0]["text"], "Hello from the fake upstream.");
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["usage"]["output_tokens"], 5);
        assert_eq!(m["id"], "msg_23930ebdab403aa700000000");
    }
}
