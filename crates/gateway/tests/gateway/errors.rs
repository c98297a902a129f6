//! Every error in Anthropic's error JSON with the right status, naming what to fix.

use crate::common::*;
use gateway::RouterSettings;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    (status, body["error"].clone())
}

#[tokio::test]
async fn bad_json_is_400() {
    let gw = gateway(vec![def("m", "openai/x", "http://127.0.0.1:9/v1")]).await;
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", MASTER_KEY)
        .body("{\"model\": \"m\", ")
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 400);
    assert_eq!(e["type"], "invalid_request_error");
    assert!(
        e["message"].as_str().unwrap().contains("not a JSON object"),
        "{e}"
    );
    let (status, e) = error_of(gw.post("/v1/messages", &json!({"messages": []})).await).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("no `model` field"));
}

#[tokio::test]
async fn unknown_model_is_404_listing_models() {
    let gw = gateway(vec![
        def("alpha", "openai/x", "http://127.0.0.1:9/v1"),
        def("beta", "openai/y", "http://127.0.0.1:9/v1"),
    ])
    .await;
    let (status, e) = error_of(
        gw.post("/v1/messages", &claude_request("gamma", false))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(e["type"], "not_found_error");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("'gamma'") && msg.contains("alpha, beta"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_master_key_is_401() {
    let gw = gateway(vec![def("m", "openai/x", "http://127.0.0.1:9/v1")]).await;
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .json(&claude_request("m", false))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 401);
    assert_eq!(e["type"], "authentication_error");
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .bearer_auth("wrong")
        .json(&claude_request("m", false))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 401);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("is not the gateway's master key")
    );
}

#[tokio::test]
async fn missing_provider_key_names_the_variable() {
    let mut d = def("m", "groq/llama", "http://127.0.0.1:9/v1");
    d.litellm_params.api_key = None;
    let gw = gateway_with(vec![d], HashMap::new(), RouterSettings::default()).await;
    let (status, e) = error_of(gw.post("/v1/messages", &claude_request("m", false)).await).await;
    assert_eq!(status, 401);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("GROQ_API_KEY") && msg.contains("agent-shim secrets set GROQ_API_KEY"),
        "{msg}"
    );
    assert!(!msg.contains("sk-"), "no key material in errors");
}

#[tokio::test]
async fn unreachable_upstream_is_502_naming_the_url() {
    let gw = gateway_with(
        vec![def("m", "openai/x", "http://127.0.0.1:9/v1")],
        HashMap::new(),
        RouterSettings {
            num_retries: 0,
            max_retry_after: Duration::from_secs(1),
            ..RouterSettings::default()
        },
    )
    .await;
    let (status, e) = error_of(gw.post("/v1/messages", &claude_request("m", false)).await).await;
    assert_eq!(status, 502);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("http://127.0.0.1:9/v1/chat/completions") && msg.contains("api_base"),
        "{msg}"
    );
}

#[tokio::test]
async fn upstream_4xx_and_5xx_keep_status_and_message() {
    let fake = fake(json!({"protocols": ["openai-chat"], "steps": [
        {"when": {"model": "bad"}, "reply": {"status": 401, "error": {"type": "invalid_request_error", "message": "Invalid API Key"}}},
        {"when": {"model": "busy"}, "reply": {"status": 429, "headers": {"retry-after": "30"},
            "error": {"type": "rate_limit_error", "message": "Too many requests"}}},
        {"when": {"model": "long"}, "reply": {"status": 400, "error": {"type": "invalid_request_error",
            "message": "This model's maximum context length is 8192 tokens"}}}
    ]})).await;
    let base = format!("{}/v1", fake.base_url());
    let gw = gateway(vec![
        def("a", "openai/bad", &base),
        def("b", "openai/busy", &base),
        def("c", "openai/long", &base),
    ])
    .await;

    let (status, e) = error_of(gw.post("/v1/messages", &claude_request("a", false)).await).await;
    assert_eq!(status, 401);
    assert!(e["message"].as_str().unwrap().contains("Invalid API Key"));

    let resp = gw.post("/v1/messages", &claude_request("b", false)).await;
    assert_eq!(
        resp.headers()["retry-after"],
        "30",
        "a long retry-after is passed on, not waited for"
    );
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 429);
    assert_eq!(e["type"], "rate_limit_error");

    let (status, e) = error_of(gw.post("/v1/messages", &claude_request("c", false)).await).await;
    assert_eq!(status, 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("prompt is too long"),
        "Claude Code compacts on this wording"
    );
}

/// Regression: with a personal ANTHROPIC_API_KEY in the shell, Claude Code sends it as x-api-key
/// next to the master key as Bearer; the request must still pass.
#[tokio::test]
async fn master_key_as_bearer_passes_next_to_another_x_api_key() {
    let gw = gateway(vec![def("m", "openai/x", "http://127.0.0.1:9/v1")]).await;
    let resp = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .header("x-api-key", "sk-ant-personal")
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Regression: OpenAI's `insufficient_quota` (HTTP 429) was a rate limit to the gateway (retried)
/// and to Anthropic clients (429 `rate_limit_error`, which Claude Code retries; mid-stream it was
/// `permission_error`). It is a billing error: 402 `billing_error` for Anthropic clients, OpenAI's
/// own 429 `insufficient_quota` for OpenAI ones, never retried, `x-should-retry: false` for the
/// SDKs (which retry every 429 otherwise).
#[tokio::test]
async fn insufficient_quota_is_a_billing_error_not_a_rate_limit() {
    let fake = fake(json!({"protocols": ["openai-chat"], "steps": [
        {"reply": {"status": 429, "error": {"type": "insufficient_quota", "code": "insufficient_quota",
            "message": "You exceeded your current quota, please check your plan and billing details."}}}
    ]}))
    .await;
    let base = format!("{}/v1", fake.base_url());
    let gw = gateway(vec![def("q", "openai/gpt-5", &base)]).await;

    let resp = gw.post("/v1/messages", &claude_request("q", false)).await;
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 402);
    assert_eq!(e["type"], "billing_error");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("current quota") && msg.contains("retrying does not help"),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), 1, "a used-up quota is not retried");

    // A Codex-shaped Responses client (translated to the Chat upstream).
    fake.clear_requests();
    let resp = gw
        .http
        .post(format!("{}/v1/responses", gw.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"model": "q", "stream": true, "store": false,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert_eq!(fake.requests().len(), 1);
}
