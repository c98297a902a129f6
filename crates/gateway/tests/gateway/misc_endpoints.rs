//! count_tokens, models, health and the mock provider.

use crate::common::*;
use gateway::{LitellmParams, ModelDefinition};
use serde_json::{Value, json};

pub fn mock(name: &str, text: &str) -> ModelDefinition {
    ModelDefinition {
        model_name: name.into(),
        litellm_params: LitellmParams {
            model: "mock/demo".into(),
            mock_response: Some(text.into()),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    }
}

#[tokio::test]
async fn mock_response_answers_without_network_streaming_and_not() {
    let gw = gateway(vec![mock("demo", "Hello from the demo profile.")]).await;
    let body: Value = gw
        .post("/v1/messages", &claude_request("demo", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "Hello from the demo profile.");
    let r = protocol::check::rebuild(
        &gw.post("/v1/messages", &claude_request("demo", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(
        r.message["content"][0]["text"],
        "Hello from the demo profile."
    );
    assert_eq!(r.message["stop_reason"], "end_turn");
}

#[tokio::test]
async fn count_tokens_counts_system_messages_and_tools() {
    let gw = gateway(vec![mock("demo", "x")]).await;
    let small: Value = gw
        .post(
            "/v1/messages/count_tokens?beta=true",
            &json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let big: Value = gw
        .post("/v1/messages/count_tokens", &claude_request("demo", false))
        .await
        .json()
        .await
        .unwrap();
    let (s, b) = (
        small["input_tokens"].as_u64().unwrap(),
        big["input_tokens"].as_u64().unwrap(),
    );
    assert!(s >= 1 && b > s + 10, "small {s}, big {b}");
}

#[tokio::test]
async fn count_tokens_asks_an_anthropic_upstream() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": "x"}})).await;
    let gw = gateway(vec![def("cc", "anthropic/claude-x", &fake.base_url())]).await;
    let r: Value = gw
        .post("/v1/messages/count_tokens", &claude_request("cc", false))
        .await
        .json()
        .await
        .unwrap();
    assert!(r["input_tokens"].as_u64().is_some());
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/v1/messages/count_tokens");
    assert_eq!(up.body["model"], "claude-x");
}

#[tokio::test]
async fn models_in_both_shapes_and_health_without_key() {
    let gw = gateway(vec![mock("a", "x"), mock("b", "y")]).await;
    let anthropic: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][0]["type"], "model");
    assert_eq!(anthropic["first_id"], "a");
    assert_eq!(anthropic["has_more"], false);
    let openai: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][1]["id"], "b");
    let health = gw
        .http
        .get(format!("{}/health", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let h: Value = health.json().await.unwrap();
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["models"], 2);
    let head = gw.http.head(format!("{}/", gw.base)).send().await.unwrap();
    assert_eq!(head.status(), 200, "Claude Code's startup probe");
}
