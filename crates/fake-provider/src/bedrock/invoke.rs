//! InvokeModel / InvokeModelWithResponseStream for Anthropic Claude: the request body is an
//! Anthropic Messages body without `model` and `stream`, with
//! `anthropic_version: "bedrock-2023-05-31"` and an optional `anthropic_beta` array (Bedrock
//! user guide, "Anthropic Claude Messages API"). The answer is the Anthropic `message` object;
//! the stream is one `chunk` frame per Anthropic stream event, payload
//! `{"bytes": "<base64 of the event JSON>"}`, and the final `message_stop` event carries
//! `amazon-bedrock-invocationMetrics`.
//!
//! Validation messages are Bedrock's JSON-schema wording ("Malformed input request: #: …,
//! please reformat your input and try again.").

use aws_smithy_types::base64;
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::eventstream;
use crate::plan::Plan;
use crate::render_anthropic::AnthropicRender;
use crate::script::StreamOpts;

/// The only `anthropic_version` Bedrock accepts for the Messages API.
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Fake latency numbers (ms) for the invocation metrics.
const FIRST_BYTE_MS: u64 = 42;

fn malformed(detail: &str) -> String {
    format!("Malformed input request: {detail}, please reformat your input and try again.")
}

/// Checks an InvokeModel body for Claude; `Err` is the `ValidationException` message.
pub(crate) fn validate(body: &Value) -> Result<(), String> {
    let Some(obj) = body.as_object() else {
        return Err(malformed("#: expected type: JSONObject"));
    };
    for key in ["model", "stream"] {
        if obj.contains_key(key) {
            return Err(malformed(&format!(
                "#: extraneous key [{key}] is not permitted"
            )));
        }
    }
    for key in ["anthropic_version", "max_tokens", "messages"] {
        if !obj.contains_key(key) {
            return Err(malformed(&format!("#: required key [{key}] not found")));
        }
    }
    match &obj["anthropic_version"] {
        Value::String(v) if v == ANTHROPIC_VERSION => {}
        Value::String(v) => {
            return Err(malformed(&format!(
                "#/anthropic_version: {v} is not a valid enum value"
            )));
        }
        other => {
            return Err(malformed(&format!(
                "#/anthropic_version: expected type: String, found: {}",
                json_type(other)
            )));
        }
    }
    if let Some(beta) = obj.get("anthropic_beta") {
        match beta {
            Value::Array(items) => {
                if let Some(i) = items.iter().position(|b| !b.is_string()) {
                    return Err(malformed(&format!(
                        "#/anthropic_beta/{i}: expected type: String, found: {}",
                        json_type(&items[i])
                    )));
                }
            }
            other => {
                return Err(malformed(&format!(
                    "#/anthropic_beta: expected type: JSONArray, found: {}",
                    json_type(other)
                )));
            }
        }
    }
    match &obj["messages"] {
        Value::Array(m) if !m.is_empty() => Ok(()),
        Value::Array(_) => Err(malformed(
            "#/messages: expected minimum item count: 1, found: 0",
        )),
        other => Err(malformed(&format!(
            "#/messages: expected type: JSONArray, found: {}",
            json_type(other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

/// `amazon-bedrock-invocationMetrics` of the final `message_stop` event.
fn invocation_metrics(plan: &Plan, events: usize) -> Value {
    json!({
        "inputTokenCount": plan.usage.uncached_input(),
        "outputTokenCount": plan.usage.output,
        "invocationLatency": FIRST_BYTE_MS + 10 * events as u64,
        "firstByteLatency": FIRST_BYTE_MS,
        "cacheReadInputTokenCount": plan.usage.cached,
        "cacheWriteInputTokenCount": 0,
    })
}

/// The `chunk` frame of one Anthropic event JSON.
fn chunk(event_json: &str) -> Bytes {
    eventstream::event("chunk", json!({ "bytes": base64::encode(event_json) }))
}

/// The frames of an InvokeModelWithResponseStream answer (no `ping` events: Bedrock does not
/// forward them).
pub(crate) fn frames(plan: &Plan, opts: &StreamOpts) -> Vec<Bytes> {
    let render = AnthropicRender::new(plan);
    let opts = StreamOpts {
        ping: false,
        ..opts.clone()
    };
    // Count first (one frame per event) so message_stop's latency can depend on it.
    let count = render.events_framed(&opts, &|_, _| Bytes::new()).len();
    let metrics = invocation_metrics(plan, count);
    let frame = |kind: &str, json: &str| -> Bytes {
        if kind != "message_stop" {
            return chunk(json);
        }
        let mut v: Value = serde_json::from_str(json).unwrap_or_else(|_| json!({}));
        v["amazon-bedrock-invocationMetrics"] = metrics.clone();
        chunk(&v.to_string())
    };
    render.events_framed(&opts, &frame)
}

/// Adds the headers Bedrock sets on a non-streaming InvokeModel answer
/// (`x-amzn-bedrock-input-token-count`, `-output-token-count`, `-invocation-latency`).
pub(crate) fn add_invoke_headers(resp: &mut Response, plan: &Plan) {
    let h = resp.headers_mut();
    for (name, value) in [
        (
            "x-amzn-bedrock-input-token-count",
            plan.usage.uncached_input(),
        ),
        ("x-amzn-bedrock-output-token-count", plan.usage.output),
        ("x-amzn-bedrock-invocation-latency", FIRST_BYTE_MS * 2),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(extra: Value) -> Value {
        let mut b = json!({"anthropic_version": ANTHROPIC_VERSION, "max_tokens": 10,
                           "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        b
    }

    #[test]
    fn validation() {
        assert_eq!(validate(&body(json!({}))), Ok(()));
        assert_eq!(
            validate(&body(json!({"anthropic_beta": ["a", "b"]}))),
            Ok(())
        );
        let err = validate(&body(json!({"model": "m"}))).unwrap_err();
        assert_eq!(
            err,
            "Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again."
        );
        let err = validate(&body(json!({"stream": true}))).unwrap_err();
        assert!(err.contains("extraneous key [stream]"), "{err}");
        let err = validate(&body(json!({"anthropic_version": "bedrock-2023-05-32"}))).unwrap_err();
        assert!(
            err.contains("#/anthropic_version: bedrock-2023-05-32 is not a valid enum value"),
            "{err}"
        );
        let mut missing = body(json!({}));
        missing
            .as_object_mut()
            .map(|o| o.remove("anthropic_version"));
        let err = validate(&missing).unwrap_err();
        assert!(
            err.contains("required key [anthropic_version] not found"),
            "{err}"
        );
        let err = validate(&body(json!({"anthropic_beta": "x"}))).unwrap_err();
        assert!(
            err.contains("#/anthropic_beta: expected type: JSONArray"),
            "{err}"
        );
        assert!(validate(&json!([1])).is_err());
    }
}
