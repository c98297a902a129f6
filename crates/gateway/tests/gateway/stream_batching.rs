//! Events that reach the gateway together leave it together: an upstream whose stream arrives
//! in one read is relayed in a few writes, not one per event (each write is a syscall and a TCP
//! segment for the client). Counted as HTTP chunks of the client's response: hyper writes each
//! body frame the gateway hands it as one chunk. And the first event is not held back waiting
//! for company: the upstream sends the rest only once the client has the first.

use crate::common::*;
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Events in the upstream's stream.
const EVENTS: usize = 200;

/// An OpenAI Chat upstream that answers every request with a stream of [`EVENTS`] text deltas,
/// one HTTP chunk each: the first two, then (once `first_seen` is notified) all the rest in one
/// write.
async fn burst_upstream(first_seen: Arc<Notify>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let first_seen = first_seen.clone();
            tokio::spawn(async move {
                read_raw_request(&mut sock).await;
                let mut chunks = Vec::new();
                let mut chunk = |data: String| {
                    let ev = format!("data: {data}\n\n");
                    chunks.push(format!("{:x}\r\n{ev}\r\n", ev.len()));
                };
                for i in 0..EVENTS {
                    let delta = if i == 0 {
                        json!({"role": "assistant", "content": ""})
                    } else {
                        json!({"content": format!("w{i} ")})
                    };
                    chunk(json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                        "model": "gpt-x", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]}).to_string());
                }
                chunk(json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
                chunk("[DONE]".into());
                chunks.push("0\r\n\r\n".into());
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let first = format!("{head}{}{}", chunks[0], chunks[1]);
                sock.write_all(first.as_bytes()).await.unwrap();
                first_seen.notified().await;
                sock.write_all(chunks[2..].concat().as_bytes())
                    .await
                    .unwrap();
                let mut rest = Vec::new();
                let _ = sock.read_to_end(&mut rest).await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// The HTTP chunks of a chunked response body, read to its end: their payloads. `first_seen`
/// is notified once the first chunk is in.
async fn read_chunks(sock: &mut TcpStream, first_seen: &Notify) -> (String, Vec<Vec<u8>>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.unwrap();
        assert!(n > 0, "the gateway closed before its response head");
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut pos = head_end;
    let mut chunks = Vec::new();
    loop {
        // Enough bytes for the next size line and its chunk?
        let parsed = buf[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .and_then(|eol| {
                let size = usize::from_str_radix(
                    std::str::from_utf8(&buf[pos..pos + eol]).ok()?.trim(),
                    16,
                )
                .ok()?;
                (buf.len() >= pos + eol + 2 + size + 2).then_some((eol, size))
            });
        match parsed {
            Some((_, 0)) => return (head, chunks),
            Some((eol, size)) => {
                let start = pos + eol + 2;
                chunks.push(buf[start..start + size].to_vec());
                if chunks.len() == 1 {
                    first_seen.notify_one();
                }
                pos = start + size + 2;
            }
            None => {
                let n = sock.read(&mut tmp).await.unwrap();
                assert!(n > 0, "the gateway closed mid-body");
                buf.extend_from_slice(&tmp[..n]);
            }
        }
    }
}

#[tokio::test]
async fn a_stream_that_arrived_in_one_read_is_not_written_one_event_at_a_time() {
    let first_seen = Arc::new(Notify::new());
    let upstream = burst_upstream(first_seen.clone()).await;
    let gw = gateway(vec![def("m", "openai/gpt-x", &upstream)]).await;
    let body = json!({"model": "m", "stream": true,
        "messages": [{"role": "user", "content": "count"}]})
    .to_string();
    let addr = gw.base.trim_start_matches("http://").to_owned();
    for route in ["/v1/chat/completions", "/v1/messages"] {
        let body = if route == "/v1/messages" {
            json!({"model": "m", "stream": true, "max_tokens": 100,
                "messages": [{"role": "user", "content": "count"}]})
            .to_string()
        } else {
            body.clone()
        };
        let mut sock = TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "POST {route} HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {MASTER_KEY}\r\nauthorization: Bearer {MASTER_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(req.as_bytes()).await.unwrap();
        // Held back, the first event would wait for the rest, which waits for it.
        let (head, chunks) = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            read_chunks(&mut sock, &first_seen),
        )
        .await
        .unwrap_or_else(|_| panic!("{route}: the first event was held back"));
        assert!(head.starts_with("HTTP/1.1 200"), "{route}: {head}");
        let text: String = chunks.iter().map(|c| String::from_utf8_lossy(c)).collect();
        // The whole answer arrived, in order ...
        for i in [1, 100, EVENTS - 1] {
            assert!(
                text.contains(&format!("w{i} ")),
                "{route}: w{i} missing from {text}"
            );
        }
        // ... in a handful of writes, not one per event.
        assert!(
            chunks.len() <= 8,
            "{route}: {} chunks for {EVENTS} events that arrived together",
            chunks.len()
        );
    }
}
