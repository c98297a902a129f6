//! The streaming loop: upstream bytes → SSE parser → upstream decoder → client encoder → client.
//!
//! It is thin on purpose; the per-event logic lives in the protocol crate's decoders and encoders.
//! Nothing is buffered beyond one upstream read. Pings go out during upstream silences; a silence
//! longer than the idle timeout, a broken connection or an upstream error becomes an error event.
//! When the client disconnects the body stream is dropped, which drops the upstream response and
//! cancels the upstream request.

use crate::request_log::RequestLog;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use protocol::ir::{ApiError, ErrorKind, StreamEvent};
use protocol::sse::{SseEvent, SseParser};
use protocol::stream::{ClientEncoder, UpstreamDecoder};
use std::pin::Pin;
use std::time::{Duration, Instant};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

struct Loop {
    upstream: ByteStream,
    parser: SseParser,
    decoder: Box<dyn UpstreamDecoder>,
    encoder: Box<dyn ClientEncoder>,
    sse: Vec<SseEvent>,
    events: Vec<StreamEvent>,
    out: BytesMut,
    done: bool,
    ping: Duration,
    idle: Duration,
    last_data: Instant,
    log: RequestLog,
}

impl Loop {
    /// Decodes the pending SSE events and encodes what they produce.
    fn drain(&mut self) {
        for ev in self.sse.drain(..) {
            if self.decoder.is_finished() {
                break;
            }
            self.decoder.on_event(&ev, &mut self.events);
        }
        self.emit();
    }

    fn emit(&mut self) {
        for ev in self.events.drain(..) {
            match &ev {
                StreamEvent::Finish { usage, .. } => self.log.usage = Some(*usage),
                StreamEvent::Error(e) => self.log.error = Some(e.message.clone()),
                _ => {}
            }
            self.encoder.encode(&ev, &mut self.out);
        }
        if self.decoder.is_finished() {
            self.done = true;
        }
    }

    fn fail(&mut self, e: ApiError) {
        self.events.push(StreamEvent::Error(e));
        self.emit();
        self.done = true;
    }

    /// Runs until there are bytes for the client or the stream is over.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if !self.out.is_empty() {
                return Some(self.out.split().freeze());
            }
            if self.done {
                return None;
            }
            match tokio::time::timeout(self.ping, self.upstream.next()).await {
                Err(_) => {
                    if self.last_data.elapsed() >= self.idle {
                        let secs = self.idle.as_secs();
                        self.fail(ApiError::new(
                            ErrorKind::Timeout,
                            format!("upstream sent nothing for {secs} s; the stream was abandoned"),
                        ));
                    } else {
                        self.encoder.encode(&StreamEvent::Ping, &mut self.out);
                    }
                }
                Ok(Some(Ok(chunk))) => {
                    self.log.first_byte();
                    self.last_data = Instant::now();
                    self.parser.feed(&chunk, &mut self.sse);
                    self.drain();
                }
                Ok(Some(Err(e))) => {
                    self.fail(ApiError::new(
                        ErrorKind::Api,
                        format!("upstream connection failed mid-stream: {e}"),
                    ));
                }
                Ok(None) => {
                    self.parser.finish(&mut self.sse);
                    self.drain();
                    if !self.done {
                        self.decoder.on_end(&mut self.events);
                        self.emit();
                        self.done = true;
                    }
                }
            }
        }
    }
}

/// The client body for a translated stream.
pub fn translate(
    upstream: reqwest::Response,
    decoder: Box<dyn UpstreamDecoder>,
    encoder: Box<dyn ClientEncoder>,
    ping: Duration,
    idle: Duration,
    log: RequestLog,
) -> Body {
    let state = Loop {
        upstream: Box::pin(upstream.bytes_stream()),
        parser: SseParser::new(),
        decoder,
        encoder,
        sse: Vec::new(),
        events: Vec::new(),
        out: BytesMut::new(),
        done: false,
        ping,
        idle,
        last_data: Instant::now(),
        log,
    };
    let s = futures_util::stream::unfold(state, |mut st| async move {
        let chunk = st.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), st))
    });
    Body::from_stream(s)
}

/// The client body for events that are all known up front (mock answers).
pub fn from_events(
    events: Vec<StreamEvent>,
    mut encoder: Box<dyn ClientEncoder>,
    mut log: RequestLog,
) -> Body {
    let mut out = BytesMut::new();
    for ev in &events {
        if let StreamEvent::Finish { usage, .. } = ev {
            log.usage = Some(*usage);
        }
        encoder.encode(ev, &mut out);
    }
    drop(log);
    Body::from(out.freeze())
}

/// The client body for a same-protocol stream: the upstream's bytes, untouched.
pub fn pass_through(upstream: reqwest::Response, mut log: RequestLog) -> Body {
    let s = upstream.bytes_stream().map(move |r| {
        log.first_byte();
        r
    });
    Body::from_stream(s)
}
