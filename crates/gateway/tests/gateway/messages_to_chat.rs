//! `/v1/messages` served by an upstream that speaks only Chat Completions.

use crate::common::*;
use protocol::check::rebuild;
use serde_json::json;

fn chat_only(steps: serde_json::Value) -> serde_json::Value {
    json!({"protocols": ["openai-chat"], "api_key": "sk-upstream", "steps": steps})
}

#[tokio::test]
async fn non_streaming_text_answer_is_translated_both_ways() {
    let fake = fake(chat_only(json!([{"reply": {"text": "Two files.", "usage": {"input": 50, "output": 3, "cached": 10}}}]))).await;
    let mut d = def(
        "cc-sonnet",
        "cerebras/gpt-oss-120b",
        &format!("{}/v1", fake.base_url()),
    );
    d.litellm_params.max_tokens = Some(8192);
    let gw = gateway(vec![d]).await;
    let resp = gw
        .post(
            "/v1/messages?beta=true",
            &claude_request("cc-sonnet", false),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let dropped = resp
        .headers()
        .get("x-agent-shim-dropped")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for f in [
        "cache_control",
        "metadata",
        "context_management",
        "thinking",
    ] {
        assert!(
            dropped.split(',').any(|d| d == f),
            "{f} missing from {dropped}"
        );
    }
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["model"], "cc-sonnet",
        "the client's model name is echoed"
    );
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Two files."}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 40);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 10);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let up = &reqs[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(up.headers["authorization"], "Bearer sk-upstream");
    assert_eq!(up.body["model"], "gpt-oss-120b");
    assert_eq!(
        up.body["max_completion_tokens"], 8192,
        "clamped to the deployment's cap, Cerebras's field name"
    );
    assert!(up.body.get("max_tokens").is_none());
    assert!(up.body.get("metadata").is_none());
    assert_eq!(
        up.body["messages"][0],
        json!({"role": "system", "content": "You are Claude Code."})
    );
    assert_eq!(
        up.body["messages"][1],
        json!({"role": "user", "content": "List the files."})
    );
    assert_eq!(up.body["tools"][0]["function"]["name"], "Bash");
}

#[tokio::test]
async fn streamed_tool_call_in_fragments_then_tool_result_round_trip() {
    let fake = fake(chat_only(json!([
        {"when": {"last_role": "user"}, "reply": {
            "tool_calls": [{"id": "call_ls", "name": "Bash", "arguments": {"command": "ls -la /tmp"}}],
            "stream": {"arg_fragments": 6, "chunk_bytes": 13}}},
        {"when": {"last_role": "tool"}, "reply": {"text": "The listing: {{last_tool_result}}"}}
    ]))).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;

    let resp = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let bytes = resp.bytes().await.unwrap();
    let r = rebuild(&bytes);
    assert!(r.error.is_none());
    let block = &r.message["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["id"], "call_ls");
    assert_eq!(block["input"], json!({"command": "ls -la /tmp"}));
    assert_eq!(r.message["stop_reason"], "tool_use");
    let deltas = r
        .event_names
        .iter()
        .filter(|n| *n == "content_block_delta")
        .count();
    assert!(
        deltas >= 5,
        "argument fragments are forwarded as they arrive ({deltas} deltas)"
    );

    // Second turn: the tool result goes back as a Chat `tool` message.
    let mut second = claude_request("m", true);
    second["messages"] = json!([
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": [block.clone()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_ls", "content": "a.txt b.txt"}]}
    ]);
    let r = rebuild(
        &gw.post("/v1/messages", &second)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(r.message["content"][0]["text"], "The listing: a.txt b.txt");
    let up = &fake.requests()[1].body;
    assert_eq!(up["stream_options"], json!({"include_usage": true}));
    let msgs = up["messages"].as_array().unwrap();
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["tool_calls"][0]["id"], "call_ls");
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": "call_ls", "content": "a.txt b.txt"})
    );
}

#[tokio::test]
async fn reasoning_and_parallel_calls_stream_as_separate_blocks() {
    let fake = fake(chat_only(json!([{"reply": {
        "reasoning": "Two reads are needed.",
        "tool_calls": [{"name": "Read", "arguments": {"file_path": "a"}}, {"name": "Read", "arguments": {"file_path": "b"}}],
        "stream": {"parallel_interleave": true}}}]))).await;
    let gw = gateway(vec![def(
        "m",
        "deepseek/deepseek-reasoner",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let r = rebuild(
        &gw.post("/v1/messages", &claude_request("m", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let c = r.message["content"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(c[0]["type"], "thinking");
    assert_eq!(c[0]["thinking"], "Two reads are needed.");
    assert_eq!(c[1]["input"], json!({"file_path": "a"}));
    assert_eq!(c[2]["input"], json!({"file_path": "b"}));
    assert_ne!(c[1]["id"], c[2]["id"]);
}

#[tokio::test]
async fn upstream_failure_mid_stream_becomes_an_error_event() {
    let fake = fake(chat_only(json!([{"reply": {"text": "This answer will break off half way through.",
        "error": {"type": "server_error", "message": "model crashed"}, "stream": {"fail_after": 4}}}]))).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let r = rebuild(
        &gw.post("/v1/messages", &claude_request("m", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let err = r.error.expect("an error event");
    assert_eq!(err["message"], "model crashed");
}

#[tokio::test]
async fn connection_cut_mid_stream_becomes_an_error_event() {
    let fake = fake(chat_only(json!([{"reply": {"text": "This answer is cut off by the upstream.", "stream": {"cut_after": 3}}}]))).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let r = rebuild(
        &gw.post("/v1/messages", &claude_request("m", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(r.error.is_some(), "{:?}", r.event_names);
}

#[tokio::test]
async fn slow_upstream_gets_pings_in_between() {
    let fake = fake(chat_only(json!([{"reply": {"text": "slow words arrive", "stream": {"delay_ms": 450, "text_chunks": 2}}}]))).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let r = rebuild(
        &gw.post("/v1/messages", &claude_request("m", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(
        r.event_names.iter().any(|n| n == "ping"),
        "{:?}",
        r.event_names
    );
    assert_eq!(r.message["content"][0]["text"], "slow words arrive");
}

#[tokio::test]
async fn retryable_upstream_error_is_retried_before_anything_is_sent() {
    let fake = fake(chat_only(json!([
        {"times": 1, "reply": {"status": 503, "error": {"type": "server_error", "message": "busy"}}},
        {"reply": {"text": "second time lucky"}}
    ]))).await;
    let gw = gateway(vec![def(
        "m",
        "openai/gpt-x",
        &format!("{}/v1", fake.base_url()),
    )])
    .await;
    let resp = gw.post("/v1/messages", &claude_request("m", false)).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "second time lucky");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn second_deployment_serves_when_the_first_is_down() {
    let fake = fake(chat_only(json!([{"reply": {"text": "from the backup"}}]))).await;
    let mut down = def("m", "openai/gpt-x", "http://127.0.0.1:9/v1");
    down.litellm_params.order = Some(1);
    let mut up = def("m", "openai/gpt-x", &format!("{}/v1", fake.base_url()));
    up.litellm_params.order = Some(2);
    let gw = gateway(vec![up, down]).await;
    let body: serde_json::Value = gw
        .post("/v1/messages", &claude_request("m", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "from the backup");
}

/// Regression: a deployment without a key (or with a wrong model id) stopped the whole group,
/// although the next deployment could serve.
#[tokio::test]
async fn a_deployment_without_a_key_falls_through_to_the_next() {
    let fake = fake(chat_only(
        json!([{"reply": {"text": "from the keyed deployment"}}]),
    ))
    .await;
    let mut keyless = def("m", "groq/x", &format!("{}/v1", fake.base_url()));
    keyless.litellm_params.api_key = None;
    keyless.litellm_params.order = Some(1);
    let mut keyed = def("m", "openai/gpt-x", &format!("{}/v1", fake.base_url()));
    keyed.litellm_params.order = Some(2);
    let gw = gateway(vec![keyless, keyed]).await;
    let body: serde_json::Value = gw
        .post("/v1/messages", &claude_request("m", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "from the keyed deployment");
}

#[tokio::test]
async fn a_refused_request_is_not_sent_to_the_next_deployment() {
    let fake = fake(chat_only(json!([{"reply": {"status": 400, "error": {"type": "invalid_request_error", "message": "bad tool schema"}}}]))).await;
    let base = format!("{}/v1", fake.base_url());
    let gw = gateway(vec![
        def("m", "openai/a", &base),
        def("m", "openai/b", &base),
    ])
    .await;
    let resp = gw.post("/v1/messages", &claude_request("m", false)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        fake.requests().len(),
        1,
        "any deployment would refuse it too"
    );
}
