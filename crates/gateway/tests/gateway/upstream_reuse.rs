//! An upstream's connection serves the next request once a stream is over: a stream ends for its
//! protocol (`[DONE]`, `message_stop`) a moment before its HTTP body does, and a body dropped
//! unfinished closes the connection — every translated stream used to open a new one (a TCP and,
//! on https, a TLS handshake before each answer). Counted as connections a hand-written upstream
//! accepts, which answers with a stream and then the body's closing chunk in a write of its own.

use crate::common::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// A keep-alive upstream answering `/chat/completions` with an OpenAI Chat stream and
/// `/v1/messages` with an Anthropic one; `accepted` counts its connections.
async fn keep_alive_upstream(accepted: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                loop {
                    let Some(req) = read_raw_request_or_eof(&mut sock).await else {
                        return;
                    };
                    let events = if req.starts_with(b"POST /v1/messages") {
                        anthropic_events()
                    } else {
                        chat_events()
                    };
                    let mut body = String::new();
                    for ev in events {
                        body.push_str(&format!("{:x}\r\n{ev}\r\n", ev.len()));
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                    if sock
                        .write_all(format!("{head}{body}").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    // The body's end comes after the protocol's end, as a write of its own.
                    tokio::task::yield_now().await;
                    if sock.write_all(b"0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/v1")
}

fn chat_events() -> Vec<String> {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        let c = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    vec![
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "hello"}), None),
        chunk(json!({}), Some("stop")),
        "data: [DONE]\n\n".into(),
    ]
}

fn anthropic_events() -> Vec<String> {
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 3, "output_tokens": 0}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "hello"}}),
        ),
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1}}),
        ),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
}

#[tokio::test]
async fn a_finished_stream_leaves_its_upstream_connection_for_the_next_request() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let upstream = keep_alive_upstream(accepted.clone()).await;
    for (upstream_model, routes) in [
        (
            "openai/gpt-x",
            ["/v1/messages", "/v1/responses", "/v1/chat/completions"],
        ),
        (
            "anthropic/claude-x",
            ["/v1/chat/completions", "/v1/responses", "/v1/messages"],
        ),
    ] {
        accepted.store(0, Ordering::SeqCst);
        let gw = gateway(vec![def("m", upstream_model, &upstream)]).await;
        for route in routes {
            for _ in 0..3 {
                let body = match route {
                    "/v1/responses" => json!({"model": "m", "stream": true, "input": "hi"}),
                    _ => json!({"model": "m", "stream": true, "max_tokens": 100,
                        "messages": [{"role": "user", "content": "hi"}]}),
                };
                let resp = gw
                    .http
                    .post(format!("{}{route}", gw.base))
                    .header("x-api-key", MASTER_KEY)
                    .header("authorization", format!("Bearer {MASTER_KEY}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{upstream_model} {route}");
                let text = resp.text().await.unwrap();
                assert!(text.contains("hello"), "{upstream_model} {route}: {text}");
                // The gateway reads the body's end after the client has its answer; the test
                // does not race it (the worker has nothing else to do meanwhile).
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        // Nine streams through one client connection, served by one worker: its one pooled
        // upstream connection (a second only if a request outran the end of a body).
        let n = accepted.load(Ordering::SeqCst);
        assert!(
            n <= 2,
            "{upstream_model}: {n} upstream connections for 9 streams"
        );
    }
}
