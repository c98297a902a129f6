//! The LiteLLM-compatible admin API and registration on first use.

use crate::common::*;
use gateway::{LeaseSink, Registered, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

impl Running {
    async fn admin(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let req = match body {
            Some(b) => self.http.post(format!("{}{path}", self.base)).json(&b),
            None => self.http.get(format!("{}{path}", self.base)),
        };
        let r = req.bearer_auth(MASTER_KEY).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn model_ids(&self) -> Vec<String> {
        let (_, v) = self.admin("/v1/models", None).await;
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn model_new_serves_lists_and_delete_removes() {
    let fake =
        fake(json!({"protocols": ["openai-chat"], "default": {"text": "added at runtime"}})).await;
    let gw = gateway(vec![]).await;
    let (status, created) = gw
        .admin(
            "/model/new",
            Some(json!({"model_name": "late", "litellm_params": {
                "model": "openai/x", "api_base": format!("{}/v1", fake.base_url()), "api_key": "sk-secret-upstream"}})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["litellm_params"]["api_key"], "[redacted]");
    let id = created["model_id"].as_str().unwrap().to_owned();
    assert_eq!(gw.model_ids().await, ["late"]);
    let body: Value = gw
        .post("/v1/messages", &claude_request("late", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "added at runtime");
    assert_eq!(
        fake.requests()[0].headers["authorization"],
        "Bearer sk-secret-upstream"
    );

    let (_, info) = gw.admin("/model/info", None).await;
    assert_eq!(info["data"][0]["model_info"]["id"], id.as_str());
    assert_eq!(info["data"][0]["model_info"]["registered"], true);
    assert!(!info.to_string().contains("sk-secret-upstream"));

    let (status, _) = gw.admin("/model/delete", Some(json!({"id": id}))).await;
    assert_eq!(status, 200);
    assert!(gw.model_ids().await.is_empty());
    assert_eq!(
        gw.post("/v1/messages", &claude_request("late", false))
            .await
            .status(),
        404
    );
    let (status, e) = gw.admin("/model/delete", Some(json!({"id": id}))).await;
    assert_eq!(status, 404);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /model/info")
    );
}

#[tokio::test]
async fn bad_admin_requests_say_what_is_expected() {
    let gw = gateway(vec![]).await;
    let (status, e) = gw
        .admin("/model/new", Some(json!({"model_name": "x"})))
        .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("litellm_params"),
        "{e}"
    );
    let (status, e) = gw
        .admin(
            "/model/new",
            Some(json!({"model_name": "x", "litellm_params": {"model": "nosuch/y"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown provider 'nosuch'"),
        "{e}"
    );
    let r = gw
        .http
        .get(format!("{}/model/info", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the admin API needs the master key");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl LeaseSink for Recorder {
    fn leased(&self, model_name: &str) {
        self.0.lock().unwrap().push(model_name.to_owned());
    }
}

#[tokio::test]
async fn a_defined_but_unregistered_model_is_served_and_leased() {
    let recorder = Arc::new(Recorder::default());
    let gw = gateway_full(config(
        vec![
            def("cold", "openai/x", "http://127.0.0.1:9/v1"),
            crate::misc_endpoints::mock("warm", "hi"),
        ],
        HashMap::new(),
        RouterSettings::default(),
        Registered::Only(vec![]),
        Some(recorder.clone()),
    ))
    .await;
    assert!(gw.model_ids().await.is_empty(), "defined, not registered");
    let body: Value = gw
        .post("/v1/messages", &claude_request("warm", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "hi");
    assert_eq!(gw.model_ids().await, ["warm"]);
    gw.post("/v1/messages", &claude_request("warm", false))
        .await;
    assert_eq!(
        *recorder.0.lock().unwrap(),
        ["warm"],
        "leased once, on first use"
    );
    let (status, _) = gw
        .admin("/model/delete", Some(json!({"model_name": "warm"})))
        .await;
    assert_eq!(status, 200);
    assert!(gw.model_ids().await.is_empty());
    let body: Value = gw
        .post("/v1/messages", &claude_request("warm", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["content"][0]["text"], "hi",
        "a configured definition stays servable after unregistering"
    );
}
