//! Vertex AI credentials and tokens against the fake's Google token endpoint: one token for
//! concurrent first requests, replaced before expiry in the background, replaced after Vertex
//! refuses it, a refused token request and definitions without a project or readable
//! credentials named with the fix, application default credentials.

use crate::common::*;
use crate::vertex::*;
use fake_provider::FakeProvider;
use gateway::{Gateway, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn concurrent_first_requests_wait_for_one_token() {
    let fake = fake_vertex(3600, "ok").await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    let gw = std::sync::Arc::new(gw);
    let calls = (0..8).map(|_| {
        let gw = gw.clone();
        tokio::spawn(async move {
            gw.post("/v1/messages", &claude_request("sonnet", false))
                .await
                .status()
        })
    });
    for status in futures_util::future::join_all(calls).await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(api_requests(&fake).len(), 8);
    assert_eq!(fake.vertex_tokens_minted(), 1, "single flight");
}

#[tokio::test]
async fn a_token_near_its_expiry_is_replaced_in_the_background() {
    // An 8 s token is replaced from 6 s on (a quarter of its life before expiry) and used
    // until 7.2 s.
    let fake = fake_vertex(8, "ok").await;
    let creds = key_json(&fake, EMAIL);
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    let token_of_last =
        |fake: &FakeProvider| api_requests(fake).last().unwrap().headers["authorization"].clone();
    assert_eq!(
        gw.post("/v1/messages", &claude_request("sonnet", false))
            .await
            .status(),
        200
    );
    assert_eq!(token_of_last(&fake), "Bearer ya29.fake-vertex-token-1");
    assert_eq!(fake.vertex_tokens_minted(), 1);
    tokio::time::sleep(Duration::from_millis(6300)).await;
    // This request goes on at once (with the current token, or the new one if the machine was
    // slow) and starts the replacement.
    assert_eq!(
        gw.post("/v1/messages", &claude_request("sonnet", false))
            .await
            .status(),
        200
    );
    for _ in 0..100 {
        if fake.vertex_tokens_minted() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.vertex_tokens_minted(), 2, "replaced before expiry");
    // The fake counts a token when it answers; the gateway stores it a moment later, so the
    // next requests take the new token within a few tries (well before the old one expires).
    for _ in 0..20 {
        assert_eq!(
            gw.post("/v1/messages", &claude_request("sonnet", false))
                .await
                .status(),
            200
        );
        if token_of_last(&fake) == "Bearer ya29.fake-vertex-token-2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(token_of_last(&fake), "Bearer ya29.fake-vertex-token-2");
    assert_eq!(fake.vertex_tokens_minted(), 2, "and not again");
}

#[tokio::test]
async fn a_token_vertex_refuses_is_replaced_and_the_request_tried_again() {
    let fake = fake_vertex(3600, "ok").await;
    let creds = key_json(&fake, EMAIL);
    let retry_once = RouterSettings {
        num_retries: 1,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        retry_once,
    )
    .await;
    assert_eq!(
        gw.post("/v1/messages", &claude_request("sonnet", false))
            .await
            .status(),
        200
    );
    fake.revoke_vertex_tokens();
    fake.clear_requests();
    let resp = gw
        .post("/v1/messages", &claude_request("sonnet", false))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let tokens: Vec<String> = api_requests(&fake)
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(
        tokens,
        [
            "Bearer ya29.fake-vertex-token-1",
            "Bearer ya29.fake-vertex-token-2"
        ],
        "refused (401), then a new token"
    );
    assert_eq!(fake.vertex_tokens_minted(), 2);
}

#[tokio::test]
async fn a_refused_token_request_is_an_error_naming_the_credentials_in_the_client_format() {
    let fake = fake_vertex(3600, "never").await;
    // The fake knows only EMAIL's key: Google answers invalid_grant for another account.
    let creds = key_json(&fake, "deleted-sa@test-project.iam.gserviceaccount.com");
    let gw = gateway_with(
        vec![vertex("sonnet", CLAUDE, &fake, &creds)],
        HashMap::new(),
        no_retries(),
    )
    .await;
    let resp = gw
        .post("/v1/messages", &claude_request("sonnet", false))
        .await;
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "permission_error");
    let msg = err["error"]["message"].as_str().unwrap();
    for part in [
        "'sonnet'",
        "deleted-sa@test-project.iam.gserviceaccount.com",
        "litellm_params.vertex_credentials",
        "invalid_grant",
        "account not found",
    ] {
        assert!(msg.contains(part), "{part} not in {msg}");
    }
    assert!(!msg.contains("PRIVATE KEY"), "{msg}");
    let body = json!({"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_openai(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{err}"
    );
    assert!(
        api_requests(&fake).is_empty(),
        "nothing reaches Vertex without a token"
    );
    assert_eq!(fake.vertex_tokens_minted(), 0);
    // The refusal is remembered for a moment: two requests, one token request.
    let token_requests = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/token")
        .count();
    assert_eq!(token_requests, 1, "{:?}", fake.requests());
}

#[tokio::test]
async fn definitions_without_a_project_or_readable_credentials_are_named_at_load() {
    let fake = fake_vertex(3600, "never").await;
    let mut no_project = vertex(
        "np",
        CLAUDE,
        &fake,
        &key_json(&fake, EMAIL).replace(&format!("\"project_id\":\"{PROJECT}\","), ""),
    );
    no_project.litellm_params.other.remove("vertex_project");
    let unreadable = vertex("ur", CLAUDE, &fake, "/nonexistent/agent-shim/sa.json");
    let empty = std::env::temp_dir().join("agent-shim-vertex-no-gcloud");
    let secrets: HashMap<String, String> =
        [("CLOUDSDK_CONFIG".to_owned(), empty.display().to_string())].into();
    let mut none = vertex("nc", CLAUDE, &fake, "x");
    none.litellm_params.other.remove("vertex_credentials");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(
        vec![no_project, unreadable, none],
        secrets,
        no_retries(),
        gateway::Registered::All,
        None,
    );
    let (_g, errors) = Gateway::with_listener(listener, cfg);
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let find = |name: &str| errors.iter().find(|e| e.contains(name)).unwrap().clone();
    let e = find("'np'");
    assert!(
        e.contains("no Google Cloud project") && e.contains("litellm_params.vertex_project"),
        "{e}"
    );
    let e = find("'ur'");
    assert!(
        e.contains("litellm_params.vertex_credentials") && e.contains("cannot read"),
        "{e}"
    );
    assert!(e.contains("/nonexistent/agent-shim/sa.json"), "{e}");
    let e = find("'nc'");
    assert!(
        e.contains("no Google credentials") && e.contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{e}"
    );
}

/// Application default credentials: the key file GOOGLE_APPLICATION_CREDENTIALS names, and the
/// project from the key when the definition names none.
#[tokio::test]
async fn google_application_credentials_and_the_keys_project() {
    let fake = fake_vertex(3600, "adc").await;
    let dir = std::env::temp_dir().join(format!("agent-shim-vertex-adc-{}", std::process::id()));
    tokio::fs::create_dir_all(&dir).await.unwrap();
    let file = dir.join("sa.json");
    tokio::fs::write(&file, key_json(&fake, EMAIL))
        .await
        .unwrap();
    let mut d = vertex("flash", "gemini-2.5-flash", &fake, "unused");
    for k in ["vertex_credentials", "vertex_project"] {
        d.litellm_params.other.remove(k);
    }
    let secrets: HashMap<String, String> = [(
        "GOOGLE_APPLICATION_CREDENTIALS".to_owned(),
        file.display().to_string(),
    )]
    .into();
    let gw = gateway_with(vec![d], secrets, no_retries()).await;
    let body = json!({"model": "flash", "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_openai(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let up = only_api_request(&fake);
    assert_eq!(
        up.path,
        format!("/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions")
    );
    assert_eq!(
        up.headers["authorization"],
        "Bearer ya29.fake-vertex-token-1"
    );
    tokio::fs::remove_dir_all(&dir).await.ok();
}
