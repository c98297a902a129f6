//! `/metrics` against the ledger after a known workload through the gateway (issue 12, "its
//! counters compared with the ledger"): whole answers, streams, a translated request and
//! refused ones, recorded by the real writer in a real SQLite store; the counters the scrape
//! gives equal the store's totals — requests, errors, tokens by kind and cost to the picodollar.

use crate::common::{bind, config, def, fake};
use crate::metrics::{body, promtool_check, samples};
use gateway::RouterSettings;
use ledger::store::{Filter, WriterOptions};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The sum of every sample of `name` whose labels contain all of `with`.
fn total(s: &BTreeMap<String, f64>, name: &str, with: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| k.split('{').next() == Some(name) && with.iter().all(|w| k.contains(w)))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_counters_equal_the_ledgers_totals_after_a_known_workload() {
    let upstream = fake(json!({"default": {"text": "counted",
        "usage": {"input": 1200, "output": 40, "cached": 1000}}}))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = ledger::store::open(None, dir.path()).await.unwrap();
    let (tx, rx) = ledger::channel(1000);
    let writer = ledger::store::spawn_writer(store.clone(), rx, WriterOptions::default());
    let mut cfg = config(
        // gpt-4o is in the embedded price table: every answered request has a cost.
        vec![def("gpt", "openai/gpt-4o", &upstream.base_url())],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    cfg.ledger = gateway::Ledger {
        sender: Some(tx),
        store: Some(store.clone()),
        ..Default::default()
    };
    let (gw, g) = bind(cfg).await;
    tokio::spawn(g.serve_workers(2, std::future::pending()));

    let chat = |stream: bool| {
        json!({"model": "gpt", "stream": stream, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]})
    };
    for stream in [false, false, false, true, true] {
        let r = gw.post("/v1/chat/completions", &chat(stream)).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("counted"));
    }
    // Translated: an Anthropic client on the Chat upstream.
    let r = gw
        .post(
            "/v1/messages",
            &json!({"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    // Refused before any attempt: unknown models.
    for _ in 0..2 {
        let r = gw
            .post(
                "/v1/chat/completions",
                &json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.status(), 404);
    }

    let all = Filter::default();
    let mut totals = store.totals(&all).await.unwrap();
    for _ in 0..200 {
        if totals.requests == 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        totals = store.totals(&all).await.unwrap();
    }
    assert_eq!(totals.requests, 8, "{totals:?}");
    assert_eq!(totals.errors, 2);
    assert_eq!(totals.input_tokens, 6 * 1200);
    assert_eq!(totals.cache_read_tokens, 6 * 1000);
    assert_eq!(totals.output_tokens, 6 * 40);
    let cost = totals.cost_pico_usd.expect("gpt-4o is priced");
    assert!(cost > 0);

    let text = body(&gw.base).await;
    promtool_check(&text);
    let m = samples(&text);
    let f = |n: u64| n as f64;
    assert_eq!(
        total(&m, "agent_shim_requests_total", &[]),
        f(totals.requests)
    );
    assert_eq!(
        total(&m, "agent_shim_requests_total", &["status_class=\"4xx\""]),
        f(totals.errors)
    );
    for (kind, want) in [
        ("input", totals.input_tokens),
        ("output", totals.output_tokens),
        ("cache_read", totals.cache_read_tokens),
    ] {
        let got = total(
            &m,
            "agent_shim_tokens_total",
            &[&format!("kind=\"{kind}\"")],
        );
        assert_eq!(got, f(want), "{kind} tokens\n{text}");
    }
    let usd = total(&m, "agent_shim_cost_usd_total", &[]);
    assert!(
        (usd - cost as f64 / 1e12).abs() < 1e-9,
        "/metrics says {usd} USD, the ledger {cost} pUSD"
    );
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
}
