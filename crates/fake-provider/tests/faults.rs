//! Injected faults (`reply.fault`, `reply.gzip`), seen on the wire: a reset before any byte, an
//! HTML 200, the wrong kind of body, garbage, a cut or stalled body, gzip that still streams.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Resp, build_request, parse_response, parse_sse, post, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn chat(stream: bool) -> Value {
    json!({"model":"m","stream":stream,"messages":[{"role":"user","content":"hello"}]})
}

fn anthropic(stream: bool) -> Value {
    json!({"model":"m","max_tokens":10,"stream":stream,"messages":[{"role":"user","content":"hello"}]})
}

/// How a raw exchange ended.
#[derive(Debug, PartialEq)]
enum Ending {
    /// The peer closed (FIN).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Nothing more came for the wait given.
    Silent,
}

/// Sends `body` to `path` and reads until the peer closes or resets, or until nothing has come
/// for `quiet`.
async fn exchange(
    addr: SocketAddr,
    path: &str,
    body: &Value,
    quiet: Duration,
) -> (Vec<u8>, Ending) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(&build_request(addr, "POST", path, &[], &body.to_string()))
        .await
        .expect("write request");
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Ok(Ok(0)) => return (raw, Ending::Closed),
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (raw, Ending::Reset);
            }
            Ok(Err(e)) => panic!("read failed: {e}"),
            Err(_) => return (raw, Ending::Silent),
        }
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn reset_fault_resets_the_connection_before_any_byte() {
    let fake = start(r#"{"default":{"text":"never sent","fault":"reset"}}"#).await;
    for stream in [false, true] {
        let (raw, ending) = exchange(
            fake.addr(),
            "/v1/chat/completions",
            &chat(stream),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(ending, Ending::Reset, "{}", String::from_utf8_lossy(&raw));
        assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
    }
    assert_eq!(fake.requests().len(), 2, "the requests were read first");
}

#[tokio::test]
async fn html_fault_is_a_200_captive_page() {
    let fake = start(r#"{"default":{"text":"x","fault":"html"}}"#).await;
    for stream in [false, true] {
        let r = post(fake.addr(), "/v1/messages", &[], &anthropic(stream)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.complete);
        assert!(r.text().starts_with("<!DOCTYPE html>"), "{}", r.text());
    }
}

#[tokio::test]
async fn wrong_kind_fault_answers_json_for_a_stream_and_a_stream_for_json() {
    let fake = start(r#"{"default":{"text":"hello there","fault":"wrong_kind"}}"#).await;
    let r = post(fake.addr(), "/v1/chat/completions", &[], &chat(true)).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["choices"][0]["message"]["content"], "hello there");
    let r = post(fake.addr(), "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = r.sse();
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
}

#[tokio::test]
async fn garbage_fault_puts_a_non_json_event_in_a_stream_and_cuts_json_cleanly() {
    let fake = start(r#"{"default":{"text":"hello there","fault":"garbage"}}"#).await;
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(true)).await;
    assert!(r.complete);
    let events = r.sse();
    assert_eq!(events[0].json()["type"], "message_start");
    assert!(events[1].data.starts_with("<html>"), "{:?}", events[1]);
    assert_eq!(events.last().unwrap().json()["type"], "message_stop");
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(false)).await;
    assert!(r.complete, "the body ends properly");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        serde_json::from_slice::<Value>(&r.body).is_err(),
        "{}",
        r.text()
    );
    assert!(r.text().starts_with("{\""), "{}", r.text());
}

#[tokio::test]
async fn cut_fault_sends_half_then_aborts() {
    let fake = start(r#"{"default":{"text":"one two three four five six","fault":"cut"}}"#).await;
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(true)).await;
    assert_eq!(r.status, 200);
    assert!(!r.complete, "no chunked terminator");
    let events = parse_sse(&r.text());
    assert!(events.len() >= 2, "{events:?}");
    assert!(events.iter().all(|e| e.json()["type"] != "message_stop"));
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(false)).await;
    assert!(!r.complete, "no chunked terminator");
    assert!(
        serde_json::from_slice::<Value>(&r.body).is_err(),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn stall_fault_sends_half_then_nothing() {
    let fake = start(r#"{"default":{"text":"one two three four five six","fault":"stall"}}"#).await;
    for stream in [true, false] {
        let start = Instant::now();
        let (raw, ending) = exchange(
            fake.addr(),
            "/v1/chat/completions",
            &chat(stream),
            Duration::from_millis(700),
        )
        .await;
        assert_eq!(ending, Ending::Silent, "stream={stream}");
        assert!(start.elapsed() < Duration::from_secs(3));
        let r: Resp = parse_response(raw, Vec::new());
        assert_eq!(r.status, 200);
        assert!(!r.complete);
        let text = r.text();
        if stream {
            assert!(text.starts_with("data: {"), "{text}");
            assert!(!text.contains("[DONE]"), "{text}");
        } else {
            assert!(text.starts_with("{\""), "{text}");
            assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
        }
    }
}

#[tokio::test]
async fn gzip_reply_is_compressed_and_still_streams() {
    let fake = start(
        r#"{"default":{"text":"a b c d e","gzip":true,"stream":{"text_chunks":5,"delay_ms":80}}}"#,
    )
    .await;
    let plain = start(r#"{"default":{"text":"a b c d e","stream":{"text_chunks":5}}}"#).await;
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(true)).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.complete);
    let text = String::from_utf8(gunzip(&r.body)).expect("UTF-8");
    let events = parse_sse(&text);
    let want = parse_sse(
        &post(plain.addr(), "/v1/messages", &[], &anthropic(true))
            .await
            .text(),
    );
    let types = |evs: &[common::Sse]| -> Vec<Value> {
        evs.iter().map(|e| e.json()["type"].clone()).collect()
    };
    assert_eq!(types(&events), types(&want));
    // Each event is flushed on its own: the reads are spread over the delays.
    let first = r.reads.first().expect("reads").0;
    let last = r.reads.last().expect("reads").0;
    assert!(last - first >= Duration::from_millis(400), "{:?}", r.reads);
    let r = post(fake.addr(), "/v1/messages", &[], &anthropic(false)).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let v: Value = serde_json::from_slice(&gunzip(&r.body)).expect("JSON");
    assert_eq!(v["content"][0]["text"], "a b c d e");
}

#[tokio::test]
async fn cut_and_stall_apply_to_an_error_body() {
    let fake = start(
        r#"{"steps":[{"when":{"model":"cut"},"reply":{"status":500,"fault":"cut"}},
                     {"when":{"model":"stall"},"reply":{"status":503,"fault":"stall"}}]}"#,
    )
    .await;
    let body = |m: &str| json!({"model": m, "messages": [{"role": "user", "content": "x"}]});
    let r = post(fake.addr(), "/v1/chat/completions", &[], &body("cut")).await;
    assert_eq!(r.status, 500);
    assert!(!r.complete);
    assert!(r.text().starts_with("{\"error\":"), "{}", r.text());
    let (raw, ending) = exchange(
        fake.addr(),
        "/v1/chat/completions",
        &body("stall"),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(ending, Ending::Silent);
    let r = parse_response(raw, Vec::new());
    assert_eq!(r.status, 503);
    assert!(!r.complete);
}
