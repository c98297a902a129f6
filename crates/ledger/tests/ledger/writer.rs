//! The batching writer: 1,000 records sent at once from many tasks arrive whole; a store that
//! is down makes the writer hold, then drop and count, while sending never waits; retention.

use crate::common::Db;
use crate::on_both;
use ledger::store::{Filter, WriterOptions, spawn_writer};
use ledger::{Tokens, UsageRecord};
use std::time::{Duration, Instant};

fn record(task: u64, i: u64) -> UsageRecord {
    let n = task * 1000 + i;
    UsageRecord {
        time_ms: 1_796_601_600_000 + i64::try_from(n).unwrap_or(0),
        request_id: format!("t{task}-{i}"),
        client_protocol: "anthropic".into(),
        requested_model: "sonnet".into(),
        model_group: Some(
            if task.is_multiple_of(2) {
                "sonnet"
            } else {
                "gpt"
            }
            .into(),
        ),
        status: if n.is_multiple_of(10) { 502 } else { 200 },
        tokens: Tokens {
            input: n,
            output: 2 * n + 1,
            cache_read: n % 7,
            ..Tokens::default()
        },
        cost_pico_usd: (!n.is_multiple_of(3)).then_some(i64::try_from(n).unwrap_or(0) * 1_000),
        latency_us: 1_000,
        ..UsageRecord::default()
    }
}

on_both!(a_thousand_concurrent_records_arrive_whole);

async fn a_thousand_concurrent_records_arrive_whole(db: Db) {
    let store = db.open().await;
    let (sender, receiver) = ledger::channel(10_000);
    let writer = spawn_writer(store.clone(), receiver, WriterOptions::default());

    // A first record is written within the batching interval, without a shutdown.
    sender.send(record(99, 0));
    let start = Instant::now();
    while store
        .totals(&Filter::default())
        .await
        .expect("totals")
        .requests
        < 1
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not written in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let tasks: Vec<_> = (0..50u64)
        .map(|task| {
            let sender = sender.clone();
            tokio::spawn(async move {
                for i in 0..20u64 {
                    sender.send(record(task, i));
                    if i % 5 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(writer.shutdown(Duration::from_secs(30)).await, 0);
    assert_eq!(sender.dropped(), 0);
    assert_eq!((sender.written(), sender.pending()), (1001, 0));

    let sent: Vec<UsageRecord> = (0..50u64)
        .flat_map(|t| (0..20u64).map(move |i| record(t, i)))
        .chain([record(99, 0)])
        .collect();
    let totals = store.totals(&Filter::default()).await.expect("totals");
    assert_eq!(totals.requests, 1001);
    let sum = |f: fn(&UsageRecord) -> u64| sent.iter().map(f).sum::<u64>();
    assert_eq!(totals.input_tokens, sum(|r| r.tokens.input));
    assert_eq!(totals.output_tokens, sum(|r| r.tokens.output));
    assert_eq!(totals.cache_read_tokens, sum(|r| r.tokens.cache_read));
    assert_eq!(totals.errors, sum(|r| u64::from(r.status >= 400)));
    assert_eq!(
        totals.unpriced,
        sum(|r| u64::from(r.cost_pico_usd.is_none()))
    );
    assert_eq!(
        totals.cost_pico_usd,
        Some(sent.iter().filter_map(|r| r.cost_pico_usd).sum::<i64>())
    );
    // The rollups hold the same figures.
    assert_eq!(
        db.scalar("SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily")
            .await,
        1001
    );
    assert_eq!(
        db.scalar("SELECT CAST(SUM(input_tokens) AS BIGINT) FROM usage_daily")
            .await,
        i64::try_from(sum(|r| r.tokens.input)).unwrap_or(-1)
    );
}

on_both!(two_instances_write_one_ledger);

/// Two stores on one database (two gateway instances), each with its writer, writing records
/// of the same days and groups at once: every record and every rollup sum arrives once.
async fn two_instances_write_one_ledger(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut writers = Vec::new();
    let mut senders = Vec::new();
    for store in [a.clone(), b] {
        let (sender, receiver) = ledger::channel(10_000);
        let options = WriterOptions {
            batch: 50,
            interval: Duration::from_millis(5),
            ..WriterOptions::default()
        };
        writers.push(spawn_writer(store, receiver, options));
        senders.push(sender);
    }
    for i in 0..500u64 {
        for (n, sender) in senders.iter().enumerate() {
            sender.send(record(10 + n as u64, i));
        }
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    for w in writers {
        assert_eq!(w.shutdown(Duration::from_secs(30)).await, 0);
    }
    let totals = a.totals(&Filter::default()).await.expect("totals");
    assert_eq!(totals.requests, 1000);
    let input: u64 = (10..12u64)
        .flat_map(|t| (0..500u64).map(move |i| record(t, i).tokens.input))
        .sum();
    assert_eq!(totals.input_tokens, input);
    assert_eq!(
        db.scalar("SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily")
            .await,
        1000
    );
}

on_both!(shutdown_writes_what_is_pending);

async fn shutdown_writes_what_is_pending(db: Db) {
    let store = db.open().await;
    let (sender, receiver) = ledger::channel(1000);
    // Batches that would wait an hour: only the shutdown writes them.
    let writer = spawn_writer(
        store.clone(),
        receiver,
        WriterOptions {
            batch: 10_000,
            interval: Duration::from_secs(3600),
            ..WriterOptions::default()
        },
    );
    for i in 0..300 {
        sender.send(record(3, i));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store
            .totals(&Filter::default())
            .await
            .expect("totals")
            .requests,
        0
    );
    assert_eq!(writer.pending(), 300);
    assert_eq!(writer.shutdown(Duration::from_secs(10)).await, 0);
    assert_eq!(
        store
            .totals(&Filter::default())
            .await
            .expect("totals")
            .requests,
        300
    );
    // Records sent after the shutdown are counted as the queue's drops.
    sender.send(record(3, 999));
    assert_eq!(sender.dropped(), 1);
}

on_both!(retention_prunes_at_start_and_keeps_the_rollups);

async fn retention_prunes_at_start_and_keeps_the_rollups(db: Db) {
    let store = db.open().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let old = UsageRecord {
        time_ms: now - 10 * 86_400_000,
        request_id: "old".into(),
        status: 200,
        ..record(0, 1)
    };
    let new = UsageRecord {
        time_ms: now - 86_400_000,
        request_id: "new".into(),
        ..record(0, 2)
    };
    store
        .insert_batch(&[old.clone(), new.clone()])
        .await
        .expect("insert");
    let (_sender, receiver) = ledger::channel(10);
    let writer = spawn_writer(
        store.clone(),
        receiver,
        WriterOptions {
            retention_days: Some(7),
            ..WriterOptions::default()
        },
    );
    let start = Instant::now();
    while store.request("old").await.expect("read").is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not pruned in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.request("new").await.expect("read"), Some(new));
    assert_eq!(
        store
            .totals(&Filter::default())
            .await
            .expect("totals")
            .requests,
        2,
        "the pruned record stays in the daily rollups"
    );
    writer.shutdown(Duration::from_secs(5)).await;
}

/// A PostgreSQL URL to a port nobody listens on, with a password that must never show.
fn closed_port_url() -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    (
        format!("postgres://ledger:hunter2secret@127.0.0.1:{port}/usage"),
        format!("postgres://ledger:***@127.0.0.1:{port}/usage"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_costs_counted_drops_and_never_blocks() {
    let (url, shown) = closed_port_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let e = ledger::store::open(Some(&url), dir.path())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains(&shown) && !e.contains("hunter2") && e.contains("check that PostgreSQL runs"),
        "{e}"
    );

    let store = ledger::store::open_deferred(Some(&url), dir.path())
        .await
        .expect("a deferred store");
    let (sender, receiver) = ledger::channel(50);
    let writer = spawn_writer(
        store,
        receiver,
        WriterOptions {
            batch: 10,
            backlog: 100,
            interval: Duration::from_millis(10),
            retry: Duration::from_millis(50),
            ..WriterOptions::default()
        },
    );
    let mut slowest = Duration::ZERO;
    for i in 0..1000u64 {
        let t = Instant::now();
        sender.send(record(7, i));
        slowest = slowest.max(t.elapsed());
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(
        slowest < Duration::from_millis(50),
        "a send took {slowest:?}"
    );
    let start = Instant::now();
    while writer.last_error().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "no write failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = writer.last_error().unwrap_or_default();
    assert!(last.contains(&shown) && !last.contains("hunter2"), "{last}");
    assert_eq!(writer.written(), 0);
    // The gateway, which holds only the sender, sees the same figures.
    let from_sender = sender.store_error().unwrap_or_default();
    assert!(
        from_sender.contains(&shown) && !from_sender.contains("hunter2"),
        "{from_sender}"
    );
    assert_eq!(sender.written(), 0);
    let writer_dropped = writer.shutdown(Duration::from_millis(200)).await;
    assert_eq!(sender.store_dropped(), writer_dropped);
    assert_eq!(sender.pending(), 0);
    assert_eq!(
        writer_dropped + sender.dropped(),
        1000,
        "writer dropped {writer_dropped}, queue dropped {}",
        sender.dropped()
    );
    assert!(writer_dropped >= 100, "the backlog held and then lost 100");
}
