//! Reloading the configuration into the running gateway (`POST /admin/reload`), what `/health`
//! tells a command about the gateway (instance, requests in flight, the last reload), and
//! `POST /admin/keys`.

use crate::common::*;
use gateway::{ConfigSource, Instance, Loaded, Registered, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A configuration source a test changes between reloads: the definitions, or an error.
struct Files(Mutex<Result<Vec<gateway::ModelDefinition>, String>>);

impl ConfigSource for Files {
    fn load(&self) -> Result<Loaded, String> {
        let models = self.0.lock().unwrap().clone()?;
        Ok(Loaded {
            locations: models
                .iter()
                .map(|m| (m.model_name.clone(), "models.yaml:2:5".to_owned()))
                .collect(),
            models,
            restart_needed: vec!["port".into()],
            ..Loaded::default()
        })
    }
}

fn mock(name: &str, text: &str) -> gateway::ModelDefinition {
    gateway::ModelDefinition {
        model_name: name.into(),
        litellm_params: gateway::LitellmParams {
            model: "mock/x".into(),
            mock_response: Some(text.into()),
            ..Default::default()
        },
        model_info: Default::default(),
    }
}

async fn call(gw: &Running, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", gw.base);
    let req = match method {
        "GET" => gw.http.get(url),
        _ => gw.http.post(url).json(&body.unwrap_or(Value::Null)),
    };
    let r = req.bearer_auth(MASTER_KEY).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn text_of(gw: &Running, model: &str) -> Value {
    let v: Value = gw
        .post("/v1/messages", &claude_request(model, false))
        .await
        .json()
        .await
        .unwrap();
    v["content"][0]["text"].clone()
}

#[tokio::test]
async fn admin_reload_swaps_models_and_keeps_them_on_an_invalid_source() {
    let files = Arc::new(Files(Mutex::new(Ok(vec![mock("m", "first")]))));
    let mut cfg = config(
        vec![mock("m", "first")],
        HashMap::new(),
        RouterSettings::default(),
        Registered::Only(vec![]),
        None,
    );
    cfg.source = Some(files.clone());
    let gw = gateway_full(cfg).await;
    assert_eq!(text_of(&gw, "m").await, "first");
    // A first use registers (leases) the group; the lease must survive reloads.
    assert_eq!(
        call(&gw, "GET", "/v1/models", None).await.1["data"][0]["id"],
        "m"
    );

    *files.0.lock().unwrap() = Ok(vec![mock("m", "second"), mock("n", "new")]);
    let (status, v) = call(&gw, "POST", "/admin/reload", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["report"]["changed"], json!(["m", "n"]));
    assert_eq!(v["report"]["generation"], 1);
    assert!(
        v["report"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("port changed in"),
        "{v}"
    );
    assert_eq!(text_of(&gw, "m").await, "second");
    assert_eq!(text_of(&gw, "n").await, "new");

    *files.0.lock().unwrap() = Err("models.yaml:6:19: max_tokens: expected a number".into());
    let (status, v) = call(&gw, "POST", "/admin/reload", None).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        v["error"]["message"],
        "models.yaml:6:19: max_tokens: expected a number"
    );
    let mut bad = mock("m", "third");
    bad.litellm_params.model = "nosuch/x".into();
    bad.litellm_params.mock_response = None;
    *files.0.lock().unwrap() = Ok(vec![bad]);
    let (status, v) = call(&gw, "POST", "/admin/reload", None).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("models.yaml:2:5: model 'm': unknown provider 'nosuch'"),
        "{v}"
    );
    assert_eq!(
        text_of(&gw, "m").await,
        "second",
        "the old definitions stay"
    );
    let (_, h) = call(&gw, "GET", "/health", None).await;
    assert_eq!(h["config"]["generation"], 1);
    assert!(
        h["config"]["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown provider"),
        "{h}"
    );
    let (_, models) = call(&gw, "GET", "/v1/models", None).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["m", "n"],
        "the leases taken by use survived the reloads"
    );
}

#[tokio::test]
async fn health_reports_the_instance_and_the_requests_in_flight() {
    let fake = fake(json!({"protocols": ["anthropic"], "steps": [
        {"reply": {"text": "a b c d e f", "stream": {"delay_ms": 200, "text_chunks": 6}}}
    ]}))
    .await;
    let mut cfg = config(
        vec![def("m", "anthropic/claude-x", &fake.base_url())],
        HashMap::new(),
        RouterSettings::default(),
        Registered::All,
        None,
    );
    cfg.instance = Instance {
        id: "0123456789abcdef".into(),
        state_dir: Some("/home/u/.local/state/agent-shim".into()),
        uid: Some(1000),
    };
    let gw = gateway_full(cfg).await;
    let health = || async {
        let r = reqwest::get(format!("{}/health", gw.base)).await.unwrap();
        r.json::<Value>().await.unwrap()
    };
    let h = health().await;
    assert_eq!(h["instance"], "0123456789abcdef");
    assert_eq!(h["state_dir"], "/home/u/.local/state/agent-shim");
    assert_eq!(h["uid"], 1000);
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["open_requests"], 0);

    let mut stream = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(stream.status(), 200);
    stream.chunk().await.unwrap();
    assert_eq!(health().await["open_requests"], 1, "a stream is open");
    while stream.chunk().await.unwrap().is_some() {}
    // The count drops when the server has finished with the body.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while health().await["open_requests"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream stays counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A client that goes away mid-stream is no longer counted either.
    let stream = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(health().await["open_requests"], 1);
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while health().await["open_requests"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a dropped stream stays counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn admin_keys_reports_what_the_gateway_itself_has() {
    let mut needs = def("needs-key", "openai/x", "http://127.0.0.1:9/v1");
    needs.litellm_params.api_key = gateway::SecretString::new("os.environ/NOT_SET_HERE");
    let mut failing = def("bad-command", "openai/y", "http://127.0.0.1:9/v1");
    failing.litellm_params.key_command = Some(vec!["false".into()]);
    let gw = gateway(vec![
        needs,
        failing,
        def("has-key", "openai/z", "http://127.0.0.1:9/v1"),
        mock("keyless", "hi"),
    ])
    .await;
    let (status, v) = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(json!({"models": ["needs-key", "bad-command", "has-key", "keyless", "nope"]})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let by: HashMap<&str, &Value> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["model_name"].as_str().unwrap(), g))
        .collect();
    assert_eq!(by["needs-key"]["usable"], false);
    assert_eq!(by["needs-key"]["deployments"][0]["key"], "missing");
    assert_eq!(by["needs-key"]["deployments"][0]["var"], "NOT_SET_HERE");
    assert_eq!(by["bad-command"]["usable"], false);
    assert_eq!(by["bad-command"]["deployments"][0]["key"], "command_failed");
    assert_eq!(by["has-key"]["usable"], true);
    assert_eq!(by["keyless"]["usable"], true);
    assert_eq!(by["keyless"]["deployments"][0]["key"], "none");
    assert_eq!(by["nope"]["defined"], false);
    assert!(
        !v.to_string().contains("sk-upstream"),
        "keys are never shown: {v}"
    );
    let (status, _) = call(&gw, "POST", "/admin/keys", Some(json!({"model": "x"}))).await;
    assert_eq!(status, 400);
}
