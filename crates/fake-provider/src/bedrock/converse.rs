//! Converse / ConverseStream answers, in the shapes of the Bedrock runtime API reference
//! (`API_runtime_Converse`, `API_runtime_ConverseStreamOutput` and the types they name).
//!
//! - Converse: `{"output": {"message": {"role": "assistant", "content": [...]}},
//!   "stopReason": "...", "usage": {"inputTokens", "outputTokens", "totalTokens",
//!   "cacheReadInputTokens", "cacheWriteInputTokens"}, "metrics": {"latencyMs"}}`. Content
//!   blocks: `{"reasoningContent": {"reasoningText": {"text", "signature"}}}`, `{"text"}`,
//!   `{"toolUse": {"toolUseId", "name", "input"}}`, in that order.
//! - ConverseStream frames (`:event-type`): `messageStart {"role"}`; per reasoning block
//!   `contentBlockDelta {"contentBlockIndex", "delta": {"reasoningContent": {"text"}}}` then one
//!   `{"reasoningContent": {"signature"}}`; per text block `contentBlockDelta {"delta": {"text"}}`;
//!   per tool call `contentBlockStart {"contentBlockIndex", "start": {"toolUse": {"toolUseId",
//!   "name"}}}` then `contentBlockDelta {"delta": {"toolUse": {"input": "<partial JSON>"}}}`;
//!   every block ends with `contentBlockStop {"contentBlockIndex"}`; then
//!   `messageStop {"stopReason"}` and last `metadata {"usage", "metrics": {"latencyMs"}}`.
//!
//! Token numbers: `inputTokens` excludes cache reads (`cacheReadInputTokens`), and
//! `totalTokens` is input + cache reads + cache writes + output.

use bytes::Bytes;
use serde_json::{Value, json};

use super::eventstream::event;
use crate::plan::{Plan, anthropic_stop, gen_id};
use crate::render_anthropic::SIGNATURE;

/// Fake latency (ms) reported in `metrics.latencyMs`.
const LATENCY_MS: u64 = 120;

/// Converse's `stopReason` for the plan's finish reason (`StopReason` enum: `end_turn`,
/// `tool_use`, `max_tokens`, `stop_sequence`, `guardrail_intervened`, `content_filtered`, ...).
fn stop_reason(plan: &Plan) -> &str {
    match anthropic_stop(&plan.finish) {
        "refusal" => "content_filtered",
        other => other,
    }
}

fn usage(plan: &Plan) -> Value {
    let u = &plan.usage;
    json!({
        "inputTokens": u.uncached_input(),
        "outputTokens": u.output,
        "totalTokens": u.input + u.output,
        "cacheReadInputTokens": u.cached,
        "cacheWriteInputTokens": 0,
    })
}

/// Converse tool use ids (`tooluse_…`, as Bedrock makes them) unless the script gave one.
fn tool_ids(plan: &Plan) -> Vec<String> {
    plan.tool_calls
        .iter()
        .map(|c| c.id.clone().unwrap_or_else(|| gen_id("tooluse_")))
        .collect()
}

/// The Converse answer document.
pub(crate) fn full(plan: &Plan) -> Value {
    let mut content = Vec::new();
    if !plan.reasoning.is_empty() {
        content.push(json!({"reasoningContent": {"reasoningText": {
            "text": plan.reasoning, "signature": SIGNATURE}}}));
    }
    if !plan.text.is_empty() {
        content.push(json!({"text": plan.text}));
    }
    for (c, id) in plan.tool_calls.iter().zip(tool_ids(plan)) {
        content.push(json!({"toolUse": {"toolUseId": id, "name": c.name,
                                         "input": c.arguments_value()}}));
    }
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(plan),
        "usage": usage(plan),
        "metrics": {"latencyMs": LATENCY_MS},
    })
}

/// The ConverseStream frames.
pub(crate) fn frames(plan: &Plan) -> Vec<Bytes> {
    let mut out = vec![event("messageStart", json!({"role": "assistant"}))];
    let delta = |index: usize, delta: Value| {
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": delta}),
        )
    };
    let stop = |index: usize| event("contentBlockStop", json!({"contentBlockIndex": index}));
    let mut index = 0;
    if !plan.reasoning.is_empty() {
        for d in plan.reasoning_delta_strs() {
            out.push(delta(index, json!({"reasoningContent": {"text": d}})));
        }
        out.push(delta(
            index,
            json!({"reasoningContent": {"signature": SIGNATURE}}),
        ));
        out.push(stop(index));
        index += 1;
    }
    if !plan.text.is_empty() {
        for d in plan.text_delta_strs() {
            out.push(delta(index, json!({"text": d})));
        }
        out.push(stop(index));
        index += 1;
    }
    for (c, id) in plan.tool_calls.iter().zip(tool_ids(plan)) {
        out.push(event(
            "contentBlockStart",
            json!({"contentBlockIndex": index,
                   "start": {"toolUse": {"toolUseId": id, "name": c.name}}}),
        ));
        for frag in c.fragment_strs() {
            out.push(delta(index, json!({"toolUse": {"input": frag}})));
        }
        out.push(stop(index));
        index += 1;
    }
    out.push(event(
        "messageStop",
        json!({"stopReason": stop_reason(plan)}),
    ));
    out.push(event(
        "metadata",
        json!({"usage": usage(plan), "metrics": {"latencyMs": LATENCY_MS}}),
    ));
    out
}
