//! Thread-per-core serving (`Gateway::serve_workers`): connections spread over the workers, and a
//! shutdown lets every in-flight stream finish before it returns.

use crate::common::*;
use gateway::RouterSettings;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn shutdown_lets_in_flight_streams_finish_and_then_refuses_connections() {
    let fake = fake(json!({"protocols": ["openai-chat"], "steps": [
        {"when": {"stream": true}, "reply": {"text": "one two three", "stream": {"delay_ms": 150, "text_chunks": 3}}},
        {"reply": {"text": "quick"}}
    ]}))
    .await;
    let models = vec![def("m", "openai/gpt-x", &format!("{}/v1", fake.base_url()))];
    let router = RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let config = config(
        models,
        HashMap::new(),
        router,
        gateway::Registered::All,
        None,
    );
    let (gw, g) = bind(config).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(g.serve_workers(3, async {
        let _ = stopped.await;
    }));

    // Six connections at once (round-robin over three workers): all answered.
    let answers = (0..6).map(|_| async {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{}/v1/messages", gw.base))
            .header("x-api-key", MASTER_KEY)
            .json(&claude_request("m", false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()["content"][0]["text"].clone()
    });
    for text in futures_util::future::join_all(answers).await {
        assert_eq!(text, "quick");
    }

    // A stream is under way when the shutdown comes: it still ends properly.
    let mut stream = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(stream.status(), 200);
    let mut body = stream
        .chunk()
        .await
        .unwrap()
        .expect("a first chunk")
        .to_vec();
    stop.send(()).unwrap();
    while let Some(c) = stream.chunk().await.unwrap() {
        body.extend_from_slice(&c);
    }
    let r = protocol::check::rebuild(&body);
    assert_eq!(r.message["content"][0]["text"], "one two three");
    assert!(
        r.event_names.iter().any(|n| n == "message_stop"),
        "{:?}",
        r.event_names
    );

    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("serve_workers returns after the shutdown")
        .unwrap()
        .expect("no worker failed");
    let refused = reqwest::Client::new()
        .get(format!("{}/health", gw.base))
        .send()
        .await;
    assert!(refused.is_err(), "the listener is closed: {refused:?}");
}

/// `POST /model/new` with a `key_command` runs the command off the workers: a stream served by
/// the same (single) worker keeps receiving events while the command sleeps. Before the fix the
/// command ran inline and the stream stopped for its whole duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_command_in_model_new_does_not_stall_streams() {
    let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    let fake = fake(json!({"protocols": ["anthropic"], "steps": [
        {"reply": {"text": words.join(" "), "stream": {"delay_ms": 100, "text_chunks": 40}}}
    ]}))
    .await;
    let models = vec![def("m", "anthropic/claude-x", &fake.base_url())];
    let router = RouterSettings {
        num_retries: 0,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let (gw, g) = bind(config(
        models,
        HashMap::new(),
        router,
        gateway::Registered::All,
        None,
    ))
    .await;
    tokio::spawn(g.serve_workers(1, std::future::pending()));

    let mut stream = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(stream.status(), 200);
    let mut body = stream
        .chunk()
        .await
        .unwrap()
        .expect("a first chunk")
        .to_vec();
    let mut arrivals = vec![std::time::Instant::now()];
    let base = gw.base.clone();
    let admin = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r = reqwest::Client::new()
            .post(format!("{base}/model/new"))
            .header("x-api-key", MASTER_KEY)
            .json(&json!({"model_name": "slow", "litellm_params": {
                "model": "openai/x", "api_base": "http://127.0.0.1:9/v1",
                "key_command": ["sh", "-c", "sleep 2; echo sk-slow"]}}))
            .send()
            .await
            .unwrap();
        (started, std::time::Instant::now(), r.status())
    });
    while let Some(c) = stream.chunk().await.unwrap() {
        arrivals.push(std::time::Instant::now());
        body.extend_from_slice(&c);
    }
    let (started, finished, status) = admin.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        finished - started >= Duration::from_secs(2),
        "the key command ran"
    );
    let during: Vec<_> = arrivals
        .iter()
        .filter(|t| **t > started && **t < finished)
        .collect();
    let longest = arrivals
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        during.len() >= 5 && longest < Duration::from_secs(1),
        "the stream stalled while the key command ran: {} chunks in those {:?}, longest gap {longest:?}",
        during.len(),
        finished - started
    );
    let r = protocol::check::rebuild(&body);
    assert_eq!(r.message["content"][0]["text"], words.join(" "));
}
