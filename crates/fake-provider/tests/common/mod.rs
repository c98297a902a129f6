//! Test helpers: a minimal HTTP/1.1 client over a raw TCP stream (so the
//! tests see chunk boundaries, arrival times and abrupt closes) and a
//! hand-written SSE parser.

#![allow(dead_code)]

pub mod bedrock;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Lowercased header names.
    pub headers: Vec<(String, String)>,
    /// Decoded body (chunked encoding removed).
    pub body: Vec<u8>,
    /// Whether the body ended properly (chunked terminator / full length).
    pub complete: bool,
    /// (time since request sent, bytes) per socket read.
    pub reads: Vec<(Duration, usize)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn sse(&self) -> Vec<Sse> {
        parse_sse(&self.text())
    }
}

pub fn build_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// Sends one request (connection: close) and reads until the peer closes.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(&build_request(addr, method, path, headers, body))
        .await
        .expect("write request");
    let start = Instant::now();
    let mut raw = Vec::new();
    let mut reads = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                reads.push((start.elapsed(), n));
                raw.extend_from_slice(&buf[..n]);
            }
            Err(_) => panic!(
                "response timed out; got so far: {}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    parse_response(raw, reads)
}

/// Blocking variant of [`send`] for non-async tests.
pub fn send_blocking(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(&build_request(addr, method, path, headers, body))
        .expect("write request");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let n = raw.len();
    parse_response(raw, vec![(Duration::ZERO, n)])
}

pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    send(addr, "POST", path, headers, &body.to_string()).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    send(addr, "GET", path, &[], "").await
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn parse_response(raw: Vec<u8>, reads: Vec<(Duration, usize)>) -> Resp {
    let end = find(&raw, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let (body, complete) = if chunked {
        decode_chunked(rest)
    } else {
        let len: Option<usize> = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok());
        let complete = len.is_none_or(|l| l == rest.len());
        (rest.to_vec(), complete)
    };
    Resp {
        status,
        headers,
        body,
        complete,
        reads,
    }
}

fn decode_chunked(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return (out, false);
        };
        let size_str = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(size) = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (out, false);
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (out, true);
        }
        if rest.len() < size + 2 {
            out.extend_from_slice(&rest[..rest.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One SSE event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data not JSON ({e}): {}", self.data))
    }
}

/// Parses SSE text strictly: events separated by a blank line, each made of
/// `event:` / `data:` lines. Panics on anything else.
pub fn parse_sse(text: &str) -> Vec<Sse> {
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "stream does not end with a blank line: {text:?}"
    );
    text.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut ev = Sse {
                event: None,
                data: String::new(),
            };
            for line in block.split('\n') {
                if let Some(e) = line.strip_prefix("event: ") {
                    assert!(ev.event.is_none(), "two event lines in {block:?}");
                    ev.event = Some(e.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    assert!(ev.data.is_empty(), "multi-line data in {block:?}");
                    ev.data = d.to_string();
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            ev
        })
        .collect()
}

/// Starts a fake provider from JSON script text.
pub async fn start(script: &str) -> fake_provider::FakeProvider {
    let script = fake_provider::Script::from_json(script).expect("valid script");
    fake_provider::FakeProvider::start(script)
        .await
        .expect("start")
}

/// One `application/vnd.amazon.eventstream` frame: its string headers and JSON payload.
#[derive(Debug, Clone)]
pub struct Frame {
    pub headers: std::collections::BTreeMap<String, String>,
    pub payload: Value,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// `:event-type`, or `!` + `:exception-type` for an exception frame.
    pub fn kind(&self) -> String {
        match self.header(":message-type") {
            Some("exception") => format!("!{}", self.header(":exception-type").unwrap_or("?")),
            _ => self.header(":event-type").unwrap_or("?").to_string(),
        }
    }
}

/// Decodes a whole event-stream body, checking both CRCs of every frame (panics otherwise).
pub fn event_frames(body: &[u8]) -> Vec<Frame> {
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let m = aws_smithy_eventstream::frame::read_message_from(&mut rest)
            .unwrap_or_else(|e| panic!("bad frame #{} ({e})", out.len()));
        let headers = m
            .headers()
            .iter()
            .filter_map(|h| {
                let v = h.value().as_string().ok()?;
                Some((h.name().as_str().to_string(), v.as_str().to_string()))
            })
            .collect();
        let payload = serde_json::from_slice(m.payload())
            .unwrap_or_else(|e| panic!("frame payload not JSON ({e})"));
        out.push(Frame { headers, payload });
    }
    out
}

/// The Anthropic event JSON of each `chunk` frame (base64 of `bytes` decoded).
pub fn chunk_events(frames: &[Frame]) -> Vec<Value> {
    frames
        .iter()
        .filter(|f| f.kind() == "chunk")
        .map(|f| {
            let b64 = f.payload["bytes"].as_str().expect("bytes");
            let raw = aws_smithy_types::base64::decode(b64).expect("base64");
            serde_json::from_slice(&raw).expect("chunk JSON")
        })
        .collect()
}
