//! The shared state against a real PostgreSQL server (AGENT_SHIM_TEST_DATABASE_URL, a fresh
//! database per test): secrets stored encrypted, registrations and cooldowns announced to
//! another instance, usage summed across instances.

// Tests may panic (the crate denies it for product code; it has no clippy.toml test allowance).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::is_postgres;
use crate::test_db::TestDb;
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A gateway stand-in that records what it was told.
#[derive(Default)]
struct Recorder {
    alive: AtomicBool,
    deltas: Mutex<Vec<UsageDelta>>,
    others: Mutex<Vec<UsageTotal>>,
    cooldowns: Mutex<Vec<(String, u64)>>,
    cooled: Mutex<Vec<(String, u64)>>,
    stored: Mutex<Vec<StoredModel>>,
    deleted: Mutex<Vec<String>>,
    loaded: Mutex<Vec<Vec<StoredModel>>>,
}

impl Local for Recorder {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
    fn usage_deltas(&self) -> Vec<UsageDelta> {
        std::mem::take(&mut *lock(&self.deltas))
    }
    fn others_usage(&self, _minute: u64, totals: &[UsageTotal]) {
        *lock(&self.others) = totals.to_vec();
    }
    fn new_cooldowns(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut *lock(&self.cooldowns))
    }
    fn cooled_down(&self, deployment: &str, until_ms: u64) {
        lock(&self.cooled).push((deployment.to_owned(), until_ms));
    }
    fn model_stored(&self, model: StoredModel) {
        lock(&self.stored).push(model);
    }
    fn model_deleted(&self, id: &str) {
        lock(&self.deleted).push(id.to_owned());
    }
    fn group_deleted(&self, model_name: &str) {
        lock(&self.deleted).push(format!("group:{model_name}"));
    }
    fn models_loaded(&self, models: Vec<StoredModel>) {
        lock(&self.loaded).push(models);
    }
}

async fn until(what: &str, f: impl Fn() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t.elapsed()
}

fn recorder() -> Arc<Recorder> {
    let r = Arc::new(Recorder::default());
    r.alive.store(true, Ordering::Relaxed);
    r
}

#[tokio::test]
async fn registrations_cooldowns_and_usage_reach_the_other_instance() {
    let db = TestDb::create("shim_shared");
    let a = Arc::new(Shared::connect(&db.url, Some("sk-master")).await.unwrap());
    let b = Arc::new(Shared::connect(&db.url, Some("sk-master")).await.unwrap());
    let (ra, rb) = (recorder(), recorder());
    a.start(ra.clone());
    b.start(rb.clone());
    until("b listens", || !lock(&rb.loaded).is_empty()).await;

    let def = json!({"model_name": "m", "litellm_params": {"model": "openai/gpt-x", "api_base": "http://h"}});
    let mut secrets = Map::new();
    secrets.insert("api_key".into(), json!("sk-live-secret-123"));
    a.store_model("dep-1", "m", &def, secrets).unwrap();
    let took = until("b sees the model", || !lock(&rb.stored).is_empty()).await;
    println!("registration propagated in {} ms", took.as_millis());
    let got = lock(&rb.stored)[0].clone();
    assert_eq!(got.id, "dep-1");
    assert_eq!(
        got.definition["litellm_params"]["api_key"],
        "sk-live-secret-123"
    );
    // Never in plain text in the database.
    let c = db.client().await;
    let row = c
        .query_one(
            "SELECT definition, secrets FROM registered_models WHERE deployment_id = 'dep-1'",
            &[],
        )
        .await
        .unwrap();
    let (d, s): (String, String) = (row.get(0), row.get(1));
    assert!(!d.contains("sk-live") && !s.contains("sk-live"), "{d} {s}");

    // Without a master key, keyed registrations are refused, plain ones go.
    let nokey = Shared::connect(&db.url, None).await.unwrap();
    let mut secrets = Map::new();
    secrets.insert("api_key".into(), json!("sk-x"));
    let e = nokey.store_model("dep-2", "m2", &def, secrets).unwrap_err();
    assert!(e.to_string().contains("master_key"), "{e}");
    // …and cannot read the keyed ones.
    assert!(nokey.take_initial().is_empty());

    a.delete_model("dep-1");
    until("b sees the delete", || {
        lock(&rb.deleted).contains(&"dep-1".to_owned())
    })
    .await;
    a.delete_group("m");
    until("b sees the group delete", || {
        lock(&rb.deleted).contains(&"group:m".to_owned())
    })
    .await;

    let far = now_ms_for_test() + 60_000;
    lock(&ra.cooldowns).push(("dep-9".into(), far));
    let took = until("b is told of the cooldown", || {
        lock(&rb.cooled).contains(&("dep-9".to_owned(), far))
    })
    .await;
    println!("cooldown propagated in {} ms", took.as_millis());
    assert!(lock(&ra.cooled).is_empty(), "a is not told of its own");

    let minute = now_ms_for_test() / 60_000;
    lock(&ra.deltas).push(UsageDelta {
        deployment: "dep-9".into(),
        minute,
        requests: 3,
        tokens: 70,
    });
    lock(&ra.deltas).push(UsageDelta {
        deployment: "dep-9".into(),
        minute,
        requests: 1,
        tokens: 5,
    });
    until("b reads a's usage", || {
        lock(&rb.others).iter().any(|t| {
            t.deployment == "dep-9"
                && (t.requests, t.tokens) == (4, 75)
                && now_ms_for_test() / 60_000 == minute
        }) || now_ms_for_test() / 60_000 != minute
    })
    .await;
    // a does not count its own usage as the others'.
    assert!(lock(&ra.others).iter().all(|t| t.deployment != "dep-9"));

    ra.alive.store(false, Ordering::Relaxed);
    rb.alive.store(false, Ordering::Relaxed);
}

fn now_ms_for_test() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn postgres_urls_are_recognised() {
    assert!(is_postgres("postgres://u:p@h/db"));
    assert!(is_postgres("PostgreSQL://h/db"));
    assert!(!is_postgres("sqlite:///tmp/x.db"));
}

#[tokio::test]
async fn a_bad_url_is_named_without_its_password() {
    let e = Shared::connect("postgres://u:hunter2@h:notaport/db", None)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("database_url") && !msg.contains("hunter2"),
        "{msg}"
    );
}
