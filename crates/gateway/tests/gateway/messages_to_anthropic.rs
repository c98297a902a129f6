//! `/v1/messages` served by an Anthropic upstream: bytes pass through.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn request_body_passes_byte_exact_except_model() {
    let fake = fake(
        json!({"protocols": ["anthropic"], "api_key": "sk-upstream", "default": {"text": "ok"}}),
    )
    .await;
    let gw = gateway(vec![def(
        "cc",
        "anthropic/claude-sonnet-4-5",
        &fake.base_url(),
    )])
    .await;
    let raw = r#"{"model":"cc","max_tokens":1000,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQB\u002bRaw=="}]},{"role":"user","content":"hi"}],"stream":false}"#;
    let resp = gw
        .http
        .post(format!("{}/v1/messages?beta=true", gw.base))
        .header("authorization", format!("Bearer {MASTER_KEY}"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "context-management-2025-06-27")
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-agent-shim-dropped").is_none());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "ok");
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(
        up.headers["x-api-key"], "sk-upstream",
        "the client's key is replaced by the upstream key"
    );
    assert!(!up.headers.contains_key("authorization"));
    assert_eq!(
        up.headers["anthropic-beta"],
        "context-management-2025-06-27"
    );
    let expected = raw.replace("\"model\":\"cc\"", "\"model\":\"claude-sonnet-4-5\"");
    assert_eq!(
        up.raw_body, expected,
        "every byte but the model id is the client's"
    );
}

#[tokio::test]
async fn stream_bytes_pass_through() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": "streamed through", "reasoning": "hm"}})).await;
    let gw = gateway(vec![def("cc", "anthropic/claude-x", &fake.base_url())]).await;
    let resp = gw
        .post(
            "/v1/messages",
            &json!({"model": "cc", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let r = protocol::check::rebuild(&resp.bytes().await.unwrap());
    assert_eq!(
        r.message["content"][0]["signature"], "fake-signature",
        "upstream signature is untouched"
    );
    assert_eq!(r.message["content"][1]["text"], "streamed through");
}

#[tokio::test]
async fn foreign_reasoning_is_removed_before_reaching_anthropic() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": "ok"}})).await;
    let gw = gateway(vec![def("cc", "anthropic/claude-x", &fake.base_url())]).await;
    let body = json!({"model": "cc", "max_tokens": 50, "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "from another model", "signature": protocol::anthropic::FOREIGN_SIGNATURE},
            {"type": "text", "text": "a"}]},
        {"role": "user", "content": "q2"}]});
    assert_eq!(gw.post("/v1/messages", &body).await.status(), 200);
    let up = &fake.requests()[0].body;
    assert_eq!(
        up["messages"][1]["content"],
        json!([{"type": "text", "text": "a"}])
    );
}

#[tokio::test]
async fn upstream_errors_keep_their_status_and_say_who_failed() {
    let fake = fake(
        json!({"protocols": ["anthropic"], "default": {"status": 400,
        "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}}),
    )
    .await;
    let gw = gateway(vec![def("cc", "anthropic/claude-x", &fake.base_url())]).await;
    let resp = gw.post("/v1/messages", &json!({"model": "cc", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("upstream anthropic answered 400 for model 'cc'")
            && msg.contains("max_tokens: too large"),
        "{msg}"
    );
}
