//! The official Python SDKs against a gateway whose upstream misbehaves in every way the fake
//! provider can: each fault, for each client protocol, on a pass-through route and a translated
//! one, streaming and not. `sdk_faults.py` makes the calls and judges what the SDK did with the
//! answer: the answer itself, the SDK's exception class for the status, or the SDK raising on
//! the protocol's error event — never a silently truncated or empty success.
//!
//! The gateway runs as users run it (`proxy start`), with one-second timeouts and one retry from
//! `config.yaml`'s `router_settings`, so stalls end quickly.

use crate::claude_e2e::output_within;
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/sdk_faults.py");

/// Every answer's text: multi-byte characters, split across writes by `chunk_bytes: 1`.
const TEXT: &str = "héllo wörld ✓ ünïcödé";

/// The Python of `AGENT_SHIM_TEST_PYTHON` (see sdk_clients.rs); the test fails without it.
fn python() -> String {
    std::env::var("AGENT_SHIM_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_PYTHON is not set: it must name a Python with the PyPI packages \
             `anthropic` and `openai` (`bash .ci/run` makes that venv)"
        )
    })
}

fn answer() -> Value {
    json!({"kind": "answer", "text": TEXT})
}

fn error(status: u16, words: &[&str]) -> Value {
    json!({"kind": "error", "status": status, "words": words, "retry_after": null})
}

fn stream_error(words: &[&str]) -> Value {
    json!({"kind": "stream_error", "words": words})
}

/// One fault: the fake's reply steps (`None`: nothing listens), and what the SDK must see,
/// for a whole answer and for a stream.
fn faults() -> Vec<(&'static str, Option<Vec<Value>>, Value, Value)> {
    let one = |r: Value| Some(vec![json!({ "reply": r })]);
    let status =
        |s: u16| one(json!({"status": s, "error": {"message": format!("upstream says {s}")}}));
    let both = |v: Value| (v.clone(), v);
    let mut out = Vec::new();
    let mut add =
        |name, steps, (whole, stream): (Value, Value)| out.push((name, steps, whole, stream));
    add(
        "refused",
        None,
        both(error(502, &["cannot reach upstream"])),
    );
    add(
        "reset-before-headers",
        one(json!({"text": TEXT, "fault": "reset"})),
        both(error(502, &["the connection broke"])),
    );
    add(
        "429-short-retry-after",
        Some(vec![
            json!({"times": 1, "reply": {"status": 429, "headers": {"retry-after": "1"}}}),
            json!({"reply": {"text": TEXT}}),
        ]),
        both(answer()),
    );
    add(
        "429-long-retry-after",
        one(
            json!({"status": 429, "headers": {"retry-after": "30"}, "error": {"message": "slow down"}}),
        ),
        both(json!({"kind": "error", "status": 429, "words": ["slow down"], "retry_after": "30"})),
    );
    for (s, name) in [(500, "500"), (502, "502"), (503, "503"), (529, "529")] {
        add(
            name,
            status(s),
            both(error(s, &[&format!("upstream says {s}")])),
        );
    }
    add(
        "500-stalled-error-body",
        one(json!({"status": 500, "fault": "stall"})),
        both(error(500, &["answered 500"])),
    );
    add(
        "400-provider-error",
        one(
            json!({"status": 400, "error": {"type": "invalid_request_error", "message": "max_tokens: must be at most 8192"}}),
        ),
        both(error(400, &["must be at most 8192"])),
    );
    add(
        "stall-before-headers",
        one(json!({"text": TEXT, "latency_ms": 5000})),
        both(error(504, &["did not answer within 1 s"])),
    );
    add(
        "stall-mid-body",
        one(json!({"text": TEXT, "fault": "stall"})),
        (
            error(504, &["stopped sending its answer mid-way"]),
            stream_error(&["abandoned"]),
        ),
    );
    add(
        "reset-mid-body",
        one(json!({"text": TEXT, "fault": "cut"})),
        (
            error(502, &["broke off its answer"]),
            stream_error(&["broke off the stream"]),
        ),
    );
    add(
        "garbage",
        one(json!({"text": TEXT, "fault": "garbage"})),
        // A stream that goes wrong before its first content is a failed attempt (retried, then
        // an error before any byte), like a whole answer that is not JSON.
        (
            error(502, &["not complete JSON"]),
            error(502, &["opened its stream with an error", "<html>"]),
        ),
    );
    add(
        "split-utf8",
        one(json!({"text": TEXT, "stream": {"chunk_bytes": 1}})),
        both(answer()),
    );
    add(
        "gzip",
        one(json!({"text": TEXT, "gzip": true})),
        both(answer()),
    );
    add(
        "html-200",
        one(json!({"text": TEXT, "fault": "html"})),
        both(error(502, &["text/html", "captive portal"])),
    );
    add(
        "wrong-kind",
        one(json!({"text": TEXT, "fault": "wrong_kind"})),
        (
            error(502, &["with a stream"]),
            error(502, &["ignores `stream: true`"]),
        ),
    );
    out
}

/// The upstream protocol a client reaches on each route: its own (pass-through), or another.
fn upstream(client: &str, pass: bool) -> &'static str {
    match (client, pass) {
        ("anthropic", true) => "anthropic",
        ("chat", true) | ("anthropic" | "responses", false) => "chat",
        ("responses", true) => "responses",
        _ => "anthropic",
    }
}

/// The models.yaml entry of `name` in upstream protocol `up` at `base`.
fn model_entry(out: &mut String, name: &str, up: &str, base: &str) {
    let (model, api_base, mode) = match up {
        "anthropic" => (format!("anthropic/{name}"), base.to_owned(), ""),
        "chat" => (format!("openai/{name}"), format!("{base}/v1"), ""),
        _ => (
            format!("openai/{name}"),
            format!("{base}/v1"),
            "\n      api_mode: responses",
        ),
    };
    write!(
        out,
        "  - model_name: {name}\n    litellm_params:\n      model: {model}\n      api_base: {api_base}\n      api_key: sk-fake{mode}\n"
    )
    .unwrap();
}

#[test]
fn official_sdks_raise_or_answer_truthfully_for_every_upstream_fault() {
    let py = python();
    let mut steps = Vec::new();
    let mut cases = Vec::new();
    let mut models = String::from("model_list:\n");
    let fake = FakeProviderThread::start(Script::default()).unwrap();
    let base = fake.base_url();
    for (fault, fault_steps, whole, streamed) in faults() {
        for client in ["anthropic", "chat", "responses"] {
            for pass in [true, false] {
                for stream in [false, true] {
                    let route = if pass { "pass" } else { "translate" };
                    let mode = if stream { "stream" } else { "whole" };
                    let name = format!("{fault}-{client}-{route}-{mode}");
                    let at = if fault_steps.is_some() {
                        base.as_str()
                    } else {
                        "http://127.0.0.1:9"
                    };
                    model_entry(&mut models, &name, upstream(client, pass), at);
                    for s in fault_steps.iter().flatten() {
                        let mut s = s.clone();
                        s["when"] = json!({"model": name});
                        steps.push(s);
                    }
                    let expect = if stream {
                        streamed.clone()
                    } else {
                        whole.clone()
                    };
                    cases.push(json!({"id": name, "client": client, "model": name, "stream": stream, "expect": expect}));
                }
            }
        }
    }
    fake.set_script(Script::from_json(&json!({"steps": steps}).to_string()).unwrap());
    let s = Sandbox::new();
    s.write_config("models.yaml", &models);
    s.write_config(
        "config.yaml",
        "router_settings:\n  num_retries: 1\n  timeout: 1\n  stream_timeout: 1\n",
    );
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "proxy start: {}", stderr(&o));
    let cases_file = s.work().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(&cases).unwrap()).unwrap();

    let started = Instant::now();
    let mut cmd = Command::new(&py);
    cmd.arg(SCRIPT)
        .arg(&cases_file)
        .env_clear()
        .env("HOME", s.home())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AGENT_SHIM_GATEWAY", s.base_url())
        .env("AGENT_SHIM_KEY", master_key(&s))
        .current_dir(s.work());
    let out = output_within(cmd, Duration::from_secs(180));
    let printed = stdout(&out);
    println!(
        "sdk_faults.py printed ({:?}):\n{printed}",
        started.elapsed()
    );
    let failed: Vec<&str> = printed.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "sdk_faults.py ({:?}): {} of {} cases failed:\n{}\n{}",
        out.status,
        failed.len(),
        cases.len(),
        failed.join("\n"),
        stderr(&out)
    );
    assert_eq!(printed.lines().count(), cases.len(), "one line per case");
}
