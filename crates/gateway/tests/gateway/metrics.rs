//! `GET /metrics`: behind the master key, valid for Prometheus's own parser (`promtool check
//! metrics`), and its counters equal to the figures of a known workload — hand-made usage records
//! for the per-request counters (the gateway's record is built elsewhere), a real request for
//! the gauges read at scrape time.

use crate::common::{MASTER_KEY, bind, config, def, fake};
use gateway::RouterSettings;
use ledger::{Tokens, UsageRecord};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `promtool check metrics` on `body`; panics with its output when it finds a problem, and
/// names `bash .ci/run` when promtool is missing.
pub(crate) fn promtool_check(body: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool (Debian's prometheus package) is needed to check /metrics ({e}); run `bash .ci/run`, which installs it"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- body ---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The samples of a Prometheus text body: `name{labels}` → value.
pub(crate) fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse::<f64>().unwrap())
        })
        .collect()
}

async fn scrape(base: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    req.send().await.unwrap()
}

pub(crate) async fn body(base: &str) -> String {
    let r = scrape(base, Some(MASTER_KEY)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

fn record(group: &str, provider: &str, protocol: &str, status: u16) -> UsageRecord {
    UsageRecord {
        request_id: format!("req-{group}-{status}"),
        session_id: Some("session-secret-id".into()),
        directory: Some("0123456789abcdef".into()),
        profile: Some("work".into()),
        client_protocol: protocol.into(),
        model_group: Some(group.into()),
        provider: Some(provider.into()),
        status,
        attempts: 1,
        ..UsageRecord::default()
    }
}

#[tokio::test]
async fn counters_equal_a_known_workload_and_promtool_accepts_the_body() {
    let (gw, g) = bind(config(
        vec![def(
            "sonnet",
            "anthropic/claude-sonnet-4-5",
            "http://127.0.0.1:9",
        )],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    ))
    .await;
    // The workload: a cached Anthropic request, one that failed after 3 attempts, and an OpenAI
    // request served by a fallback on its second attempt.
    let ok = UsageRecord {
        tokens: Tokens {
            input: 26_000,
            output: 500,
            cache_read: 20_000,
            cache_write_5m: 3_000,
            cache_write_1h: 2_000,
            ..Tokens::default()
        },
        cost_pico_usd: Some(39_750_000_000),
        latency_us: 1_500_000,
        ttfb_us: Some(200_000),
        ..record("sonnet", "anthropic", "anthropic", 200)
    };
    let failed = UsageRecord {
        error_class: Some("overloaded".into()),
        attempts: 3,
        latency_us: 3_000_000,
        ..record("sonnet", "anthropic", "anthropic", 529)
    };
    let fallback = UsageRecord {
        tokens: Tokens {
            input: 10_000,
            output: 800,
            reasoning: 300,
            cache_read: 6_000,
            ..Tokens::default()
        },
        cost_pico_usd: Some(25_500_000_000),
        route: Some("fallback".into()),
        attempts: 2,
        latency_us: 250_000,
        ttfb_us: Some(100_000),
        ..record("gpt", "openai", "openai-chat", 200)
    };
    let workload = [ok, failed, fallback];
    for r in &workload {
        g.handle().metrics().observe(r);
    }
    g.handle().metrics().inter_chunk(Duration::from_millis(3));
    g.handle().metrics().inter_chunk(Duration::from_millis(40));
    tokio::spawn(g.serve_workers(1, std::future::pending()));

    // Behind the master key, like the API.
    assert_eq!(scrape(&gw.base, None).await.status(), 401);
    assert_eq!(scrape(&gw.base, Some("sk-wrong")).await.status(), 401);
    let text = body(&gw.base).await;
    promtool_check(&text);
    for secret in ["session-secret-id", "0123456789abcdef", "req-"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }

    let s = samples(&text);
    let sonnet =
        r#"model_group="sonnet",provider="anthropic",client_protocol="anthropic",profile="work""#;
    let gpt = r#"model_group="gpt",provider="openai",client_protocol="openai-chat",profile="work""#;
    let expect = [
        (
            format!("agent_shim_requests_total{{{sonnet},status_class=\"2xx\"}}"),
            1.0,
        ),
        (
            format!("agent_shim_requests_total{{{sonnet},status_class=\"5xx\"}}"),
            1.0,
        ),
        (
            format!("agent_shim_requests_total{{{gpt},status_class=\"2xx\"}}"),
            1.0,
        ),
        (
            format!("agent_shim_errors_total{{{sonnet},error_class=\"overloaded\"}}"),
            1.0,
        ),
        (
            format!("agent_shim_tokens_total{{{sonnet},kind=\"input\"}}"),
            26_000.0,
        ),
        (
            format!("agent_shim_tokens_total{{{sonnet},kind=\"output\"}}"),
            500.0,
        ),
        (
            format!("agent_shim_tokens_total{{{sonnet},kind=\"cache_read\"}}"),
            20_000.0,
        ),
        (
            format!("agent_shim_tokens_total{{{sonnet},kind=\"cache_write_5m\"}}"),
            3_000.0,
        ),
        (
            format!("agent_shim_tokens_total{{{sonnet},kind=\"cache_write_1h\"}}"),
            2_000.0,
        ),
        (
            format!("agent_shim_tokens_total{{{gpt},kind=\"input\"}}"),
            10_000.0,
        ),
        (
            format!("agent_shim_tokens_total{{{gpt},kind=\"reasoning\"}}"),
            300.0,
        ),
        (
            format!("agent_shim_tokens_total{{{gpt},kind=\"cache_read\"}}"),
            6_000.0,
        ),
        // 39,750,000,000 pUSD and 25,500,000,000 pUSD.
        (format!("agent_shim_cost_usd_total{{{sonnet}}}"), 0.03975),
        (format!("agent_shim_cost_usd_total{{{gpt}}}"), 0.0255),
        (
            format!("agent_shim_unpriced_requests_total{{{sonnet}}}"),
            1.0,
        ),
        (format!("agent_shim_retries_total{{{sonnet}}}"), 2.0),
        (format!("agent_shim_retries_total{{{gpt}}}"), 1.0),
        (format!("agent_shim_fallbacks_total{{{gpt}}}"), 1.0),
        (
            format!("agent_shim_request_duration_seconds_count{{{sonnet}}}"),
            2.0,
        ),
        (
            format!("agent_shim_request_duration_seconds_sum{{{sonnet}}}"),
            4.5,
        ),
        (
            format!("agent_shim_request_duration_seconds_bucket{{{sonnet},le=\"0.8\"}}"),
            0.0,
        ),
        (
            format!("agent_shim_request_duration_seconds_bucket{{{sonnet},le=\"1.6\"}}"),
            1.0,
        ),
        (
            format!("agent_shim_request_duration_seconds_bucket{{{sonnet},le=\"3.2\"}}"),
            2.0,
        ),
        (
            format!("agent_shim_time_to_first_byte_seconds_count{{{sonnet}}}"),
            1.0,
        ),
        (
            format!("agent_shim_time_to_first_byte_seconds_sum{{{gpt}}}"),
            0.1,
        ),
        (
            "agent_shim_stream_inter_chunk_seconds_count".to_owned(),
            2.0,
        ),
        (
            "agent_shim_stream_inter_chunk_seconds_bucket{le=\"0.004\"}".to_owned(),
            1.0,
        ),
        ("agent_shim_models_defined".to_owned(), 1.0),
        ("agent_shim_models_registered".to_owned(), 1.0),
        ("agent_shim_deployments".to_owned(), 1.0),
        ("agent_shim_requests_in_flight".to_owned(), 0.0),
        (
            "agent_shim_price_table{version=\"litellm-1.106.2@2026-10-21\"}".to_owned(),
            1.0,
        ),
    ];
    for (k, v) in &expect {
        assert_eq!(s.get(k), Some(v), "{k}\n{text}");
    }
    // The counters agree with the records: requests, and cost to the picodollar.
    let requests: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("agent_shim_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(requests, workload.len() as f64);
    let cost_pico: i64 = workload.iter().filter_map(|r| r.cost_pico_usd).sum();
    let cost: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("agent_shim_cost_usd_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!((cost * 1e12).round() as i64, cost_pico);
    // Only the failure is an error; no ledger queue, so no drops series.
    assert_eq!(
        s.keys()
            .filter(|k| k.starts_with("agent_shim_errors_total{"))
            .count(),
        1
    );
    assert_eq!(s.get("agent_shim_ledger_dropped_records_total"), Some(&0.0));
}

#[tokio::test]
async fn gauges_show_a_request_in_flight_registered_models_cooldowns_and_ledger_drops() {
    let slow = fake(json!({"protocols": ["anthropic"], "steps": [
        {"reply": {"text": "one two three four", "stream": {"delay_ms": 300, "text_chunks": 4}}}
    ]}))
    .await;
    let broken =
        fake(json!({"protocols": ["anthropic"], "steps": [], "default": {"status": 500}})).await;
    let router = RouterSettings {
        num_retries: 0,
        allowed_fails: 0,
        cooldown_time: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let mut cfg = config(
        vec![
            def("slow", "anthropic/claude-x", &slow.base_url()),
            // Cooldowns apply to groups of two deployments or more (as in LiteLLM).
            def("broken", "anthropic/claude-y", &broken.base_url()),
            def("broken", "anthropic/claude-y2", &broken.base_url()),
            def("idle", "anthropic/claude-z", &slow.base_url()),
        ],
        HashMap::new(),
        router,
        gateway::Registered::Only(vec!["slow".into()]),
        None,
    );
    // A ledger queue of one record that nobody reads: the second and third records are dropped.
    let (tx, _rx) = ledger::channel(1);
    for _ in 0..3 {
        tx.send(UsageRecord::default());
    }
    cfg.ledger.sender = Some(tx);
    let (gw, g) = bind(cfg).await;
    tokio::spawn(g.serve_workers(2, std::future::pending()));

    // One failure cools `broken` down (allowed_fails 0).
    let r = gw
        .post(
            "/v1/messages",
            &json!({"model": "broken", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());

    // A stream in flight: its headers are in, its body is still coming.
    let resp = gw
        .post(
            "/v1/messages",
            &json!({"model": "slow", "max_tokens": 10, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let during = body(&gw.base).await;
    promtool_check(&during);
    let s = samples(&during);
    assert_eq!(
        s.get("agent_shim_requests_in_flight"),
        Some(&1.0),
        "{during}"
    );
    assert_eq!(s.get("agent_shim_models_defined"), Some(&3.0));
    // `slow` was registered at start and `broken` on first use; `idle` was never used.
    assert_eq!(
        s.get("agent_shim_models_registered"),
        Some(&2.0),
        "{during}"
    );
    assert_eq!(s.get("agent_shim_deployments"), Some(&4.0));
    // The deployment tried (or both, when the request moved on to the second) cooled down.
    let cooling = s.get(r#"agent_shim_deployments_cooling_down{model_group="broken"}"#);
    assert!(
        matches!(cooling, Some(n) if *n >= 1.0 && *n <= 2.0),
        "{during}"
    );
    assert!(
        !s.keys()
            .any(|k| k.contains("cooling_down{model_group=\"slow\""))
    );
    // The two queued above, and the failed `broken` request's own record (the queue is full).
    assert_eq!(s.get("agent_shim_ledger_dropped_records_total"), Some(&3.0));

    let text = resp.text().await.unwrap();
    assert!(text.contains("message_stop"), "{text}");
    // The stream's record is dropped too once the stream has ended (a moment after its last
    // byte); drops are counted once, not again at every scrape.
    let mut after = samples(&body(&gw.base).await);
    for _ in 0..100 {
        if after.get("agent_shim_ledger_dropped_records_total") == Some(&4.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = samples(&body(&gw.base).await);
    }
    assert_eq!(after.get("agent_shim_requests_in_flight"), Some(&0.0));
    assert_eq!(
        after.get("agent_shim_ledger_dropped_records_total"),
        Some(&4.0)
    );
    let again = samples(&body(&gw.base).await);
    assert_eq!(
        again.get("agent_shim_ledger_dropped_records_total"),
        Some(&4.0)
    );
}
