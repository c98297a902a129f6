//! Captured bodies (`store_prompts_in_spend_logs`): they round-trip through `insert_batch` and
//! `request`, the lists leave them out, and the writer's retention pass clears old ones while
//! the records stay.

use crate::common::Db;
use crate::on_both;
use ledger::UsageRecord;
use ledger::store::{Filter, WriterOptions, spawn_writer};
use std::time::{Duration, Instant};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn captured(id: &str, time_ms: i64) -> UsageRecord {
    UsageRecord {
        time_ms,
        request_id: id.into(),
        client_protocol: "anthropic".into(),
        requested_model: "sonnet".into(),
        status: 200,
        latency_us: 1_000,
        request_body: Some(format!(
            r#"{{"model":"sonnet","messages":[{{"role":"user","content":"héllo {id} ✓"}}]}}"#
        )),
        response_body: Some(format!(
            "event: message_stop\ndata: {{\"id\":\"{id}\"}}\n\n"
        )),
        ..UsageRecord::default()
    }
}

on_both!(bodies_round_trip_in_the_detail_only);

async fn bodies_round_trip_in_the_detail_only(db: Db) {
    let store = db.open().await;
    let with = captured("with", now_ms());
    let without = UsageRecord {
        request_id: "without".into(),
        request_body: None,
        response_body: None,
        ..captured("x", now_ms() - 1)
    };
    store
        .insert_batch(&[with.clone(), without.clone()])
        .await
        .expect("insert");
    assert_eq!(
        store.request("with").await.expect("read"),
        Some(with.clone())
    );
    assert_eq!(store.request("without").await.expect("read"), Some(without));
    let list = store.requests(&Filter::default(), 10).await.expect("list");
    assert_eq!(list.len(), 2);
    for r in &list {
        assert_eq!(
            (&r.request_body, &r.response_body),
            (&None, &None),
            "the list leaves bodies out: {r:?}"
        );
    }
    assert_eq!(
        list[0],
        UsageRecord {
            request_body: None,
            response_body: None,
            ..with
        }
    );
}

on_both!(body_retention_clears_old_bodies_and_keeps_the_records);

async fn body_retention_clears_old_bodies_and_keeps_the_records(db: Db) {
    let store = db.open().await;
    let now = now_ms();
    let old = captured("old", now - 10 * 86_400_000);
    let new = captured("new", now - 86_400_000);
    store
        .insert_batch(&[old.clone(), new.clone()])
        .await
        .expect("insert");
    let (_sender, receiver) = ledger::channel(10);
    let writer = spawn_writer(
        store.clone(),
        receiver,
        WriterOptions {
            body_retention_days: Some(7),
            ..WriterOptions::default()
        },
    );
    let start = Instant::now();
    loop {
        let r = store
            .request("old")
            .await
            .expect("read")
            .expect("the record stays");
        if r.request_body.is_none() {
            assert_eq!(r.response_body, None);
            assert_eq!(
                r,
                UsageRecord {
                    request_body: None,
                    response_body: None,
                    ..old.clone()
                },
                "only the bodies are cleared"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "bodies not cleared in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.request("new").await.expect("read"), Some(new));
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM usage_records WHERE request_body IS NULL")
            .await,
        1
    );
    // Clearing again finds nothing left to clear.
    assert_eq!(
        store
            .clear_bodies(now - 7 * 86_400_000)
            .await
            .expect("clear"),
        0
    );
    writer.shutdown(Duration::from_secs(5)).await;
}
