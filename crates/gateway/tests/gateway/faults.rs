//! Every way an upstream misbehaves, for each client protocol, on a pass-through route (same
//! protocol upstream) and a translated one, streaming and not: what the client gets must be the
//! truth — the answer, an error in its own protocol before any byte, or a stream that ends with
//! its protocol's error event — and failed attempts are retried only when that can help.
//!
//! One fake upstream serves every row: each row has its own upstream model id, which the fake's
//! script answers with the row's fault. Timeouts are a second, so stalls end quickly.

pub mod clients;

use crate::common::*;
use clients::{Client, Route, answer_text, definition, openai_type, stream_error};
use futures_util::future::join_all;
use gateway::{RouterSettings, Timeouts};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The text every successful answer carries: multi-byte characters, so `chunk_bytes: 1` splits
/// them across writes.
const TEXT: &str = "héllo wörld ✓ ünïcödé";

/// What the client must get.
#[derive(Clone, Debug)]
enum Expect {
    /// The whole answer, [`TEXT`].
    Answer,
    /// An error before any byte: status, the Anthropic error type, words in the message, and
    /// the `retry-after` passed on.
    Error {
        status: u16,
        kind: &'static str,
        words: Vec<&'static str>,
        retry_after: Option<&'static str>,
    },
    /// A stream that began and ended with the protocol's error event, its message holding
    /// `words`.
    StreamError { words: Vec<&'static str> },
}

fn error(status: u16, kind: &'static str, words: &[&'static str]) -> Expect {
    Expect::Error {
        status,
        kind,
        words: words.to_vec(),
        retry_after: None,
    }
}

/// One fault: the fake's steps for a row's upstream model, what the client gets, and how many
/// requests the upstream sees (num_retries is 1).
struct Fault {
    name: &'static str,
    /// Steps without `when`; `None` for an upstream that refuses connections.
    steps: Option<Vec<Value>>,
    expect: fn(stream: bool) -> (Expect, usize),
}

fn reply(r: Value) -> Option<Vec<Value>> {
    Some(vec![json!({ "reply": r })])
}

fn faults() -> Vec<Fault> {
    let status =
        |s: u16| reply(json!({"status": s, "error": {"message": format!("upstream says {s}")}}));
    vec![
        Fault {
            name: "refused",
            steps: None,
            expect: |_| {
                (
                    error(502, "api_error", &["cannot reach upstream", "127.0.0.1:9/"]),
                    0,
                )
            },
        },
        Fault {
            name: "reset-before-headers",
            steps: reply(json!({"text": TEXT, "fault": "reset"})),
            expect: |_| (error(502, "api_error", &["the connection broke"]), 2),
        },
        Fault {
            name: "429-short-retry-after",
            steps: Some(vec![
                json!({"times": 1, "reply": {"status": 429, "headers": {"retry-after": "1"}}}),
                json!({"reply": {"text": TEXT}}),
            ]),
            expect: |_| (Expect::Answer, 2),
        },
        Fault {
            name: "429-long-retry-after",
            steps: reply(json!({"status": 429, "headers": {"retry-after": "30"},
                "error": {"message": "slow down"}})),
            expect: |_| {
                let e = Expect::Error {
                    status: 429,
                    kind: "rate_limit_error",
                    words: vec!["slow down"],
                    retry_after: Some("30"),
                };
                (e, 1)
            },
        },
        Fault {
            name: "500",
            steps: status(500),
            expect: |_| (error(500, "api_error", &["upstream says 500"]), 2),
        },
        Fault {
            name: "502",
            steps: status(502),
            expect: |_| (error(502, "api_error", &["upstream says 502"]), 2),
        },
        Fault {
            name: "503",
            steps: status(503),
            expect: |_| (error(503, "overloaded_error", &["upstream says 503"]), 2),
        },
        Fault {
            name: "529",
            steps: status(529),
            expect: |_| (error(529, "overloaded_error", &["upstream says 529"]), 2),
        },
        Fault {
            name: "500-stalled-error-body",
            steps: reply(json!({"status": 500, "fault": "stall"})),
            expect: |_| (error(500, "api_error", &["answered 500"]), 2),
        },
        Fault {
            name: "400-provider-error",
            steps: reply(
                json!({"status": 400, "error": {"type": "invalid_request_error",
                "message": "max_tokens: must be at most 8192"}}),
            ),
            expect: |_| {
                (
                    error(400, "invalid_request_error", &["must be at most 8192"]),
                    1,
                )
            },
        },
        Fault {
            name: "stall-before-headers",
            steps: reply(json!({"text": TEXT, "latency_ms": 5000})),
            expect: |_| {
                (
                    error(504, "timeout_error", &["did not answer within 1 s"]),
                    2,
                )
            },
        },
        Fault {
            name: "stall-mid-body",
            steps: reply(json!({"text": TEXT, "fault": "stall"})),
            expect: |stream| match stream {
                true => (
                    Expect::StreamError {
                        words: vec!["abandoned"],
                    },
                    1,
                ),
                false => (
                    error(
                        504,
                        "timeout_error",
                        &["stopped sending its answer mid-way"],
                    ),
                    2,
                ),
            },
        },
        Fault {
            name: "reset-mid-body",
            steps: reply(json!({"text": TEXT, "fault": "cut"})),
            expect: |stream| match stream {
                true => (
                    Expect::StreamError {
                        words: vec!["broke off the stream"],
                    },
                    1,
                ),
                false => (error(502, "api_error", &["broke off its answer"]), 2),
            },
        },
        Fault {
            name: "garbage",
            steps: reply(json!({"text": TEXT, "fault": "garbage"})),
            // A stream that goes wrong before its first content is a failed attempt, like a
            // whole answer that is not JSON: an error before any byte.
            expect: |stream| match stream {
                true => (
                    error(
                        502,
                        "api_error",
                        &["opened its stream with an error", "<html>"],
                    ),
                    1,
                ),
                false => (error(502, "api_error", &["not complete JSON"]), 1),
            },
        },
        Fault {
            name: "split-utf8",
            steps: reply(json!({"text": TEXT, "stream": {"chunk_bytes": 1}})),
            expect: |_| (Expect::Answer, 1),
        },
        Fault {
            name: "gzip",
            steps: reply(json!({"text": TEXT, "gzip": true})),
            expect: |_| (Expect::Answer, 1),
        },
        Fault {
            name: "html-200",
            steps: reply(json!({"text": TEXT, "fault": "html"})),
            expect: |_| {
                (
                    error(
                        502,
                        "api_error",
                        &["content-type `text/html", "captive portal"],
                    ),
                    1,
                )
            },
        },
        Fault {
            name: "wrong-kind",
            steps: reply(json!({"text": TEXT, "fault": "wrong_kind"})),
            expect: |stream| match stream {
                true => (error(502, "api_error", &["ignores `stream: true`"]), 1),
                false => (error(502, "api_error", &["with a stream"]), 1),
            },
        },
    ]
}

/// One request of the table.
struct Row {
    model: String,
    fault: &'static str,
    route: Route,
    stream: bool,
    expect: Expect,
    attempts: usize,
}

/// The fake, the gateway and the rows for `client`: every fault × route × streaming.
async fn table(client: Client) -> (fake_provider::FakeProvider, Running, Vec<Row>) {
    let mut steps = Vec::new();
    let mut rows = Vec::new();
    let mut defs = Vec::new();
    let fake_slot = fake(json!({})).await;
    let base = fake_slot.base_url();
    for f in faults() {
        for route in [Route::Pass, Route::Translate] {
            for stream in [false, true] {
                let route_name = if route == Route::Pass {
                    "pass"
                } else {
                    "translate"
                };
                let model = format!(
                    "{}-{route_name}-{}",
                    f.name,
                    if stream { "stream" } else { "whole" }
                );
                let at = if f.steps.is_some() {
                    base.as_str()
                } else {
                    "http://127.0.0.1:9"
                };
                defs.push(definition(&model, client.upstream(route), at));
                for s in f.steps.iter().flatten() {
                    let mut s = s.clone();
                    s["when"] = json!({"model": model});
                    steps.push(s);
                }
                let (expect, attempts) = (f.expect)(stream);
                rows.push(Row {
                    model,
                    fault: f.name,
                    route,
                    stream,
                    expect,
                    attempts,
                });
            }
        }
    }
    fake_slot.set_script(
        fake_provider::Script::from_json(&json!({"steps": steps}).to_string()).expect("script"),
    );
    let mut cfg = config(
        defs,
        HashMap::new(),
        RouterSettings {
            num_retries: 1,
            max_retry_after: Duration::from_secs(2),
            ..RouterSettings::default()
        },
        gateway::Registered::All,
        None,
    );
    cfg.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        first_byte: Duration::from_secs(1),
        idle: Duration::from_secs(1),
        ping: Duration::from_millis(200),
    };
    let gw = gateway_full(cfg).await;
    (fake_slot, gw, rows)
}

async fn run_row(
    gw: &Running,
    fake: &fake_provider::FakeProvider,
    client: Client,
    row: &Row,
) -> Result<(), String> {
    let what = format!(
        "{client:?} {} via {:?}, stream {}",
        row.fault, row.route, row.stream
    );
    let started = Instant::now();
    let resp = gw
        .post_as(client, &client.request(&row.model, row.stream))
        .await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{what}: body broke off: {e}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let check = |ok: bool, msg: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}: {msg}\nbody: {text}"))
        }
    };
    match &row.expect {
        Expect::Answer => {
            check(status == 200, format!("status {status}"))?;
            check(
                ct == if row.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
                format!("content-type {ct}"),
            )?;
            check(
                headers.get("content-encoding").is_none(),
                "content-encoding passed on".into(),
            )?;
            let got = answer_text(client, row.stream, &body);
            check(got == TEXT, format!("text {got:?}"))?;
        }
        Expect::Error {
            status: want,
            kind,
            words,
            retry_after,
        } => {
            check(status == *want, format!("status {status}, want {want}"))?;
            check(ct == "application/json", format!("content-type {ct}"))?;
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{what}: not JSON: {e}: {text}"))?;
            let (t, msg) = match client {
                Client::Anthropic => {
                    check(v["type"] == "error", "not an Anthropic error".into())?;
                    (
                        v["error"]["type"].as_str().unwrap_or_default(),
                        v["error"]["message"].as_str().unwrap_or_default(),
                    )
                }
                _ => (
                    v["error"]["type"].as_str().unwrap_or_default(),
                    v["error"]["message"].as_str().unwrap_or_default(),
                ),
            };
            let want_type = if client == Client::Anthropic {
                kind
            } else {
                openai_type(kind)
            };
            check(t == want_type, format!("error type {t}, want {want_type}"))?;
            for w in words {
                check(msg.contains(w), format!("message lacks {w:?}"))?;
            }
            let ra = headers.get("retry-after").and_then(|v| v.to_str().ok());
            check(ra == *retry_after, format!("retry-after {ra:?}"))?;
        }
        Expect::StreamError { words } => {
            check(status == 200, format!("status {status}"))?;
            check(ct == "text/event-stream", format!("content-type {ct}"))?;
            let msg = stream_error(client, &body);
            for w in words {
                check(
                    msg.contains(w),
                    format!("error event message {msg:?} lacks {w:?}"),
                )?;
            }
        }
    }
    let seen = fake
        .requests()
        .iter()
        .filter(|r| r.body["model"] == row.model.as_str())
        .count();
    if row.fault != "refused" {
        check(
            seen == row.attempts,
            format!("{seen} upstream attempts, want {}", row.attempts),
        )?;
    }
    check(
        started.elapsed() < Duration::from_secs(8),
        format!("took {:?}", started.elapsed()),
    )
}

async fn run_table(client: Client) {
    let (fake, gw, rows) = table(client).await;
    let results = join_all(rows.iter().map(|row| run_row(&gw, &fake, client, row))).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
    for r in fake.requests() {
        assert_eq!(
            r.headers.get("accept-encoding").map(String::as_str),
            Some("identity"),
            "no compression is asked for"
        );
    }
}

#[tokio::test]
async fn anthropic_client_gets_the_truth_about_every_upstream_fault() {
    run_table(Client::Anthropic).await;
}

#[tokio::test]
async fn chat_client_gets_the_truth_about_every_upstream_fault() {
    run_table(Client::Chat).await;
}

#[tokio::test]
async fn responses_client_gets_the_truth_about_every_upstream_fault() {
    run_table(Client::Responses).await;
}

/// Regression: an HTML page (or any answer of the wrong kind) was relabelled and passed on; it
/// is a failed attempt, so the group's next deployment serves.
#[tokio::test]
async fn unusable_answer_is_a_failed_attempt_and_the_next_deployment_serves() {
    let fake = fake(json!({"steps": [
        {"when": {"model": "portal"}, "reply": {"fault": "html"}},
        {"when": {"model": "good"}, "reply": {"text": TEXT}}
    ]}))
    .await;
    let base = fake.base_url();
    let mut first = definition("m", Client::Anthropic, &base);
    first.litellm_params.model = "anthropic/portal".into();
    first.litellm_params.order = Some(1);
    let mut second = definition("m", Client::Anthropic, &base);
    second.litellm_params.model = "anthropic/good".into();
    second.litellm_params.order = Some(2);
    let gw = gateway(vec![first, second]).await;
    for stream in [false, true] {
        let resp = gw
            .post_as(Client::Anthropic, &Client::Anthropic.request("m", stream))
            .await;
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        assert_eq!(answer_text(Client::Anthropic, stream, &body), TEXT);
    }
    let models: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        models,
        ["portal", "good", "portal", "good"],
        "the portal is tried once each time"
    );
}

/// Regression: a gzip answer was forwarded as raw gzip bytes; it is decoded, and a gzip stream
/// still reaches the client event by event, not after the upstream finished.
#[tokio::test]
async fn gzip_stream_is_decoded_as_it_arrives() {
    let fake = fake(
        json!({"default": {"text": "one two three four five", "gzip": true,
        "stream": {"text_chunks": 5, "delay_ms": 250}}}),
    )
    .await;
    let gw = gateway(vec![definition("m", Client::Anthropic, &fake.base_url())]).await;
    let started = Instant::now();
    let mut resp = gw
        .post_as(Client::Anthropic, &Client::Anthropic.request("m", true))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-encoding").is_none());
    let first = resp.chunk().await.unwrap().expect("a first chunk");
    let first_at = started.elapsed();
    assert!(
        first.starts_with(b"event: message_start\n"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    let mut all = first.to_vec();
    while let Some(c) = resp.chunk().await.unwrap() {
        all.extend_from_slice(&c);
    }
    let total = started.elapsed();
    assert!(
        total - first_at >= Duration::from_millis(1000),
        "the first event came at {first_at:?}, the end at {total:?}: the stream was buffered"
    );
    assert_eq!(
        answer_text(Client::Anthropic, true, &all),
        "one two three four five"
    );
}

/// Regression: the idle timeout was checked only when a ping fell due, so with the default
/// 10 s pings a one-second `stream_timeout` ended a stalled stream after ten seconds.
#[tokio::test]
async fn stream_timeout_shorter_than_the_ping_interval_is_kept() {
    let fake = fake(json!({"default": {"text": TEXT, "fault": "stall"}})).await;
    let mut cfg = config(
        vec![
            definition("pass", Client::Anthropic, &fake.base_url()),
            definition("translate", Client::Chat, &fake.base_url()),
        ],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    cfg.timeouts = Timeouts {
        idle: Duration::from_secs(1),
        ping: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let gw = gateway_full(cfg).await;
    for model in ["pass", "translate"] {
        let started = Instant::now();
        let resp = gw
            .post_as(Client::Anthropic, &Client::Anthropic.request(model, true))
            .await;
        let body = resp.bytes().await.unwrap();
        let took = started.elapsed();
        let msg = stream_error(Client::Anthropic, &body);
        assert!(msg.contains("abandoned"), "{msg}");
        assert!(
            took < Duration::from_secs(4),
            "{model}: the stall ended after {took:?}"
        );
    }
}
