//! Google Vertex AI request shapes, checked by the fake upstream: Claude through
//! `rawPredict` / `streamRawPredict` (the path names project, location and model; the body has
//! `anthropic_version: "vertex-2023-10-16"` and no `model`) and Gemini through the
//! OpenAI-compatible endpoint, with `Authorization: Bearer` tokens minted by the fake's Google
//! token endpoint from a JWT assertion it verifies with the TEST-ONLY service account's public
//! key (crates/fake-provider/fixtures); betas Vertex refuses; Anthropic's own Vertex client on
//! the same paths. Tokens and credentials: `vertex_credentials.rs`, which shares the helpers
//! here.

use crate::common::*;
use fake_provider::{FakeProvider, RecordedRequest};
use gateway::{LitellmParams, ModelDefinition, RouterSettings};
use protocol::check::{rebuild, rebuild_responses};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

pub(crate) const TEST_KEY: &str =
    include_str!("../../../fake-provider/fixtures/vertex-test-sa.key.pem");
pub(crate) const TEST_PUBLIC_KEY: &str =
    include_str!("../../../fake-provider/fixtures/vertex-test-sa.pub.pem");
pub(crate) const EMAIL: &str = "agent-shim-test@test-project.iam.gserviceaccount.com";
pub(crate) const PROJECT: &str = "test-project";
pub(crate) const LOCATION: &str = "us-east5";
pub(crate) const CLAUDE: &str = "claude-sonnet-4-5@20250929";

/// A fake Vertex whose tokens live `lifetime` seconds, answering `text`.
pub(crate) async fn fake_vertex(lifetime: u64, text: &str) -> FakeProvider {
    fake(json!({
        "vertex": {"client_email": EMAIL, "public_key_pem": TEST_PUBLIC_KEY,
                   "project": PROJECT, "location": LOCATION, "token_lifetime_secs": lifetime},
        "default": {"text": text},
    }))
    .await
}

/// The test service account's key file, its token endpoint the fake's.
pub(crate) fn key_json(fake: &FakeProvider, email: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": TEST_KEY,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{}/token", fake.base_url()),
    })
    .to_string()
}

pub(crate) fn vertex(
    name: &str,
    model: &str,
    fake: &FakeProvider,
    credentials: &str,
) -> ModelDefinition {
    let p: LitellmParams = serde_json::from_value(json!({
        "model": format!("vertex_ai/{model}"),
        "api_base": fake.base_url(),
        "vertex_project": PROJECT,
        "vertex_location": LOCATION,
        "vertex_credentials": credentials,
    }))
    .unwrap();
    ModelDefinition {
        model_name: name.into(),
        litellm_params: p,
        model_info: Default::default(),
    }
}

pub(crate) fn no_retries() -> RouterSettings {
    RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    }
}

/// The requests that reached the Vertex API (not the token endpoint).
pub(crate) fn api_requests(fake: &FakeProvider) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect()
}

pub(crate) fn only_api_request(fake: &FakeProvider) -> RecordedRequest {
    let reqs = api_requests(fake);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    reqs.into_iter().next().unwrap()
}

pub(crate) async fn post_openai(gw: &Running, path: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(format!("{}{path}", gw.base))
        .bearer_auth(MASTER_KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn claude_path(stream: bool) -> String {
    let method = if stream {
        "streamRawPredict"
    } else {
        "rawPredict"
    };
    format!(
        "/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/{CLAUDE}:{method}"
    )
}

/// Checks a Claude-on-Vertex request: path, bearer token, Vertex's body rules.
fn check_claude(up: &RecordedRequest, stream: bool) {
    assert_eq!(up.path, claude_path(stream));
    assert_eq!(up.query, None);
    assert_eq!(
        up.headers["authorization"],
        "Bearer ya29.fake-vertex-token-1"
    );
    assert!(!up.headers.contains_key("x-api-key"), "{:?}", up.headers);
    assert!(
        !up.headers.contains_key("anthropic-version"),
        "{:?}",
        up.headers
    );
    assert_eq!(up.body["anthropic_version"], "vertex-2023-10-16");
    assert!(up.body.get("model").is_none(), "{}", up.body);
    assert_eq!(up.body["stream"].as_bool().unwrap_or(false), stream);
}

#[tokio::test]
async fn claude_on_vertex_from_every_client_protocol_with_one_token() {
    let fake = fake_vertex(3600, "from vertex").await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    for stream in [false, true] {
        // Claude Code: the Messages body passes through, its betas in their header.
        fake.clear_requests();
        let resp = gw
            .post("/v1/messages", &claude_request("sonnet", stream))
            .await;
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.unwrap();
        let text = if stream {
            let r = rebuild(&bytes);
            assert!(r.error.is_none(), "{:?}", r.error);
            r.message["content"][0]["text"].clone()
        } else {
            serde_json::from_slice::<Value>(&bytes).unwrap()["content"][0]["text"].clone()
        };
        assert_eq!(text, "from vertex");
        let up = only_api_request(&fake);
        check_claude(&up, stream);
        assert_eq!(
            up.headers["anthropic-beta"],
            "claude-code-20250219,interleaved-thinking-2025-05-14"
        );
        assert_eq!(up.body["tools"][0]["name"], "Bash");

        // A Chat Completions client: translated to Messages.
        fake.clear_requests();
        let body = json!({"model": "sonnet", "stream": stream, "max_tokens": 300,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "hi"}]});
        let resp = post_openai(&gw, "/v1/chat/completions", &body).await;
        assert_eq!(resp.status(), 200);
        let text = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
        assert!(text.contains("from vertex"), "{text}");
        let up = only_api_request(&fake);
        check_claude(&up, stream);
        assert_eq!(up.body["system"][0]["text"], "Be brief.");
        assert_eq!(up.body["max_tokens"], 300);

        // A Responses client (Codex): translated to Messages.
        fake.clear_requests();
        let body = json!({"model": "sonnet", "instructions": "You are Codex.", "stream": stream,
            "store": false, "max_output_tokens": 500,
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "List the files."}]}]});
        let resp = post_openai(&gw, "/v1/responses", &body).await;
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.unwrap();
        let out = if stream {
            let r = rebuild_responses(&bytes);
            assert_eq!(r.terminal, "response.completed");
            r.response
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        assert!(out.to_string().contains("from vertex"), "{out}");
        let up = only_api_request(&fake);
        check_claude(&up, stream);
        assert_eq!(up.body["max_tokens"], 500);
    }
    // Token counting: Vertex's count-tokens model, the model id in the body.
    fake.clear_requests();
    let body = json!({"model": "sonnet", "messages": [{"role": "user", "content": "count me"}]});
    let resp = gw.post("/v1/messages/count_tokens", &body).await;
    assert_eq!(resp.status(), 200);
    let counted: Value = resp.json().await.unwrap();
    let up = only_api_request(&fake);
    assert_eq!(
        up.path,
        format!(
            "/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/count-tokens:rawPredict"
        )
    );
    assert_eq!(up.body["model"], CLAUDE);
    assert_eq!(up.body["anthropic_version"], "vertex-2023-10-16");
    // The fake counts a quarter of the body's bytes: the upstream's count, not the local one.
    assert_eq!(counted["input_tokens"], up.raw_body.len() / 4);
    assert_eq!(
        fake.vertex_tokens_minted(),
        1,
        "one token for seven requests"
    );
}

#[tokio::test]
async fn gemini_on_vertex_through_the_openai_compatible_endpoint() {
    let fake = fake_vertex(3600, "from gemini").await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![
            vertex("flash", "gemini-2.5-flash", &fake, &creds),
            vertex("sonnet", CLAUDE, &fake, &creds),
        ],
        HashMap::new(),
        no_retries(),
    )
    .await;
    let path =
        format!("/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions");
    for stream in [false, true] {
        fake.clear_requests();
        let body = json!({"model": "flash", "stream": stream, "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]});
        let resp = post_openai(&gw, "/v1/chat/completions", &body).await;
        assert_eq!(resp.status(), 200);
        let text = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
        assert!(text.contains("from gemini"), "{text}");
        let up = only_api_request(&fake);
        assert_eq!(
            (up.path.as_str(), up.query.as_deref()),
            (path.as_str(), None)
        );
        assert_eq!(
            up.headers["authorization"],
            "Bearer ya29.fake-vertex-token-1"
        );
        assert_eq!(up.body["model"], "google/gemini-2.5-flash");
        assert_eq!(up.body["stream"], stream);
        assert!(up.body.get("anthropic_version").is_none());

        // Claude Code's request, translated to Chat Completions.
        fake.clear_requests();
        let resp = gw
            .post("/v1/messages", &claude_request("flash", stream))
            .await;
        assert_eq!(resp.status(), 200);
        let up = only_api_request(&fake);
        assert_eq!(up.path, path);
        assert_eq!(up.body["model"], "google/gemini-2.5-flash");
        assert_eq!(up.body["messages"][0]["role"], "system");
    }
    // The Claude deployment shares the Gemini one's credentials, so its token too.
    fake.clear_requests();
    let resp = gw
        .post("/v1/messages", &claude_request("sonnet", false))
        .await;
    assert_eq!(resp.status(), 200);
    check_claude(&only_api_request(&fake), false);
    assert_eq!(fake.vertex_tokens_minted(), 1);
}

#[tokio::test]
async fn betas_vertex_does_not_take_are_dropped_after_its_400_and_the_request_sent_again() {
    let fake = fake(json!({
        "vertex": {"client_email": EMAIL, "public_key_pem": TEST_PUBLIC_KEY,
                   "unsupported_betas": ["interleaved-thinking-2025-05-14"]},
        "default": {"text": "ok"},
    }))
    .await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    for stream in [false, true] {
        fake.clear_requests();
        let resp = gw
            .post("/v1/messages", &claude_request("sonnet", stream))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let betas: Vec<String> = api_requests(&fake)
            .iter()
            .map(|r| r.headers["anthropic-beta"].clone())
            .collect();
        let expected: &[&str] = if stream {
            // Learned: sent without it at once.
            &["claude-code-20250219"]
        } else {
            &[
                "claude-code-20250219,interleaved-thinking-2025-05-14",
                "claude-code-20250219",
            ]
        };
        assert_eq!(betas, expected);
    }
}

/// Anthropic's own Vertex client (`AnthropicVertex` of the Python SDK, `AGENT_SHIM_TEST_PYTHON`)
/// passes the fake's checks with the paths the gateway uses: the fake's rules are Vertex's as
/// Anthropic's SDK knows them, not the gateway's own.
#[tokio::test]
async fn anthropics_own_vertex_client_passes_the_fakes_checks_on_the_gateways_paths() {
    let python = std::env::var("AGENT_SHIM_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_PYTHON is not set: it must name a Python with the PyPI package \
             `anthropic` (`bash .ci/run` makes that venv)"
        )
    });
    let fake = fake_vertex(3600, "from vertex").await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    for stream in [false, true] {
        let resp = gw
            .post("/v1/messages", &claude_request("sonnet", stream))
            .await;
        assert_eq!(resp.status(), 200);
    }
    let gateway_paths: Vec<String> = api_requests(&fake).iter().map(|r| r.path.clone()).collect();
    let token = api_requests(&fake)[0].headers["authorization"]
        .trim_start_matches("Bearer ")
        .to_owned();
    fake.clear_requests();
    let script = format!(
        r#"
from anthropic import AnthropicVertex
c = AnthropicVertex(region="{LOCATION}", project_id="{PROJECT}", access_token="{token}",
                    base_url="{base}/v1", max_retries=0)
m = c.messages.create(model="{CLAUDE}", max_tokens=50, messages=[{{"role": "user", "content": "hi"}}])
print(m.content[0].text)
with c.messages.stream(model="{CLAUDE}", max_tokens=50, messages=[{{"role": "user", "content": "hi"}}]) as s:
    print("".join(s.text_stream))
print(c.messages.count_tokens(model="{CLAUDE}", messages=[{{"role": "user", "content": "hi"}}]).input_tokens)
"#,
        base = fake.base_url()
    );
    let out = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], ["from vertex", "from vertex"]);
    let sdk = api_requests(&fake);
    let sdk_paths: Vec<&str> = sdk.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        sdk_paths[..2],
        gateway_paths[..2],
        "the gateway's paths are the SDK's"
    );
    assert_eq!(
        sdk_paths[2],
        format!(
            "/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/count-tokens:rawPredict"
        )
    );
    for r in &sdk[..2] {
        assert!(r.body.get("model").is_none() && r.body.get("anthropic_version").is_some());
    }
}
