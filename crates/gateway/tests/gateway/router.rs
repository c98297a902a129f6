//! The router against the fake upstream (issue 11 §1): the fallback lists, the context-window
//! check before sending, cooldowns, and a stream that opens with an error. Shared helpers for
//! `router_limits` and `router_balance`: deployments are `anthropic/<id>` on one fake, whose
//! script answers by the upstream model id, so the fake's record says which deployment served.

use crate::common::*;
use fake_provider::FakeProvider;
use gateway::{Fallbacks, ModelDefinition, RouterSettings};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A deployment of `group` sent to the fake as the model `id`.
pub fn dep(group: &str, id: &str, fake: &FakeProvider) -> ModelDefinition {
    def(group, &format!("anthropic/{id}"), &fake.base_url())
}

/// A fake whose answers are chosen by the upstream model id: `(id, reply)` in order, then the
/// default text "ok".
pub async fn fake_by_model(steps: &[(&str, Value)]) -> FakeProvider {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(id, reply)| json!({"when": {"model": id}, "reply": reply}))
        .collect();
    fake(json!({"steps": steps, "default": {"text": "ok"}})).await
}

/// The upstream model ids the fake was asked for, in order.
pub fn served(fake: &FakeProvider) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
        .collect()
}

/// Router settings for tests: no retries, a short `max_retry_after`.
pub fn settings() -> RouterSettings {
    RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(2),
        ..RouterSettings::default()
    }
}

/// `[{group: [fallbacks…]}]`.
pub fn fallbacks(pairs: &[(&str, &[&str])]) -> Fallbacks {
    Fallbacks(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect(),
    )
}

/// Waits until at least 5 s remain in the wall-clock minute the limits count in, so that a test
/// of a per-minute limit does not straddle two minutes.
pub async fn away_from_minute_edge() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let into = ms % 60_000;
    if into > 55_000 {
        tokio::time::sleep(Duration::from_millis(60_100 - into)).await;
    }
}

/// POSTs Claude Code's request for `model` to `/v1/messages` with `headers`.
pub async fn ask(
    gw: &Running,
    model: &str,
    stream: bool,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    ask_with(gw, &claude_request(model, stream), headers).await
}

/// POSTs `body` to `/v1/messages` with the master key and `headers`.
pub async fn ask_with(gw: &Running, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The text of a non-streaming Anthropic answer, after checking it is a 200.
pub async fn text_of(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Status and `error` object of an Anthropic error answer.
pub async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    (status, body["error"].clone())
}

fn error_reply(status: u16, kind: &str, message: &str) -> Value {
    json!({"status": status, "error": {"type": kind, "message": message}})
}

const TOO_LONG: &str = "prompt is too long: 250000 tokens > 200000 maximum";

#[tokio::test]
async fn fallback_chain_after_a_500_and_the_error_when_all_fail() {
    let fake = fake_by_model(&[
        ("dep-a", error_reply(500, "api_error", "boom a")),
        ("dep-b", error_reply(500, "api_error", "boom b")),
        ("dep-c", json!({"text": "from c"})),
    ])
    .await;
    let mut s = settings();
    s.fallbacks = fallbacks(&[("main", &["fb1", "fb2"]), ("solo", &["fb1"])]);
    let gw = gateway_with(
        vec![
            dep("main", "dep-a", &fake),
            dep("solo", "dep-a", &fake),
            dep("fb1", "dep-b", &fake),
            dep("fb2", "dep-c", &fake),
        ],
        Default::default(),
        s,
    )
    .await;
    assert_eq!(text_of(ask(&gw, "main", false, &[]).await).await, "from c");
    assert_eq!(served(&fake), ["dep-a", "dep-b", "dep-c"]);
    fake.clear_requests();
    // Every model of the chain failed: the first model's error, naming the fallbacks tried.
    let (status, e) = error_of(ask(&gw, "solo", false, &[]).await).await;
    assert_eq!(status, 500, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("boom a") && msg.contains("the fallback models failed too: 'fb1' (500)"),
        "{msg}"
    );
    assert_eq!(served(&fake), ["dep-a", "dep-b"]);
}

#[tokio::test]
async fn a_context_length_error_takes_context_window_fallbacks_only() {
    let fake = fake_by_model(&[
        ("dep-a", error_reply(400, "invalid_request_error", TOO_LONG)),
        ("dep-x", error_reply(500, "api_error", "boom")),
        ("dep-big", json!({"text": "big window"})),
        ("dep-g", json!({"text": "generic"})),
    ])
    .await;
    let mut s = settings();
    s.fallbacks = fallbacks(&[
        ("main", &["generic"]),
        ("flaky", &["generic"]),
        ("plain", &["generic"]),
    ]);
    s.context_window_fallbacks = fallbacks(&[("main", &["big"]), ("flaky", &["big"])]);
    let gw = gateway_with(
        vec![
            dep("main", "dep-a", &fake),
            dep("flaky", "dep-x", &fake),
            dep("plain", "dep-a", &fake),
            dep("big", "dep-big", &fake),
            dep("generic", "dep-g", &fake),
        ],
        Default::default(),
        s,
    )
    .await;
    assert_eq!(
        text_of(ask(&gw, "main", false, &[]).await).await,
        "big window"
    );
    assert_eq!(served(&fake), ["dep-a", "dep-big"]);
    fake.clear_requests();
    // A 500 takes `fallbacks`, not the context-window list.
    assert_eq!(
        text_of(ask(&gw, "flaky", false, &[]).await).await,
        "generic"
    );
    assert_eq!(served(&fake), ["dep-x", "dep-g"]);
    fake.clear_requests();
    // A context-length error without a context-window fallback is the client's to handle:
    // another model of `fallbacks` is not tried.
    let (status, e) = error_of(ask(&gw, "plain", false, &[]).await).await;
    assert_eq!(
        (status, e["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("prompt is too long"),
        "{e}"
    );
    assert_eq!(served(&fake), ["dep-a"]);
}

/// A request of about `words` tokens.
fn long_request(model: &str, words: usize) -> Value {
    let mut r = claude_request(model, false);
    r["messages"][0]["content"][0]["text"] = json!("lorem ipsum ".repeat(words / 2));
    r
}

#[tokio::test]
async fn context_window_fallback_is_chosen_before_sending() {
    let fake = fake_by_model(&[
        ("dep-small", json!({"text": "small"})),
        ("dep-big", json!({"text": "big"})),
    ])
    .await;
    let mut s = settings();
    s.context_window_fallbacks = fallbacks(&[("small", &["big"])]);
    let mut small = dep("small", "dep-small", &fake);
    small.model_info.context_window = Some(2000);
    let mut alone = dep("alone", "dep-small", &fake);
    alone.model_info.context_window = Some(2000);
    let gw = gateway_with(
        vec![small, alone, dep("big", "dep-big", &fake)],
        Default::default(),
        RouterSettings {
            enable_pre_call_checks: false,
            ..s
        },
    )
    .await;
    // Fits: the model asked for.
    assert_eq!(
        text_of(ask_with(&gw, &long_request("small", 500), &[]).await).await,
        "small"
    );
    // ~5000 tokens do not fit 2000: the fallback, and the small model never sees it.
    assert_eq!(
        text_of(ask_with(&gw, &long_request("small", 5000), &[]).await).await,
        "big"
    );
    assert_eq!(served(&fake), ["dep-small", "dep-big"]);
    fake.clear_requests();
    // Without a context-window fallback and without enable_pre_call_checks the upstream judges.
    assert_eq!(
        text_of(ask_with(&gw, &long_request("alone", 5000), &[]).await).await,
        "small"
    );
    assert_eq!(served(&fake), ["dep-small"]);
}

#[tokio::test]
async fn pre_call_check_without_a_fallback_answers_400_and_sends_nothing() {
    let fake = fake_by_model(&[]).await;
    let mut d = dep("m", "dep-small", &fake);
    d.model_info.context_window = Some(1000);
    let s = RouterSettings {
        enable_pre_call_checks: true,
        ..settings()
    };
    let gw = gateway_with(vec![d], Default::default(), s).await;
    let (status, e) = error_of(ask_with(&gw, &long_request("m", 4000), &[]).await).await;
    assert_eq!(status, 400, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("prompt is too long for model 'm'")
            && msg.contains("max_input_tokens (1000)")
            && msg.contains("nothing was sent")
            && msg.contains("context_window_fallbacks"),
        "{msg}"
    );
    assert!(served(&fake).is_empty());
}

#[tokio::test]
async fn content_policy_refusals_take_content_policy_fallbacks() {
    let refusal = "Your request was refused under our content policy.";
    let fake = fake_by_model(&[
        ("dep-a", error_reply(400, "invalid_request_error", refusal)),
        ("dep-safe", json!({"text": "other provider"})),
        ("dep-g", json!({"text": "generic"})),
    ])
    .await;
    let mut s = settings();
    s.fallbacks = fallbacks(&[("m", &["generic"])]);
    s.content_policy_fallbacks = fallbacks(&[("m", &["safe"])]);
    let gw = gateway_with(
        vec![
            dep("m", "dep-a", &fake),
            dep("safe", "dep-safe", &fake),
            dep("generic", "dep-g", &fake),
        ],
        Default::default(),
        s,
    )
    .await;
    assert_eq!(
        text_of(ask(&gw, "m", false, &[]).await).await,
        "other provider"
    );
    assert_eq!(served(&fake), ["dep-a", "dep-safe"]);
}

#[tokio::test]
async fn default_fallbacks_serve_groups_without_their_own() {
    let fake = fake_by_model(&[
        ("dep-a", error_reply(503, "api_error", "down")),
        ("dep-r", json!({"text": "rescued"})),
        ("dep-f", json!({"text": "own fallback"})),
    ])
    .await;
    let mut s = settings();
    s.default_fallbacks = vec!["rescue".into()];
    s.fallbacks = fallbacks(&[("own", &["fb"])]);
    let gw = gateway_with(
        vec![
            dep("lonely", "dep-a", &fake),
            dep("own", "dep-a", &fake),
            dep("rescue", "dep-r", &fake),
            dep("fb", "dep-f", &fake),
        ],
        Default::default(),
        s,
    )
    .await;
    assert_eq!(
        text_of(ask(&gw, "lonely", false, &[]).await).await,
        "rescued"
    );
    assert_eq!(
        text_of(ask(&gw, "own", false, &[]).await).await,
        "own fallback"
    );
    assert_eq!(served(&fake), ["dep-a", "dep-r", "dep-a", "dep-f"]);
}

#[tokio::test]
async fn cooldown_takes_a_failing_deployment_out_and_brings_it_back() {
    let fake = fake_by_model(&[
        ("dep-bad", error_reply(500, "api_error", "boom")),
        ("dep-good", json!({"text": "good"})),
    ])
    .await;
    let mut bad = dep("m", "dep-bad", &fake);
    bad.litellm_params.order = Some(1);
    let mut good = dep("m", "dep-good", &fake);
    good.litellm_params.order = Some(2);
    let s = RouterSettings {
        allowed_fails: 1,
        cooldown_time: Duration::from_millis(1500),
        ..settings()
    };
    let gw = gateway_with(vec![bad, good], Default::default(), s).await;
    // Two failures within a minute: more than allowed_fails (1), so the deployment cools down.
    for _ in 0..2 {
        assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "good");
    }
    assert_eq!(
        served(&fake),
        ["dep-bad", "dep-good", "dep-bad", "dep-good"]
    );
    fake.clear_requests();
    // Out of rotation: not even tried, although it comes first in `order`.
    for _ in 0..3 {
        assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "good");
    }
    assert_eq!(served(&fake), ["dep-good"; 3]);
    fake.clear_requests();
    // Back after the cooldown.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "good");
    assert_eq!(served(&fake), ["dep-bad", "dep-good"]);
}

/// The text and the error events of an Anthropic stream.
pub fn stream_parts(body: &[u8]) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut errors = Vec::new();
    for line in String::from_utf8_lossy(body).lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(ev) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        match ev["type"].as_str() {
            Some("content_block_delta") => {
                text.push_str(ev["delta"]["text"].as_str().unwrap_or_default());
            }
            Some("error") => errors.push(ev["error"].clone()),
            _ => {}
        }
    }
    (text, errors)
}

#[tokio::test]
async fn a_stream_that_opens_with_an_error_fails_over_and_one_that_fails_later_does_not() {
    let overloaded = json!({"text": "never", "stream": {"fail_after": 1},
                            "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let late = json!({"text": "half an answer then trouble", "stream": {"fail_after": 4},
                      "error": {"type": "overloaded_error", "message": "Overloaded late"}});
    let fake = fake_by_model(&[
        ("dep-a", overloaded),
        ("dep-b", json!({"text": "served by b"})),
        ("dep-late", late),
    ])
    .await;
    let mut a = dep("m", "dep-a", &fake);
    a.litellm_params.order = Some(1);
    let mut b = dep("m", "dep-b", &fake);
    b.litellm_params.order = Some(2);
    let mut s = settings();
    s.fallbacks = fallbacks(&[("late", &["m"])]);
    let gw = gateway_with(
        vec![a, b, dep("late", "dep-late", &fake)],
        Default::default(),
        s,
    )
    .await;
    let resp = ask(&gw, "m", true, &[]).await;
    assert_eq!(resp.status(), 200);
    let (text, errors) = stream_parts(&resp.bytes().await.unwrap());
    assert_eq!(
        (text.as_str(), errors.len()),
        ("served by b", 0),
        "{errors:?}"
    );
    assert_eq!(served(&fake), ["dep-a", "dep-b"]);
    fake.clear_requests();
    // Content reached the client: the failure is the stream's error event, nothing is retried.
    let resp = ask(&gw, "late", true, &[]).await;
    assert_eq!(resp.status(), 200);
    let (text, errors) = stream_parts(&resp.bytes().await.unwrap());
    assert!(!text.is_empty());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["type"], "overloaded_error");
    assert_eq!(served(&fake), ["dep-late"]);
}

#[tokio::test]
async fn an_error_first_chat_stream_fails_over_for_every_client_protocol() {
    let fake = fake_by_model(&[
        (
            "dep-a",
            json!({"text": "never", "stream": {"fail_after": 0},
               "error": {"type": "server_error", "message": "the model is overloaded"}}),
        ),
        ("dep-b", json!({"text": "served by b"})),
    ])
    .await;
    let base = format!("{}/v1", fake.base_url());
    let mut a = def("m", "openai/dep-a", &base);
    a.litellm_params.order = Some(1);
    let mut b = def("m", "openai/dep-b", &base);
    b.litellm_params.order = Some(2);
    let gw = gateway_with(vec![a, b], Default::default(), settings()).await;
    let chat =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let responses = json!({"model": "m", "stream": true, "input": "hi"});
    for (path, body) in [
        ("/v1/chat/completions", chat),
        ("/v1/responses", responses),
        ("/v1/messages", claude_request("m", true)),
    ] {
        fake.clear_requests();
        let resp = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let text = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
        assert!(
            text.contains("served by b") && !text.contains("overloaded"),
            "{path}: {text}"
        );
        assert_eq!(served(&fake), ["dep-a", "dep-b"], "{path}");
    }
}

#[tokio::test]
async fn disable_cooldowns_keeps_a_failing_deployment_in_rotation() {
    let fake = fake_by_model(&[("dep-bad", error_reply(500, "api_error", "boom"))]).await;
    let mut bad = dep("m", "dep-bad", &fake);
    bad.litellm_params.order = Some(1);
    let mut good = dep("m", "dep-good", &fake);
    good.litellm_params.order = Some(2);
    let s = RouterSettings {
        allowed_fails: 0,
        disable_cooldowns: true,
        ..settings()
    };
    let gw = gateway_with(vec![bad, good], Default::default(), s).await;
    for _ in 0..3 {
        assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "ok");
    }
    assert_eq!(
        served(&fake),
        [
            "dep-bad", "dep-good", "dep-bad", "dep-good", "dep-bad", "dep-good"
        ]
    );
}
