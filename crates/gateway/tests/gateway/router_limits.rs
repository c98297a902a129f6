//! Local limits and rate limits (issue 11 §1): `rpm`, `tpm` and `max_parallel_requests` skip a
//! deployment and answer 429 with `retry-after` when none is left; `timeout` and
//! `stream_timeout` per deployment; the upstream's rate-limit headers reach the client; and the
//! 429/529 decision table of `gateway::dispatch`, row by row.

use crate::common::*;
use crate::router::*;
use serde_json::{Value, json};
use std::time::Duration;

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn rpm_skips_a_full_deployment_then_answers_429_with_retry_after() {
    away_from_minute_edge().await;
    let fake = fake_by_model(&[]).await;
    let mut a = dep("m", "dep-a", &fake);
    a.litellm_params.order = Some(1);
    a.litellm_params.rpm = Some(2);
    let mut b = dep("m", "dep-b", &fake);
    b.litellm_params.order = Some(2);
    b.litellm_params.rpm = Some(1);
    let gw = gateway_with(vec![a, b], Default::default(), settings()).await;
    for _ in 0..3 {
        assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "ok");
    }
    assert_eq!(served(&fake), ["dep-a", "dep-a", "dep-b"]);
    let resp = ask(&gw, "m", false, &[]).await;
    let wait = retry_after(&resp).expect("retry-after");
    assert!((1..=60).contains(&wait), "{wait}");
    let (status, e) = error_of(resp).await;
    assert_eq!(
        (status, e["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("no deployment can take the request now")
            && msg.contains("2 requests this minute (litellm_params.rpm)")
            && msg.contains("1 requests this minute (litellm_params.rpm)"),
        "{msg}"
    );
    assert_eq!(served(&fake).len(), 3, "nothing sent over the limit");
}

#[tokio::test]
async fn tpm_counts_the_tokens_used_this_minute() {
    away_from_minute_edge().await;
    let fake = fake(json!({"default": {"text": "ok", "usage": {"input": 80, "output": 30}}})).await;
    let mut a = dep("m", "dep-a", &fake);
    a.litellm_params.tpm = Some(100);
    let gw = gateway_with(vec![a], Default::default(), settings()).await;
    // Nothing used yet: the first request goes, and uses 110 tokens of 100.
    assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "ok");
    let resp = ask(&gw, "m", false, &[]).await;
    assert!(retry_after(&resp).is_some());
    let (status, e) = error_of(resp).await;
    assert_eq!(status, 429);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("100 tokens this minute (litellm_params.tpm)"),
        "{e}"
    );
    assert_eq!(served(&fake).len(), 1);
}

#[tokio::test]
async fn max_parallel_requests_sends_the_overflow_elsewhere_or_answers_429() {
    let fake = fake(json!({"default": {"text": "slow", "latency_ms": 2000}})).await;
    let mut a = dep("m", "dep-a", &fake);
    a.litellm_params.order = Some(1);
    a.litellm_params.max_parallel_requests = Some(1);
    let mut b = dep("m", "dep-b", &fake);
    b.litellm_params.order = Some(2);
    let mut solo = dep("solo", "dep-s", &fake);
    solo.litellm_params.max_parallel_requests = Some(1);
    let gw = gateway_with(vec![a, b, solo], Default::default(), settings()).await;
    let first = ask(&gw, "m", false, &[]);
    let second = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        ask(&gw, "m", false, &[]).await
    };
    let (r1, r2) = tokio::join!(first, second);
    assert_eq!(text_of(r1).await, "slow");
    assert_eq!(text_of(r2).await, "slow");
    assert_eq!(served(&fake), ["dep-a", "dep-b"]);
    fake.clear_requests();
    let first = ask(&gw, "solo", false, &[]);
    let second = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        ask(&gw, "solo", false, &[]).await
    };
    let (r1, r2) = tokio::join!(first, second);
    assert_eq!(text_of(r1).await, "slow");
    assert_eq!(r2.headers()["retry-after"], "1");
    let (status, e) = error_of(r2).await;
    assert_eq!(status, 429);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("1 requests in flight (litellm_params.max_parallel_requests)"),
        "{e}"
    );
    // Once the first ended, its place is free again.
    assert_eq!(text_of(ask(&gw, "solo", false, &[]).await).await, "slow");
    assert_eq!(served(&fake), ["dep-s", "dep-s"]);
}

#[tokio::test]
async fn per_deployment_timeout_fails_over_and_stream_timeout_ends_a_silent_stream() {
    let fake = fake_by_model(&[
        ("dep-slow", json!({"text": "late", "latency_ms": 3000})),
        (
            "dep-drip",
            json!({"text": "one two three four", "stream": {"delay_ms": 1500}}),
        ),
    ])
    .await;
    let mut slow = dep("m", "dep-slow", &fake);
    slow.litellm_params.order = Some(1);
    slow.litellm_params.timeout = Some(0.3);
    let mut fast = dep("m", "dep-fast", &fake);
    fast.litellm_params.order = Some(2);
    let mut drip = dep("drip", "dep-drip", &fake);
    drip.litellm_params.stream_timeout = Some(0.5);
    let gw = gateway_with(vec![slow, fast, drip], Default::default(), settings()).await;
    assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "ok");
    assert_eq!(served(&fake), ["dep-slow", "dep-fast"]);
    let resp = ask(&gw, "drip", true, &[]).await;
    assert_eq!(resp.status(), 200);
    let (_, errors) = stream_parts(&resp.bytes().await.unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("sent nothing for 0.5 s") && msg.contains("litellm_params.stream_timeout"),
        "{msg}"
    );
}

#[tokio::test]
async fn timeout_of_a_lone_deployment_names_the_setting() {
    let fake = fake(json!({"default": {"text": "late", "latency_ms": 3000}})).await;
    let mut slow = dep("m", "dep-slow", &fake);
    slow.litellm_params.timeout = Some(0.3);
    let gw = gateway_with(vec![slow], Default::default(), settings()).await;
    let (status, e) = error_of(ask(&gw, "m", false, &[]).await).await;
    assert_eq!(status, 504, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("did not answer within 0.3 s (litellm_params.timeout)"),
        "{msg}"
    );
}

fn limited(status: u16, retry_after: Option<&str>) -> Value {
    let mut headers = json!({
        "anthropic-ratelimit-requests-remaining": "0",
        "x-ratelimit-reset-tokens": "6s",
    });
    if let Some(r) = retry_after {
        headers["retry-after"] = json!(r);
    }
    json!({"status": status, "headers": headers})
}

#[tokio::test]
async fn rate_limit_headers_reach_the_client_with_answers_and_errors() {
    let fake = fake_by_model(&[
        ("dep-full", limited(429, Some("30"))),
        (
            "dep-ok",
            json!({"text": "ok", "headers": {"anthropic-ratelimit-tokens-remaining": "999",
                                               "x-ratelimit-remaining-requests": "7"}}),
        ),
    ])
    .await;
    let gw = gateway_with(
        vec![dep("full", "dep-full", &fake), dep("ok", "dep-ok", &fake)],
        Default::default(),
        settings(),
    )
    .await;
    let resp = ask(&gw, "ok", false, &[]).await;
    assert_eq!(
        resp.headers()["anthropic-ratelimit-tokens-remaining"],
        "999"
    );
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "7");
    let resp = ask(&gw, "full", false, &[]).await;
    assert_eq!(resp.headers()["retry-after"], "30");
    assert_eq!(
        resp.headers()["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    assert_eq!(resp.headers()["x-ratelimit-reset-tokens"], "6s");
    let (status, e) = error_of(resp).await;
    assert_eq!(
        (status, e["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
}

/// Each row of the 429/529 table in `gateway::dispatch`'s docs: the deployments the fake saw,
/// and what the client got.
#[tokio::test]
async fn the_429_529_decision_table() {
    let once = |id: &str, reply: Value| json!({"when": {"model": id}, "times": 1, "reply": reply});
    let fake = fake(json!({"steps": [
        // Row 1: 429 with a short retry-after, nowhere else to go: waited for, retried here.
        once("r1", limited(429, Some("1"))),
        // Row 2: 429 with another deployment: failed over at once (whatever the retry-after).
        once("r2-a", limited(429, Some("1"))),
        // Row 3: 429 with a retry-after past max_retry_after, nowhere else: handed back.
        {"when": {"model": "r3"}, "reply": limited(429, Some("30"))},
        // Row 4: the same with a fallback model: the fallback.
        // Row 5: 429 without retry-after, alone, retries used up: handed back.
        {"when": {"model": "r5"}, "reply": limited(429, None)},
        // Row 6: a used-up quota: never waited for, handed back saying not to retry.
        {"when": {"model": "r6"}, "reply": {"status": 429, "error": {"type": "billing_error", "message": "credit balance too low"}}},
        // Row 7: 529 overloaded with another deployment: failed over.
        {"when": {"model": "r7-a"}, "reply": {"status": 529}},
        // Row 8: 529 alone with retries left: retried after a backoff.
        once("r8", json!({"status": 529})),
    ], "default": {"text": "ok"}}))
    .await;
    let pair = |group: &str, a: &str, b: &str| {
        let mut x = dep(group, a, &fake);
        x.litellm_params.order = Some(1);
        let mut y = dep(group, b, &fake);
        y.litellm_params.order = Some(2);
        [x, y]
    };
    let mut models = vec![
        dep("r1", "r1", &fake),
        dep("r3", "r3", &fake),
        dep("r4", "r3", &fake),
        dep("r4-fb", "r4-fb", &fake),
        dep("r5", "r5", &fake),
        dep("r6", "r6", &fake),
        dep("r8", "r8", &fake),
    ];
    models.extend(pair("r2", "r2-a", "r2-b"));
    models.extend(pair("r7", "r7-a", "r7-b"));
    let mut s = settings();
    s.num_retries = 1;
    s.fallbacks = fallbacks(&[("r4", &["r4-fb"])]);
    let gw = gateway_with(models, Default::default(), s).await;
    let mut rows = Vec::new();
    for group in ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"] {
        fake.clear_requests();
        let resp = ask(&gw, group, false, &[]).await;
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let should_retry = resp
            .headers()
            .get("x-should-retry")
            .map(|v| v.to_str().unwrap().to_owned());
        rows.push((group, served(&fake), status, retry, should_retry));
    }
    type Row = (
        &'static str,
        Vec<String>,
        u16,
        Option<String>,
        Option<String>,
    );
    fn row(g: &'static str, s: &[&str], status: u16, retry: Option<&str>, sr: Option<&str>) -> Row {
        (
            g,
            s.iter().map(|x| (*x).to_owned()).collect(),
            status,
            retry.map(str::to_owned),
            sr.map(str::to_owned),
        )
    }
    assert_eq!(
        rows,
        [
            row("r1", &["r1", "r1"], 200, None, None),
            row("r2", &["r2-a", "r2-b"], 200, None, None),
            row("r3", &["r3"], 429, Some("30"), None),
            row("r4", &["r3", "r4-fb"], 200, None, None),
            row("r5", &["r5", "r5"], 429, None, None),
            row("r6", &["r6"], 402, None, Some("false")),
            row("r7", &["r7-a", "r7-b"], 200, None, None),
            row("r8", &["r8", "r8"], 200, None, None),
        ]
    );
}

#[tokio::test]
async fn default_max_parallel_requests_applies_to_deployments_without_their_own() {
    let fake = fake(json!({"default": {"text": "slow", "latency_ms": 2000}})).await;
    let s = gateway::RouterSettings {
        default_max_parallel_requests: Some(1),
        ..settings()
    };
    let gw = gateway_with(vec![dep("m", "dep-a", &fake)], Default::default(), s).await;
    let first = ask(&gw, "m", false, &[]);
    let second = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        ask(&gw, "m", false, &[]).await
    };
    let (r1, r2) = tokio::join!(first, second);
    assert_eq!(text_of(r1).await, "slow");
    let (status, e) = error_of(r2).await;
    assert_eq!(status, 429, "{e}");
    assert_eq!(served(&fake), ["dep-a"]);
}
