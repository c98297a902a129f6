#![allow(clippy::disallowed_methods)] // test set-up: key files

use super::*;
use crate::model::{LitellmParams, ModelDefinition};
use crate::providers::deployment::Origin;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The TEST-ONLY service-account key (crates/fake-provider/fixtures).
const TEST_KEY: &str = include_str!("../../../../fake-provider/fixtures/vertex-test-sa.key.pem");

fn key_json(project: Option<&str>) -> Value {
    let mut k = json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "0123456789abcdef",
        "private_key": TEST_KEY,
        "client_email": "agent-shim-test@test-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    if project.is_none() {
        k.as_object_mut().unwrap().remove("project_id");
    }
    k
}

fn def(model: &str, params: Value) -> ModelDefinition {
    let mut params = params;
    params["model"] = json!(model);
    ModelDefinition {
        model_name: "m".into(),
        litellm_params: serde_json::from_value::<LitellmParams>(params).unwrap(),
        model_info: Default::default(),
    }
}

fn secrets(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let empty = std::env::temp_dir().join("agent-shim-vertex-no-gcloud");
    let mut m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // No gcloud ADC file is picked up from the machine running the tests.
    m.entry("CLOUDSDK_CONFIG".into())
        .or_insert_with(|| empty.display().to_string());
    m
}

fn deploy(model: &str, params: Value, s: &HashMap<String, String>) -> Result<Deployment, String> {
    Deployment::new(def(model, params), Origin::Config, s).map_err(|e| e.to_string())
}

#[test]
fn claude_goes_to_raw_predict_and_gemini_to_the_openai_endpoint() {
    let k = VertexKind;
    assert_eq!(
        k.route(Protocol::Anthropic, "claude-sonnet-4-5@20250929"),
        (Protocol::Anthropic, "claude-sonnet-4-5@20250929".into())
    );
    assert_eq!(
        k.route(Protocol::Anthropic, "gemini-2.5-pro"),
        (Protocol::OpenAiChat, "google/gemini-2.5-pro".into())
    );
    assert_eq!(
        k.route(
            Protocol::Anthropic,
            "meta/llama-4-maverick-17b-128e-instruct-maas"
        ),
        (
            Protocol::OpenAiChat,
            "meta/llama-4-maverick-17b-128e-instruct-maas".into()
        )
    );
    let s = secrets(&[]);
    let creds = key_json(Some("proj-1")).to_string();
    let p = json!({"vertex_credentials": creds, "vertex_location": "us-east5"});
    let d = deploy("vertex_ai/claude-sonnet-4-5@20250929", p.clone(), &s).unwrap();
    assert_eq!(d.protocol(), Protocol::Anthropic);
    let models = "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models";
    assert_eq!(
        d.transport.shown_url(Endpoint::Generate, false),
        format!("{models}/claude-sonnet-4-5@20250929:rawPredict")
    );
    assert_eq!(
        d.transport.shown_url(Endpoint::Generate, true),
        format!("{models}/claude-sonnet-4-5@20250929:streamRawPredict")
    );
    assert_eq!(
        d.transport.shown_url(Endpoint::CountTokens, false),
        format!("{models}/count-tokens:rawPredict")
    );
    let d = deploy("vertex_ai/gemini-2.5-pro", p, &s).unwrap();
    assert_eq!(d.protocol(), Protocol::OpenAiChat);
    assert_eq!(d.target.chat.model, "google/gemini-2.5-pro");
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/endpoints/openapi/chat/completions"
    );
}

#[test]
fn global_location_default_location_and_api_base() {
    let creds = key_json(Some("proj-1")).to_string();
    let s = secrets(&[]);
    let d = deploy(
        "vertex_ai/claude-opus-4-1@20250805",
        json!({"vertex_credentials": creds, "vertex_location": "global"}),
        &s,
    )
    .unwrap();
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "https://aiplatform.googleapis.com/v1/projects/proj-1/locations/global/publishers/anthropic/models/claude-opus-4-1@20250805:rawPredict"
    );
    // LiteLLM's default location; the project and location from its variables.
    let s = secrets(&[
        ("VERTEXAI_PROJECT", "env-proj"),
        ("VERTEXAI_LOCATION", "europe-west1"),
    ]);
    let d = deploy(
        "vertex_ai/gemini-2.5-flash",
        json!({"vertex_credentials": creds}),
        &s,
    )
    .unwrap();
    assert!(
        d.shown_url(Endpoint::Generate).starts_with(
            "https://europe-west1-aiplatform.googleapis.com/v1/projects/env-proj/locations/europe-west1/"
        ),
        "{}",
        d.shown_url(Endpoint::Generate)
    );
    let s = secrets(&[]);
    let d = deploy(
        "vertex_ai/gemini-2.5-flash",
        json!({"vertex_credentials": creds}),
        &s,
    )
    .unwrap();
    assert!(d.shown_url(Endpoint::Generate).starts_with(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-central1/"
    ));
    // api_base replaces the host; with the resource path it is used as it is.
    let d = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": creds, "api_base": "http://127.0.0.1:9/"}),
        &s,
    )
    .unwrap();
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "http://127.0.0.1:9/v1/projects/proj-1/locations/us-central1/publishers/anthropic/models/claude-x@1:rawPredict"
    );
    let gw = "https://gateway.example/v1/acct/gw/google-vertex-ai/v1/projects/p/locations/l/publishers/anthropic/models/claude-x@1";
    let d = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": creds, "api_base": gw}),
        &s,
    )
    .unwrap();
    assert_eq!(
        d.transport.shown_url(Endpoint::Generate, true),
        format!("{gw}:streamRawPredict")
    );
}

#[test]
fn the_messages_body_loses_model_and_gains_the_vertex_version() {
    let body = br#"{"model":"claude-x@1","max_tokens":10,"stream":true,"messages":[]}"#.to_vec();
    let out: Value = serde_json::from_slice(&VertexTransport::anthropic_body(
        body.clone(),
        Endpoint::Generate,
    ))
    .unwrap();
    assert_eq!(
        out,
        json!({"max_tokens":10,"stream":true,"messages":[],"anthropic_version":"vertex-2023-10-16"})
    );
    let out: Value = serde_json::from_slice(&VertexTransport::anthropic_body(
        body,
        Endpoint::CountTokens,
    ))
    .unwrap();
    assert_eq!(out["model"], "claude-x@1");
    assert_eq!(out["anthropic_version"], ANTHROPIC_VERSION);
}

#[test]
fn credentials_inline_from_a_file_a_mapping_or_a_variable() {
    let dir = std::env::temp_dir().join(format!("agent-shim-vertex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sa.json");
    std::fs::write(&file, key_json(Some("file-proj")).to_string()).unwrap();
    let path = file.display().to_string();
    let var_json = key_json(Some("var-proj")).to_string();
    let s = secrets(&[("SA_JSON", var_json.as_str()), ("SA_PATH", path.as_str())]);
    let project = |params: Value, s: &HashMap<String, String>| {
        let d = deploy("vertex_ai/gemini-2.5-flash", params, s).unwrap();
        d.shown_url(Endpoint::Generate)
            .split("/projects/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        project(json!({"vertex_credentials": path}), &s),
        "file-proj"
    );
    assert_eq!(
        project(json!({"vertex_credentials": "os.environ/SA_JSON"}), &s),
        "var-proj"
    );
    assert_eq!(
        project(json!({"vertex_ai_credentials": "os.environ/SA_PATH"}), &s),
        "file-proj"
    );
    assert_eq!(
        project(
            json!({"vertex_credentials": key_json(Some("map-proj"))}),
            &s
        ),
        "map-proj"
    );
    assert_eq!(
        project(
            json!({"vertex_credentials": path, "vertex_project": "given"}),
            &s
        ),
        "given"
    );
    let s = secrets(&[("GOOGLE_APPLICATION_CREDENTIALS", path.as_str())]);
    assert_eq!(project(json!({}), &s), "file-proj");
    let vc_json = key_json(Some("vc-proj")).to_string();
    let s = secrets(&[("VERTEXAI_CREDENTIALS", vc_json.as_str())]);
    assert_eq!(project(json!({}), &s), "vc-proj");
    // gcloud's ADC file.
    let gcloud = dir.join("gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        json!({"type": "authorized_user", "client_id": "c", "client_secret": "s",
            "refresh_token": "r", "quota_project_id": "quota-proj"})
        .to_string(),
    )
    .unwrap();
    let gcloud_dir = gcloud.display().to_string();
    let s = secrets(&[("CLOUDSDK_CONFIG", gcloud_dir.as_str())]);
    assert_eq!(project(json!({}), &s), "quota-proj");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn definition_errors_name_the_parameter_and_the_fix_and_no_secret() {
    let s = secrets(&[]);
    let e = deploy("vertex_ai/claude-x@1", json!({}), &s).unwrap_err();
    assert!(e.contains("no Google credentials"), "{e}");
    assert!(
        e.contains("vertex_credentials") && e.contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{e}"
    );
    assert!(e.contains("gcloud auth application-default login"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": "/no/such/sa.json"}),
        &s,
    )
    .unwrap_err();
    assert!(
        e.contains("cannot read the credentials file /no/such/sa.json"),
        "{e}"
    );
    assert!(e.contains("litellm_params.vertex_credentials"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": "os.environ/NOPE"}),
        &s,
    )
    .unwrap_err();
    assert!(e.contains("os.environ/NOPE, which is not set"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": "{\"type\": \"service_account\", \"private_key\": \"PRIVATE-SECRET\"}"}),
        &s,
    )
    .unwrap_err();
    assert!(
        e.contains("not a complete service-account key (missing field"),
        "{e}"
    );
    assert!(!e.contains("PRIVATE-SECRET"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": "{not json SECRET"}),
        &s,
    )
    .unwrap_err();
    assert!(e.contains("is not JSON") && !e.contains("SECRET"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": key_json(None).to_string()}),
        &s,
    )
    .unwrap_err();
    assert!(
        e.contains("no Google Cloud project") && e.contains("vertex_project"),
        "{e}"
    );
    assert!(e.contains("VERTEXAI_PROJECT"), "{e}");
    let e = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": key_json(Some("p")).to_string(), "vertex_location": "us east/5"}),
        &s,
    )
    .unwrap_err();
    assert!(
        e.contains("litellm_params.vertex_location 'us east/5'"),
        "{e}"
    );
    let d = deploy(
        "vertex_ai/claude-x@1",
        json!({"vertex_credentials": key_json(Some("p")).to_string()}),
        &s,
    )
    .unwrap();
    let shown = format!("{d:?}");
    assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
}

#[test]
fn betas_vertex_names_as_unexpected_are_read_from_its_error() {
    let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"Unexpected value(s) `adaptive-thinking-2026-01-28`, `effort-2025-11-24` for the `anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the header."}}"#;
    assert_eq!(
        unexpected_betas(body),
        ["adaptive-thinking-2026-01-28", "effort-2025-11-24"]
    );
    assert!(unexpected_betas(br#"{"error":{"message":"invalid beta flag"}}"#).is_empty());
    assert!(unexpected_betas(b"Unexpected value(s) `x` for the `tools` field").is_empty());
}
