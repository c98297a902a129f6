//! Migrations from an empty database, and a second open that runs none again.

use crate::common::{Db, Engine};
use crate::on_both;
use ledger::UsageRecord;

on_both!(migrations_run_once_from_empty);

async fn migrations_run_once_from_empty(db: Db) {
    let store = db.open().await;
    assert_eq!(
        store.engine(),
        match db.engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    );
    let record = UsageRecord {
        request_id: "m1".into(),
        time_ms: 1_000,
        client_protocol: "anthropic".into(),
        requested_model: "m".into(),
        status: 200,
        ..Default::default()
    };
    store
        .insert_batch(std::slice::from_ref(&record))
        .await
        .expect("insert");
    drop(store);
    // Opening again applies nothing twice and keeps the data.
    let store = db.open().await;
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .await,
        ledger::store::MIGRATIONS.len() as i64
    );
    assert_eq!(store.request("m1").await.expect("read"), Some(record));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM usage_daily").await, 1);
}
