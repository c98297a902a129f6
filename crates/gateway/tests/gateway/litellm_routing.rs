//! LiteLLM routing features against the fake upstream (issue 11 §1): wildcard model groups send
//! the requested name's tail to the provider, `model_group_alias` names another group, and
//! `os.environ/NAME` works in any `litellm_params` string (here `api_base` and a header).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashMap;

async fn chat_fake() -> fake_provider::FakeProvider {
    fake(json!({"protocols": ["openai-chat", "anthropic"], "default": {"text": "hi"}})).await
}

#[tokio::test]
async fn wildcard_groups_send_the_matched_name_upstream() {
    let fake = chat_fake().await;
    let v1 = format!("{}/v1", fake.base_url());
    let gw = gateway(vec![
        def("openai/*", "openai/*", &v1),
        def("claude-*", "anthropic/claude-*", &fake.base_url()),
    ])
    .await;
    for model in ["openai/gpt-x-1", "claude-opus-9", "openai/gpt-x-1"] {
        let r = gw.post("/v1/messages", &claude_request(model, false)).await;
        assert_eq!(r.status(), 200, "{model}: {}", r.text().await.unwrap());
    }
    let seen: Vec<(String, Value)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.path, r.body["model"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("/v1/chat/completions".to_owned(), json!("gpt-x-1")),
            ("/v1/messages".to_owned(), json!("claude-opus-9")),
            ("/v1/chat/completions".to_owned(), json!("gpt-x-1")),
        ]
    );
    // A name no group matches is a 404 in the client's protocol.
    let r = gw
        .post("/v1/messages", &claude_request("mistral/large", false))
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn model_group_alias_serves_the_aliased_group() {
    let fake = chat_fake().await;
    let mut c = config(
        vec![def(
            "gpt-4o",
            "openai/gpt-4o-real",
            &format!("{}/v1", fake.base_url()),
        )],
        HashMap::new(),
        gateway::RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    c.model_group_alias = [("gpt-4".to_owned(), "gpt-4o".to_owned())].into();
    let gw = gateway_full(c).await;
    let r = gw
        .post("/v1/messages", &claude_request("gpt-4", false))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(fake.requests()[0].body["model"], "gpt-4o-real");
}

#[tokio::test]
async fn os_environ_references_resolve_in_every_string_parameter() {
    let fake = chat_fake().await;
    let mut d = def("m", "openai/x", "os.environ/UPSTREAM_BASE");
    d.litellm_params.extra_headers =
        Some([("X-Team".to_owned(), "os.environ/TEAM_HEADER".to_owned())].into());
    let secrets: HashMap<String, String> = [
        ("UPSTREAM_BASE", format!("{}/v1", fake.base_url())),
        ("TEAM_HEADER", "team-7".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    let gw = gateway_with(vec![d], secrets, gateway::RouterSettings::default()).await;
    let r = gw.post("/v1/messages", &claude_request("m", false)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(up.headers["x-team"], "team-7");
}
