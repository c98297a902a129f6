//! `agent-shim usage` and `usage prune` on a ledger seeded through the store API, and the
//! ledger lines of `agent-shim status`.

use crate::common::*;
use ledger::{Tokens, UsageRecord};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[allow(clippy::too_many_arguments)]
fn rec(
    id: &str,
    ago_ms: i64,
    model: &str,
    provider: &str,
    profile: &str,
    directory: &str,
    agent: &str,
    session: &str,
    status: u16,
    input: u64,
    cache_read: u64,
    output: u64,
    cost: Option<i64>,
    latency_us: i64,
) -> UsageRecord {
    UsageRecord {
        time_ms: now_ms() - ago_ms,
        request_id: id.into(),
        session_id: Some(session.into()),
        directory: Some(directory.into()),
        profile: Some(profile.into()),
        agent: Some(agent.into()),
        client_protocol: "anthropic".into(),
        requested_model: model.into(),
        model_group: Some(model.into()),
        provider: Some(provider.into()),
        status,
        tokens: Tokens {
            input,
            output,
            cache_read,
            ..Tokens::default()
        },
        cost_pico_usd: cost,
        latency_us,
        ttfb_us: Some(latency_us / 10),
        ..UsageRecord::default()
    }
}

/// Four records: three in the last week (one of them in the last hour), one 30 days old.
fn seed(s: &Sandbox) {
    let records = vec![
        rec(
            "a",
            2 * DAY,
            "sonnet",
            "anthropic",
            "work",
            "tokA",
            "claude-code",
            "s1",
            200,
            1000,
            400,
            100,
            Some(2_500_000_000_000),
            1_000_000,
        ),
        rec(
            "b",
            30 * 60_000,
            "sonnet",
            "anthropic",
            "home",
            "tokA",
            "claude-code",
            "s2",
            200,
            3000,
            2000,
            300,
            Some(500_000_000_000),
            3_000_000,
        ),
        rec(
            "c",
            3 * DAY,
            "local-llm",
            "ollama",
            "home",
            "tokB",
            "codex",
            "s3",
            502,
            0,
            0,
            0,
            None,
            200_000,
        ),
        rec(
            "old",
            30 * DAY,
            "sonnet",
            "anthropic",
            "work",
            "tokA",
            "claude-code",
            "s1",
            200,
            50,
            0,
            5,
            Some(1_000_000_000_000),
            1_000_000,
        ),
    ];
    let dir = s.state_dir();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = ledger::store::open(None, &dir).await.unwrap();
            store.insert_batch(&records).await.unwrap();
        });
}

fn json_of(s: &Sandbox, args: &[&str]) -> serde_json::Value {
    let o = s.run(args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn keys(v: &serde_json::Value) -> Vec<(String, u64)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn k(key: &str, n: u64) -> (String, u64) {
    (key.into(), n)
}

#[test]
fn usage_reports_the_last_week_as_a_table_json_and_csv() {
    let s = Sandbox::new();
    seed(&s);
    let o = s.run(&["usage"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // MODEL REQUESTS ERRORS INPUT OUTPUT REASONING CACHE_READ CACHE_WRITE CACHE_HIT COST …
    assert_eq!(
        line("sonnet")[..10],
        [
            "sonnet", "2", "0", "4000", "400", "0", "2400", "0", "60.0%", "$3.0000"
        ]
    );
    assert_eq!(
        line("local-llm")[..10],
        [
            "local-llm",
            "1",
            "1",
            "0",
            "0",
            "0",
            "0",
            "0",
            "-",
            "unknown"
        ]
    );
    assert_eq!(
        line("TOTAL")[..10],
        [
            "TOTAL", "3", "1", "4000", "400", "0", "2400", "0", "60.0%", "$3.0000"
        ]
    );
    assert!(out.contains("cost unknown for 1 requests"), "{out}");

    let v = json_of(&s, &["usage", "--json"]);
    assert_eq!(keys(&v), [k("sonnet", 2), k("local-llm", 1)]);
    let sonnet = &v["rows"][0];
    assert_eq!(sonnet["cost_pico_usd"], 3_000_000_000_000i64);
    assert_eq!(sonnet["cost_usd"], 3.0);
    assert_eq!(sonnet["cache_hit_ratio"], 0.6);
    // Latencies 1 s and 3 s: the nearest-rank p50 is 1 s, p95 3 s.
    assert_eq!(sonnet["latency_p50_us"], 1_000_000);
    assert_eq!(sonnet["latency_p95_us"], 3_000_000);
    assert_eq!(v["rows"][1]["cost_usd"], serde_json::Value::Null);
    assert_eq!(v["totals"]["requests"], 3);

    let o = s.run(&["usage", "--csv", "--by", "profile"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 15, "{csv}");
    assert_eq!(header[..3], ["key", "requests", "errors"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 15), "{csv}");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let work = rows.iter().find(|r| r[0] == "work").unwrap();
    assert_eq!(work[col("requests")], "1");
    assert_eq!(work[col("cost_usd")], "2.500000000000");
    let home = rows.iter().find(|r| r[0] == "home").unwrap();
    assert_eq!(home[col("requests")], "2");
    assert_eq!(home[col("cost_usd")], "0.500000000000");
    assert_eq!(home[col("unpriced")], "1");
}

#[test]
fn usage_groups_by_every_dimension_and_reaches_back_with_since() {
    let s = Sandbox::new();
    seed(&s);
    let by = |d: &str| keys(&json_of(&s, &["usage", "--json", "--by", d]));
    assert_eq!(by("model"), [k("sonnet", 2), k("local-llm", 1)]);
    assert_eq!(by("profile"), [k("work", 1), k("home", 2)]);
    assert_eq!(by("directory"), [k("tokA", 2), k("tokB", 1)]);
    assert_eq!(by("provider"), [k("anthropic", 2), k("ollama", 1)]);
    assert_eq!(by("agent"), [k("claude-code", 2), k("codex", 1)]);
    assert_eq!(by("session"), [k("s1", 1), k("s2", 1), k("s3", 1)]);
    let days = by("day");
    assert!(
        (2..=3).contains(&days.len()) && days.iter().map(|d| d.1).sum::<u64>() == 3,
        "{days:?}"
    );
    assert!(
        days.windows(2).all(|w| w[0].0 < w[1].0),
        "oldest first: {days:?}"
    );

    let all = json_of(&s, &["usage", "--json", "--since", "all"]);
    assert_eq!(all["totals"]["requests"], 4);
    let hour = json_of(&s, &["usage", "--json", "--since", "1h"]);
    assert_eq!(keys(&hour), [k("sonnet", 1)]);
    let date = time_name(now_ms() - 40 * DAY);
    let since_date = json_of(&s, &["usage", "--json", "--since", &date]);
    assert_eq!(since_date["totals"]["requests"], 4);
}

/// `YYYY-MM-DD` of a Unix ms time (UTC).
fn time_name(ms: i64) -> String {
    let days = ms.div_euclid(DAY);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn bad_usage_flags_are_one_line_and_exit_2() {
    let s = Sandbox::new();
    for (args, says) in [
        (&["usage", "--by", "color"][..], "--by \"color\""),
        (
            &["usage", "--since", "yesterday"][..],
            "--since \"yesterday\"",
        ),
        (&["usage", "--since", "3y"][..], "unit is s, m, h, d or w"),
        (&["usage", "--json", "--csv"][..], "choose one"),
        (
            &["usage", "prune", "--before", "soon"][..],
            "--before \"soon\"",
        ),
    ] {
        let o = s.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(
        !s.state_dir().join("usage.db").exists(),
        "a bad flag creates no ledger"
    );
}

#[test]
fn prune_deletes_old_records_and_the_totals_keep_them() {
    let s = Sandbox::new();
    let o = s.run(&["usage", "prune", "--before", "7d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("deleted 0 records: no ledger"),
        "{}",
        stdout(&o)
    );
    assert!(!s.state_dir().join("usage.db").exists());

    seed(&s);
    let o = s.run(&["usage", "prune", "--before", "7d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("deleted 1 records older than "),
        "{}",
        stdout(&o)
    );
    let o = s.run(&["usage", "prune", "--before", "7d"]);
    assert!(
        stdout(&o).starts_with("deleted 0 records"),
        "{}",
        stdout(&o)
    );
    // The old record's day is kept by the daily rollups.
    let all = json_of(&s, &["usage", "--json", "--since", "all"]);
    assert_eq!(all["totals"]["requests"], 4);
    assert_eq!(all["totals"]["input_tokens"], 4050);
    // Sessions are not rolled up: only the records left.
    let sessions = json_of(
        &s,
        &["usage", "--json", "--since", "all", "--by", "session"],
    );
    assert_eq!(sessions["totals"]["requests"], 4);
    assert_eq!(
        keys(&sessions).iter().map(|r| r.1).sum::<u64>(),
        3,
        "{sessions}"
    );
}

#[test]
fn status_shows_the_last_hour_and_day_and_creates_no_ledger() {
    let s = Sandbox::new();
    let o = s.run(&["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("usage"), "{}", stdout(&o));
    assert!(
        !s.state_dir().join("usage.db").exists(),
        "status created usage.db"
    );
    let v = json_of(&s, &["status", "--json"]);
    assert_eq!(v["usage"], serde_json::Value::Null);

    seed(&s);
    let o = s.run(&["status"]);
    let out = stdout(&o);
    assert!(
        out.contains("usage        last hour  1 requests  0 errors  3300 tokens  $0.5000\n"),
        "{out}"
    );
    assert!(
        out.contains("             last day   1 requests  0 errors  3300 tokens  $0.5000\n"),
        "{out}"
    );
    let v = json_of(&s, &["status", "--json"]);
    assert_eq!(v["usage"]["last_hour"]["requests"], 1);
    assert_eq!(v["usage"]["last_day"]["cost_pico_usd"], 500_000_000_000i64);
}

/// Starts `serve` with `config` (a mock model `canned`, master key `sk-ledger`) and waits until
/// it answers; returns the child.
pub(crate) fn serve_up(s: &Sandbox, config: &str) -> std::process::Child {
    s.write_config(
        "config.yaml",
        &format!(
            "master_key: sk-ledger\n{config}model_list:\n  - model_name: canned\n    \
             litellm_params:\n      model: openai/x\n      mock_response: ok\n"
        ),
    );
    let mut child = s
        .cmd(&["serve"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("{}/v1/messages", s.base_url());
    let body = serde_json::json!({"model": "canned", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while post_json(&url, "sk-ledger", &body).map(|r| r.0) != Some(200) {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

/// SIGTERM, then the child's exit status and log.
pub(crate) fn stop(child: std::process::Child) -> (std::process::ExitStatus, String) {
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_keeps_the_ledger_in_usage_db_with_retention() {
    let s = Sandbox::new();
    seed(&s);
    // usage_retention_days: the writer prunes at start (the 30-day-old record goes).
    let child = serve_up(&s, "usage_retention_days: 7\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let all = json_of(
            &s,
            &["usage", "--json", "--since", "all", "--by", "session"],
        );
        if keys(&all).iter().map(|r| r.1).sum::<u64>() == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not pruned: {all}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (status, log) = stop(child);
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("deleted 1 records older than 7 days"), "{log}");
}

#[test]
fn disable_spend_logs_serves_without_a_ledger() {
    let s = Sandbox::new();
    let child = serve_up(&s, "general_settings:\n  disable_spend_logs: true\n");
    // A second request, so the first one's record would have had time to be written.
    let url = format!("{}/v1/messages", s.base_url());
    let body = serde_json::json!({"model": "canned", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post_json(&url, "sk-ledger", &body).map(|r| r.0), Some(200));
    let (status, log) = stop(child);
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("usage ledger off"), "{log}");
    assert!(
        !s.state_dir().join("usage.db").exists(),
        "usage.db was created with the ledger off"
    );
}

#[test]
fn serve_refuses_a_database_url_it_cannot_use_and_starts_while_postgres_is_down() {
    let s = Sandbox::new();
    s.write_config(
        "config.yaml",
        "database_url: mysql://ledger:s3cretpw@db/usage\n",
    );
    let o = s.run(&["serve"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("database_url mysql://ledger:***@db/usage: not a PostgreSQL URL")
            && !err.contains("s3cretpw"),
        "{err}"
    );
    s.write_config(
        "config.yaml",
        "database_url: postgres://ledger:s3cretpw@db/usage?sslmode=require\n",
    );
    let err = stderr(&s.run(&["usage"]));
    assert!(
        err.contains("TLS to PostgreSQL is not supported yet") && !err.contains("s3cretpw"),
        "{err}"
    );

    // A PostgreSQL server that is down: the gateway starts and says so, without the password.
    let port = free_port();
    let child = serve_up(
        &s,
        &format!("database_url: postgres://ledger:s3cretpw@127.0.0.1:{port}/usage\n"),
    );
    let (status, log) = stop(child);
    assert!(status.success(), "{status}: {log}");
    assert!(
        log.contains(&format!("postgres://ledger:***@127.0.0.1:{port}/usage"))
            && log.contains("starting anyway")
            && !log.contains("s3cretpw"),
        "{log}"
    );
}

#[test]
fn usage_and_status_read_the_postgres_ledger_database_url_names() {
    let s = Sandbox::new();
    let db = ledger::test_db::TestDb::create("agent_shim_t");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let records = vec![
        rec(
            "p1",
            HOUR / 2,
            "sonnet",
            "anthropic",
            "work",
            "tokA",
            "claude-code",
            "s1",
            200,
            1000,
            500,
            10,
            Some(1_000_000_000_000),
            2_000_000,
        ),
        rec(
            "p2",
            2 * DAY,
            "gpt",
            "openai",
            "home",
            "tokB",
            "codex",
            "s2",
            429,
            0,
            0,
            0,
            None,
            100_000,
        ),
    ];
    rt.block_on(async {
        let store = ledger::store::open(Some(&db.url), &s.state_dir())
            .await
            .unwrap();
        store.insert_batch(&records).await.unwrap();
    });
    // LiteLLM's key works too.
    s.write_config(
        "config.yaml",
        &format!("general_settings:\n  database_url: {}\n", db.url),
    );
    let v = json_of(&s, &["usage", "--json"]);
    assert_eq!(keys(&v), [k("sonnet", 1), k("gpt", 1)]);
    assert_eq!(v["totals"]["errors"], 1);
    assert_eq!(v["ledger"], ledger::store::redact_url(&db.url));
    let o = s.run(&["status"]);
    assert!(
        stdout(&o).contains("usage        last hour  1 requests  0 errors  1010 tokens  $1.0000\n"),
        "{}",
        stdout(&o)
    );
    let o = s.run(&["usage", "prune", "--before", "1d"]);
    assert!(
        stdout(&o).starts_with("deleted 1 records"),
        "{}",
        stdout(&o)
    );
    assert!(
        !s.state_dir().join("usage.db").exists(),
        "the ledger is in PostgreSQL"
    );
}

#[test]
fn a_running_gateway_names_ledger_settings_that_need_a_restart() {
    let s = Sandbox::new();
    let child = serve_up(&s, "");
    s.write_config(
        "config.yaml",
        "master_key: sk-ledger\nusage_retention_days: 30\nmodel_list:\n  - model_name: canned\n    \
         litellm_params:\n      model: openai/x\n      mock_response: ok\n",
    );
    let o = s.run(&["proxy", "reload"]);
    let err = stderr(&o);
    assert!(
        err.contains("warning: usage_retention_days changed in"),
        "{}{err}",
        stdout(&o)
    );
    let (status, log) = stop(child);
    assert!(status.success(), "{status}: {log}");
}
