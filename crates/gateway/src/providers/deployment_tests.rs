//! Unit tests of deployments resolved from definitions ([`super`]).

use super::*;
use crate::model::LitellmParams;
use std::collections::HashMap;

fn def(model: &str, base: Option<&str>) -> ModelDefinition {
    ModelDefinition {
        model_name: "m".into(),
        litellm_params: LitellmParams {
            model: model.into(),
            api_base: base.map(str::to_owned),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    }
}

#[test]
fn resolves_provider_endpoint_and_key() {
    let secrets: HashMap<String, String> = [("CEREBRAS_API_KEY".to_owned(), "k".to_owned())].into();
    let d = Deployment::new(def("cerebras/gpt-oss-120b", None), Origin::Config, &secrets).unwrap();
    assert_eq!(d.upstream_model, "gpt-oss-120b");
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "https://api.cerebras.ai/v1/chat/completions"
    );
    assert!(matches!(d.key, ApiKey::Value(ref v) if v.expose() == "k"));
    assert!(d.target.chat.drops("metadata") && d.target.chat.drops("top_k"));
    let d = Deployment::new(
        def("groq/moonshotai/kimi-k2", None),
        Origin::Config,
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(d.upstream_model, "moonshotai/kimi-k2");
    assert!(matches!(d.key, ApiKey::Missing { ref var } if var == "GROQ_API_KEY"));
}

#[test]
fn litellm_params_override_request_parameters() {
    let mut d = def("openai/gpt-6-sol", None);
    d.litellm_params
        .other
        .insert("reasoning_effort".into(), serde_json::json!("none"));
    d.litellm_params.rpm = Some(10);
    let d = Deployment::new(d, Origin::Config, &HashMap::new()).unwrap();
    let out = d.apply_overrides(br#"{"model":"x","reasoning_effort":"high","tools":[]}"#.to_vec());
    assert_eq!(
        out,
        br#"{"model":"x","reasoning_effort":"none","tools":[]}"#
    );
}

#[test]
fn anthropic_urls() {
    let none = HashMap::new();
    for base in [
        "https://api.anthropic.com",
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
    ] {
        let d =
            Deployment::new(def("anthropic/claude-x", Some(base)), Origin::Config, &none).unwrap();
        assert_eq!(
            d.shown_url(Endpoint::Generate),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            d.shown_url(Endpoint::CountTokens),
            "https://api.anthropic.com/v1/messages/count_tokens"
        );
    }
}

#[test]
fn errors_say_what_to_change() {
    let none = HashMap::new();
    let e = Deployment::new(def("nosuch/x", None), Origin::Config, &none).unwrap_err();
    assert!(e.to_string().contains("unknown provider 'nosuch'"), "{e}");
    assert!(e.to_string().contains("api_base"), "{e}");
    let e = Deployment::new(def("hosted_vllm/x", None), Origin::Config, &none).unwrap_err();
    assert!(e.to_string().contains("set litellm_params.api_base"), "{e}");
    let d = Deployment::new(
        def("nosuch/x", Some("http://h:1/v1")),
        Origin::Config,
        &none,
    )
    .unwrap();
    assert_eq!(
        d.shown_url(Endpoint::Generate),
        "http://h:1/v1/chat/completions"
    );
    assert_eq!(
        d.shown_url(Endpoint::Generate).as_str(),
        "http://h:1/v1/chat/completions"
    );
}

#[test]
fn api_base_that_is_not_a_url_is_a_definition_error() {
    let none = HashMap::new();
    let e = Deployment::new(
        def("openai/x", Some("localhost:8000/v1")),
        Origin::Config,
        &none,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("model 'm'"), "{msg}");
    assert!(msg.contains("litellm_params.api_base"), "{msg}");
    assert!(msg.contains("localhost:8000/v1/chat/completions"), "{msg}");
}

#[test]
fn deployment_debug_shows_no_credentials() {
    let mut d = def("openai/x", Some("http://user:URLPASS-1@h:1/v1"));
    d.litellm_params.api_key = SecretString::new("KEY-VALUE-2");
    d.litellm_params.extra_headers = Some([("X-Auth".to_owned(), "HDR-VALUE-3".to_owned())].into());
    d.litellm_params.other.insert(
        "aws_secret_access_key".into(),
        serde_json::json!("AWS-VALUE-4"),
    );
    let d = Deployment::new(d, Origin::Config, &HashMap::new()).unwrap();
    let shown = format!("{d:?}");
    for planted in ["URLPASS-1", "KEY-VALUE-2", "HDR-VALUE-3", "AWS-VALUE-4"] {
        assert!(!shown.contains(planted), "{planted} in {shown}");
    }
    assert!(
        shown.contains("user:[redacted]@h:1") && shown.contains("x-auth"),
        "{shown}"
    );
    let mut secrets = d.secret_values();
    secrets.sort_unstable();
    assert_eq!(
        secrets,
        ["HDR-VALUE-3", "KEY-VALUE-2", "URLPASS-1", "URLPASS-1"]
    );
}

#[test]
fn prices_come_from_model_info_under_litellm_params_and_bad_ones_name_the_key() {
    let secrets: HashMap<String, String> = HashMap::new();
    let mut d = def("ollama/mine", Some("http://127.0.0.1:1"));
    assert!(
        Deployment::new(d.clone(), Origin::Config, &secrets)
            .unwrap()
            .price
            .is_none()
    );
    d.model_info = serde_json::from_value(serde_json::json!({
        "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
        "cache_read_input_token_cost_above_200k_tokens": 5e-7
    }))
    .unwrap();
    // LiteLLM's custom pricing in litellm_params wins over model_info's.
    d.litellm_params
        .other
        .insert("output_cost_per_token".into(), serde_json::json!("3e-6"));
    let dep = Deployment::new(d.clone(), Origin::Config, &secrets).unwrap();
    let p = dep.price.as_deref().unwrap();
    assert_eq!(p.input, Some("0.000001".parse().unwrap()));
    assert_eq!(p.output, Some("0.000003".parse().unwrap()));
    assert_eq!(
        p.tiers[&200_000].cache_read,
        Some("0.0000005".parse().unwrap())
    );
    // Priced with them: 1,000 input × 1e-6 + 100 output × 3e-6 = 0.0013 USD = 1,300,000,000 pUSD.
    let mut rec = ledger::UsageRecord {
        provider: Some("ollama".into()),
        served_model: Some("mine".into()),
        tokens: ledger::Tokens {
            input: 1_000,
            output: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    dep.price_record(&ledger::prices::PriceBook::embedded(), &mut rec);
    assert_eq!(rec.cost_pico_usd, Some(1_300_000_000));
    assert_eq!(rec.price_version.as_deref(), Some("model_info"));

    d.model_info.other.insert(
        "cache_creation_input_token_cost_above_200k_tokens".into(),
        serde_json::json!("x"),
    );
    let e = Deployment::new(d, Origin::Config, &secrets).unwrap_err();
    assert!(
        e.to_string().contains(
            "model 'm': model_info.cache_creation_input_token_cost_above_200k_tokens: expected a price"
        ),
        "{e}"
    );
}
