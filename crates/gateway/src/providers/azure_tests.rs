//! Unit tests of the Azure URLs, versions and credentials (the request shapes against a fake
//! upstream are in tests/gateway/azure.rs).

use super::*;
use crate::model::{LitellmParams, ModelDefinition};
use crate::providers::deployment::{Endpoint, Origin};
use serde_json::json;
use std::collections::HashMap;

const RES: &str = "https://res.openai.azure.com";

#[test]
fn chat_urls_follow_the_deployment_and_the_version() {
    let chat = |base: &str, v: Option<&str>| azure_url(base, "gpt-x", Protocol::OpenAiChat, v);
    assert_eq!(
        chat(RES, None),
        format!("{RES}/openai/deployments/gpt-x/chat/completions?api-version=2025-02-01-preview")
    );
    assert_eq!(
        chat(RES, Some("2024-10-21")),
        format!("{RES}/openai/deployments/gpt-x/chat/completions?api-version=2024-10-21")
    );
    for base in [RES.to_owned(), format!("{RES}/openai")] {
        assert_eq!(
            chat(&base, Some("v1")),
            format!("{RES}/openai/v1/chat/completions")
        );
        assert_eq!(
            chat(&base, Some("preview")),
            format!("{RES}/openai/v1/chat/completions?api-version=preview")
        );
    }
    assert_eq!(
        chat(&format!("{RES}/openai/v1"), None),
        format!("{RES}/openai/v1/chat/completions")
    );
    assert_eq!(
        chat(
            &format!("{RES}/openai/deployments/other"),
            Some("2024-06-01")
        ),
        format!("{RES}/openai/deployments/other/chat/completions?api-version=2024-06-01")
    );
    assert_eq!(
        azure_url(RES, "my dep/1", Protocol::OpenAiChat, Some("2024-06-01")),
        format!("{RES}/openai/deployments/my%20dep%2F1/chat/completions?api-version=2024-06-01")
    );
}

#[test]
fn responses_urls_default_to_the_v1_preview() {
    let resp = |base: &str, v: Option<&str>| azure_url(base, "d", Protocol::OpenAiResponses, v);
    assert_eq!(
        resp(RES, None),
        format!("{RES}/openai/v1/responses?api-version=preview")
    );
    assert_eq!(
        resp(RES, Some("2025-04-01-preview")),
        format!("{RES}/openai/responses?api-version=2025-04-01-preview")
    );
    assert_eq!(resp(RES, Some("v1")), format!("{RES}/openai/v1/responses"));
    assert_eq!(
        resp(&format!("{RES}/openai/v1"), None),
        format!("{RES}/openai/v1/responses")
    );
}

#[test]
fn foundry_urls_and_which_hosts_take_api_key() {
    let f = "https://proj.services.ai.azure.com";
    assert_eq!(
        foundry_url(f, Protocol::OpenAiChat, None),
        format!("{f}/models/chat/completions?api-version=2024-05-01-preview")
    );
    assert_eq!(
        foundry_url(
            &format!("{f}/models"),
            Protocol::OpenAiChat,
            Some("2025-05-01")
        ),
        format!("{f}/models/chat/completions?api-version=2025-05-01")
    );
    assert_eq!(
        foundry_url(&format!("{f}/openai/v1"), Protocol::OpenAiChat, None),
        format!("{f}/openai/v1/chat/completions")
    );
    assert_eq!(
        foundry_url(&format!("{f}/openai/v1"), Protocol::OpenAiResponses, None),
        format!("{f}/openai/v1/responses")
    );
    let serverless = "https://m-abc.eastus2.models.ai.azure.com";
    assert_eq!(
        foundry_url(serverless, Protocol::OpenAiChat, None),
        format!("{serverless}/chat/completions")
    );
    assert!(
        azure_host(f) && azure_host(RES) && azure_host("https://x.cognitiveservices.azure.com/")
    );
    assert!(!azure_host(serverless) && !azure_host("http://127.0.0.1:9/openai.azure.com"));
}

fn def(model: &str, mut params: serde_json::Value) -> ModelDefinition {
    params["model"] = json!(model);
    let p: LitellmParams = serde_json::from_value(params).unwrap();
    ModelDefinition {
        model_name: "m".into(),
        litellm_params: p,
        model_info: Default::default(),
    }
}

fn secrets(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn deployments_resolve_base_version_and_limit_field_from_params_or_variables() {
    let s = secrets(&[
        ("AZURE_API_BASE", "https://env.openai.azure.com/"),
        ("AZURE_API_VERSION", "2024-06-01"),
        ("AZURE_OPENAI_API_KEY", "k"),
    ]);
    let d = Deployment::new(def("azure/gpt-4o", json!({})), Origin::Config, &s).unwrap();
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "https://env.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(d.target.chat.max_tokens_field, MaxTokensField::MaxTokens);
    assert!(matches!(d.key, ApiKey::Value(ref k) if k.expose() == "k"));
    assert!(d.direct_base().is_none());
    let d = Deployment::new(
        def(
            "azure/gpt-5",
            json!({"api_base": RES, "api_version": "os.environ/V"}),
        ),
        Origin::Config,
        &secrets(&[("V", "2025-04-01-preview")]),
    )
    .unwrap();
    assert!(
        d.shown_url(Endpoint::Generate)
            .ends_with("?api-version=2025-04-01-preview")
    );
    assert_eq!(
        d.target.chat.max_tokens_field,
        MaxTokensField::MaxCompletionTokens
    );
    let e = Deployment::new(def("azure/x", json!({})), Origin::Config, &secrets(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("AZURE_API_BASE") && e.contains("<resource>.openai.azure.com"),
        "{e}"
    );
}

#[test]
fn unsupported_logins_and_protocols_are_refused_with_the_fix() {
    let e = Deployment::new(
        def(
            "azure/x",
            json!({"api_base": RES, "azure_ad_token": "oidc/github/x"}),
        ),
        Origin::Config,
        &secrets(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("oidc/") && e.contains("az account get-access-token"),
        "{e}"
    );
    let e = Deployment::new(
        def(
            "azure_ai/x",
            json!({"api_base": "https://p.services.ai.azure.com",
            "tenant_id": "t", "client_id": "c", "client_secret": "s"}),
        ),
        Origin::Config,
        &secrets(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("client-credential") && e.contains("azure_ad_token"),
        "{e}"
    );
    let e = Deployment::new(
        def("azure/x", json!({"api_base": RES, "api_mode": "anthropic"})),
        Origin::Config,
        &secrets(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Chat Completions or Responses"), "{e}");
}

#[test]
fn a_literal_token_is_redacted_from_upstream_messages() {
    let d = Deployment::new(
        def(
            "azure/x",
            json!({"api_base": RES, "azure_ad_token": "eyJ-LITERAL-TOKEN"}),
        ),
        Origin::Config,
        &secrets(&[]),
    )
    .unwrap();
    assert!(d.secret_values().contains(&"eyJ-LITERAL-TOKEN"));
    assert!(!format!("{d:?}").contains("eyJ-LITERAL-TOKEN"));
}
