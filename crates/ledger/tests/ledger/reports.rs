//! Reports against eight hand-made records over two days, with hand-computed figures
//! (percentiles nearest-rank: the value at rank ⌈p·n/100⌉), then pruning and the rollups that
//! keep the pruned days in the totals.

use crate::common::Db;
use crate::on_both;
use ledger::store::{Dimension, Filter, SummaryRow};
use ledger::{Tokens, UsageRecord};

/// 2026-11-01T00:00:00Z and the next day.
const D1: i64 = 1_793_491_200_000;
const D2: i64 = D1 + DAY;
const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;

#[allow(clippy::too_many_arguments)]
fn rec(
    id: &str,
    time_ms: i64,
    model: Option<&str>,
    provider: Option<&str>,
    profile: Option<&str>,
    directory: Option<&str>,
    agent: Option<&str>,
    session: Option<&str>,
    status: u16,
    tokens: [u64; 6],
    cost: Option<i64>,
    latency_us: i64,
    ttfb_us: Option<i64>,
) -> UsageRecord {
    let s = |v: Option<&str>| v.map(str::to_owned);
    UsageRecord {
        time_ms,
        request_id: id.into(),
        session_id: s(session),
        directory: s(directory),
        profile: s(profile),
        agent: s(agent),
        client_protocol: if provider == Some("openai") {
            "openai-responses".into()
        } else {
            "anthropic".into()
        },
        requested_model: model.unwrap_or("unknown-model").into(),
        model_group: s(model),
        deployment: model.map(|m| format!("{m}-1")),
        provider: s(provider),
        served_model: model.map(|m| format!("{m}-2026")),
        route: None,
        status,
        error_class: match status {
            502 => Some("upstream".into()),
            404 => Some("not_found".into()),
            429 => Some("rate_limit".into()),
            _ => None,
        },
        tokens: Tokens {
            input: tokens[0],
            output: tokens[1],
            reasoning: tokens[2],
            cache_read: tokens[3],
            cache_write_5m: tokens[4],
            cache_write_1h: tokens[5],
        },
        cost_pico_usd: cost,
        price_version: cost.map(|_| "litellm@2026-11-30".into()),
        latency_us,
        ttfb_us,
        stream: ttfb_us.is_some(),
        dropped: None,
        attempts: 1,
        attempt_path: None,
        response_bytes: 1234,
        request_body: None,
        response_body: None,
    }
}

fn records() -> Vec<UsageRecord> {
    let (cc, work, home) = (Some("claude-code"), Some("work"), Some("home"));
    let mut r7 = rec(
        "r7",
        D2 + 9 * H,
        Some("gpt"),
        Some("openai"),
        home,
        Some("tokB"),
        Some("codex"),
        Some("s2"),
        200,
        [300, 50, 0, 0, 0, 0],
        Some(2_000_000),
        6_000_000,
        Some(600_000),
    );
    r7.route = Some("fallback".into());
    r7.attempts = 3;
    r7.attempt_path = Some("gpt-1:502,gpt-1:502,gpt-fallback:200".into());
    r7.dropped = Some("thinking".into());
    vec![
        rec(
            "r1",
            D1 + H,
            Some("sonnet"),
            Some("anthropic"),
            work,
            Some("tokA"),
            cc,
            Some("s1"),
            200,
            [1000, 200, 0, 600, 100, 0],
            Some(5_000_000),
            1_000_000,
            Some(100_000),
        ),
        rec(
            "r2",
            D1 + 2 * H,
            Some("sonnet"),
            Some("anthropic"),
            work,
            Some("tokA"),
            cc,
            Some("s1"),
            200,
            [2000, 300, 0, 1500, 0, 200],
            Some(7_000_000),
            2_000_000,
            Some(200_000),
        ),
        rec(
            "r3",
            D1 + 3 * H,
            Some("gpt"),
            Some("openai"),
            work,
            Some("tokB"),
            Some("codex"),
            Some("s2"),
            502,
            [0; 6],
            None,
            3_000_000,
            None,
        ),
        rec(
            "r4",
            D1 + 4 * H,
            Some("gpt"),
            Some("openai"),
            home,
            Some("tokB"),
            Some("codex"),
            Some("s2"),
            200,
            [500, 100, 40, 0, 0, 0],
            Some(1_000_000),
            4_000_000,
            Some(400_000),
        ),
        rec(
            "r5",
            D2 + 2 * H,
            Some("sonnet"),
            Some("anthropic"),
            home,
            Some("tokA"),
            cc,
            Some("s3"),
            200,
            [100, 10, 0, 0, 0, 0],
            Some(300),
            500_000,
            Some(50_000),
        ),
        rec(
            "r6",
            D2 + 8 * H,
            None,
            None,
            None,
            None,
            None,
            None,
            404,
            [0; 6],
            None,
            10_000,
            Some(10_000),
        ),
        r7,
        rec(
            "r8",
            D2 + 10 * H,
            Some("sonnet"),
            Some("anthropic"),
            work,
            Some("tokA"),
            cc,
            Some("s1"),
            429,
            [0; 6],
            Some(0),
            20_000,
            None,
        ),
    ]
}

/// A summary row from its figures: key, requests, errors, [input, output, reasoning,
/// cache read, cache write], cost, unpriced, [latency p50, p95], [ttfb p50, p95].
#[allow(clippy::too_many_arguments)]
fn row(
    key: &str,
    requests: u64,
    errors: u64,
    t: [u64; 5],
    cost: Option<i64>,
    unpriced: u64,
    lat: [Option<i64>; 2],
    ttfb: [Option<i64>; 2],
) -> SummaryRow {
    SummaryRow {
        key: key.into(),
        requests,
        errors,
        input_tokens: t[0],
        output_tokens: t[1],
        reasoning_tokens: t[2],
        cache_read_tokens: t[3],
        cache_write_tokens: t[4],
        cost_pico_usd: cost,
        unpriced,
        latency_p50_us: lat[0],
        latency_p95_us: lat[1],
        ttfb_p50_us: ttfb[0],
        ttfb_p95_us: ttfb[1],
    }
}

fn keys(rows: &[SummaryRow]) -> Vec<(String, u64, Option<i64>)> {
    rows.iter()
        .map(|r| (r.key.clone(), r.requests, r.cost_pico_usd))
        .collect()
}

fn ids(records: &[UsageRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

fn k(key: &str, requests: u64, cost: Option<i64>) -> (String, u64, Option<i64>) {
    (key.into(), requests, cost)
}

on_both!(reports_match_hand_computed_figures);

async fn reports_match_hand_computed_figures(db: Db) {
    let store = db.open().await;
    let all = records();
    store.insert_batch(&all[..5]).await.expect("insert");
    store.insert_batch(&all[5..]).await.expect("insert");
    // The same record again (a retried batch) is neither stored nor rolled up twice.
    store.insert_batch(&all[..1]).await.expect("insert again");
    let any = Filter::default();

    let totals = store.totals(&any).await.expect("totals");
    let expected_totals = row(
        "all",
        8,
        3,
        [3900, 660, 40, 2100, 300],
        Some(15_000_300),
        2,
        [Some(1_000_000), Some(6_000_000)],
        [Some(100_000), Some(600_000)],
    );
    assert_eq!(totals, expected_totals);

    let by_model = store
        .summary(&any, Dimension::Model)
        .await
        .expect("summary");
    assert_eq!(
        by_model,
        vec![
            row(
                "sonnet",
                4,
                1,
                [3100, 510, 0, 2100, 300],
                Some(12_000_300),
                0,
                [Some(500_000), Some(2_000_000)],
                [Some(100_000), Some(200_000)],
            ),
            row(
                "gpt",
                3,
                1,
                [800, 150, 40, 0, 0],
                Some(3_000_000),
                1,
                [Some(4_000_000), Some(6_000_000)],
                [Some(400_000), Some(600_000)],
            ),
            row(
                "unknown-model",
                1,
                1,
                [0; 5],
                None,
                1,
                [Some(10_000), Some(10_000)],
                [Some(10_000), Some(10_000)],
            ),
        ]
    );
    let by = |d| {
        let store = store.clone();
        let any = any.clone();
        async move { keys(&store.summary(&any, d).await.expect("summary")) }
    };
    assert_eq!(
        by(Dimension::Profile).await,
        vec![
            k("work", 4, Some(12_000_000)),
            k("home", 3, Some(3_000_300)),
            k("-", 1, None)
        ]
    );
    assert_eq!(
        by(Dimension::Directory).await,
        vec![
            k("tokA", 4, Some(12_000_300)),
            k("tokB", 3, Some(3_000_000)),
            k("-", 1, None)
        ]
    );
    assert_eq!(
        by(Dimension::Provider).await,
        vec![
            k("anthropic", 4, Some(12_000_300)),
            k("openai", 3, Some(3_000_000)),
            k("-", 1, None)
        ]
    );
    assert_eq!(
        by(Dimension::Agent).await,
        vec![
            k("claude-code", 4, Some(12_000_300)),
            k("codex", 3, Some(3_000_000)),
            k("-", 1, None)
        ]
    );
    assert_eq!(
        by(Dimension::Session).await,
        vec![
            k("s1", 3, Some(12_000_000)),
            k("s2", 3, Some(3_000_000)),
            k("s3", 1, Some(300)),
            k("-", 1, None)
        ]
    );
    let by_day = store.summary(&any, Dimension::Day).await.expect("by day");
    assert_eq!(
        by_day
            .iter()
            .map(|r| (
                r.key.as_str(),
                r.requests,
                r.errors,
                r.input_tokens,
                r.cost_pico_usd,
                r.unpriced
            ))
            .collect::<Vec<_>>(),
        vec![
            ("2026-11-01", 4, 1, 3500, Some(13_000_000), 1),
            ("2026-11-02", 4, 2, 400, Some(2_000_300), 1)
        ]
    );

    // Series: per day, and per 6 hours.
    let days = store.series(&any, DAY).await.expect("series");
    assert_eq!(
        days.iter()
            .map(|p| (p.time_ms, p.requests, p.errors, p.cost_pico_usd))
            .collect::<Vec<_>>(),
        vec![(D1, 4, 1, Some(13_000_000)), (D2, 4, 2, Some(2_000_300))]
    );
    let quarter = store.series(&any, 6 * H).await.expect("series");
    assert_eq!(
        quarter
            .iter()
            .map(|p| (
                p.time_ms,
                p.requests,
                p.input_tokens,
                p.cache_read_tokens,
                p.cache_write_tokens
            ))
            .collect::<Vec<_>>(),
        vec![
            (D1, 4, 3500, 2100, 300),
            (D2, 1, 100, 0, 0),
            (D2 + 6 * H, 3, 300, 0, 0)
        ]
    );

    // Requests: newest first, filtered, limited; one by id.
    let list = |f: Filter, limit| {
        let store = store.clone();
        async move { store.requests(&f, limit).await.expect("requests") }
    };
    assert_eq!(ids(&list(any.clone(), 3).await), ["r8", "r7", "r6"]);
    let gpt = Filter {
        model_group: Some("gpt".into()),
        ..Filter::default()
    };
    assert_eq!(ids(&list(gpt.clone(), 100).await), ["r7", "r4", "r3"]);
    let errors = Filter {
        errors_only: true,
        ..Filter::default()
    };
    assert_eq!(ids(&list(errors, 100).await), ["r8", "r6", "r3"]);
    let s1 = Filter {
        session_id: Some("s1".into()),
        ..Filter::default()
    };
    assert_eq!(ids(&list(s1, 100).await), ["r8", "r2", "r1"]);
    let day2 = Filter {
        since_ms: Some(D2),
        until_ms: Some(D2 + 9 * H),
        ..Filter::default()
    };
    assert_eq!(ids(&list(day2.clone(), 100).await), ["r6", "r5"]);
    let home_codex = Filter {
        profile: Some("home".into()),
        agent: Some("codex".into()),
        provider: Some("openai".into()),
        directory: Some("tokB".into()),
        ..Filter::default()
    };
    assert_eq!(ids(&list(home_codex, 100).await), ["r7", "r4"]);
    assert_eq!(store.request("r7").await.expect("r7"), Some(all[6].clone()));
    assert_eq!(store.request("r6").await.expect("r6"), Some(all[5].clone()));
    assert_eq!(store.request("nope").await.expect("nope"), None);

    // Pruning day 1: the totals keep it through the rollups; percentiles come from what is
    // left (r5..r8: latencies 10k, 20k, 500k, 6M; time to first byte 10k, 50k, 600k).
    assert_eq!(store.prune(D2).await.expect("prune"), 4);
    assert_eq!(store.prune(D2).await.expect("prune again"), 0);
    let after = store.totals(&any).await.expect("totals");
    assert_eq!(
        after,
        SummaryRow {
            latency_p50_us: Some(20_000),
            latency_p95_us: Some(6_000_000),
            ttfb_p50_us: Some(50_000),
            ttfb_p95_us: Some(600_000),
            ..expected_totals.clone()
        }
    );
    assert_eq!(
        keys(
            &store
                .summary(&any, Dimension::Model)
                .await
                .expect("summary")
        ),
        vec![
            k("sonnet", 4, Some(12_000_300)),
            k("gpt", 3, Some(3_000_000)),
            k("unknown-model", 1, None)
        ]
    );
    let gpt_after = store
        .summary(&gpt, Dimension::Profile)
        .await
        .expect("summary");
    assert_eq!(
        keys(&gpt_after),
        vec![k("home", 2, Some(3_000_000)), k("work", 1, None)]
    );
    // Sessions are not rolled up: only the records left.
    assert_eq!(
        keys(
            &store
                .summary(&any, Dimension::Session)
                .await
                .expect("summary")
        ),
        vec![
            k("s2", 1, Some(2_000_000)),
            k("s3", 1, Some(300)),
            k("-", 1, None),
            k("s1", 1, Some(0))
        ]
    );
    assert_eq!(ids(&list(any.clone(), 100).await), ["r8", "r7", "r6", "r5"]);
    assert_eq!(
        store
            .series(&any, DAY)
            .await
            .expect("series")
            .iter()
            .map(|p| (p.time_ms, p.requests))
            .collect::<Vec<_>>(),
        vec![(D1, 4), (D2, 4)]
    );

    // Pruning within day 2: both days now come whole from the rollups.
    assert_eq!(store.prune(D2 + 9 * H).await.expect("prune"), 2);
    let after = store.totals(&any).await.expect("totals");
    assert_eq!(
        after,
        SummaryRow {
            latency_p50_us: None,
            latency_p95_us: None,
            ttfb_p50_us: None,
            ttfb_p95_us: None,
            ..expected_totals
        }
    );
    let recent = Filter {
        since_ms: Some(D2 + 9 * H),
        ..Filter::default()
    };
    let t = store.totals(&recent).await.expect("totals");
    assert_eq!(
        (t.requests, t.cost_pico_usd, t.latency_p50_us),
        (2, Some(2_000_000), Some(20_000))
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM usage_records").await,
        2,
        "r7 and r8 are left"
    );
}
