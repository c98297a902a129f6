//! Authentication and secrets: an empty or malformed credential never authenticates, a public
//! address needs a master key, and a definition's credentials never show — not in
//! `/model/info`, not in error bodies (upstream 404 and 401, unreachable upstream), not in
//! `Debug` output.

use crate::common::*;
use gateway::{Gateway, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn empty_or_malformed_credential_headers_never_authenticate() {
    let gw = gateway(vec![def("m", "openai/x", "http://127.0.0.1:9/v1")]).await;
    let bearer_key = format!("Bearer {MASTER_KEY}");
    let basic_key = format!("Basic {MASTER_KEY}");
    let cases: &[(&str, &str)] = &[
        ("x-api-key", ""),
        ("x-api-key", "   "),
        ("authorization", ""),
        ("authorization", "Bearer"),
        ("authorization", "Bearer   "),
        ("authorization", &basic_key),
        ("authorization", MASTER_KEY),
    ];
    for (name, value) in cases {
        for (method, path) in [("GET", "/model/info"), ("POST", "/model/new")] {
            let req = gw
                .http
                .request(method.parse().unwrap(), format!("{}{path}", gw.base))
                .header(*name, *value);
            let req = if method == "POST" {
                req.json(&json!({"model_name": "evil", "litellm_params": {
                    "model": "openai/x", "api_base": "http://127.0.0.1:9/v1",
                    "api_key": "os.environ/HOME"}}))
            } else {
                req
            };
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path} with {name}: {value:?}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["type"], "authentication_error", "{body}");
        }
    }
    let r = gw
        .http
        .get(format!("{}/model/info", gw.base))
        .header("authorization", &bearer_key)
        .header("x-api-key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the valid header still counts");
}

#[tokio::test]
async fn public_address_without_master_key_refuses_to_start() {
    let mut c = config(
        vec![],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    c.master_key = None;
    let e = Gateway::bind("0.0.0.0:0".parse().unwrap(), c)
        .await
        .err()
        .expect("refused");
    assert!(
        e.to_string()
            .starts_with("refusing to listen on 0.0.0.0:0 without a master key"),
        "{e}"
    );
    let mut c = config(
        vec![],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    c.master_key = None;
    assert!(
        Gateway::bind("127.0.0.1:0".parse().unwrap(), c)
            .await
            .is_ok(),
        "loopback may go without"
    );
}

/// Distinct secrets, one per place a definition can hold one.
const PLANTED: &[&str] = &[
    "PLANTED-URL-PASS-1",
    "PLANTED-LITERAL-KEY-2",
    "PLANTED-HEADER-3",
    "PLANTED-AWS-4",
    "PLANTED-VERTEX-5",
    "PLANTED-TOKEN-6",
    "PLANTED-ECHOED-KEY-7",
    "PLANTED-DOWN-PASS-8",
];

fn assert_no_planted(what: &str, text: &str) {
    for p in PLANTED {
        assert!(!text.contains(p), "{what} shows {p}: {text}");
    }
}

#[tokio::test]
async fn credentials_never_show_in_model_info_errors_or_debug() {
    let fake = fake(json!({"protocols": ["openai-chat"], "steps": [
        {"when": {"model": "nosuch"}, "reply": {"status": 404, "error": {"message": "The model `nosuch` does not exist"}}},
        {"when": {"model": "denied"}, "reply": {"status": 401, "error": {"type": "invalid_request_error",
            "message": "Incorrect API key provided: PLANTED-ECHOED-KEY-7. You can find your API key at https://platform.openai.com/account/api-keys."}}}
    ]}))
    .await;
    let addr = fake.addr();
    let leaky = |name: &str, model: &str, base: String, key: &str| -> gateway::ModelDefinition {
        serde_json::from_value(json!({
            "model_name": name,
            "litellm_params": {
                "model": model, "api_base": base, "api_key": key,
                "extra_headers": {"X-Tenant-Auth": "PLANTED-HEADER-3"},
                "aws_secret_access_key": "PLANTED-AWS-4",
                "vertex_credentials": {"private_key": "PLANTED-VERTEX-5"},
                "my_service_token": "PLANTED-TOKEN-6",
                "aws_region_name": "eu-west-1"
            }
        }))
        .unwrap()
    };
    let gw = gateway_with(
        vec![
            leaky(
                "m404",
                "openai/nosuch",
                format!("http://leak-user:PLANTED-URL-PASS-1@{addr}/v1"),
                "PLANTED-LITERAL-KEY-2",
            ),
            leaky(
                "m401",
                "openai/denied",
                format!("http://{addr}/v1"),
                "PLANTED-ECHOED-KEY-7",
            ),
            leaky(
                "mdown",
                "openai/x",
                "http://leak-user:PLANTED-DOWN-PASS-8@127.0.0.1:9/v1".into(),
                "PLANTED-LITERAL-KEY-2",
            ),
        ],
        HashMap::new(),
        RouterSettings {
            num_retries: 0,
            max_retry_after: Duration::from_secs(1),
            ..RouterSettings::default()
        },
    )
    .await;

    let info = gw
        .http
        .get(format!("{}/model/info", gw.base))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_no_planted("/model/info", &info);
    assert!(
        info.contains("leak-user:[redacted]@")
            && info.contains("X-Tenant-Auth")
            && info.contains("eu-west-1"),
        "what is not secret still shows: {info}"
    );

    for (model, status, says) in [
        ("m404", 404, "api_base http://leak-user:[redacted]@"),
        ("m401", 401, "Incorrect API key provided: [redacted]"),
        ("mdown", 502, "http://leak-user:[redacted]@127.0.0.1:9/v1"),
    ] {
        let r = gw.post("/v1/messages", &claude_request(model, false)).await;
        assert_eq!(r.status().as_u16(), status, "{model}");
        let body = r.text().await.unwrap();
        assert_no_planted(&format!("the {model} error body"), &body);
        assert!(body.contains(says), "{model}: {body}");
        let r = gw
            .http
            .post(format!("{}/v1/chat/completions", gw.base))
            .bearer_auth(MASTER_KEY)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{model} (chat)");
        assert_no_planted(
            &format!("the {model} chat error body"),
            &r.text().await.unwrap(),
        );
    }
    let reqs = fake.requests();
    assert!(
        reqs.iter()
            .any(|r| r.headers.get("x-tenant-auth").map(String::as_str) == Some("PLANTED-HEADER-3")),
        "the header is still sent upstream"
    );
}

#[tokio::test]
async fn registry_debug_shows_no_credentials() {
    let mut d = def(
        "m",
        "openai/x",
        "http://leak-user:PLANTED-URL-PASS-1@127.0.0.1:9/v1",
    );
    d.litellm_params.api_key = gateway::SecretString::new("PLANTED-LITERAL-KEY-2");
    d.litellm_params.extra_headers =
        Some([("X-A".to_owned(), "PLANTED-HEADER-3".to_owned())].into());
    d.litellm_params
        .other
        .insert("aws_secret_access_key".into(), json!("PLANTED-AWS-4"));
    let c = config(
        vec![d.clone()],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    let (_, g) = bind(c).await;
    assert_no_planted("the registry's Debug", &format!("{:?}", g.handle()));
    assert_no_planted("a definition's Debug", &format!("{d:?}"));
    assert_no_planted("a definition's Debug", &format!("{d:#?}"));
}
