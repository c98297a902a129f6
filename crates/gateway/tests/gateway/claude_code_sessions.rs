//! The `claude-code` provider's sessions, concurrency limit, reported cost and failure modes,
//! with the real Claude Code CLI against the fake Anthropic API (a `sh` wrapper records each
//! run's arguments and stdin), and stub CLIs for what the fake cannot make the real one say (an
//! exhausted subscription window, a malformed line).

use crate::claude_code::*;
use crate::common::*;
use crate::faults::clients::{Client, answer_text};
use fake_provider::FakeProvider;
use gateway::ModelDefinition;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How many CLI runs are alive in `cwd`: process groups (the CLI forks short-lived copies of
/// itself, so processes would overcount), each holding a process whose command line is the CLI's.
fn cli_groups_in(cwd: &Path) -> usize {
    let mut groups = std::collections::BTreeSet::new();
    for p in processes_in(cwd) {
        if !p.contains("--input-format stream-json") || p.contains("/bin/sh") {
            continue;
        }
        let pid = p.split(':').next().unwrap_or_default();
        // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so split after ')'.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if let Some(pgrp) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
        {
            groups.insert(pgrp.to_owned());
        }
    }
    groups.len()
}

/// A `sh` script at `dir/name` with `body`, executable.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A wrapper around the real CLI that appends `ARGS <arguments>` and the stdin it passes on to
/// `<tools>/runs.log`.
fn recording_cli(tools: &Path) -> PathBuf {
    let real = claude_binary();
    script(
        tools,
        "claude",
        &format!(
            "log=\"{}/runs.log\"\nprintf 'ARGS %s\\n' \"$*\" >> \"$log\"\ntee -a \"$log\" | exec '{}' \"$@\"\n",
            tools.display(),
            real.display()
        ),
    )
}

/// The runs recorded so far: (arguments, stdin lines).
fn runs(tools: &Path) -> Vec<(String, Vec<Value>)> {
    let log = std::fs::read_to_string(tools.join("runs.log")).unwrap_or_default();
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for line in log.lines() {
        match line.strip_prefix("ARGS ") {
            Some(args) => out.push((args.to_owned(), Vec::new())),
            None => out
                .last_mut()
                .expect("stdin after ARGS")
                .1
                .push(serde_json::from_str(line).unwrap()),
        }
    }
    out
}

/// The value following `flag` in recorded arguments.
fn flag<'a>(args: &'a str, flag: &str) -> Option<&'a str> {
    args.split(' ')
        .skip_while(|a| *a != flag)
        .nth(1)
        .filter(|v| !v.is_empty())
}

struct Setup {
    fake: FakeProvider,
    gw: Running,
    cwd: PathBuf,
    tools: PathBuf,
    /// The usage ledger's queue.
    records: ledger::Receiver,
}

async fn setup(tag: &str, reply: Value, params: Value) -> Setup {
    let fake = fake(json!({"protocols": ["anthropic"], "record": true, "default": reply})).await;
    let cwd = private_cwd(tag);
    let tools = cwd.with_file_name(format!(
        "{}-tools",
        cwd.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&tools).unwrap();
    let cli = recording_cli(&tools);
    let mut d = cc_def("cc", &fake, &cwd, cli.to_str().unwrap());
    for (k, v) in params.as_object().unwrap() {
        d.litellm_params.other.insert(k.clone(), v.clone());
    }
    let (tx, records) = ledger::channel(64);
    let mut c = config(
        vec![d],
        Default::default(),
        gateway::RouterSettings {
            num_retries: 1,
            max_retry_after: Duration::from_secs(2),
            ..Default::default()
        },
        gateway::Registered::All,
        None,
    );
    c.ledger.sender = Some(tx);
    let gw = gateway_full(c).await;
    Setup {
        fake,
        gw,
        cwd,
        tools,
        records,
    }
}

async fn chat(gw: &Running, messages: Value, stream: bool) -> String {
    let body = json!({"model": "cc", "max_tokens": 64, "stream": stream, "messages": messages});
    let resp = post_bearer(gw, "/v1/chat/completions", &body).await;
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    answer_text(Client::Chat, stream, &bytes)
}

fn user_texts(stdin: &[Value]) -> Vec<String> {
    stdin
        .iter()
        .flat_map(|l| {
            l["message"]["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["text"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_turn_conversation_sends_only_the_new_turn_on_turns_two_and_three() {
    let s = setup("threeturns", json!({"text": TEXT}), json!({})).await;
    let mut messages = vec![json!({"role": "system", "content": "Answer briefly."})];
    let turns = ["My name is Ada.", "What is my name?", "Spell it backwards."];
    for (i, turn) in turns.iter().enumerate() {
        messages.push(json!({"role": "user", "content": turn}));
        // No pause between turns: the next one waits for the CLI to have written the session.
        let answer = chat(&s.gw, Value::from(messages.clone()), i == 1).await;
        assert_eq!(answer, TEXT);
        messages.push(json!({"role": "assistant", "content": answer}));
    }
    let runs = runs(&s.tools);
    assert_eq!(runs.len(), 3, "{runs:?}");
    let id = flag(&runs[0].0, "--session-id").expect("turn one starts a session");
    assert!(flag(&runs[0].0, "--resume").is_none());
    for (n, (args, stdin)) in runs.iter().enumerate() {
        assert_eq!(flag(args, "--system-prompt"), Some("Answer"), "{args}");
        assert_eq!(stdin.len(), 1, "one stdin line per run: {stdin:?}");
        assert_eq!(user_texts(stdin), [turns[n]], "turn {}: {stdin:?}", n + 1);
        if n > 0 {
            assert_eq!(flag(args, "--resume"), Some(id), "turn {}: {args}", n + 1);
        }
    }
    // The CLI sent the model the conversation as real turns, from its session.
    let last = s
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v1/messages")
        .unwrap();
    let roles: Vec<&str> = last.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user", "assistant", "user"],
        "{}",
        last.body
    );
    let history = last.body["messages"].to_string();
    for t in turns {
        assert!(history.contains(t), "{history}");
    }
    let left = left_after(&s.cwd, Duration::from_secs(3)).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_history_starts_a_new_session_carrying_the_earlier_turns() {
    let s = setup("edited", json!({"text": TEXT}), json!({})).await;
    chat(
        &s.gw,
        json!([{"role": "user", "content": "My name is Ada."}]),
        false,
    )
    .await;
    let edited = json!([
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Bob."},
        {"role": "user", "content": "What is my name?"}]);
    chat(&s.gw, edited, false).await;
    let runs = runs(&s.tools);
    assert_eq!(runs.len(), 2);
    let (first, second) = (&runs[0].0, &runs[1].0);
    assert!(flag(second, "--resume").is_none(), "{second}");
    assert_ne!(flag(second, "--session-id"), flag(first, "--session-id"));
    let texts = user_texts(&runs[1].1);
    assert!(
        texts[0].contains("<assistant>\nNice to meet you, Bob.\n</assistant>"),
        "{texts:?}"
    );
    assert_eq!(texts[1], "What is my name?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_concurrent_requests_with_max_concurrency_two_all_complete_two_at_a_time() {
    let s = setup(
        "concurrent",
        json!({"text": TEXT, "latency_ms": 1500}),
        json!({"max_concurrency": 2}),
    )
    .await;
    let cwd = s.cwd.clone();
    let sampler = tokio::spawn(async move {
        let mut most = 0;
        for _ in 0..400 {
            let clis = cli_groups_in(&cwd);
            most = most.max(clis);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        most
    });
    let one = |i: usize| {
        let gw = &s.gw;
        async move {
            chat(
                gw,
                json!([{"role": "user", "content": format!("question {i}")}]),
                i == 0,
            )
            .await
        }
    };
    let started = std::time::Instant::now();
    let (a, b, c) = tokio::join!(one(0), one(1), one(2));
    assert_eq!([a, b, c], [TEXT, TEXT, TEXT]);
    let took = started.elapsed();
    let most = sampler.await.unwrap();
    assert_eq!(most, 2, "CLI runs at once (max_concurrency 2)");
    // Two rounds of 1.5 s upstream latency: the third waited for a slot.
    assert!(took >= Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_sessions_have_their_files_deleted() {
    let s = setup("forget", json!({"text": TEXT}), json!({"session_ttl": 1})).await;
    chat(&s.gw, json!([{"role": "user", "content": "hello"}]), false).await;
    let id = flag(&runs(&s.tools)[0].0, "--session-id")
        .unwrap()
        .to_owned();
    let projects = config_dir(&s.cwd).join("projects");
    let find = || {
        std::fs::read_dir(&projects)
            .into_iter()
            .flatten()
            .flatten()
            .map(|d| d.path().join(format!("{id}.jsonl")))
            .find(|p| p.exists())
    };
    let mut file = find();
    for _ in 0..40 {
        if file.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        file = find();
    }
    let file = file.expect("the CLI wrote the session file");
    // Idle for `session_ttl` (1 s); the sweep runs every second.
    let mut gone = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !file.exists() {
            gone = true;
            break;
        }
    }
    assert!(gone, "{} still exists", file.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_reports_the_clis_cost_in_a_header_and_the_ledger() {
    let mut s = setup("cost", json!({"text": TEXT}), json!({})).await;
    let body = Client::Anthropic.request("cc", false);
    let resp = post_bearer(&s.gw, "/v1/messages", &body).await;
    assert_eq!(resp.status(), 200);
    let cost: f64 = resp
        .headers()
        .get("x-agent-shim-cost-usd")
        .expect("a cost header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], TEXT);
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
    // The CLI prices the tokens it reported with its own table: something, not nothing.
    assert!(cost > 0.0 && cost < 1.0, "{cost}");
    // The request's record holds the cost as reported, in picodollars.
    let r = tokio::time::timeout(Duration::from_secs(10), s.records.rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.price_version.as_deref(), Some("reported"), "{r:#?}");
    assert_eq!(
        r.cost_pico_usd,
        Some((cost * 1e12).round() as i64),
        "{r:#?}"
    );
    assert_eq!(r.provider.as_deref(), Some("claude-code"));
    assert!(r.tokens.input > 0, "{r:#?}");
}

/// A stub CLI that prints `lines` (stream-json) and then waits, as the real one does while it
/// retries.
fn stub_def(tag: &str, lines: &[Value]) -> (ModelDefinition, PathBuf) {
    let cwd = private_cwd(tag);
    let mut body = String::new();
    for l in lines {
        body.push_str(&format!("printf '%s\\n' '{l}'\n"));
    }
    body.push_str("sleep 30\n");
    let cli = script(
        cwd.parent().unwrap(),
        &format!("stub-{tag}-{}", rand()),
        &body,
    );
    let d: ModelDefinition = serde_json::from_value(json!({"model_name": "stub",
        "litellm_params": {"model": "claude-code/sonnet", "claude_path": cli.to_str().unwrap(),
            "timeout": 20, "cwd": cwd.to_str().unwrap()}}))
    .unwrap();
    (d, cwd)
}

fn rand() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn init_line() -> Value {
    json!({"type": "system", "subtype": "init", "session_id": "s", "model": "claude-sonnet-5"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_subscription_window_is_a_429_whose_retry_after_makes_clients_give_up() {
    let resets = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2 * 3600;
    let (d, cwd) = stub_def(
        "ratelimit",
        &[
            init_line(),
            json!({"type": "rate_limit_event", "rate_limit_info": {"status": "rejected",
                "resetsAt": resets, "rateLimitType": "five_hour", "utilization": 1.0}}),
        ],
    );
    let gw = gateway(vec![d]).await;
    for (client, stream) in [(Client::Chat, true), (Client::Anthropic, false)] {
        let started = std::time::Instant::now();
        let resp = post_bearer(&gw, client.path(), &client.request("stub", stream)).await;
        assert_eq!(resp.status(), 429, "{client:?}");
        let after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((2 * 3600 - 10..=2 * 3600).contains(&after), "{after}");
        let v: Value = resp.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("five_hour limit is used up"), "{v}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    let left = left_after(&cwd, Duration::from_secs(1)).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_line_fails_the_request_and_the_gateway_serves_the_next() {
    let (bad, cwd) = stub_def("malformed", &[init_line()]);
    // The stub's second line is not JSON.
    let cli = bad.litellm_params.other["claude_path"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(&cli).unwrap();
    std::fs::write(
        &cli,
        text.replace(
            "sleep 30",
            "echo 'Segmentation fault (core dumped)'\nsleep 30",
        ),
    )
    .unwrap();
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": TEXT}})).await;
    let good_cwd = private_cwd("malformed-good");
    let claude = claude_binary();
    let good = cc_def("cc", &fake, &good_cwd, claude.to_str().unwrap());
    let gw = gateway(vec![bad, good]).await;
    let resp = post_bearer(
        &gw,
        "/v1/messages",
        &Client::Anthropic.request("stub", true),
    )
    .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("not JSON") && msg.contains("Segmentation fault"),
        "{v}"
    );
    let left = left_after(&cwd, Duration::from_secs(1)).await;
    assert!(left.is_empty(), "{left:?}");
    let resp = post_bearer(&gw, "/v1/messages", &Client::Anthropic.request("cc", false)).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert_eq!(answer_text(Client::Anthropic, false, &body), TEXT);
}
