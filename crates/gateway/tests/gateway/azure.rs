//! Azure OpenAI and Azure AI Foundry request shapes, checked by the fake upstream: the
//! deployment path, the `api-version` query, the `api-key` header or an Entra ID bearer token,
//! and the body, streamed and not, from an Anthropic, a Chat and a Responses client.

use crate::common::*;
use fake_provider::RecordedRequest;
use gateway::{LitellmParams, ModelDefinition, RouterSettings, SecretString};
use protocol::check::{rebuild, rebuild_responses};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const KEY: &str = "sk-azure-test";

/// `azure/<deployment>` at the fake upstream with `params` (api_version, api_mode, …).
fn azure(name: &str, deployment: &str, base: &str, mut params: Value) -> ModelDefinition {
    params["model"] = json!(format!("azure/{deployment}"));
    params["api_base"] = json!(base);
    let p: LitellmParams = serde_json::from_value(params).unwrap();
    ModelDefinition {
        model_name: name.into(),
        litellm_params: p,
        model_info: Default::default(),
    }
}

fn with_key(mut d: ModelDefinition) -> ModelDefinition {
    d.litellm_params.api_key = SecretString::new(KEY);
    d
}

fn router() -> RouterSettings {
    RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    }
}

/// The one upstream request, checked for Azure's key header and nothing in `authorization`.
fn only_request_with_key(fake: &fake_provider::FakeProvider) -> RecordedRequest {
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = reqs.into_iter().next().unwrap();
    assert_eq!(r.headers.get("api-key").map(String::as_str), Some(KEY));
    assert!(!r.headers.contains_key("authorization"), "{:?}", r.headers);
    r
}

impl Running {
    async fn post_openai(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(MASTER_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn claude_code_to_an_azure_deployment_over_chat_completions() {
    let fake = fake(json!({"protocols": ["openai-chat"], "api_key": KEY,
        "default": {"text": "from azure"}}))
    .await;
    let gw = gateway(vec![with_key(azure(
        "opus",
        "gpt-dep",
        &fake.base_url(),
        json!({}),
    ))])
    .await;
    for stream in [false, true] {
        fake.clear_requests();
        let resp = gw
            .post("/v1/messages", &claude_request("opus", stream))
            .await;
        assert_eq!(resp.status(), 200);
        let text = if stream {
            let r = rebuild(&resp.bytes().await.unwrap());
            assert!(r.error.is_none(), "{:?}", r.error);
            r.message["content"][0]["text"].clone()
        } else {
            resp.json::<Value>().await.unwrap()["content"][0]["text"].clone()
        };
        assert_eq!(text, "from azure");
        let up = only_request_with_key(&fake);
        assert_eq!(up.path, "/openai/deployments/gpt-dep/chat/completions");
        assert_eq!(
            up.query.as_deref(),
            Some("api-version=2025-02-01-preview"),
            "LiteLLM's default api-version"
        );
        assert_eq!(up.body["model"], "gpt-dep");
        assert_eq!(up.body["stream"], stream);
        // Reasoning models on Azure require max_completion_tokens with this api-version.
        assert_eq!(up.body["max_completion_tokens"], 32000);
        assert!(up.body.get("max_tokens").is_none());
        assert_eq!(up.body["messages"][0]["role"], "system");
        assert_eq!(up.body["tools"][0]["function"]["name"], "Bash");
    }
}

#[tokio::test]
async fn chat_client_passes_through_with_the_azure_quirks_applied() {
    let fake = fake(json!({"protocols": ["openai-chat"], "api_key": KEY,
        "default": {"text": "ok"}}))
    .await;
    let gw = gateway(vec![with_key(azure(
        "m",
        "gpt-4o-prod",
        &fake.base_url(),
        json!({"api_version": "2024-06-01"}),
    ))])
    .await;
    for stream in [false, true] {
        fake.clear_requests();
        let body = json!({"model": "m", "stream": stream, "max_completion_tokens": 64,
            "top_k": 3, "messages": [{"role": "user", "content": "hi"}]});
        let resp = gw.post_openai("/v1/chat/completions", &body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-agent-shim-dropped"], "top_k");
        let bytes = resp.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("ok"), "{text}");
        let up = only_request_with_key(&fake);
        assert_eq!(up.path, "/openai/deployments/gpt-4o-prod/chat/completions");
        assert_eq!(up.query.as_deref(), Some("api-version=2024-06-01"));
        assert_eq!(up.body["model"], "gpt-4o-prod");
        // 2024-06-01 predates max_completion_tokens: the limit goes as max_tokens.
        assert_eq!(up.body["max_tokens"], 64);
        assert!(up.body.get("max_completion_tokens").is_none());
        assert!(up.body.get("top_k").is_none());
        assert_eq!(up.body["stream"], stream);
    }
}

#[tokio::test]
async fn codex_to_azure_responses_api_on_the_v1_preview_and_a_dated_version() {
    let fake = fake(json!({"protocols": ["openai-responses"], "api_key": KEY,
        "default": {"text": "from responses"}}))
    .await;
    let gw = gateway(vec![
        with_key(azure(
            "codex",
            "gpt-codex-dep",
            &fake.base_url(),
            json!({"api_mode": "responses"}),
        )),
        with_key(azure(
            "codex-dated",
            "gpt-codex-dep",
            &format!("{}/", fake.base_url()),
            json!({"api_mode": "responses", "api_version": "2025-04-01-preview"}),
        )),
    ])
    .await;
    let cases = [
        ("codex", "/openai/v1/responses", "api-version=preview"),
        (
            "codex-dated",
            "/openai/responses",
            "api-version=2025-04-01-preview",
        ),
    ];
    for (model, path, query) in cases {
        for stream in [true, false] {
            fake.clear_requests();
            let req = json!({"model": model, "instructions": "You are Codex.", "stream": stream,
                "store": false, "max_output_tokens": 500,
                "input": [{"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": "List the files."}]}]});
            let resp = gw.post_openai("/v1/responses", &req).await;
            assert_eq!(resp.status(), 200);
            let bytes = resp.bytes().await.unwrap();
            let out = if stream {
                let r = rebuild_responses(&bytes);
                assert_eq!(r.terminal, "response.completed");
                r.response
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            assert!(out.to_string().contains("from responses"), "{out}");
            let up = only_request_with_key(&fake);
            assert_eq!((up.path.as_str(), up.query.as_deref()), (path, Some(query)));
            assert_eq!(up.body["model"], "gpt-codex-dep");
            assert_eq!(up.body["instructions"], "You are Codex.");
            assert_eq!(up.body["max_output_tokens"], 500);
        }
    }
}

#[tokio::test]
async fn claude_code_to_azure_responses_api_is_translated() {
    let fake = fake(json!({"protocols": ["openai-responses"], "api_key": KEY,
        "default": {"text": "translated"}}))
    .await;
    let gw = gateway(vec![with_key(azure(
        "opus",
        "gpt-5-dep",
        &format!("{}/openai/v1", fake.base_url()),
        json!({"api_mode": "responses"}),
    ))])
    .await;
    let r = rebuild(
        &gw.post("/v1/messages", &claude_request("opus", true))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(r.message["content"][0]["text"], "translated");
    let up = only_request_with_key(&fake);
    // An api_base ending in /openai/v1 is the v1 API: no api-version needed.
    assert_eq!(
        (up.path.as_str(), up.query.as_deref()),
        ("/openai/v1/responses", None)
    );
    assert_eq!(up.body["model"], "gpt-5-dep");
    assert_eq!(up.body["stream"], true);
}

#[tokio::test]
async fn entra_id_token_is_a_bearer_token_and_neither_credential_is_a_clear_401() {
    let fake = fake(
        json!({"protocols": ["openai-chat"], "api_key": "entra-token-value",
        "default": {"text": "ok"}}),
    )
    .await;
    let secrets: HashMap<String, String> = [
        ("MY_AAD_TOKEN".to_owned(), "entra-token-value".to_owned()),
        ("AZURE_API_BASE".to_owned(), fake.base_url()),
    ]
    .into();
    let mut token = azure(
        "tok",
        "dep",
        &fake.base_url(),
        json!({"azure_ad_token": "os.environ/MY_AAD_TOKEN", "api_version": "2024-10-21"}),
    );
    token.litellm_params.api_base = None; // from AZURE_API_BASE
    let none = azure("none", "dep", &fake.base_url(), json!({}));
    let gw = gateway_with(vec![token, none], secrets, router()).await;
    let body = json!({"model": "tok", "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw.post_openai("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let up = &fake.requests()[0];
    assert_eq!(up.headers["authorization"], "Bearer entra-token-value");
    assert!(!up.headers.contains_key("api-key"));
    assert_eq!(up.path, "/openai/deployments/dep/chat/completions");
    assert_eq!(up.query.as_deref(), Some("api-version=2024-10-21"));

    fake.clear_requests();
    let resp = gw
        .post("/v1/messages", &claude_request("none", false))
        .await;
    assert_eq!(resp.status(), 401);
    let err: Value = resp.json().await.unwrap();
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("'none'") && msg.contains("AZURE_OPENAI_API_KEY"),
        "{msg}"
    );
    assert!(
        msg.contains("AZURE_AD_TOKEN") && msg.contains("secrets set"),
        "{msg}"
    );
    assert!(
        fake.requests().is_empty(),
        "nothing is sent without a credential"
    );
}

#[tokio::test]
async fn azure_ai_foundry_endpoint_takes_chat_completions_under_its_base() {
    let fake = fake(json!({"protocols": ["openai-chat"], "api_key": KEY,
        "default": {"text": "foundry"}}))
    .await;
    let mut d = azure(
        "f",
        "x",
        &format!("{}/openai/v1", fake.base_url()),
        json!({}),
    );
    d.litellm_params.model = "azure_ai/Llama-4-Maverick".into();
    let gw = gateway(vec![with_key(d)]).await;
    for stream in [false, true] {
        fake.clear_requests();
        let resp = gw.post("/v1/messages", &claude_request("f", stream)).await;
        assert_eq!(resp.status(), 200);
        let up = &fake.requests()[0];
        assert_eq!(up.path, "/openai/v1/chat/completions");
        assert_eq!(up.query, None);
        assert_eq!(up.body["model"], "Llama-4-Maverick");
        assert_eq!(up.body["max_tokens"], 32000);
        // Off Azure's own hosts the key is a bearer token, as LiteLLM sends it.
        assert_eq!(up.headers["authorization"], format!("Bearer {KEY}"));
    }
}
