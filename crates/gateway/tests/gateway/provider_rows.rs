//! The OpenAI-compatible provider rows, table-driven against the fake upstream: each row's
//! endpoint variable (or `api_base`) and path, its key variable (LiteLLM's names, aliases
//! included) as a bearer token, its model id, and one documented quirk (a rejected parameter
//! removed, the output limit under the field the provider reads).

use crate::common::*;
use gateway::{LitellmParams, ModelDefinition, RouterSettings, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// One row under test.
struct Row {
    prefix: &'static str,
    model: &'static str,
    /// The row's base variable (None: `api_base` in the definition), and the path under the fake.
    base_var: Option<&'static str>,
    base_path: &'static str,
    /// The variable the key is read from (None: `api_key` in the definition).
    key_var: Option<&'static str>,
    /// The path the request must reach.
    path: &'static str,
    /// The model id the upstream must see.
    upstream_model: &'static str,
    /// A parameter the row rejects (sent by the client, never upstream).
    rejected: Option<&'static str>,
    /// The field the output limit must arrive in.
    limit_field: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        prefix: "together_ai",
        model: "openai/gpt-oss-120b",
        base_var: Some("TOGETHER_AI_API_BASE"),
        base_path: "/v1",
        key_var: Some("TOGETHER_API_KEY"),
        path: "/v1/chat/completions",
        upstream_model: "openai/gpt-oss-120b",
        rejected: Some("store"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "fireworks_ai",
        model: "kimi-k2p7",
        base_var: Some("FIREWORKS_API_BASE"),
        base_path: "/inference/v1",
        key_var: Some("FIREWORKS_AI_API_KEY"),
        path: "/inference/v1/chat/completions",
        upstream_model: "accounts/fireworks/models/kimi-k2p7",
        rejected: Some("metadata"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "nvidia_nim",
        model: "qwen/qwen3.8-27b",
        base_var: Some("NVIDIA_NIM_API_BASE"),
        base_path: "/v1",
        key_var: Some("NVIDIA_NIM_API_KEY"),
        path: "/v1/chat/completions",
        upstream_model: "qwen/qwen3.8-27b",
        rejected: Some("parallel_tool_calls"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "github",
        model: "openai/gpt-5.4-mini",
        base_var: Some("GITHUB_API_BASE"),
        base_path: "/inference",
        key_var: Some("GITHUB_TOKEN"),
        path: "/inference/chat/completions",
        upstream_model: "openai/gpt-5.4-mini",
        rejected: Some("user"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "cloudflare",
        model: "@cf/openai/gpt-oss-120b",
        // LiteLLM's native base: read as the same account's OpenAI-compatible one.
        base_var: Some("CLOUDFLARE_API_BASE"),
        base_path: "/client/v4/accounts/acc42/ai/run/",
        key_var: Some("CLOUDFLARE_API_KEY"),
        path: "/client/v4/accounts/acc42/ai/v1/chat/completions",
        upstream_model: "@cf/openai/gpt-oss-120b",
        rejected: Some("logit_bias"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "cohere",
        model: "command-a-03-2025",
        base_var: None,
        base_path: "/compatibility/v1",
        key_var: Some("CO_API_KEY"),
        path: "/compatibility/v1/chat/completions",
        upstream_model: "command-a-03-2025",
        rejected: Some("parallel_tool_calls"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "perplexity",
        model: "sonar-pro",
        base_var: Some("PERPLEXITY_API_BASE"),
        base_path: "",
        key_var: Some("PERPLEXITY_API_KEY"),
        path: "/chat/completions",
        upstream_model: "sonar-pro",
        rejected: Some("metadata"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "moonshot",
        model: "kimi-k2.7",
        base_var: Some("MOONSHOT_API_BASE"),
        base_path: "/v1",
        key_var: Some("MOONSHOT_API_KEY"),
        path: "/v1/chat/completions",
        upstream_model: "kimi-k2.7",
        rejected: Some("store"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "zai",
        model: "glm-5.2",
        base_var: Some("ZAI_API_BASE"),
        base_path: "/api/paas/v4",
        key_var: Some("ZAI_API_KEY"),
        path: "/api/paas/v4/chat/completions",
        upstream_model: "glm-5.2",
        rejected: Some("logit_bias"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "dashscope",
        model: "qwen3.8-plus",
        base_var: Some("DASHSCOPE_API_BASE"),
        base_path: "/compatible-mode/v1",
        key_var: Some("DASHSCOPE_API_KEY"),
        path: "/compatible-mode/v1/chat/completions",
        upstream_model: "qwen3.8-plus",
        rejected: Some("service_tier"),
        limit_field: "max_tokens",
    },
    Row {
        prefix: "lm_studio",
        model: "qwen3-coder-30b",
        base_var: Some("LM_STUDIO_API_BASE"),
        base_path: "/v1",
        key_var: Some("LM_STUDIO_API_KEY"),
        path: "/v1/chat/completions",
        upstream_model: "qwen3-coder-30b",
        rejected: None,
        limit_field: "max_tokens",
    },
    Row {
        prefix: "openai_like",
        model: "my-model",
        base_var: None,
        base_path: "/any/v1",
        key_var: None,
        path: "/any/v1/chat/completions",
        upstream_model: "my-model",
        rejected: None,
        limit_field: "max_tokens",
    },
    Row {
        prefix: "custom_openai",
        model: "org/model",
        base_var: None,
        base_path: "/custom",
        key_var: None,
        path: "/custom/chat/completions",
        upstream_model: "org/model",
        rejected: None,
        limit_field: "max_tokens",
    },
];

fn key_of(row: &Row) -> String {
    format!("key-for-{}", row.prefix)
}

#[tokio::test]
async fn every_row_reaches_its_path_with_its_key_and_quirks() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {"text": "ok"}})).await;
    let mut secrets: HashMap<String, String> = HashMap::new();
    let mut models = Vec::new();
    for row in ROWS {
        let base = format!("{}{}", fake.base_url(), row.base_path);
        let mut p = LitellmParams {
            model: format!("{}/{}", row.prefix, row.model),
            ..LitellmParams::default()
        };
        match row.base_var {
            Some(var) => {
                secrets.insert(var.to_owned(), base);
            }
            None => p.api_base = Some(base),
        }
        match row.key_var {
            Some(var) => {
                secrets.insert(var.to_owned(), key_of(row));
            }
            None => p.api_key = SecretString::new(key_of(row)),
        }
        models.push(ModelDefinition {
            model_name: row.prefix.to_owned(),
            litellm_params: p,
            model_info: Default::default(),
        });
    }
    let router = RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let gw = gateway_with(models, secrets, router).await;
    for row in ROWS {
        fake.clear_requests();
        let mut body = json!({"model": row.prefix, "max_completion_tokens": 77,
            "messages": [{"role": "user", "content": "hi"}]});
        if let Some(p) = row.rejected {
            body[p] = json!(true);
        }
        let resp = gw
            .http
            .post(format!("{}/v1/chat/completions", gw.base))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", row.prefix);
        let dropped = resp
            .headers()
            .get("x-agent-shim-dropped")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(dropped.as_deref(), row.rejected, "{}", row.prefix);
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 1, "{}", row.prefix);
        let up = &reqs[0];
        let want = format!("Bearer {}", key_of(row));
        let got = (
            up.path.as_str(),
            up.headers.get("authorization").map(String::as_str),
            &up.body["model"],
        );
        assert_eq!(
            got,
            (row.path, Some(want.as_str()), &json!(row.upstream_model)),
            "{}",
            row.prefix
        );
        assert_eq!(up.body[row.limit_field], 77, "{}: {}", row.prefix, up.body);
        if let Some(p) = row.rejected {
            assert!(up.body.get(p).is_none(), "{}: {p} sent", row.prefix);
        }
    }
}

#[tokio::test]
async fn claude_code_to_a_row_translates_with_its_key_variable() {
    let fake = fake(json!({"protocols": ["openai-chat"], "api_key": "tok-gh",
        "default": {"text": "from github models"}}))
    .await;
    let secrets: HashMap<String, String> = [
        ("GITHUB_API_KEY".to_owned(), "tok-gh".to_owned()),
        (
            "GITHUB_API_BASE".to_owned(),
            format!("{}/inference", fake.base_url()),
        ),
    ]
    .into();
    let d = ModelDefinition {
        model_name: "gh".into(),
        litellm_params: LitellmParams {
            model: "github/openai/gpt-5.4".into(),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    };
    let router = RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let gw = gateway_with(vec![d], secrets, router).await;
    let resp = gw.post("/v1/messages", &claude_request("gh", false)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "from github models");
    let up = &fake.requests()[0];
    assert_eq!(up.path, "/inference/chat/completions");
    assert_eq!(up.body["model"], "openai/gpt-5.4");
    assert!(up.body.get("metadata").is_none());
}

/// Perplexity's Agent API (`api_mode: responses`): LiteLLM's URL (`api_base` + `/v1/responses`),
/// its key variable, and the parameters neither Perplexity API takes removed, for a translated
/// Claude Code request and for a Responses body passed through.
#[tokio::test]
async fn perplexity_agent_api_is_reached_at_v1_responses() {
    let fake = fake(json!({"protocols": ["openai-responses"],
        "default": {"text": "from the agent api"}}))
    .await;
    let secrets: HashMap<String, String> = [
        ("PERPLEXITYAI_API_KEY".to_owned(), "pplx-k".to_owned()),
        ("PERPLEXITY_API_BASE".to_owned(), fake.base_url()),
    ]
    .into();
    let d = ModelDefinition {
        model_name: "pplx".into(),
        litellm_params: LitellmParams {
            model: "perplexity/perplexity/sonar".into(),
            api_mode: Some(gateway::ApiMode::Responses),
            ..LitellmParams::default()
        },
        model_info: Default::default(),
    };
    let router = RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let gw = gateway_with(vec![d], secrets, router).await;
    let resp = gw
        .post("/v1/messages", &claude_request("pplx", false))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "from the agent api");
    let passed = json!({"model": "pplx", "input": "hi", "store": false, "tool_choice": "auto",
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "parallel_tool_calls": true, "max_output_tokens": 99});
    let resp = gw
        .http
        .post(format!("{}/v1/responses", gw.base))
        .bearer_auth(MASTER_KEY)
        .json(&passed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let dropped = resp.headers()["x-agent-shim-dropped"].to_str().unwrap();
    for p in [
        "store",
        "tool_choice",
        "include",
        "prompt_cache_key",
        "parallel_tool_calls",
    ] {
        assert!(dropped.contains(p), "{p} not named in {dropped}");
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for up in &reqs {
        assert_eq!(up.path, "/v1/responses");
        assert_eq!(up.headers["authorization"], "Bearer pplx-k");
        assert_eq!(up.body["model"], "perplexity/sonar");
        for p in [
            "metadata",
            "store",
            "tool_choice",
            "include",
            "prompt_cache_key",
        ] {
            assert!(up.body.get(p).is_none(), "{p} sent: {}", up.body);
        }
    }
    assert_eq!(
        reqs[0].body["tools"][0]["name"], "Bash",
        "function tools go on"
    );
    assert_eq!(reqs[1].body["max_output_tokens"], 99);
}
