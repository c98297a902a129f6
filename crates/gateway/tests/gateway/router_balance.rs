//! Choosing among a model group's deployments (issue 11 §1): the weighted `simple-shuffle`,
//! `least-busy`, `latency-based-routing` and `usage-based-routing-v2` with the gateway's own
//! counters, and session affinity holding a conversation on its deployment while it is healthy.

use crate::common::*;
use crate::router::*;
use fake_provider::Script;
use gateway::{RouterSettings, RoutingStrategy};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn weighted_shuffle_over_1000_requests_follows_the_weights() {
    let fake = fake_by_model(&[]).await;
    let weights = [("dep-a", 1.0), ("dep-b", 2.0), ("dep-c", 7.0)];
    let models = weights
        .iter()
        .map(|(id, w)| {
            let mut d = dep("m", id, &fake);
            d.litellm_params.weight = Some(*w);
            d
        })
        .collect();
    let gw = gateway_with(models, Default::default(), settings()).await;
    const N: usize = 1000;
    for _ in 0..N {
        let resp = ask(&gw, "m", false, &[]).await;
        assert_eq!(resp.status(), 200);
    }
    let got = served(&fake);
    assert_eq!(got.len(), N);
    for (id, w) in weights {
        let p = w / 10.0;
        let count = got.iter().filter(|m| *m == id).count() as f64;
        let expected = p * N as f64;
        // Five standard deviations of a binomial count: fails by chance about once in 3 million.
        let tolerance = 5.0 * (N as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (count - expected).abs() <= tolerance,
            "{id}: {count} of {N}, expected {expected} ± {tolerance:.0}"
        );
    }
}

fn with_strategy(strategy: RoutingStrategy) -> RouterSettings {
    RouterSettings {
        routing_strategy: strategy,
        ..settings()
    }
}

#[tokio::test]
async fn least_busy_picks_the_deployment_with_fewest_requests_in_flight() {
    // Long enough that each request is in flight when the next one is routed, even on a busy
    // machine.
    let fake = fake(json!({"default": {"text": "ok", "latency_ms": 3000}})).await;
    let models = vec![dep("m", "dep-a", &fake), dep("m", "dep-b", &fake)];
    let gw = gateway_with(
        models,
        Default::default(),
        with_strategy(RoutingStrategy::LeastBusy),
    )
    .await;
    let later = |ms: u64| {
        let gw = &gw;
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text_of(ask(gw, "m", false, &[]).await).await
        }
    };
    // 1st: both idle, the first in the group; 2nd: a is busy, b is not; 3rd: one each, the first.
    let (x, y, z) = tokio::join!(later(0), later(1000), later(2000));
    assert_eq!([x, y, z], ["ok", "ok", "ok"]);
    assert_eq!(served(&fake), ["dep-a", "dep-b", "dep-a"]);
}

#[tokio::test]
async fn latency_based_routing_prefers_the_faster_deployment() {
    let fake = fake_by_model(&[("dep-slow", json!({"text": "slow", "latency_ms": 400}))]).await;
    let models = vec![dep("m", "dep-slow", &fake), dep("m", "dep-fast", &fake)];
    let gw = gateway_with(
        models,
        Default::default(),
        with_strategy(RoutingStrategy::LatencyBased),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(ask(&gw, "m", false, &[]).await.status(), 200);
    }
    // Neither measured: the first; then the unmeasured one; then the faster, every time.
    assert_eq!(
        served(&fake),
        ["dep-slow", "dep-fast", "dep-fast", "dep-fast", "dep-fast"]
    );
}

#[tokio::test]
async fn usage_based_routing_prefers_the_deployment_with_fewest_tokens_this_minute() {
    away_from_minute_edge().await;
    let fake = fake_by_model(&[]).await;
    let models = vec![dep("m", "dep-a", &fake), dep("m", "dep-b", &fake)];
    let gw = gateway_with(
        models,
        Default::default(),
        with_strategy(RoutingStrategy::UsageBased),
    )
    .await;
    // A large request (~6000 tokens) lands on the first; the small ones (~300 each) then go to
    // the other until it has used as much.
    let mut big = claude_request("m", false);
    big["messages"][0]["content"][0]["text"] = json!("lorem ipsum ".repeat(2000));
    assert_eq!(ask_with(&gw, &big, &[]).await.status(), 200);
    for _ in 0..5 {
        assert_eq!(ask(&gw, "m", false, &[]).await.status(), 200);
    }
    assert_eq!(
        served(&fake),
        ["dep-a", "dep-b", "dep-b", "dep-b", "dep-b", "dep-b"]
    );
}

#[tokio::test]
async fn a_session_stays_on_its_deployment_while_it_is_healthy() {
    let fake = fake_by_model(&[]).await;
    let ids = ["dep-a", "dep-b", "dep-c", "dep-d"];
    let models = ids.iter().map(|id| dep("m", id, &fake)).collect();
    let gw = gateway_with(models, Default::default(), settings()).await;
    let claude = [("x-claude-code-session-id", "cc-session-1")];
    for _ in 0..12 {
        assert_eq!(text_of(ask(&gw, "m", false, &claude).await).await, "ok");
    }
    let got = served(&fake);
    let home = got[0].clone();
    assert!(got.iter().all(|m| *m == home), "{got:?}");
    fake.clear_requests();
    // Codex names its conversation in `session-id`: held alike, and each session on its own.
    let codex = [("session-id", "codex-thread-7")];
    for _ in 0..12 {
        assert_eq!(ask(&gw, "m", true, &codex).await.status(), 200);
    }
    let got = served(&fake);
    assert!(got.iter().all(|m| *m == got[0]), "{got:?}");
    fake.clear_requests();
    // Requests without a session spread over the group.
    for _ in 0..40 {
        assert_eq!(ask(&gw, "m", false, &[]).await.status(), 200);
    }
    let mut spread = served(&fake);
    spread.sort();
    spread.dedup();
    assert!(spread.len() > 1, "{spread:?}");
    fake.clear_requests();
    // The session's deployment fails: the session moves, and stays where it moved.
    let script = json!({"steps": [{"when": {"model": home}, "reply": {"status": 500}}],
                        "default": {"text": "ok"}});
    fake.set_script(Script::from_json(&script.to_string()).unwrap());
    for _ in 0..6 {
        assert_eq!(text_of(ask(&gw, "m", false, &claude).await).await, "ok");
    }
    let got = served(&fake);
    assert_eq!(got[0], home, "{got:?}");
    let moved = &got[1];
    assert_ne!(*moved, home);
    assert!(got[1..].iter().all(|m| m == moved), "{got:?}");
}
