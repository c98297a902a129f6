//! The gateway's own HTTP/1.1 client to plain-http upstreams (`transport::h1`): keep-alive
//! connections are reused, one the upstream closed after answering does not fail the next
//! request, one whose answer was abandoned mid-stream is not lent again, and a configured proxy
//! is used (or skipped under `NO_PROXY`). The upstreams here are hand-written servers that count
//! the connections they accept.

use crate::common::*;
use gateway::{RouterSettings, UpstreamProxy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// How a raw upstream behaves after a whole answer.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Waits for the next request on the same connection.
    KeepAlive,
    /// Closes the connection without having said so (no `Connection: close`).
    Close,
}

/// A raw OpenAI Chat upstream: answers whole requests with a chat completion, streaming ones
/// with a short stream, or one it never finishes when the request says "forever". Counts
/// accepted connections and the never-ending streams the gateway cut off; keeps each request's
/// head.
struct Raw {
    url: String,
    accepted: Arc<AtomicUsize>,
    cut_off: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn raw_upstream(after: After) -> Raw {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, cut, seen) = (accepted.clone(), cut_off.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (seen, cut) = (seen.clone(), cut.clone());
            tokio::spawn(async move {
                loop {
                    let req = read_raw_request_or_eof(&mut sock).await;
                    let Some(req) = req else { return };
                    let text = String::from_utf8_lossy(&req).into_owned();
                    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
                    seen.lock().await.push(head);
                    if text.contains("\"stream\":true") {
                        let ev = format!(
                            "data: {}\n\n",
                            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                                "model": "gpt-x", "choices": [{"index": 0,
                                "delta": {"role": "assistant", "content": "never ending "},
                                "finish_reason": null}]})
                        );
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                        let chunk = format!("{:x}\r\n{ev}\r\n", ev.len());
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        if !text.contains("forever") {
                            let done = "data: [DONE]\n\n";
                            let end = format!("{chunk}{:x}\r\n{done}\r\n0\r\n\r\n", done.len());
                            if sock.write_all(end.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        // One event now and then, until the gateway closes the connection.
                        while sock.write_all(chunk.as_bytes()).await.is_ok() {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        cut.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    let body = completion().to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(answer.as_bytes()).await.is_err() || after == After::Close {
                        return;
                    }
                }
            });
        }
    });
    Raw {
        url: format!("http://{addr}/v1"),
        accepted,
        cut_off,
        heads,
    }
}

fn completion() -> Value {
    json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
            "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
}

fn chat(stream: bool, say: &str) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": say}]})
}

/// No retries: a request the pool fails is not rescued by the router's next attempt.
fn no_retries() -> RouterSettings {
    RouterSettings {
        num_retries: 0,
        ..RouterSettings::default()
    }
}

/// Serves `models` on the test's own runtime (one thread, so one pool slot for every request),
/// with `proxy`.
async fn gateway_here(models: Vec<gateway::ModelDefinition>, proxy: UpstreamProxy) -> Running {
    let mut c = config(
        models,
        Default::default(),
        no_retries(),
        gateway::Registered::All,
        None,
    );
    c.upstream_proxy = proxy;
    let (running, g) = bind(c).await;
    tokio::spawn(g.serve(std::future::pending()));
    running
}

/// A gateway with model `m` on `up`, reached directly.
async fn gateway_for(up: &Raw) -> Running {
    gateway_here(
        vec![def("m", "openai/gpt-x", &up.url)],
        UpstreamProxy::none(),
    )
    .await
}

async fn ask(gw: &Running, stream: bool, say: &str) -> reqwest::Response {
    gw.http
        .post(format!("{}/v1/chat/completions", gw.base))
        .bearer_auth(MASTER_KEY)
        .json(&chat(stream, say))
        .send()
        .await
        .unwrap()
}

async fn answered(gw: &Running) -> String {
    let r = ask(gw, false, "ping").await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn requests_in_a_row_share_one_upstream_connection() {
    let up = raw_upstream(After::KeepAlive).await;
    let gw = gateway_for(&up).await;
    for _ in 0..3 {
        assert!(answered(&gw).await.contains("pong"));
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    let heads = up.heads.lock().await;
    let first = heads[0].to_ascii_lowercase();
    assert!(
        first.starts_with("post /v1/chat/completions http/1.1"),
        "{first}"
    );
    let port = up
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/v1");
    for h in [
        format!("host: 127.0.0.1:{port}"),
        "user-agent: agent-shim/".to_owned(),
        "content-length: ".to_owned(),
        "authorization: bearer sk-upstream".to_owned(),
        "accept-encoding: identity".to_owned(),
    ] {
        assert!(first.contains(&h), "{h} missing from {first}");
    }
}

#[tokio::test]
async fn streams_relayed_to_their_end_share_one_upstream_connection() {
    let up = raw_upstream(After::KeepAlive).await;
    let gw = gateway_for(&up).await;
    for _ in 0..3 {
        let r = ask(&gw, true, "ping").await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("never ending") && text.contains("[DONE]"),
            "{text}"
        );
    }
    // The gateway stops reading at `[DONE]`; the chunked body's end that came with it is
    // drained by hyper and the connection reused.
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upstream_that_closes_after_each_answer_does_not_fail_the_next_request() {
    let up = raw_upstream(After::Close).await;
    let gw = gateway_for(&up).await;
    for _ in 0..5 {
        assert!(answered(&gw).await.contains("pong"));
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_stream_being_read_or_abandoned_does_not_poison_the_pool() {
    let up = raw_upstream(After::KeepAlive).await;
    let gw = gateway_for(&up).await;
    assert!(answered(&gw).await.contains("pong"));
    // The stream takes the pooled connection and never ends.
    let mut r = ask(&gw, true, "forever").await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("never ending"));
    // Meanwhile, and after the client abandoned it, requests go on another connection: a pool
    // that lent the stream's connection again would hang here (the bound turns a hang into a
    // failure).
    let bounded = || tokio::time::timeout(Duration::from_secs(30), answered(&gw));
    let body = bounded()
        .await
        .expect("a request beside an open stream hung");
    assert!(body.contains("pong"));
    drop(r);
    for _ in 0..2 {
        let body = bounded()
            .await
            .expect("a request after the abandoned stream hung");
        assert!(body.contains("pong"));
    }
    // The first connection carried the stream and was closed with it (the upstream sees its
    // writes fail: the abandoned answer is not drained, which would keep it generating); the
    // second serves the rest.
    let cut_off = async {
        while up.cut_off.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), cut_off)
        .await
        .expect("the abandoned stream's upstream connection stayed open");
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn with_a_proxy_configured_the_request_goes_through_it() {
    let proxy = raw_upstream(After::KeepAlive).await;
    let proxy_url = proxy.url.trim_end_matches("/v1").to_owned();
    // The upstream's name does not resolve: only the proxy can have answered.
    let gw = gateway_here(
        vec![def("m", "openai/gpt-x", "http://upstream.invalid:8000/v1")],
        UpstreamProxy {
            http: proxy_url.clone(),
            no: "localhost, 10.0.0.0/8".into(),
            ..UpstreamProxy::none()
        },
    )
    .await;
    assert!(answered(&gw).await.contains("pong"));
    let heads = proxy.heads.lock().await;
    assert!(
        heads[0].starts_with("POST http://upstream.invalid:8000/v1/chat/completions HTTP/1.1"),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn no_proxy_exempts_an_upstream_from_the_proxy() {
    let proxy = raw_upstream(After::KeepAlive).await;
    let up = raw_upstream(After::KeepAlive).await;
    let gw = gateway_here(
        vec![def("m", "openai/gpt-x", &up.url)],
        UpstreamProxy {
            http: proxy.url.trim_end_matches("/v1").to_owned(),
            no: "127.0.0.1".into(),
            ..UpstreamProxy::none()
        },
    )
    .await;
    assert!(answered(&gw).await.contains("pong"));
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_redirect_is_an_error_that_names_where_to() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            if read_raw_request_or_eof(&mut sock).await.is_some() {
                let answer = "HTTP/1.1 308 Permanent Redirect\r\nlocation: https://llm.example.com/v1/chat/completions\r\ncontent-length: 0\r\n\r\n";
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        }
    });
    let gw = gateway_here(
        vec![def("m", "openai/gpt-x", &format!("http://{addr}/v1"))],
        UpstreamProxy::none(),
    )
    .await;
    let r = ask(&gw, false, "ping").await;
    assert_eq!(r.status(), 502);
    let body = r.text().await.unwrap();
    for w in [
        "answered 308 redirecting to https://llm.example.com/v1/chat/completions",
        "litellm_params.api_base",
    ] {
        assert!(body.contains(w), "{w} missing from {body}");
    }
}

/// An answer whose head is longer than the client reads (its read buffer) is named as such, not
/// as a connection that broke.
#[tokio::test]
async fn an_answer_with_headers_over_16_kib_is_named_unreadable_with_the_fix() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            if read_raw_request_or_eof(&mut sock).await.is_some() {
                let big = "x".repeat(20 * 1024);
                let answer =
                    format!("HTTP/1.1 200 OK\r\nx-debug: {big}\r\ncontent-length: 2\r\n\r\n{{}}");
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        }
    });
    let gw = gateway_here(
        vec![def("m", "openai/gpt-x", &format!("http://{addr}/v1"))],
        UpstreamProxy::none(),
    )
    .await;
    let r = ask(&gw, false, "ping").await;
    let body = r.text().await.unwrap();
    for w in [
        "unreadable answer from upstream",
        &format!("http://{addr}/v1"),
        "16 KiB of headers",
        "litellm_params.api_base",
    ] {
        assert!(body.contains(w), "{w} missing from {body}");
    }
}
