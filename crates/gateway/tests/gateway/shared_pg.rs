//! Several gateway instances on one PostgreSQL database (issue 12 §2), against the real server
//! of AGENT_SHIM_TEST_DATABASE_URL (a fresh database per test, dropped after): a model
//! registered on one instance is served by the other, deleted on one is gone on the other, and
//! survives a restart of both; an `rpm` limit and a cooldown hold across both; a database that
//! goes away does not stop either, and what changed meanwhile arrives when it is back.
//! Propagation times are measured and printed (`--no-capture` shows them), not asserted.

use crate::common::*;
use crate::router::*;
use gateway::{GatewayConfig, ModelDefinition, RouterSettings};
use ledger::shared::Shared;
use ledger::test_db::TestDb;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One gateway instance on the database, stopped by [`Instance::stop`].
struct Instance {
    gw: Running,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    async fn start(db: &TestDb, models: Vec<ModelDefinition>, router: RouterSettings) -> Instance {
        let shared = Shared::connect(&db.url, Some(MASTER_KEY)).await.unwrap();
        let config = GatewayConfig {
            shared: Some(Arc::new(shared)),
            ..config(
                models,
                Default::default(),
                router,
                gateway::Registered::All,
                None,
            )
        };
        let (gw, g) = bind(config).await;
        let (stop, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(g.serve_workers(2, async move {
            let _ = rx.await;
        }));
        Instance { gw, stop, done }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }

    async fn info(&self) -> Vec<Value> {
        let v: Value = self
            .gw
            .http
            .get(format!("{}/model/info", self.gw.base))
            .header("x-api-key", MASTER_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().unwrap().clone()
    }

    /// `model_info` of deployment `id`.
    async fn deployment(&self, id: &str) -> Value {
        self.info()
            .await
            .into_iter()
            .find(|d| d["model_info"]["id"] == id)
            .map(|d| d["model_info"].clone())
            .unwrap_or(Value::Null)
    }
}

/// Polls `f` every 10 ms until it holds (at most 15 s) and returns how long that took.
async fn until<F, Fut>(what: &str, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !f().await {
        assert!(t.elapsed() < Duration::from_secs(15), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = t.elapsed();
    println!("shared_pg: {what}: {} ms", took.as_millis());
    took
}

async fn status(gw: &Running, model: &str) -> u16 {
    ask(gw, model, false, &[]).await.status().as_u16()
}

const UPSTREAM_KEY: &str = "sk-upstream-live-4242";

#[tokio::test]
async fn registrations_reach_every_instance_and_survive_a_restart_of_all() {
    let db = TestDb::create("shim_gw");
    let fake = fake(json!({"default": {"text": "ok"}})).await;
    let a = Instance::start(&db, vec![], settings()).await;
    let b = Instance::start(&db, vec![], settings()).await;
    assert_eq!(status(&b.gw, "team-model").await, 404);

    let body = json!({"model_name": "team-model", "litellm_params": {
        "model": "anthropic/claude-x", "api_base": fake.base_url(), "api_key": UPSTREAM_KEY}});
    let resp = a.gw.post("/model/new", &body).await;
    assert_eq!(resp.status(), 200);
    let id = resp.json::<Value>().await.unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    until("registered on A, served by B", || async {
        status(&b.gw, "team-model").await == 200
    })
    .await;
    // B found the key, which the database holds only encrypted.
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.headers["x-api-key"], UPSTREAM_KEY);
    let row = db
        .client()
        .await
        .query_one(
            "SELECT model_name, definition, secrets FROM registered_models WHERE deployment_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let (name, def, secrets): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(name, "team-model");
    assert!(!def.contains(UPSTREAM_KEY) && !secrets.contains(UPSTREAM_KEY));
    assert!(!def.contains("api_key"), "{def}");

    let resp = b.gw.post("/model/delete", &json!({"id": id})).await;
    assert_eq!(resp.status(), 200);
    until("deleted on B, gone on A", || async {
        status(&a.gw, "team-model").await == 404
    })
    .await;
    let rows = db
        .client()
        .await
        .query("SELECT 1 FROM registered_models", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());

    // Registered again, then every instance restarts: still served, from the first request.
    assert_eq!(a.gw.post("/model/new", &body).await.status(), 200);
    until("registered again on A, served by B", || async {
        status(&b.gw, "team-model").await == 200
    })
    .await;
    a.stop().await;
    b.stop().await;
    let a = Instance::start(&db, vec![], settings()).await;
    let b = Instance::start(&db, vec![], settings()).await;
    for gw in [&a.gw, &b.gw] {
        assert_eq!(text_of(ask(gw, "team-model", false, &[]).await).await, "ok");
    }
    assert_eq!(
        fake.requests().pop().unwrap().headers["x-api-key"],
        UPSTREAM_KEY
    );
    // Deleting the group by name reaches the other instance too.
    let resp =
        a.gw.post("/model/delete", &json!({"model_name": "team-model"}))
            .await;
    assert_eq!(resp.status(), 200);
    until("group deleted on A, gone on B", || async {
        status(&b.gw, "team-model").await == 404
    })
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_rpm_limit_holds_across_instances() {
    // Four requests and the checks must fall in one wall-clock minute.
    let into = ledger_minute_offset_ms();
    if into > 40_000 {
        tokio::time::sleep(Duration::from_millis(60_100 - into)).await;
    }
    let db = TestDb::create("shim_gw");
    let fake = fake_by_model(&[]).await;
    let mut d = dep("m", "dep-a", &fake);
    d.litellm_params.rpm = Some(4);
    let a = Instance::start(&db, vec![d.clone()], settings()).await;
    let b = Instance::start(&db, vec![d], settings()).await;
    for gw in [&a.gw, &b.gw, &a.gw, &b.gw] {
        assert_eq!(text_of(ask(gw, "m", false, &[]).await).await, "ok");
    }
    let id = a.info().await[0]["model_info"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, i) in [("A", &a), ("B", &b)] {
        until(
            &format!("4 requests over both counted on {name}"),
            || async { i.deployment(&id).await["usage_this_minute"]["requests"] == 4 },
        )
        .await;
    }
    for gw in [&a.gw, &b.gw] {
        let (status, e) = error_of(ask(gw, "m", false, &[]).await).await;
        assert_eq!(status, 429, "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("4 requests this minute (litellm_params.rpm)"),
            "{e}"
        );
    }
    assert_eq!(served(&fake).len(), 4, "nothing sent over the shared limit");
    a.stop().await;
    b.stop().await;
}

fn ledger_minute_offset_ms() -> u64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000) as u64
}

#[tokio::test]
async fn a_cooldown_started_on_one_instance_holds_on_the_other() {
    let db = TestDb::create("shim_gw");
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
    let mut good = dep("m", "dep-good", &fake);
    good.litellm_params.order = Some(2);
    let s = || RouterSettings {
        allowed_fails: 1,
        cooldown_time: Duration::from_secs(60),
        ..settings()
    };
    let a = Instance::start(&db, vec![bad.clone(), good.clone()], s()).await;
    let b = Instance::start(&db, vec![bad, good], s()).await;
    // allowed_fails + 1 failures on A: dep-bad cools down there…
    for _ in 0..2 {
        assert_eq!(text_of(ask(&a.gw, "m", false, &[]).await).await, "good");
    }
    assert_eq!(
        served(&fake),
        ["dep-bad", "dep-good", "dep-bad", "dep-good"]
    );
    let bad_id = a
        .info()
        .await
        .into_iter()
        .find(|d| d["litellm_params"]["model"] == "anthropic/dep-bad")
        .unwrap()["model_info"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // …and on B, which never saw it fail.
    until("cooldown on A honoured by B", || async {
        b.deployment(&bad_id).await["cooldown_remaining_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    })
    .await;
    fake.clear_requests();
    for _ in 0..3 {
        assert_eq!(text_of(ask(&b.gw, "m", false, &[]).await).await, "good");
    }
    assert_eq!(served(&fake), ["dep-good"; 3]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn instances_serve_through_a_lost_database_and_catch_up_when_it_is_back() {
    let db = TestDb::create("shim_gw");
    let fake = fake(json!({"default": {"text": "ok"}})).await;
    let local = dep("local", "dep-l", &fake);
    let a = Instance::start(&db, vec![local.clone()], settings()).await;
    let b = Instance::start(&db, vec![local], settings()).await;
    let body = json!({"model_name": "late", "litellm_params": {
        "model": "anthropic/late-x", "api_base": fake.base_url(), "api_key": "os.environ/LATE_KEY"}});
    db.cut_connections();
    // Both keep serving what they have…
    for gw in [&a.gw, &b.gw] {
        assert_eq!(text_of(ask(gw, "local", false, &[]).await).await, "ok");
    }
    // …and a registration made while the connections are down reaches B once they are back.
    assert_eq!(a.gw.post("/model/new", &body).await.status(), 200);
    until("registration during a reconnect reaches B", || async {
        b.info().await.iter().any(|d| d["model_name"] == "late")
    })
    .await;
    // The reference is stored as such (not a secret).
    let def: String = db
        .client()
        .await
        .query_one(
            "SELECT definition FROM registered_models WHERE model_name = 'late'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(def.contains("os.environ/LATE_KEY"), "{def}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_tpm_limit_counts_the_tokens_of_both_instances() {
    let into = ledger_minute_offset_ms();
    if into > 40_000 {
        tokio::time::sleep(Duration::from_millis(60_100 - into)).await;
    }
    let db = TestDb::create("shim_gw");
    let fake = fake(json!({"default": {"text": "ok", "usage": {"input": 80, "output": 30}}})).await;
    let mut d = dep("m", "dep-a", &fake);
    d.litellm_params.tpm = Some(200);
    let a = Instance::start(&db, vec![d.clone()], settings()).await;
    let b = Instance::start(&db, vec![d], settings()).await;
    assert_eq!(text_of(ask(&a.gw, "m", false, &[]).await).await, "ok");
    let id = a.info().await[0]["model_info"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // What one request uses as the router counts it (the fake's usage, 80 + 30 tokens): under
    // 200 alone, over it twice.
    let one = a.deployment(&id).await["usage_this_minute"]["tokens"]
        .as_u64()
        .unwrap();
    assert!(one < 200 && 2 * one >= 200, "{one}");
    assert_eq!(text_of(ask(&b.gw, "m", false, &[]).await).await, "ok");
    for (name, i) in [("A", &a), ("B", &b)] {
        until(
            &format!("tokens of both instances counted on {name}"),
            || async { i.deployment(&id).await["usage_this_minute"]["tokens"] == 2 * one },
        )
        .await;
    }
    for gw in [&a.gw, &b.gw] {
        let (status, e) = error_of(ask(gw, "m", false, &[]).await).await;
        assert_eq!(status, 429, "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("200 tokens this minute (litellm_params.tpm)"),
            "{e}"
        );
    }
    assert_eq!(fake.requests().len(), 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_unreachable_database_at_start_leaves_the_instance_serving_alone() {
    let fake = fake(json!({"default": {"text": "ok"}})).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://u:hunter2@127.0.0.1:{port}/nowhere");
    let shared = Shared::connect(&url, Some(MASTER_KEY)).await.unwrap();
    assert!(shared.take_initial().is_empty());
    let config = GatewayConfig {
        shared: Some(Arc::new(shared)),
        ..config(
            vec![dep("m", "dep-a", &fake)],
            Default::default(),
            settings(),
            gateway::Registered::All,
            None,
        )
    };
    let (gw, g) = bind(config).await;
    tokio::spawn(g.serve_workers(2, std::future::pending()));
    assert_eq!(text_of(ask(&gw, "m", false, &[]).await).await, "ok");
    // Registering still works here (queued for when the database is back).
    let body = json!({"model_name": "n", "litellm_params": {
        "model": "anthropic/n-x", "api_base": fake.base_url(), "api_key": "sk-n"}});
    assert_eq!(gw.post("/model/new", &body).await.status(), 200);
    assert_eq!(text_of(ask(&gw, "n", false, &[]).await).await, "ok");
}
