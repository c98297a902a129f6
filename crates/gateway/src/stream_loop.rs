//! The streaming loop: upstream bytes → SSE parser → upstream decoder → client encoder → client.
//!
//! It is thin on purpose; the per-event logic lives in the protocol crate's decoders and encoders.
//! Nothing is buffered beyond one upstream read and one unfinished event, which the SSE parser
//! bounds ([`protocol::sse::MAX_EVENT_BYTES`]). Pings go out during upstream silences; a silence
//! longer than the idle timeout, a broken connection, an upstream error or an event past that
//! bound becomes an error event.
//! When the client disconnects the body stream is dropped, which drops the upstream response and
//! cancels the upstream request.

use crate::request_log::RequestLog;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt};
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

/// Most SSE events batched into one write.
const MAX_BATCH: usize = 256;

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

    /// The upstream closed the stream.
    fn end_of_upstream(&mut self) {
        self.parser.finish(&mut self.sse);
        self.drain();
        if !self.done {
            self.decoder.on_end(&mut self.events);
            self.emit();
            self.done = true;
        }
    }

    /// Parses one upstream chunk. An event past the parser's size limit ends the stream with an
    /// error event after the events before it.
    fn feed(&mut self, chunk: &[u8]) {
        if let Err(e) = self.parser.feed(chunk, &mut self.sse) {
            self.drain();
            self.fail(ApiError::new(
                ErrorKind::Api,
                format!("{e}; the stream was abandoned"),
            ));
        }
    }

    /// Feeds the upstream chunks that have already arrived, then decodes them all, so events
    /// that came in one read go out in one write. Upstreams send one HTTP chunk per SSE event,
    /// and a burst of small writes costs a syscall and a wake-up each.
    fn feed_ready(&mut self) {
        while !self.done && self.sse.len() < MAX_BATCH {
            match self.upstream.next().now_or_never() {
                Some(Some(Ok(more))) => self.feed(&more),
                Some(Some(Err(e))) => {
                    self.drain();
                    return self.fail(mid_stream(e));
                }
                Some(None) => return self.end_of_upstream(),
                None => break,
            }
        }
        self.drain();
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
                    self.feed(&chunk);
                    self.feed_ready();
                }
                Ok(Some(Err(e))) => self.fail(mid_stream(e)),
                Ok(None) => self.end_of_upstream(),
            }
        }
    }
}

/// The error event for a broken upstream connection.
fn mid_stream(e: reqwest::Error) -> ApiError {
    ApiError::new(
        ErrorKind::Api,
        format!("upstream connection failed mid-stream: {e}"),
    )
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

/// The client body for a same-protocol stream: the upstream's bytes, untouched. Chunks that
/// are already received go out in one write (see the translating loop); an error ends the
/// stream after the bytes before it.
pub fn pass_through(upstream: reqwest::Response, mut log: RequestLog) -> Body {
    let s = upstream
        .bytes_stream()
        .ready_chunks(MAX_BATCH)
        .map(move |batch| {
            log.first_byte();
            futures_util::stream::iter(join_ready(batch))
        })
        .flatten();
    Body::from_stream(s)
}

/// The bytes of a batch of chunks as one (no copy for a single chunk), then the error if one
/// ended the batch.
fn join_ready(batch: Vec<reqwest::Result<Bytes>>) -> Vec<reqwest::Result<Bytes>> {
    let mut out: Vec<reqwest::Result<Bytes>> = Vec::with_capacity(2);
    let mut joined: Option<BytesMut> = None;
    let mut single: Option<Bytes> = None;
    for item in batch {
        match item {
            Ok(b) => match (&mut joined, single.take()) {
                (Some(j), _) => j.extend_from_slice(&b),
                (None, None) => single = Some(b),
                (None, Some(first)) => {
                    let mut j = BytesMut::with_capacity(first.len() + b.len());
                    j.extend_from_slice(&first);
                    j.extend_from_slice(&b);
                    joined = Some(j);
                }
            },
            Err(e) => {
                out.extend(
                    joined
                        .take()
                        .map(|j| Ok(j.freeze()))
                        .or(single.take().map(Ok)),
                );
                out.push(Err(e));
                return out;
            }
        }
    }
    out.extend(joined.map(|j| Ok(j.freeze())).or(single.map(Ok)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_chunks_go_out_as_one_write() {
        let out = join_ready(vec![
            Ok(Bytes::from_static(b"event: a\n\n")),
            Ok(Bytes::from_static(b"event: b\n\n")),
            Ok(Bytes::from_static(b"event: c\n\n")),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].as_ref().unwrap().as_ref(),
            b"event: a\n\nevent: b\n\nevent: c\n\n"
        );
        let one = Bytes::from_static(b"data: x\n\n");
        let out = join_ready(vec![Ok(one.clone())]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().as_ptr(), one.as_ptr(), "no copy");
        assert!(join_ready(Vec::new()).is_empty());
    }
}
