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
