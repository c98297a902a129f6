//! OpenAI Responses rendering: the `response` object and the SSE stream with
//! `sequence_number`s (`response.created`, `response.in_progress`, per-item
//! added/delta/done events, `response.completed` / `response.incomplete`),
//! plus `response.failed` for mid-stream failures.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::plan::{Plan, Usage, gen_id, responses_status};
use crate::script::ErrorSpec;
use crate::sse::{json_str, named_event};

/// Placeholder `encrypted_content` when the request asks for it.
const ENCRYPTED: &str = "fake-encrypted-reasoning";

/// Per-response ids and the final output items.
pub(crate) struct ResponsesRender<'a> {
    plan: &'a Plan,
    id: String,
    created_at: u64,
    reasoning_id: String,
    message_id: String,
    /// (item id, call id) per tool call.
    call_ids: Vec<(String, String)>,
    encrypted: bool,
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": { "cached_tokens": u.cached },
        "output_tokens": u.output,
        "output_tokens_details": { "reasoning_tokens": u.reasoning },
        "total_tokens": u.input + u.output,
    })
}

/// Event builder that numbers events.
struct Seq {
    n: usize,
    out: Vec<Bytes>,
}

impl Seq {
    fn push(&mut self, kind: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        m.insert("sequence_number".into(), self.n.into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        self.out
            .push(named_event(kind, &Value::Object(m).to_string()));
        self.n += 1;
    }

    /// Hot-path delta event rendered by hand: `mid` holds the fields
    /// between `sequence_number` and `delta`.
    fn push_delta(&mut self, kind: &str, mid: &str, delta: &str) {
        let json = format!(
            "{{\"type\":\"{kind}\",\"sequence_number\":{},{mid},\"delta\":{}{}}}",
            self.n,
            json_str(delta),
            if kind == "response.output_text.delta" {
                ",\"logprobs\":[]"
            } else {
                ""
            }
        );
        self.out.push(named_event(kind, &json));
        self.n += 1;
    }
}

impl<'a> ResponsesRender<'a> {
    /// Prepares ids; `encrypted` adds `encrypted_content` to reasoning items
    /// (request `include` has "reasoning.encrypted_content").
    pub fn new(plan: &'a Plan, created_at: u64, encrypted: bool) -> Self {
        ResponsesRender {
            plan,
            id: gen_id("resp_"),
            created_at,
            reasoning_id: gen_id("rs_"),
            message_id: gen_id("msg_"),
            call_ids: plan
                .tool_calls
                .iter()
                .map(|c| {
                    let call_id = c.id.clone().unwrap_or_else(|| gen_id("call_"));
                    (gen_id("fc_"), call_id)
                })
                .collect(),
            encrypted,
        }
    }

    fn response(&self, status: &str, output: Vec<Value>, usage: Value, extra: Value) -> Value {
        let mut r = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": self.plan.model,
            "output": output,
            "usage": usage,
        });
        if let (Value::Object(r), Value::Object(extra)) = (&mut r, extra) {
            r.extend(extra);
        }
        r
    }

    fn reasoning_item(&self, text: &str) -> Value {
        let summary = if text.is_empty() {
            json!([])
        } else {
            json!([{"type": "summary_text", "text": text}])
        };
        let mut item = json!({"id": self.reasoning_id, "type": "reasoning", "summary": summary});
        if self.encrypted {
            item["encrypted_content"] = ENCRYPTED.into();
        }
        item
    }

    fn message_item(&self, status: &str, text: Option<&str>) -> Value {
        let content = match text {
            Some(t) => {
                json!([{"type": "output_text", "annotations": [], "logprobs": [], "text": t}])
            }
            None => json!([]),
        };
        json!({"id": self.message_id, "type": "message", "status": status, "role": "assistant", "content": content})
    }

    fn call_item(&self, i: usize, status: &str, arguments: &str) -> Value {
        let c = &self.plan.tool_calls[i];
        let (item_id, call_id) = &self.call_ids[i];
        json!({"id": item_id, "type": "function_call", "status": status, "arguments": arguments, "call_id": call_id, "name": c.name})
    }

    /// The complete output items, in order reasoning, message, calls.
    fn output(&self) -> Vec<Value> {
        let p = self.plan;
        let mut out = Vec::new();
        if !p.reasoning.is_empty() {
            out.push(self.reasoning_item(&p.reasoning));
        }
        if !p.text.is_empty() {
            out.push(self.message_item("completed", Some(&p.text)));
        }
        for (i, c) in p.tool_calls.iter().enumerate() {
            out.push(self.call_item(i, "completed", &c.arguments));
        }
        out
    }

    fn final_response(&self) -> (String, Value) {
        let (status, reason) = responses_status(&self.plan.finish);
        let extra = match reason {
            Some(r) => json!({"incomplete_details": {"reason": r}}),
            None => json!({}),
        };
        let r = self.response(status, self.output(), usage_json(&self.plan.usage), extra);
        (format!("response.{status}"), r)
    }

    /// The non-streaming `response` object.
    pub fn full(&self) -> Value {
        self.final_response().1
    }

    /// The SSE events of a streaming reply.
    pub fn events(&self) -> Vec<Bytes> {
        let p = self.plan;
        let mut s = Seq {
            n: 0,
            out: Vec::new(),
        };
        let initial = self.response("in_progress", vec![], Value::Null, json!({}));
        s.push("response.created", json!({"response": initial}));
        s.push("response.in_progress", json!({"response": initial}));
        let mut output_index = 0usize;
        if !p.reasoning.is_empty() {
            let id = &self.reasoning_id;
            let at = json!({"item_id": id, "output_index": output_index, "summary_index": 0});
            let with = |extra: Value| merge(&at, extra);
            s.push(
                "response.output_item.added",
                json!({"output_index": output_index, "item": self.reasoning_item("")}),
            );
            s.push(
                "response.reasoning_summary_part.added",
                with(json!({"part": {"type": "summary_text", "text": ""}})),
            );
            let mid = format!(
                "\"item_id\":{},\"output_index\":{output_index},\"summary_index\":0",
                json_str(id)
            );
            for d in p.reasoning_delta_strs() {
                s.push_delta("response.reasoning_summary_text.delta", &mid, d);
            }
            s.push(
                "response.reasoning_summary_text.done",
                with(json!({"text": p.reasoning})),
            );
            s.push(
                "response.reasoning_summary_part.done",
                with(json!({"part": {"type": "summary_text", "text": p.reasoning}})),
            );
            s.push(
                "response.output_item.done",
                json!({"output_index": output_index, "item": self.reasoning_item(&p.reasoning)}),
            );
            output_index += 1;
        }
        if !p.text.is_empty() {
            let id = &self.message_id;
            let at = json!({"item_id": id, "output_index": output_index, "content_index": 0});
            let with = |extra: Value| merge(&at, extra);
            let part = |t: &str| json!({"type": "output_text", "annotations": [], "logprobs": [], "text": t});
            s.push("response.output_item.added", json!({"output_index": output_index, "item": self.message_item("in_progress", None)}));
            s.push(
                "response.content_part.added",
                with(json!({"part": part("")})),
            );
            let mid = format!(
                "\"item_id\":{},\"output_index\":{output_index},\"content_index\":0",
                json_str(id)
            );
            for d in p.text_delta_strs() {
                s.push_delta("response.output_text.delta", &mid, d);
            }
            s.push(
                "response.output_text.done",
                with(json!({"text": p.text, "logprobs": []})),
            );
            s.push(
                "response.content_part.done",
                with(json!({"part": part(&p.text)})),
            );
            s.push("response.output_item.done", json!({"output_index": output_index, "item": self.message_item("completed", Some(&p.text))}));
            output_index += 1;
        }
        for (i, c) in p.tool_calls.iter().enumerate() {
            let item_id = &self.call_ids[i].0;
            s.push(
                "response.output_item.added",
                json!({"output_index": output_index, "item": self.call_item(i, "in_progress", "")}),
            );
            let mid = format!(
                "\"item_id\":{},\"output_index\":{output_index}",
                json_str(item_id)
            );
            for frag in c.fragment_strs() {
                s.push_delta("response.function_call_arguments.delta", &mid, frag);
            }
            s.push(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": output_index, "arguments": c.arguments}),
            );
            s.push("response.output_item.done", json!({"output_index": output_index, "item": self.call_item(i, "completed", &c.arguments)}));
            output_index += 1;
        }
        let (kind, r) = self.final_response();
        s.push(&kind, json!({"response": r}));
        s.out
    }

    /// The `response.failed` event for `fail_after`, numbered `seq`.
    pub fn failure_event(&self, spec: Option<&ErrorSpec>, seq: usize) -> Bytes {
        let code = spec
            .and_then(|s| s.code.as_deref().or(s.kind.as_deref()))
            .unwrap_or("server_error");
        let message = spec
            .and_then(|s| s.message.as_deref())
            .unwrap_or("fake-provider: injected mid-stream failure");
        let r = self.response(
            "failed",
            vec![],
            Value::Null,
            json!({"error": {"code": code, "message": message}}),
        );
        let mut s = Seq {
            n: seq,
            out: Vec::new(),
        };
        s.push("response.failed", json!({"response": r}));
        s.out.pop().unwrap_or_default()
    }
}

fn merge(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}
