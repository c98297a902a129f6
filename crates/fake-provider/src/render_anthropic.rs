//! Anthropic Messages rendering: the `message` object and the named-event SSE
//! stream (`message_start`, `ping`, content blocks with deltas,
//! `message_delta`, `message_stop`), plus the mid-stream `error` event.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::plan::{Plan, Usage, anthropic_stop, gen_id};
use crate::script::{ErrorSpec, StreamOpts};
use crate::sse::{DeltaCache, json_str, named_event};

/// The signature attached to every thinking block.
pub(crate) const SIGNATURE: &str = "fake-signature";

/// Per-response ids shared by all events.
pub(crate) struct AnthropicRender<'a> {
    plan: &'a Plan,
    id: String,
    tool_ids: Vec<String>,
}

fn usage_json(u: &Usage, output: u64) -> Value {
    let mut v = json!({
        "input_tokens": u.uncached_input(),
        "cache_creation_input_tokens": u.cache_write_5m + u.cache_write_1h,
        "cache_read_input_tokens": u.cached,
        "output_tokens": output,
    });
    // The split by lifetime, as the API sends it, only when a write was scripted (older
    // answers have no `cache_creation`).
    if u.cache_write_5m + u.cache_write_1h > 0 {
        v["cache_creation"] = json!({
            "ephemeral_5m_input_tokens": u.cache_write_5m,
            "ephemeral_1h_input_tokens": u.cache_write_1h,
        });
    }
    v
}

/// Puts one stream event on the wire: `(event type, event JSON) -> bytes`. SSE
/// (`event: …\ndata: …\n\n`) for the Anthropic API, a Bedrock `chunk` frame for
/// InvokeModelWithResponseStream.
pub(crate) type Framer<'f> = &'f dyn Fn(&str, &str) -> Bytes;

fn sse_frame(kind: &str, json: &str) -> Bytes {
    named_event(kind, json)
}

fn event(frame: Framer<'_>, v: &Value) -> Bytes {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
    frame(kind, &v.to_string())
}

impl<'a> AnthropicRender<'a> {
    /// Prepares ids for one response.
    pub fn new(plan: &'a Plan) -> Self {
        AnthropicRender {
            plan,
            id: gen_id("msg_"),
            tool_ids: plan
                .tool_calls
                .iter()
                .map(|c| c.id.clone().unwrap_or_else(|| gen_id("toolu_")))
                .collect(),
        }
    }

    fn stop_reason(&self) -> &str {
        anthropic_stop(&self.plan.finish)
    }

    /// The non-streaming `message` object.
    pub fn full(&self) -> Value {
        let p = self.plan;
        let mut content = Vec::new();
        if !p.reasoning.is_empty() {
            content
                .push(json!({"type": "thinking", "thinking": p.reasoning, "signature": SIGNATURE}));
        }
        if !p.text.is_empty() {
            content.push(json!({"type": "text", "text": p.text}));
        }
        for (c, id) in p.tool_calls.iter().zip(&self.tool_ids) {
            content.push(
                json!({"type": "tool_use", "id": id, "name": c.name, "input": c.arguments_value()}),
            );
        }
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": p.model,
            "content": content,
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": usage_json(&p.usage, p.usage.output),
        })
    }

    /// The SSE events of a streaming reply.
    pub fn events(&self, opts: &StreamOpts) -> Vec<Bytes> {
        self.events_framed(opts, &sse_frame)
    }

    /// The events of a streaming reply, each put on the wire by `frame`.
    pub fn events_framed(&self, opts: &StreamOpts, frame: Framer<'_>) -> Vec<Bytes> {
        let p = self.plan;
        let event = |v: &Value| event(frame, v);
        let mut out = Vec::new();
        out.push(event(&json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": p.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_json(&p.usage, 1),
            },
        })));
        if opts.ping {
            out.push(event(&json!({"type": "ping"})));
        }
        let mut index = 0usize;
        let start = |index: usize, block: Value| {
            event(&json!({"type": "content_block_start", "index": index, "content_block": block}))
        };
        let delta = |index: usize, delta_json: &str| {
            frame(
                "content_block_delta",
                &format!(
                    "{{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{delta_json}}}"
                ),
            )
        };
        let stop = |index: usize| event(&json!({"type": "content_block_stop", "index": index}));
        if !p.reasoning.is_empty() {
            out.push(start(
                index,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            let mut cache = DeltaCache::default();
            for d in p.reasoning_delta_strs() {
                out.push(cache.get(d, |d| {
                    delta(
                        index,
                        &format!(
                            "{{\"type\":\"thinking_delta\",\"thinking\":{}}}",
                            json_str(d)
                        ),
                    )
                }));
            }
            out.push(delta(
                index,
                &format!(
                    "{{\"type\":\"signature_delta\",\"signature\":{}}}",
                    json_str(SIGNATURE)
                ),
            ));
            out.push(stop(index));
            index += 1;
        }
        if !p.text.is_empty() {
            out.push(start(index, json!({"type": "text", "text": ""})));
            let mut cache = DeltaCache::default();
            for d in p.text_delta_strs() {
                out.push(cache.get(d, |d| {
                    delta(
                        index,
                        &format!("{{\"type\":\"text_delta\",\"text\":{}}}", json_str(d)),
                    )
                }));
            }
            out.push(stop(index));
            index += 1;
        }
        for (c, id) in p.tool_calls.iter().zip(&self.tool_ids) {
            out.push(start(
                index,
                json!({"type": "tool_use", "id": id, "name": c.name, "input": {}}),
            ));
            for frag in c.fragment_strs() {
                out.push(delta(
                    index,
                    &format!(
                        "{{\"type\":\"input_json_delta\",\"partial_json\":{}}}",
                        json_str(frag)
                    ),
                ));
            }
            out.push(stop(index));
            index += 1;
        }
        out.push(event(&json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
            "usage": usage_json(&p.usage, p.usage.output),
        })));
        out.push(event(&json!({"type": "message_stop"})));
        out
    }
}

/// The mid-stream `error` event for `fail_after`.
pub(crate) fn failure_event(spec: Option<&ErrorSpec>) -> Bytes {
    event(
        &sse_frame,
        &json!({
            "type": "error",
            "error": {
                "type": spec.and_then(|s| s.kind.as_deref()).unwrap_or("overloaded_error"),
                "message": spec.and_then(|s| s.message.as_deref()).unwrap_or("Overloaded"),
            },
        }),
    )
}

/// The `count_tokens` response body.
pub(crate) fn count_tokens(body_len: usize) -> Value {
    json!({ "input_tokens": body_len / 4 })
}
