//! Every input bounded, every refusal in the caller's shape: request bodies over the limit (by
//! `content-length` before reading, by counting a chunked body), wrong methods and unknown paths.

use crate::common::*;
use crate::misc_endpoints::mock;
use gateway::RouterSettings;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A gateway serving the mock model `m`, with a request body limit of `limit` bytes.
async fn gateway_limited(limit: usize) -> Running {
    let mut cfg = config(
        vec![mock("m", "hello")],
        HashMap::new(),
        RouterSettings::default(),
        gateway::Registered::All,
        None,
    );
    cfg.max_request_body = limit;
    gateway_full(cfg).await
}

/// An HTTP/1.1 answer read off a raw connection.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

/// Reads one answer (with `content-length`) from `s`.
async fn read_answer(s: &mut TcpStream) -> RawAnswer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        assert!(n > 0, "connection closed before an answer: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    RawAnswer {
        status: head[9..12].parse().unwrap(),
        body: serde_json::from_slice(&buf[head_end..head_end + len]).expect("a JSON body"),
        head,
    }
}

fn addr(gw: &Running) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

/// Regression: a 70 MB body was read whole, then refused with axum's plain-text 413.
#[tokio::test]
async fn oversized_content_length_is_refused_before_the_body_is_sent() {
    let gw = gateway_limited(gateway::DEFAULT_MAX_REQUEST_BODY).await;
    for (path, anthropic) in [("/v1/messages", true), ("/v1/chat/completions", false)] {
        let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
        // 100 GB announced, not one byte of it sent: the answer must come anyway.
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nx-api-key: {MASTER_KEY}\r\n\
             content-type: application/json\r\ncontent-length: 100000000000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let a = read_answer(&mut s).await;
        assert_eq!(a.status, 413, "{path}: {}", a.head);
        assert!(
            a.head.contains("content-type: application/json"),
            "{}",
            a.head
        );
        let msg = if anthropic {
            assert_eq!(a.body["type"], "error", "{}", a.body);
            assert_eq!(a.body["error"]["type"], "request_too_large", "{}", a.body);
            a.body["error"]["message"].as_str().unwrap().to_owned()
        } else {
            assert_eq!(a.body["error"]["code"], "request_too_large", "{}", a.body);
            assert_eq!(a.body["error"]["type"], "invalid_request_error");
            a.body["error"]["message"].as_str().unwrap().to_owned()
        };
        assert!(
            msg.contains("95367.4 MiB")
                && msg.contains("32 MiB")
                && msg.contains("max_request_body_mb"),
            "{msg}"
        );
    }
}

/// Regression: a chunked body (no `content-length`) was read without bound.
#[tokio::test]
async fn chunked_body_over_the_limit_is_413_in_the_callers_shape() {
    let gw = gateway_limited(1024 * 1024).await;
    let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = format!(
        "POST /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {MASTER_KEY}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b' '; 64 * 1024];
    // 17 pieces of 64 KiB: one more than the limit. The final chunk is not sent: the gateway
    // must answer without waiting for the end of the body.
    for _ in 0..17 {
        s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await
            .unwrap();
        s.write_all(&piece).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
    }
    let a = read_answer(&mut s).await;
    assert_eq!(a.status, 413, "{}", a.head);
    assert_eq!(a.body["error"]["code"], "request_too_large", "{}", a.body);
    let msg = a.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("limit of 1 MiB"), "{msg}");
}

/// Bodies under the limit are served, including ones over axum's 2 MB default.
#[tokio::test]
async fn body_under_the_limit_is_served() {
    let gw = gateway_limited(gateway::DEFAULT_MAX_REQUEST_BODY).await;
    let big = "x".repeat(5 * 1024 * 1024);
    let body = json!({"model": "m", "max_tokens": 10,
                      "messages": [{"role": "user", "content": big}]});
    let resp = gw.post("/v1/messages", &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], "hello");
}

/// Regression: a known path asked with another method got an empty 405.
#[tokio::test]
async fn wrong_method_is_405_json_with_allow() {
    let gw = gateway_limited(gateway::DEFAULT_MAX_REQUEST_BODY).await;
    let cases = [
        ("GET", "/v1/messages", "POST", true),
        ("PUT", "/v1/chat/completions", "POST", false),
        ("DELETE", "/v1/responses", "POST,GET,HEAD", false),
        ("POST", "/health", "GET,HEAD", false),
        ("POST", "/v1/models", "GET,HEAD", false),
    ];
    for (method, path, allow, anthropic) in cases {
        let resp = gw
            .http
            .request(method.parse().unwrap(), format!("{}{path}", gw.base))
            .header("x-api-key", MASTER_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let v: Value = resp.json().await.unwrap();
        let msg = if anthropic {
            assert_eq!(v["type"], "error", "{v}");
            &v["error"]["message"]
        } else {
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            &v["error"]["message"]
        };
        let msg = msg.as_str().unwrap();
        assert!(msg.contains(path) && msg.contains(method), "{msg}");
    }
}

/// Unknown paths are 404 JSON errors in the shape their prefix suggests.
#[tokio::test]
async fn unknown_path_is_404_json() {
    let gw = gateway_limited(gateway::DEFAULT_MAX_REQUEST_BODY).await;
    for (path, anthropic) in [("/v1/messages/batches", true), ("/v2/whatever", false)] {
        let resp = gw.post(path, &json!({})).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let v: Value = resp.json().await.unwrap();
        if anthropic {
            assert_eq!(v["error"]["type"], "not_found_error", "{v}");
        } else {
            assert!(
                v["error"]["message"].as_str().unwrap().contains(path),
                "{v}"
            );
        }
    }
}

/// Peak resident memory of this process, in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// An upstream that answers any request with an SSE stream: one good Chat chunk, then a `data:`
/// line of up to `total` bytes that never ends. Returns its base URL and a counter of the bytes
/// it managed to send before the gateway hung up.
async fn endless_line_upstream(
    total: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        // The request: its head, then `content-length` bytes.
        read_raw_request(&mut s).await;
        let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\ndata: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let mut out = format!("{head}{:x}\r\n{first}\r\n", first.len()).into_bytes();
        s.write_all(&out).await.unwrap();
        out.clear();
        let piece = vec![b'a'; 1024 * 1024];
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(&piece);
        out.extend_from_slice(b"\r\n");
        let mut n = 0;
        while n < total {
            if s.write_all(&out).await.is_err() {
                break;
            }
            n += piece.len();
            counter.store(n, Ordering::SeqCst);
        }
    });
    (base, sent)
}

/// Regression: an upstream SSE line without a newline (128 MB) grew the gateway by 137 MB. It
/// is cut at 16 MiB, the client gets an error event, and the upstream connection is dropped.
#[tokio::test]
async fn sse_line_that_never_ends_is_cut_with_an_error_event() {
    let (base, sent) = endless_line_upstream(128 * 1024 * 1024).await;
    let gw = gateway(vec![def("m", "openai/x", &base)]).await;
    let before = peak_rss();
    let resp = gw.post("/v1/messages", &claude_request("m", true)).await;
    assert_eq!(resp.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("the stream ends")
        .expect("the stream ends cleanly");
    let grown = peak_rss().saturating_sub(before);
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!(
        "upstream sent {} MiB before the gateway hung up; peak RSS grew by {} MiB",
        sent >> 20,
        grown >> 20
    );
    let events = protocol::check::parse_sse(text.as_bytes());
    let names: Vec<_> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    let last = events.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("error"), "{names:?}");
    let e: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(e["error"]["type"], "api_error", "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("longer than 16 MiB"), "{msg}");
    assert!(text.contains("Hi"), "the events before the long one arrive");
    assert!(sent < 64 * 1024 * 1024, "upstream kept sending: {sent}");
    assert!(grown < 64 * 1024 * 1024, "peak RSS grew by {grown} bytes");
}
