//! Two `agent-shim serve` processes on one PostgreSQL database (`database_url:` in each one's
//! config.yaml, the same `master_key`), as behind one load balancer (issue 12 §2): a model
//! registered on the first through `/model/new` is served by the second, deleted on the second
//! is gone on the first, and both restarted still serve it; an `rpm` limit counts the requests
//! of both. Needs AGENT_SHIM_TEST_DATABASE_URL (a fresh database per test, dropped after).
//! Propagation times are printed (`--no-capture`), not asserted.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use ledger::test_db::TestDb;
use serde_json::{Value, json};
use std::process::Child;
use std::time::{Duration, Instant};

const KEY: &str = "sk-shared-master-test";
const UPSTREAM_KEY: &str = "sk-upstream-shared-9001";

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A sandbox whose config shares `db` and names `models` (YAML `model_list` entries).
fn instance(db: &TestDb, models: &str) -> Sandbox {
    let s = Sandbox::new();
    s.write_config(
        "config.yaml",
        &format!("master_key: {KEY}\ndatabase_url: {}\n{models}", db.url),
    );
    s
}

/// Starts `serve` and waits until it answers.
fn serve(s: &Sandbox) -> Child {
    let child = s
        .cmd(&["serve"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(30, "serve to answer", || info(s).is_some());
    child
}

fn stop(child: Child) {
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
}

/// `/model/info`'s `data`, `None` when the gateway does not answer.
fn info(s: &Sandbox) -> Option<Vec<Value>> {
    block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{}/model/info", s.base_url()))
            .header("x-api-key", KEY)
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        v["data"].as_array().cloned()
    })
}

fn ask(s: &Sandbox, model: &str) -> (u16, String) {
    let body =
        json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    post_json(&format!("{}/v1/messages", s.base_url()), KEY, &body).unwrap()
}

/// Polls every 10 ms until `check` holds (at most 15 s); prints and returns the time it took.
fn measure(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !check() {
        assert!(t.elapsed() < Duration::from_secs(15), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = t.elapsed();
    println!(
        "shared_pg (two serve processes): {what}: {} ms",
        took.as_millis()
    );
    took
}

fn fake() -> FakeProviderThread {
    let script = json!({"default": {"text": "shared ok"}});
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

#[test]
fn two_serve_processes_share_registrations_through_postgres() {
    let db = TestDb::create("shim_cli");
    let fake = fake();
    let (a, b) = (instance(&db, ""), instance(&db, ""));
    let (pa, pb) = (serve(&a), serve(&b));
    assert_eq!(ask(&b, "team-model").0, 404);

    let body = json!({"model_name": "team-model", "litellm_params": {
        "model": "anthropic/claude-x", "api_base": fake.base_url(), "api_key": UPSTREAM_KEY}});
    let (status, answer) = post_json(&format!("{}/model/new", a.base_url()), KEY, &body).unwrap();
    assert_eq!(status, 200, "{answer}");
    let id = serde_json::from_str::<Value>(&answer).unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    measure("registered on A, served by B", || {
        ask(&b, "team-model").0 == 200
    });
    let (status, text) = ask(&b, "team-model");
    assert!(
        status == 200 && text.contains("shared ok"),
        "{status} {text}"
    );
    assert_eq!(
        fake.requests().last().unwrap().headers["x-api-key"],
        UPSTREAM_KEY
    );

    let (status, answer) = post_json(
        &format!("{}/model/delete", b.base_url()),
        KEY,
        &json!({"id": id}),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    measure("deleted on B, gone on A", || ask(&a, "team-model").0 == 404);

    // Registered again, then both processes restart: still served by both.
    let (status, _) = post_json(&format!("{}/model/new", a.base_url()), KEY, &body).unwrap();
    assert_eq!(status, 200);
    measure("registered again on A, served by B", || {
        ask(&b, "team-model").0 == 200
    });
    stop(pa);
    stop(pb);
    let (pa, pb) = (serve(&a), serve(&b));
    for s in [&a, &b] {
        let (status, text) = ask(s, "team-model");
        assert!(
            status == 200 && text.contains("shared ok"),
            "{status} {text}"
        );
    }
    stop(pa);
    stop(pb);
}

#[test]
fn two_serve_processes_share_an_rpm_limit() {
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if into > 35_000 {
        // The requests and the checks must fall in one wall-clock minute.
        std::thread::sleep(Duration::from_millis((60_100 - into) as u64));
    }
    let db = TestDb::create("shim_cli");
    let fake = fake();
    let models = format!(
        "model_list:\n  - model_name: limited\n    litellm_params:\n      model: anthropic/lim-x\n      \
         api_base: {}\n      api_key: sk-up\n      rpm: 4\n",
        fake.base_url()
    );
    let (a, b) = (instance(&db, &models), instance(&db, &models));
    let (pa, pb) = (serve(&a), serve(&b));
    for s in [&a, &b, &a, &b] {
        assert_eq!(ask(s, "limited").0, 200);
    }
    let counted = |s: &Sandbox| {
        info(s).unwrap().iter().any(|d| {
            d["model_name"] == "limited" && d["model_info"]["usage_this_minute"]["requests"] == 4
        })
    };
    measure("4 requests over both counted on A", || counted(&a));
    measure("4 requests over both counted on B", || counted(&b));
    for s in [&a, &b] {
        let (status, text) = ask(s, "limited");
        assert_eq!(status, 429, "{text}");
        assert!(
            text.contains("4 requests this minute (litellm_params.rpm)"),
            "{text}"
        );
    }
    assert_eq!(
        fake.requests().len(),
        4,
        "nothing sent over the shared limit"
    );
    stop(pa);
    stop(pb);
    // One ledger for both: `usage` from either instance's config counts all six requests (the
    // four answered and the two refused), each instance's writer having flushed on stop.
    for s in [&a, &b] {
        let out = s.run(&["usage", "--json", "--since", "1h"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["totals"]["requests"], 6, "{v}");
        assert_eq!(v["totals"]["errors"], 2, "{v}");
    }
}

#[test]
fn a_cooldown_started_by_one_serve_process_holds_in_the_other() {
    let db = TestDb::create("shim_cli");
    let script = json!({
        "steps": [{"when": {"model": "bad-x"},
                   "reply": {"status": 500, "error": {"type": "api_error", "message": "boom"}}}],
        "default": {"text": "good"}});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let models = format!(
        "router_settings:\n  allowed_fails: 1\n  cooldown_time: 60\n  num_retries: 0\n\
         model_list:\n  - model_name: pair\n    litellm_params:\n      model: anthropic/bad-x\n      \
         api_base: {base}\n      api_key: sk-up\n      order: 1\n\
         \x20 - model_name: pair\n    litellm_params:\n      model: anthropic/good-x\n      \
         api_base: {base}\n      api_key: sk-up\n      order: 2\n",
        base = fake.base_url()
    );
    let (a, b) = (instance(&db, &models), instance(&db, &models));
    let (pa, pb) = (serve(&a), serve(&b));
    // allowed_fails + 1 failures on A cool the bad deployment down there…
    for _ in 0..2 {
        let (status, text) = ask(&a, "pair");
        assert!(status == 200 && text.contains("good"), "{status} {text}");
    }
    let served = || -> Vec<String> {
        fake.requests()
            .iter()
            .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(served(), ["bad-x", "good-x", "bad-x", "good-x"]);
    // …and B, which never saw it fail, takes it out of rotation too.
    measure("cooldown on A honoured by B", || {
        info(&b).unwrap().iter().any(|d| {
            d["litellm_params"]["model"] == "anthropic/bad-x"
                && d["model_info"]["cooldown_remaining_ms"]
                    .as_u64()
                    .is_some_and(|ms| ms > 0)
        })
    });
    fake.clear_requests();
    for _ in 0..3 {
        let (status, text) = ask(&b, "pair");
        assert!(status == 200 && text.contains("good"), "{status} {text}");
    }
    assert_eq!(served(), ["good-x"; 3]);
    stop(pa);
    stop(pb);
}
