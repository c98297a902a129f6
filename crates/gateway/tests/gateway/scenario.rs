//! Scenario routing (issue 11 §3) through the real server: a profile's `router:` rules send
//! Claude Code's haiku-tier and long requests to other models (the fake upstream sees which),
//! and `x-agent-shim-route` names the rule.

use crate::common::*;
use crate::router::{dep, served};
use gateway::{ScenarioRules, Tiers};
use serde_json::{Value, json};
use std::collections::HashMap;

async fn post_as(g: &Running, profile: &str, body: &Value) -> reqwest::Response {
    g.http
        .post(format!("{}/v1/messages", g.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .header(gateway::PROFILE_HEADER, profile)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn route(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("x-agent-shim-route")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn background_and_long_context_rules_choose_the_model_and_say_so() {
    let fake = fake(json!({"default": {"text": "ok"}})).await;
    let models = vec![
        dep("main", "up-main", &fake),
        dep("bg", "up-bg", &fake),
        dep("long", "up-long", &fake),
    ];
    let tiers = |router| Tiers {
        opus: "main".into(),
        sonnet: "main".into(),
        haiku: "main".into(),
        router,
    };
    let mut cfg = config(
        models,
        HashMap::new(),
        crate::router::settings(),
        gateway::Registered::All,
        None,
    );
    cfg.profiles = HashMap::from([
        (
            "coding".to_owned(),
            tiers(Some(ScenarioRules {
                background: Some("bg".into()),
                long_context: Some("long".into()),
                long_context_threshold: Some(2000),
                ..Default::default()
            })),
        ),
        ("plain".to_owned(), tiers(None)),
        (
            "broken".to_owned(),
            tiers(Some(ScenarioRules {
                background: Some("nowhere".into()),
                ..Default::default()
            })),
        ),
    ]);
    let g = gateway_full(cfg).await;

    // The main loop's request: no rule matches (think is not set), the tier model serves.
    let r = post_as(
        &g,
        "coding",
        &claude_request("claude-sonnet-4-5-20250929", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(route(&r), None);
    // Claude Code's title call on the haiku tier: background.
    let mut title = claude_request("claude-haiku-4-5-20251001", false);
    title.as_object_mut().unwrap().remove("tools");
    let r = post_as(&g, "coding", &title).await;
    assert_eq!(r.status(), 200);
    assert_eq!(route(&r).as_deref(), Some("background"));
    // A long conversation (well over 2000 tokens by the tokenizer): long_context.
    let mut long = claude_request("claude-sonnet-4-5-20250929", true);
    let text: String = (0..3000).map(|i| format!("word{i} ")).collect();
    long["messages"][0]["content"][0]["text"] = json!(text);
    let r = post_as(&g, "coding", &long).await;
    assert_eq!(r.status(), 200);
    assert_eq!(route(&r).as_deref(), Some("long_context"));
    let _ = r.bytes().await.unwrap();
    // A profile without rules: the haiku request stays on its tier.
    let r = post_as(&g, "plain", &title).await;
    assert_eq!(r.status(), 200);
    assert_eq!(route(&r), None);
    assert_eq!(served(&fake), ["up-main", "up-bg", "up-long", "up-main"]);
    // `/health` (what `agent-shim status` shows) counts which rule chose which model.
    let h: Value = g
        .http
        .get(format!("{}/health", g.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes: Vec<(String, String, String, u64)> = h["scenario_routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (
                s("profile"),
                s("rule"),
                s("model"),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = |p: &str, r: &str, m: &str| (p.to_owned(), r.to_owned(), m.to_owned(), 1);
    assert_eq!(
        routes,
        [
            want("coding", "background", "bg"),
            want("coding", "long_context", "long")
        ]
    );

    // A rule naming an undefined model: 404 naming the profile, the rule and the model.
    let r = post_as(&g, "broken", &title).await;
    assert_eq!(r.status(), 404);
    assert_eq!(route(&r), None);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    for part in ["profile 'broken'", "`background`", "'nowhere'"] {
        assert!(msg.contains(part), "{msg}");
    }
}
