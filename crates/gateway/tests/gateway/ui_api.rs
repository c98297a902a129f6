//! The dashboard's JSON API (`/ui/api/…`, docs/ui-api.md) and its login, over a real SQLite
//! ledger (`ledger::store::open`) seeded with a known workload whose figures are worked out by
//! hand below.

use crate::common::{self, MASTER_KEY, Running, def};
use gateway::{Ledger, RouterSettings};
use ledger::{Tokens, UsageRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

const USD: i64 = 1_000_000_000_000;
const MS: i64 = 1_000;
const MIN_MS: i64 = 60_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rec(id: &str, ago_min: i64, model: &str, provider: &str, profile: &str) -> UsageRecord {
    UsageRecord {
        time_ms: now_ms() - ago_min * MIN_MS,
        request_id: id.into(),
        profile: Some(profile.into()),
        client_protocol: "anthropic".into(),
        requested_model: model.into(),
        model_group: Some(model.into()),
        deployment: Some(format!("{provider}-1")),
        provider: Some(provider.into()),
        served_model: Some(format!("{model}-upstream")),
        status: 200,
        attempts: 1,
        stream: true,
        ..UsageRecord::default()
    }
}

/// The known workload: six requests in the last hour and one three days ago.
///
/// | id | model | provider | profile | agent | status | input (cache read / write) | output | cost | latency / ttfb |
/// | a | sonnet | anthropic | work | claude-code | 200 | 10000 (6000 / 2000) | 1000 | $0.75 | 2000 / 400 ms |
/// | b | sonnet | anthropic | work | claude-code | 200 | 4000 (3000 / 0) | 500 | $0.50 | 1000 / 300 ms |
/// | c | gpt-5 | openai | research | codex | 200, fallback after 3 failures | 2000 | 800 | $0.0345 | 3000 / 500 ms |
/// | d | gpt-5 | openai | research | codex | 429 | 0 | 0 | $0 | 100 ms / – |
/// | e | sonnet | anthropic | work | claude-code | 529 | 0 | 0 | $0 | 50 ms / – |
/// | f | qwen-local | ollama | work | opencode | 200 | 300 | 100 | unpriced | 800 / 200 ms |
/// | old | sonnet | anthropic | work | claude-code | 200 (3 days ago) | 1000 | 100 | $2 | 1000 / 100 ms |
///
/// Last 24 h: 6 requests, 2 errors (one 429, one 529), 1 fallback, $1.2845 and 1 unpriced;
/// input 16300 of which 9000 read from the cache (ratio 0.5521…) and 2000 written; output 2400;
/// latency p50 800 ms and p95 3000 ms, ttfb p50 300 ms and p95 500 ms (nearest rank).
/// The request body captured for `req-a` of [`workload`] (its response was not captured).
pub const CAPTURED_REQUEST: &str = r#"{"messages":[{"role":"user","content":"<b>bold?</b>"}]}"#;

pub fn workload() -> Vec<UsageRecord> {
    let a = UsageRecord {
        tokens: Tokens {
            input: 10_000,
            output: 1_000,
            reasoning: 200,
            cache_read: 6_000,
            cache_write_5m: 2_000,
            cache_write_1h: 0,
        },
        cost_pico_usd: Some(75 * USD / 100),
        latency_us: 2_000 * MS,
        ttfb_us: Some(400 * MS),
        directory: Some("d1".into()),
        agent: Some("claude-code".into()),
        session_id: Some("s1".into()),
        price_version: Some("litellm@2026-11-30".into()),
        // Captured (store_prompts_in_spend_logs): shown as text, never as markup.
        request_body: Some(CAPTURED_REQUEST.into()),
        ..rec("req-a", 50, "sonnet", "anthropic", "work")
    };
    let b = UsageRecord {
        tokens: Tokens {
            input: 4_000,
            output: 500,
            cache_read: 3_000,
            ..Tokens::default()
        },
        cost_pico_usd: Some(USD / 2),
        latency_us: 1_000 * MS,
        ttfb_us: Some(300 * MS),
        directory: Some("d1".into()),
        agent: Some("claude-code".into()),
        ..rec("req-b", 40, "sonnet", "anthropic", "work")
    };
    let c = UsageRecord {
        tokens: Tokens {
            input: 2_000,
            output: 800,
            ..Tokens::default()
        },
        cost_pico_usd: Some(345 * USD / 10_000),
        latency_us: 3_000 * MS,
        ttfb_us: Some(500 * MS),
        directory: Some("d2".into()),
        agent: Some("codex".into()),
        route: Some("fallback".into()),
        attempts: 4,
        attempt_path: Some("azure-1:502,azure-1:502,azure-1:502,openai-1:200".into()),
        requested_model: "gpt-4o".into(),
        ..rec("req-c", 30, "gpt-5", "openai", "research")
    };
    let d = UsageRecord {
        status: 429,
        error_class: Some("rate_limit".into()),
        cost_pico_usd: Some(0),
        latency_us: 100 * MS,
        directory: Some("d2".into()),
        agent: Some("codex".into()),
        ..rec("req-d", 20, "gpt-5", "openai", "research")
    };
    let e = UsageRecord {
        status: 529,
        error_class: Some("overloaded".into()),
        cost_pico_usd: Some(0),
        latency_us: 50 * MS,
        agent: Some("claude-code".into()),
        ..rec("req-e", 10, "sonnet", "anthropic", "work")
    };
    let f = UsageRecord {
        tokens: Tokens {
            input: 300,
            output: 100,
            ..Tokens::default()
        },
        cost_pico_usd: None,
        latency_us: 800 * MS,
        ttfb_us: Some(200 * MS),
        agent: Some("opencode".into()),
        ..rec("req-f", 5, "qwen-local", "ollama", "work")
    };
    let old = UsageRecord {
        tokens: Tokens {
            input: 1_000,
            output: 100,
            ..Tokens::default()
        },
        cost_pico_usd: Some(2 * USD),
        latency_us: 1_000 * MS,
        ttfb_us: Some(100 * MS),
        agent: Some("claude-code".into()),
        ..rec("req-old", 3 * 24 * 60, "sonnet", "anthropic", "work")
    };
    vec![a, b, c, d, e, f, old]
}

/// A gateway (with or without the master key) whose ledger is a fresh SQLite store holding
/// `records`; the temporary state dir lives as long as the returned guard.
pub async fn gateway_with_ledger(
    records: Option<Vec<UsageRecord>>,
    master_key: bool,
) -> (Running, Option<tempfile::TempDir>) {
    let mut config = common::config(
        vec![
            def(
                "sonnet",
                "anthropic/claude-sonnet-4-5",
                "http://127.0.0.1:9",
            ),
            def("gpt-5", "openai/gpt-5", "http://127.0.0.1:9"),
        ],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::Only(vec!["sonnet".into()]),
        None,
    );
    if !master_key {
        config.master_key = None;
    }
    let mut dir = None;
    if let Some(records) = records {
        let d = tempfile::tempdir().unwrap();
        let store = ledger::store::open(None, d.path())
            .await
            .expect("the SQLite ledger opens");
        store.insert_batch(&records).await.expect("records written");
        config.ledger = Ledger {
            store: Some(store),
            ..Ledger::default()
        };
        dir = Some(d);
    }
    (common::gateway_full(config).await, dir)
}

async fn get(g: &Running, path: &str) -> (StatusCode, Value) {
    let r = g
        .http
        .get(format!("{}{path}", g.base))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
    (status, v)
}

async fn ok(g: &Running, path: &str) -> Value {
    let (s, v) = get(g, path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

#[tokio::test]
async fn summary_has_the_workloads_totals_for_each_range() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    let s = ok(&g, "/ui/api/summary?range=24h").await;
    assert_eq!(s["range"], "24h");
    assert_eq!(s["engine"], "sqlite");
    assert_eq!(s["requests"], 6);
    assert_eq!(s["errors"], 2);
    assert_eq!(s["outcomes"]["rate_limited"], 1);
    assert_eq!(s["outcomes"]["overloaded"], 1);
    assert_eq!(s["outcomes"]["fallbacks"], 1);
    assert_eq!(s["outcomes"]["complete"], true);
    assert!((s["outcomes"]["fallback_rate"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-9);
    assert_eq!(s["cost_usd"], "1.2845");
    assert_eq!(s["unpriced"], 1);
    assert_eq!(
        s["tokens"],
        json!({"input": 16300, "uncached_input": 5300, "cache_read": 9000, "cache_write": 2000,
               "output": 2400, "reasoning": 200})
    );
    assert!((s["cache_hit_ratio"].as_f64().unwrap() - 9000.0 / 16300.0).abs() < 1e-9);
    assert_eq!(s["latency_ms"], json!({"p50": 800.0, "p95": 3000.0}));
    assert_eq!(s["ttfb_ms"], json!({"p50": 300.0, "p95": 500.0}));
    assert!(s.get("key").is_none());

    // The request three days ago counts in 7 days, not in one hour's… nor its cost.
    let w = ok(&g, "/ui/api/summary?range=7d").await;
    assert_eq!(
        (w["requests"].clone(), w["cost_usd"].clone()),
        (json!(7), json!("3.2845"))
    );
    assert_eq!(ok(&g, "/ui/api/summary?range=all").await["requests"], 7);
    assert_eq!(
        ok(&g, "/ui/api/summary").await["range"],
        "24h",
        "the default range"
    );
    let h = ok(&g, "/ui/api/summary?range=1h&model=sonnet").await;
    assert_eq!(
        (h["requests"].clone(), h["cost_usd"].clone()),
        (json!(3), json!("1.25"))
    );
}

#[tokio::test]
async fn series_buckets_the_range_and_adds_up_to_the_totals() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    let s = ok(&g, "/ui/api/series?range=1h").await;
    assert_eq!(s["bucket_ms"], 60_000);
    let points = s["points"].as_array().unwrap();
    // Every minute of the hour is there (61 or 62 buckets by where the hour starts).
    assert!((61..=62).contains(&points.len()), "{}", points.len());
    assert!(
        points.windows(2).all(|w| w[1]["time_ms"].as_i64().unwrap()
            - w[0]["time_ms"].as_i64().unwrap()
            == 60_000)
    );
    let sum = |f: &dyn Fn(&Value) -> i64| points.iter().map(f).sum::<i64>();
    assert_eq!(sum(&|p| p["requests"].as_i64().unwrap()), 6);
    assert_eq!(sum(&|p| p["errors"].as_i64().unwrap()), 2);
    assert_eq!(sum(&|p| p["tokens"]["cache_read"].as_i64().unwrap()), 9000);
    assert_eq!(
        sum(&|p| p["tokens"]["uncached_input"].as_i64().unwrap()),
        5300
    );
    assert_eq!(sum(&|p| p["tokens"]["output"].as_i64().unwrap()), 2400);
    // Exact decimal strings: summed in picodollars they give the total.
    let pico: i64 = points
        .iter()
        .map(|p| {
            let s = p["cost_usd"].as_str().unwrap();
            let (w, f) = s.split_once('.').unwrap_or((s, ""));
            w.parse::<i64>().unwrap() * USD + format!("{f:0<12}").parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(pico, 12_845 * USD / 10_000);
    for (range, bucket) in [
        ("24h", 900_000),
        ("7d", 7_200_000),
        ("30d", 21_600_000),
        ("all", 86_400_000),
    ] {
        let s = ok(&g, &format!("/ui/api/series?range={range}")).await;
        assert_eq!(s["bucket_ms"], bucket, "{range}");
        let n: i64 = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["requests"].as_i64().unwrap())
            .sum();
        assert_eq!(n, if range == "24h" { 6 } else { 7 }, "{range}");
    }
}

#[tokio::test]
async fn breakdowns_by_each_dimension() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    let keys = |v: &Value| -> Vec<(String, i64, Value)> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    r["requests"].as_i64().unwrap(),
                    r["cost_usd"].clone(),
                )
            })
            .collect()
    };
    let m = ok(&g, "/ui/api/breakdown?by=model&range=24h").await;
    assert_eq!(m["by"], "model");
    assert_eq!(
        keys(&m),
        [
            ("sonnet".into(), 3, json!("1.25")),
            ("gpt-5".into(), 2, json!("0.0345")),
            ("qwen-local".into(), 1, Value::Null)
        ]
    );
    let sonnet = &m["rows"][0];
    assert_eq!(sonnet["errors"], 1);
    assert_eq!(sonnet["tokens"]["cache_read"], 9000);
    assert!((sonnet["cache_hit_ratio"].as_f64().unwrap() - 9000.0 / 14000.0).abs() < 1e-9);
    assert_eq!(sonnet["latency_ms"]["p95"], 2000.0);
    let p = ok(&g, "/ui/api/breakdown?by=provider").await;
    assert_eq!(
        keys(&p)
            .iter()
            .map(|k| (k.0.as_str(), k.1))
            .collect::<Vec<_>>(),
        [("anthropic", 3), ("openai", 2), ("ollama", 1)]
    );
    let pr = ok(&g, "/ui/api/breakdown?by=profile").await;
    assert_eq!(
        keys(&pr)
            .iter()
            .map(|k| (k.0.as_str(), k.1))
            .collect::<Vec<_>>(),
        [("work", 4), ("research", 2)]
    );
    let d = ok(&g, "/ui/api/breakdown?by=directory").await;
    assert_eq!(
        keys(&d)
            .iter()
            .map(|k| (k.0.as_str(), k.1))
            .collect::<Vec<_>>(),
        [("d1", 2), ("d2", 2), ("-", 2)]
    );
    let a = ok(&g, "/ui/api/breakdown?by=agent&range=7d").await;
    assert_eq!(
        keys(&a),
        [
            ("claude-code".into(), 4, json!("3.25")),
            ("codex".into(), 2, json!("0.0345")),
            ("opencode".into(), 1, Value::Null)
        ]
    );
}

#[tokio::test]
async fn the_request_table_filters_and_the_detail_shows_one_record() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    let ids = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ok(&g, "/ui/api/requests?range=24h").await;
    assert_eq!(
        ids(&all),
        ["req-f", "req-e", "req-d", "req-c", "req-b", "req-a"],
        "newest first"
    );
    assert_eq!(all["limit"], 100);
    let row = &all["rows"][3];
    assert_eq!(row["model_group"], "gpt-5");
    assert_eq!(row["requested_model"], "gpt-4o");
    assert_eq!(row["cost_usd"], "0.0345");
    assert_eq!(row["latency_ms"], 3000.0);
    assert_eq!(row["route"], "fallback");
    assert_eq!(
        ids(&ok(&g, "/ui/api/requests?model=sonnet").await),
        ["req-e", "req-b", "req-a"]
    );
    assert_eq!(
        ids(&ok(&g, "/ui/api/requests?model=sonnet&range=7d").await).len(),
        4
    );
    assert_eq!(
        ids(&ok(&g, "/ui/api/requests?status=errors").await),
        ["req-e", "req-d"]
    );
    assert_eq!(
        ids(&ok(&g, "/ui/api/requests?provider=openai&profile=research").await),
        ["req-d", "req-c"]
    );
    assert_eq!(
        ids(&ok(&g, "/ui/api/requests?profile=work&limit=2").await),
        ["req-f", "req-e"]
    );
    let f = ok(&g, "/ui/api/requests?model=sonnet&status=errors").await;
    assert_eq!(ids(&f), ["req-e"]);
    assert_eq!(f["filters"], json!({"model": "sonnet", "status": "errors"}));

    let d = ok(&g, "/ui/api/requests/req-c").await;
    assert_eq!(d["request_id"], "req-c");
    assert_eq!(d["attempts"], 4);
    assert_eq!(
        d["attempt_path"],
        "azure-1:502,azure-1:502,azure-1:502,openai-1:200"
    );
    assert_eq!(d["cost_usd"], "0.0345");
    assert_eq!(d["cost_pico_usd"], 345 * USD / 10_000);
    assert_eq!(d["latency_ms"], 3000.0);
    assert_eq!(d["ttfb_ms"], 500.0);
    assert_eq!(d["tokens_by_kind"]["output"], 800);
    let a = ok(&g, "/ui/api/requests/req-a").await;
    assert_eq!(a["tokens_by_kind"]["uncached_input"], 2000);
    assert_eq!(a["session_id"], "s1");
    assert_eq!(a["request_body"], CAPTURED_REQUEST);
    assert_eq!(a["response_body"], Value::Null);
    assert_eq!(
        d["request_body"],
        Value::Null,
        "not captured: null, not absent"
    );
    assert!(
        all["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("request_body").is_none()),
        "the list never carries bodies"
    );
    assert_eq!(
        ok(&g, "/ui/api/requests/req-f").await["cost_usd"],
        Value::Null
    );

    let (s, v) = get(&g, "/ui/api/requests/no-such-id").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["type"], "not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-id"),
        "{v}"
    );
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_parameter() {
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    for (path, says) in [
        (
            "/ui/api/summary?range=2h",
            "range '2h' is not one of: 1h, 24h, 7d, 30d, all",
        ),
        ("/ui/api/breakdown?by=colour", "by 'colour' is not one of"),
        (
            "/ui/api/requests?limit=0",
            "limit '0' is not a whole number from 1 to 1000",
        ),
        ("/ui/api/requests?limit=lots", "limit 'lots'"),
        ("/ui/api/requests?status=ok", "status 'ok' is not allowed"),
        ("/ui/api/series?modle=sonnet", "unknown parameter 'modle'"),
        ("/ui/api/summary?by=model", "unknown parameter 'by'"),
    ] {
        let (s, v) = get(&g, path).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{path}: {v}"
        );
    }
}

#[tokio::test]
async fn without_a_ledger_the_reports_are_503_and_now_still_answers() {
    let (g, _dir) = gateway_with_ledger(None, true).await;
    for path in [
        "/ui/api/summary",
        "/ui/api/series?range=1h",
        "/ui/api/breakdown?by=agent",
        "/ui/api/requests",
        "/ui/api/requests/req-a",
    ] {
        let (s, v) = get(&g, path).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(v["error"]["type"], "ledger_off", "{path}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("usage ledger is off") && m.contains("database_url"),
            "{m}"
        );
    }
    let n = ok(&g, "/ui/api/now").await;
    assert_eq!(n["ledger"], Value::Null);
}

#[tokio::test]
async fn now_lists_the_models_their_registration_and_whats_in_flight() {
    let (g, _dir) = gateway_with_ledger(Some(vec![]), true).await;
    let n = ok(&g, "/ui/api/now").await;
    assert_eq!(n["in_flight"], 0);
    assert_eq!(n["registered"], json!(["sonnet"]));
    assert_eq!(n["cooldowns"], json!([]));
    assert_eq!(n["ledger"]["engine"], "sqlite");
    let models = n["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(
        (
            models[0]["model_name"].clone(),
            models[0]["registered"].clone()
        ),
        (json!("sonnet"), json!(true))
    );
    assert_eq!(
        (
            models[1]["model_name"].clone(),
            models[1]["registered"].clone()
        ),
        (json!("gpt-5"), json!(false))
    );
    let d = &models[1]["deployments"][0];
    assert_eq!(
        (
            d["provider"].clone(),
            d["model"].clone(),
            d["origin"].clone()
        ),
        (json!("openai"), json!("gpt-5"), json!("config"))
    );
    assert_eq!(d["in_flight"], 0);
    assert_eq!(d["cooldown_remaining_s"], Value::Null);
    // An empty ledger: zero totals, unknown ratios and percentiles.
    let s = ok(&g, "/ui/api/summary").await;
    assert_eq!(
        (
            s["requests"].clone(),
            s["cost_usd"].clone(),
            s["cache_hit_ratio"].clone()
        ),
        (json!(0), Value::Null, Value::Null)
    );
    assert_eq!(s["latency_ms"]["p50"], Value::Null);
}

#[tokio::test]
async fn now_shows_a_deployment_cooling_down_and_the_one_that_served() {
    use crate::router::{ask, dep, fake_by_model, settings, text_of};
    let fake = fake_by_model(&[
        (
            "dep-bad",
            json!({"status": 500, "error": {"type": "api_error", "message": "boom"}}),
        ),
        ("dep-good", json!({"text": "good"})),
    ])
    .await;
    let mut bad = dep("m", "dep-bad", &fake);
    bad.litellm_params.order = Some(1);
    bad.litellm_params.rpm = Some(100);
    let mut good = dep("m", "dep-good", &fake);
    good.litellm_params.order = Some(2);
    let s = RouterSettings {
        allowed_fails: 0,
        cooldown_time: std::time::Duration::from_secs(60),
        ..settings()
    };
    let g = common::gateway_with(vec![bad, good], HashMap::new(), s).await;
    // One failure is more than allowed_fails (0): dep-bad cools down for a minute.
    assert_eq!(text_of(ask(&g, "m", false, &[]).await).await, "good");
    let n = ok(&g, "/ui/api/now").await;
    let cooling = n["cooldowns"].as_array().unwrap();
    assert_eq!(cooling.len(), 1, "{n}");
    assert_eq!(cooling[0]["model_name"], "m");
    let left = cooling[0]["remaining_s"].as_f64().unwrap();
    assert!(left > 50.0 && left <= 60.0, "{left}");
    let deps = n["models"][0]["deployments"].as_array().unwrap();
    let by_model = |m: &str| deps.iter().find(|d| d["model"] == m).unwrap().clone();
    let (b, gd) = (by_model("dep-bad"), by_model("dep-good"));
    assert_eq!(b["id"], cooling[0]["deployment"]);
    assert_eq!(b["order"], 1);
    assert_eq!(b["limits"]["rpm"], 100);
    assert!(b["cooldown_remaining_s"].as_f64().unwrap() > 50.0);
    assert_eq!(gd["cooldown_remaining_s"], Value::Null);
    assert!(gd["tokens_this_minute"].as_u64().unwrap() > 0, "{gd}");
    assert_eq!(n["in_flight"], 0);
}

#[tokio::test]
async fn outcome_counts_say_when_they_cover_only_the_newest_records() {
    // 20,001 requests, the oldest a 429: the counts read the newest 20,000 and say so.
    let mut records: Vec<UsageRecord> = (0..20_001)
        .map(|i| UsageRecord {
            time_ms: now_ms() - 3_600_000 + i,
            ..rec(&format!("bulk-{i:05}"), 0, "sonnet", "anthropic", "work")
        })
        .collect();
    records[0].status = 429;
    let (g, _dir) = gateway_with_ledger(Some(records), true).await;
    let s = ok(&g, "/ui/api/summary?range=24h").await;
    assert_eq!(s["requests"], 20_001);
    assert_eq!(s["errors"], 1);
    assert_eq!(
        s["outcomes"],
        json!({"rate_limited": 0, "overloaded": 0, "fallbacks": 0, "fallback_rate": 0.0,
               "counted": 20_000, "complete": false})
    );
}
