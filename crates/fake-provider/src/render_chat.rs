//! OpenAI Chat Completions rendering: the `chat.completion` object and the
//! `chat.completion.chunk` SSE stream (role chunk, reasoning/content deltas,
//! tool-call fragments, finish chunk, usage chunk, `[DONE]`).

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, openai_error_object};
use crate::plan::{Plan, Usage, gen_id};
use crate::script::{ErrorSpec, StreamOpts};
use crate::sse::{DeltaCache, data_event, json_str};

/// Per-response ids shared by all chunks.
pub(crate) struct ChatRender<'a> {
    plan: &'a Plan,
    id: String,
    created: u64,
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": { "cached_tokens": u.cached },
        "completion_tokens_details": { "reasoning_tokens": u.reasoning },
    })
}

impl<'a> ChatRender<'a> {
    /// Prepares ids for one response.
    pub fn new(plan: &'a Plan, created: u64) -> Self {
        ChatRender {
            plan,
            id: gen_id("chatcmpl-"),
            created,
        }
    }

    fn call_id(&self, i: usize) -> String {
        self.plan.tool_calls[i]
            .id
            .clone()
            .unwrap_or_else(|| gen_id("call_"))
    }

    /// The non-streaming `chat.completion` object.
    pub fn full(&self) -> Value {
        let p = self.plan;
        let mut message = Map::new();
        message.insert("role".into(), "assistant".into());
        let content = if p.text.is_empty() && !p.tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(p.text.clone())
        };
        message.insert("content".into(), content);
        if !p.reasoning.is_empty() {
            message.insert("reasoning_content".into(), p.reasoning.clone().into());
        }
        if !p.tool_calls.is_empty() {
            let calls: Vec<Value> = p
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({
                        "id": self.call_id(i),
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments },
                    })
                })
                .collect();
            message.insert("tool_calls".into(), calls.into());
        }
        message.insert("refusal".into(), Value::Null);
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": p.model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": p.finish,
            }],
            "usage": usage_json(&p.usage),
        })
    }

    /// The SSE events of a streaming reply, each a complete `data: …\n\n`.
    pub fn events(&self, opts: &StreamOpts) -> Vec<Bytes> {
        let p = self.plan;
        let separate_usage = opts.include_usage && !opts.usage_in_finish_chunk;
        // `"usage":null` on every chunk but the usage chunk, as OpenAI does
        // when include_usage is on.
        let usage_null = if separate_usage {
            ",\"usage\":null"
        } else {
            ""
        };
        let head = format!(
            "{{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},",
            json_str(&self.id),
            self.created,
            json_str(&p.model)
        );
        let chunk = |delta: &str, finish: &str, usage: &str| -> Bytes {
            data_event(&format!(
                "{head}\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]{usage}}}"
            ))
        };
        let mut out = Vec::with_capacity(
            4 + p.text_deltas.len()
                + p.reasoning_deltas.len()
                + p.tool_calls
                    .iter()
                    .map(|c| 1 + c.fragments.len())
                    .sum::<usize>(),
        );
        out.push(chunk(
            r#"{"role":"assistant","content":""}"#,
            "null",
            usage_null,
        ));
        let mut cache = DeltaCache::default();
        for d in p.reasoning_delta_strs() {
            out.push(cache.get(d, |d| {
                chunk(
                    &format!("{{\"reasoning_content\":{}}}", json_str(d)),
                    "null",
                    usage_null,
                )
            }));
        }
        let mut cache = DeltaCache::default();
        for d in p.text_delta_strs() {
            out.push(cache.get(d, |d| {
                chunk(
                    &format!("{{\"content\":{}}}", json_str(d)),
                    "null",
                    usage_null,
                )
            }));
        }
        // Tool calls: per index a header fragment (id, type, name, "") then
        // argument fragments; sequential or interleaved by round.
        let ids: Vec<String> = (0..p.tool_calls.len()).map(|i| self.call_id(i)).collect();
        let tool_delta = |i: usize, round: usize| -> Option<String> {
            let c = &p.tool_calls[i];
            if round == 0 {
                return Some(format!(
                    "{{\"tool_calls\":[{{\"index\":{i},\"id\":{},\"type\":\"function\",\"function\":{{\"name\":{},\"arguments\":\"\"}}}}]}}",
                    json_str(&ids[i]),
                    json_str(&c.name)
                ));
            }
            let r = c.fragments.get(round - 1)?;
            Some(format!(
                "{{\"tool_calls\":[{{\"index\":{i},\"function\":{{\"arguments\":{}}}}}]}}",
                json_str(&c.arguments[r.clone()])
            ))
        };
        if opts.parallel_interleave {
            let rounds = p.tool_calls.iter().map(|c| c.fragments.len() + 1).max();
            for round in 0..rounds.unwrap_or(0) {
                for i in 0..p.tool_calls.len() {
                    if let Some(d) = tool_delta(i, round) {
                        out.push(chunk(&d, "null", usage_null));
                    }
                }
            }
        } else {
            for (i, c) in p.tool_calls.iter().enumerate() {
                for round in 0..=c.fragments.len() {
                    if let Some(d) = tool_delta(i, round) {
                        out.push(chunk(&d, "null", usage_null));
                    }
                }
            }
        }
        let usage = usage_json(&p.usage).to_string();
        let finish = json_str(&p.finish);
        if opts.include_usage && opts.usage_in_finish_chunk {
            out.push(chunk("{}", &finish, &format!(",\"usage\":{usage}")));
        } else {
            out.push(chunk("{}", &finish, usage_null));
        }
        if separate_usage {
            out.push(data_event(&format!(
                "{head}\"choices\":[],\"usage\":{usage}}}"
            )));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

/// The mid-stream error line (`data: {"error":{…}}`) for `fail_after`.
pub(crate) fn failure_event(spec: Option<&ErrorSpec>) -> Bytes {
    let e = ApiError {
        status: 500,
        kind: spec.and_then(|s| s.kind.as_deref()),
        message: spec
            .and_then(|s| s.message.as_deref())
            .unwrap_or("fake-provider: injected mid-stream failure"),
        code: spec.and_then(|s| s.code.as_deref()),
    };
    data_event(&json!({ "error": openai_error_object(&e) }).to_string())
}
