//! Server behaviour common to all protocols: protocol restriction, auth,
//! recording, control endpoints, models/health, step budgets, timing, the
//! blocking thread wrapper and the binary.

mod common;

use std::time::Duration;

use common::{get, post, send, start};
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};

fn chat(stream: bool) -> Value {
    json!({"model":"m","stream":stream,"messages":[{"role":"user","content":"hello"}]})
}

#[tokio::test]
async fn disabled_protocols_return_404_in_their_shape() {
    let fake = start(r#"{"protocols":["openai-chat"],"default":{"text":"ok"}}"#).await;
    let ok = post(fake.addr(), "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(ok.status, 200);
    let a = post(
        fake.addr(),
        "/v1/messages",
        &[],
        &json!({"model":"m","messages":[]}),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["type"], "error");
    assert_eq!(a.json()["error"]["type"], "not_found_error");
    let r = post(
        fake.addr(),
        "/v1/responses",
        &[],
        &json!({"model":"m","input":"x"}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("openai-responses"))
    );
    // Rejected requests are recorded too.
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v1/chat/completions", "/v1/messages", "/v1/responses"]
    );
}

#[tokio::test]
async fn api_key_is_enforced_per_protocol() {
    let fake = start(r#"{"api_key":"sk-up","default":{"text":"ok"}}"#).await;
    let addr = fake.addr();
    let r = post(addr, "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    let r = post(
        addr,
        "/v1/chat/completions",
        &[("authorization", "Bearer wrong")],
        &chat(false),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = post(
        addr,
        "/v1/chat/completions",
        &[("authorization", "Bearer sk-up")],
        &chat(false),
    )
    .await;
    assert_eq!(r.status, 200);
    // x-api-key is Anthropic-only.
    let r = post(
        addr,
        "/v1/responses",
        &[("x-api-key", "sk-up")],
        &json!({"model":"m","input":"x"}),
    )
    .await;
    assert_eq!(r.status, 401);
    let msg = json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]});
    let r = post(addr, "/v1/messages", &[], &msg).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    assert_eq!(
        post(addr, "/v1/messages", &[("x-api-key", "sk-up")], &msg)
            .await
            .status,
        200
    );
    assert_eq!(
        post(
            addr,
            "/v1/messages",
            &[("authorization", "Bearer sk-up")],
            &msg
        )
        .await
        .status,
        200
    );
    assert_eq!(get(addr, "/v1/models").await.status, 401);
    assert_eq!(fake.requests().len(), 8);
}

#[tokio::test]
async fn prefixed_paths_route_by_their_end_and_azure_api_key_authenticates() {
    let fake = start(r#"{"api_key":"sk-up","default":{"text":"ok"}}"#).await;
    let addr = fake.addr();
    let azure = "/openai/deployments/gpt-x/chat/completions?api-version=2025-02-01-preview";
    let r = post(addr, azure, &[("api-key", "sk-up")], &chat(false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["object"], "chat.completion");
    let r = post(addr, azure, &[("api-key", "wrong")], &chat(false)).await;
    assert_eq!(r.status, 401);
    let r = post(
        addr,
        "/openai/v1/responses",
        &[("api-key", "sk-up")],
        &json!({"model":"m","input":"x"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["object"], "response");
    // `api-key` is not Anthropic's header.
    let msg = json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]});
    let r = post(
        addr,
        "/anthropic/v1/messages",
        &[("api-key", "sk-up")],
        &msg,
    )
    .await;
    assert_eq!(r.status, 401);
    let rec = &fake.requests()[0];
    assert_eq!(rec.path, "/openai/deployments/gpt-x/chat/completions");
    assert_eq!(rec.query.as_deref(), Some("api-version=2025-02-01-preview"));
    assert_eq!(rec.headers["api-key"], "sk-up");
    assert_eq!(
        post(addr, "/v1/chat/completion", &[], &chat(false))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn requests_are_recorded_with_details() {
    let fake = start(r#"{"default":{"text":"ok"}}"#).await;
    let addr = fake.addr();
    let body = json!({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]});
    post(
        addr,
        "/v1/messages?beta=true",
        &[("X-Api-Key", "k"), ("Anthropic-Version", "2023-06-01")],
        &body,
    )
    .await;
    send(addr, "POST", "/v1/chat/completions", &[], "not json").await;
    send(addr, "POST", "/v1/chat/completions", &[], "").await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].query.as_deref(), Some("beta=true"));
    assert_eq!(
        reqs[0].headers.get("x-api-key").map(String::as_str),
        Some("k")
    );
    assert_eq!(
        reqs[0].headers.get("anthropic-version").map(String::as_str),
        Some("2023-06-01")
    );
    assert_eq!(reqs[0].body, body);
    assert_eq!(reqs[1].body, json!("not json"));
    assert_eq!(reqs[1].query, None);
    assert_eq!(reqs[2].body, Value::Null);

    // Over HTTP, control endpoints are not recorded themselves.
    let listed = get(addr, "/_fake/requests").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    assert_eq!(listed[0]["body"], body);
    assert_eq!(
        send(addr, "POST", "/_fake/reset", &[], "").await.status,
        200
    );
    assert!(fake.requests().is_empty());
    assert_eq!(get(addr, "/_fake/requests").await.json(), json!([]));
}

#[tokio::test]
async fn record_false_disables_recording() {
    let fake = start(r#"{"record":false,"default":{"text":"ok"}}"#).await;
    assert_eq!(
        post(fake.addr(), "/v1/chat/completions", &[], &chat(false))
            .await
            .status,
        200
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn script_replacement_over_http_and_api() {
    let fake = start(r#"{"default":{"text":"first"}}"#).await;
    let addr = fake.addr();
    let text = |v: Value| v["choices"][0]["message"]["content"].clone();
    assert_eq!(
        text(
            post(addr, "/v1/chat/completions", &[], &chat(false))
                .await
                .json()
        ),
        "first"
    );
    let r = send(
        addr,
        "POST",
        "/_fake/script",
        &[],
        r#"{"default":{"text":"second"}}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        text(
            post(addr, "/v1/chat/completions", &[], &chat(false))
                .await
                .json()
        ),
        "second"
    );
    let bad = send(
        addr,
        "POST",
        "/_fake/script",
        &[],
        r#"{"default":{"txet":"x"}}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("txet"))
    );
    fake.set_script(Script::with_default_text("third"));
    assert_eq!(
        text(
            post(addr, "/v1/chat/completions", &[], &chat(false))
                .await
                .json()
        ),
        "third"
    );
}

#[tokio::test]
async fn times_then_default_then_no_match() {
    let fake =
        start(r#"{"steps":[{"when":{"contains":"hello"},"times":1,"reply":{"text":"once"}}]}"#)
            .await;
    let addr = fake.addr();
    let v = post(addr, "/v1/chat/completions", &[], &chat(false))
        .await
        .json();
    assert_eq!(v["choices"][0]["message"]["content"], "once");
    // Exhausted and no default: 500 in each protocol's error shape.
    let r = post(addr, "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(r.status, 500);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no script step matched"))
    );
    let r = post(
        addr,
        "/v1/messages",
        &[],
        &json!({"model":"m","messages":[]}),
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["type"], "api_error");
}

#[tokio::test]
async fn models_health_and_unknown_routes() {
    let fake = start(r#"{"models":["a","b"]}"#).await;
    let addr = fake.addr();
    let h = get(addr, "/health").await;
    assert_eq!((h.status, h.json()), (200, json!({"status":"ok"})));
    let m = get(addr, "/v1/models").await.json();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][1]["id"], "b");
    assert_eq!(m["data"][0]["object"], "model");
    assert_eq!(m["data"][0]["owned_by"], "fake");
    assert!(m["data"][0]["created"].is_u64());
    let a = send(
        addr,
        "GET",
        "/v1/models",
        &[("anthropic-version", "2023-06-01")],
        "",
    )
    .await
    .json();
    assert_eq!(a["data"][0]["type"], "model");
    assert_eq!(a["has_more"], false);
    assert_eq!(a["last_id"], "b");
    assert_eq!(get(addr, "/nope").await.status, 404);
    assert_eq!(get(addr, "/v1/chat/completions").await.status, 404);
}

#[tokio::test]
async fn delay_makes_stream_incremental() {
    let fake =
        start(r#"{"default":{"text":"a b c d e","stream":{"text_chunks":5,"delay_ms":60}}}"#).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &chat(true)).await;
    assert!(r.complete);
    let first = r.reads.first().expect("reads").0;
    let last = r.reads.last().expect("reads").0;
    // 9 events => 8 gaps of 60ms; the first event must not wait for them.
    assert!(last >= Duration::from_millis(400), "total {last:?}");
    assert!(
        last - first >= Duration::from_millis(300),
        "first {first:?} last {last:?}"
    );
    assert!(r.reads.len() >= 5, "{:?}", r.reads);
}

#[tokio::test]
async fn latency_delays_the_head() {
    let fake = start(r#"{"default":{"text":"x","latency_ms":150}}"#).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(r.status, 200);
    assert!(r.reads[0].0 >= Duration::from_millis(150), "{:?}", r.reads);
}

#[tokio::test]
async fn concurrent_requests_all_answer() {
    let fake = start(r#"{"record":false,"default":{"text":"tok ","repeat_text":50}}"#).await;
    let addr = fake.addr();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            tokio::spawn(async move { post(addr, "/v1/chat/completions", &[], &chat(true)).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.expect("task");
        assert!(r.complete);
        assert_eq!(r.sse().len(), 1 + 50 + 1 + 1 + 1);
    }
}

#[test]
fn blocking_thread_wrapper() {
    let fake = FakeProviderThread::start(Script::with_default_text("from thread")).expect("start");
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    let r = common::send_blocking(
        fake.addr(),
        "POST",
        "/v1/chat/completions",
        &[],
        &chat(false).to_string(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["choices"][0]["message"]["content"], "from thread");
    assert_eq!(fake.requests().len(), 1);
    fake.set_script(Script::with_default_text("changed"));
    let r = common::send_blocking(
        fake.addr(),
        "POST",
        "/v1/chat/completions",
        &[],
        &chat(false).to_string(),
    );
    assert_eq!(r.json()["choices"][0]["message"]["content"], "changed");
    let addr = fake.addr();
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "server still accepting after drop"
    );
}

#[test]
fn binary_reports_bad_script_and_serves_good_one() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_fake-provider");
    let dir = std::env::temp_dir().join(format!("fp-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"default\": {\"text\": 1}}").expect("write");
    let out = Command::new(exe)
        .arg("--script")
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("line 1"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"default": {"text": "bin"}}"#).expect("write");
    let mut child = Command::new(exe)
        .arg("--script")
        .arg(&good)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read line");
    let url = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("listening line")
        .to_string();
    let addr: std::net::SocketAddr = url.parse().expect("addr");
    let r = common::send_blocking(
        addr,
        "POST",
        "/v1/chat/completions",
        &[],
        &chat(false).to_string(),
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.json()["choices"][0]["message"]["content"], "bin");
}
