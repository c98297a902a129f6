//! The streaming loop, one for every stream the gateway relays: upstream bytes → a [`Stage`] →
//! client. The translating stage runs SSE parser → upstream decoder → client encoder; the
//! pass-through stage ([`crate::stream_pass`]) forwards the upstream's bytes whole events at a
//! time while a [`StreamWatch`] checks them. An event longer than
//! [`protocol::sse::MAX_EVENT_BYTES`] ends either stage with an error event.
//!
//! The loop owns what both share: reading the upstream, batching the chunks that have already
//! arrived into one write, pings during upstream silences, the idle timeout, and ending a broken
//! stream. However a stream fails — a broken connection, a silence longer than the idle timeout,
//! an unreadable event, a close before the protocol's last event — the client gets its protocol's
//! error event at an event boundary and the stream closes: never a silent cut, never a fake
//! success. Nothing is buffered beyond one upstream read (and one incomplete event). When the
//! client disconnects the body stream is dropped, which drops the upstream response and cancels
//! the upstream request.
//!
//! The request's [`Record`] travels with the loop: the stages give it the usage and the error a
//! stream ends with, the loop the bytes handed on, and dropping the loop finishes it (complete
//! when the stream was over and everything handed on, else `client_disconnected`).

use crate::record::{Record, usage};
use crate::stream_pass::PassThrough;
use crate::transport::{BodyError, BodyStream};
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use protocol::ir::{ApiError, ErrorKind, StreamEvent};
use protocol::sse::{SseEvent, SseParser};
use protocol::stream::{ClientEncoder, UpstreamDecoder};
use protocol::stream_watch::StreamWatch;
use std::time::{Duration, Instant};

/// What happens to the upstream's bytes on their way to the client.
pub(crate) trait Stage: Send {
    /// Takes one upstream chunk, appending what goes to the client to `out`.
    fn feed(&mut self, chunk: Bytes, out: &mut BytesMut, rec: &mut Record);
    /// The upstream closed the stream.
    fn end(&mut self, out: &mut BytesMut, rec: &mut Record);
    /// The stream failed: appends the client protocol's error event and ends.
    fn fail(&mut self, e: ApiError, out: &mut BytesMut, rec: &mut Record);
    /// The upstream is silent but within the idle timeout: keeps the client's connection alive.
    fn ping(&mut self, out: &mut BytesMut);
    /// Whether the stream is over (complete or failed).
    fn is_done(&self) -> bool;
}

/// Limits and names for one relayed stream.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Silence after which the client gets a ping.
    pub ping: Duration,
    /// Silence after which the stream is abandoned with an error event.
    pub idle: Duration,
    /// The setting `idle` came from, as the error names it (`litellm_params.stream_timeout`
    /// or `router_settings.stream_timeout`).
    pub idle_setting: &'static str,
    /// The upstream, as errors name it: `upstream <provider> (<url>)`.
    pub upstream: String,
}

struct Loop<S: Stage> {
    upstream: BodyStream,
    stage: S,
    out: BytesMut,
    settings: StreamSettings,
    last_data: Instant,
    /// The request's record, finished when the loop is dropped: complete when the stream is
    /// over and everything was handed on, else the client went away.
    rec: Record,
    /// Bytes went to the client already: later batches wait for what the upstream connection
    /// has read (the first goes out at once, so the time to first byte is not traded).
    started: bool,
}

impl<S: Stage> Drop for Loop<S> {
    fn drop(&mut self) {
        let complete = self.stage.is_done() && self.out.is_empty();
        self.rec.end(complete);
    }
}

/// Most upstream chunks batched into one write.
const MAX_BATCH: usize = 256;

/// Looks at the upstream after letting the worker's other tasks run, before a batch goes out
/// with nothing more: hyper's connection task needs two turns to hand on an HTTP chunk it has
/// already read (measured: `stream_batching` in the gateway's tests), and one more is margin.
const SETTLE_YIELDS: u32 = 3;

/// A batch stops gathering once it holds this many bytes for the client.
const MAX_BATCH_BYTES: usize = 64 * 1024;

impl<S: Stage> Loop<S> {
    /// Feeds the upstream chunks that have already arrived, so events that came in one read go
    /// out in one write. Upstreams send one HTTP chunk per SSE event, and a burst of small writes
    /// costs a syscall and a wake-up each.
    ///
    /// The upstream connection's own task hands its body on one HTTP chunk at a time (hyper's
    /// body channel holds one), so after taking what is ready this lets the tasks already woken
    /// on this worker run ([`YieldOnce`]: no syscall) and looks again. It stops when
    /// [`SETTLE_YIELDS`] turns in a row bring nothing: then the upstream's connection has
    /// decoded everything it had read and waits for the network, and the batch goes out. A
    /// real-time upstream's lone event waits those few turns (well under a microsecond each).
    /// The stream's first bytes go out without waiting.
    async fn feed_ready(&mut self, first: Bytes) {
        self.stage.feed(first, &mut self.out, &mut self.rec);
        let mut fed = 1;
        let mut yielded = 0u32;
        while fed < MAX_BATCH && !self.stage.is_done() && self.out.len() < MAX_BATCH_BYTES {
            match self.upstream.next().now_or_never() {
                Some(Some(Ok(more))) => {
                    self.stage.feed(more, &mut self.out, &mut self.rec);
                    fed += 1;
                    yielded = 0;
                }
                Some(Some(Err(e))) => return self.broken(&e),
                Some(None) => return self.stage.end(&mut self.out, &mut self.rec),
                // Nothing came even after the other tasks ran: the batch goes out.
                None if yielded >= SETTLE_YIELDS || !self.started => return,
                None => {
                    YieldOnce(false).await;
                    yielded += 1;
                }
            }
        }
    }

    /// The stream is over for the client: the upstream's body is read to its end, so that its
    /// connection goes back to the pool. A stream ends for its protocol (`[DONE]`,
    /// `message_stop`) a moment before its HTTP body does (the closing chunk, which the
    /// connection's task hands on a turn later); dropped unfinished, the body closes the
    /// connection, and the next request pays a new one — a TCP and TLS handshake (every
    /// translated stream did: W3's added time to first byte was 1.1–1.3 ms, 0.43 without). What
    /// has arrived is read at once; the rest by a task of its own, at most [`DRAIN_BYTES`] within
    /// [`DRAIN_WAIT`], after which the connection is closed. The client's stream is not held up.
    fn release_upstream(&mut self) {
        let mut upstream: BodyStream =
            std::mem::replace(&mut self.upstream, Box::pin(futures_util::stream::empty()));
        let mut drained = 0;
        while drained <= DRAIN_BYTES {
            match upstream.next().now_or_never() {
                Some(Some(Ok(chunk))) => drained += chunk.len(),
                Some(Some(Err(_)) | None) => return,
                None => {
                    if tokio::runtime::Handle::try_current().is_ok() {
                        tokio::spawn(drain(upstream, DRAIN_BYTES - drained));
                    }
                    return;
                }
            }
        }
    }

    /// The upstream connection broke (or reqwest's read timeout fired).
    fn broken(&mut self, e: &BodyError) {
        let err = mid_stream(&self.settings.upstream, e);
        self.stage.fail(err, &mut self.out, &mut self.rec);
    }

    /// Runs until there are bytes for the client or the stream is over.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if !self.out.is_empty() {
                return Some(self.out.split().freeze());
            }
            if self.stage.is_done() {
                self.release_upstream();
                return None;
            }
            // Wake for the next ping or the idle deadline, whichever comes first.
            let to_idle = self.settings.idle.saturating_sub(self.last_data.elapsed());
            let wait = self.settings.ping.min(to_idle);
            match tokio::time::timeout(wait, self.upstream.next()).await {
                Err(_) => {
                    if self.last_data.elapsed() >= self.settings.idle {
                        let e = silence(&self.settings);
                        self.stage.fail(e, &mut self.out, &mut self.rec);
                    } else {
                        self.stage.ping(&mut self.out);
                    }
                }
                Ok(Some(Ok(chunk))) => {
                    self.last_data = Instant::now();
                    self.feed_ready(chunk).await;
                }
                Ok(Some(Err(e))) => self.broken(&e),
                Ok(None) => self.stage.end(&mut self.out, &mut self.rec),
            }
        }
    }
}

/// Most bytes read from an upstream whose stream is over for the client, to reuse its connection.
const DRAIN_BYTES: usize = 64 * 1024;

/// Longest wait for the end of an upstream body whose stream is over for the client.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Reads `upstream` to its end (so its connection is pooled again), giving up after `limit`
/// bytes or [`DRAIN_WAIT`] (the connection is then closed).
async fn drain(mut upstream: BodyStream, limit: usize) {
    let _ = tokio::time::timeout(DRAIN_WAIT, async {
        let mut n = 0;
        while let Some(Ok(chunk)) = upstream.next().await {
            n += chunk.len();
            if n > limit {
                return;
            }
        }
    })
    .await;
}

/// Returns `Pending` once, waking itself first: the task goes to the back of its worker's run
/// queue, after the tasks already woken (the upstream connection's), without the I/O driver
/// poll that `tokio::task::yield_now` waits for.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// A stream ready to relay once the request's record joins it ([`Pending::start`]).
pub(crate) struct Pending(Box<dyn FnOnce(Record) -> Body + Send>);

impl Pending {
    /// The client body, `rec` travelling with it until the stream ends or the client goes.
    pub fn start(self, rec: Record) -> Body {
        (self.0)(rec)
    }
}

/// The client body relaying `upstream` through `stage`.
fn relay<S: Stage + 'static>(upstream: BodyStream, stage: S, settings: StreamSettings) -> Pending {
    Pending(Box::new(move |rec| {
        let state = Loop {
            upstream,
            stage,
            out: BytesMut::new(),
            settings,
            last_data: Instant::now(),
            rec,
            started: false,
        };
        let s = futures_util::stream::unfold(state, |mut st| async move {
            let chunk = st.next_chunk().await?;
            st.started = true;
            st.rec.sent(&chunk);
            Some((Ok::<Bytes, std::convert::Infallible>(chunk), st))
        });
        Body::from_stream(s)
    }))
}

/// The error event for a broken upstream connection, naming its deepest cause.
fn mid_stream(upstream: &str, e: &BodyError) -> ApiError {
    let cause = &e.cause;
    if e.timeout {
        return ApiError::new(
            ErrorKind::Timeout,
            format!("{upstream} stopped sending mid-stream ({cause}); the stream was abandoned"),
        );
    }
    ApiError::new(
        ErrorKind::Api,
        format!("{upstream} broke off the stream: {cause}"),
    )
}

/// The error event for an upstream silent longer than the idle timeout.
fn silence(s: &StreamSettings) -> ApiError {
    ApiError::new(
        ErrorKind::Timeout,
        format!(
            "{} sent nothing for {} s; the stream was abandoned ({})",
            s.upstream,
            s.idle.as_secs_f64(),
            s.idle_setting
        ),
    )
}

/// Translation: SSE parser → upstream decoder → client encoder.
struct Translate {
    parser: SseParser,
    decoder: Box<dyn UpstreamDecoder>,
    encoder: Box<dyn ClientEncoder>,
    sse: Vec<SseEvent>,
    events: Vec<StreamEvent>,
    done: bool,
    /// The cache writes' split by lifetime, which the internal model does not carry, read
    /// from an Anthropic upstream's own usage events.
    cache_split: Option<usage::UsageScan>,
}

impl Translate {
    /// Decodes the pending SSE events and encodes what they produce.
    fn drain(&mut self, out: &mut BytesMut, rec: &mut Record) {
        for ev in self.sse.drain(..) {
            if self.decoder.is_finished() {
                break;
            }
            if let Some(scan) = &mut self.cache_split {
                scan.on_event(ev.data.as_bytes());
            }
            self.decoder.on_event(&ev, &mut self.events);
        }
        self.emit(out, rec);
    }

    fn emit(&mut self, out: &mut BytesMut, rec: &mut Record) {
        for ev in self.events.drain(..) {
            match &ev {
                // The prompt's tokens are known from the start, in case the stream is cut.
                StreamEvent::MessageStart { usage: u, .. }
                | StreamEvent::Finish { usage: u, .. } => {
                    let split = self.cache_split.as_ref().and_then(|s| s.tokens());
                    rec.tokens(usage::with_split(usage::from_ir(u), split));
                }
                StreamEvent::Error(e) => rec.error(e),
                _ => {}
            }
            self.encoder.encode(&ev, out);
        }
        if self.decoder.is_finished() {
            self.done = true;
        }
    }
}

impl Stage for Translate {
    fn feed(&mut self, chunk: Bytes, out: &mut BytesMut, rec: &mut Record) {
        match self.parser.feed(&chunk, &mut self.sse) {
            Ok(()) => self.drain(out, rec),
            // An event past the parser's bound: the events before it, then the error event.
            Err(e) => self.fail(crate::stream_pass::abandoned(e), out, rec),
        }
    }

    fn end(&mut self, out: &mut BytesMut, rec: &mut Record) {
        self.parser.finish(&mut self.sse);
        self.drain(out, rec);
        if !self.done {
            self.decoder.on_end(&mut self.events);
            self.emit(out, rec);
            self.done = true;
        }
    }

    fn fail(&mut self, e: ApiError, out: &mut BytesMut, rec: &mut Record) {
        if self.done {
            return;
        }
        // Events completed before the failure still go out, then the error.
        self.drain(out, rec);
        if !self.done {
            self.events.push(StreamEvent::Error(e));
            self.emit(out, rec);
        }
        self.done = true;
    }

    fn ping(&mut self, out: &mut BytesMut) {
        self.encoder.encode(&StreamEvent::Ping, out);
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

/// The client body for a translated stream.
/// `upstream_protocol` is the upstream's (an Anthropic one's usage events are also read for the
/// cache writes' split).
pub(crate) fn translate(
    upstream: BodyStream,
    upstream_protocol: protocol::Protocol,
    decoder: Box<dyn UpstreamDecoder>,
    encoder: Box<dyn ClientEncoder>,
    settings: StreamSettings,
) -> Pending {
    let stage = Translate {
        parser: SseParser::new(),
        decoder,
        encoder,
        sse: Vec::new(),
        events: Vec::new(),
        done: false,
        cache_split: (upstream_protocol == protocol::Protocol::Anthropic)
            .then(|| usage::UsageScan::new(upstream_protocol)),
    };
    relay(upstream, stage, settings)
}

/// The client body for a same-protocol stream: the upstream's bytes, whole events at a time,
/// checked by `watch`, which also writes the error event if the stream fails.
/// `protocol` is the stream's (the client's and the upstream's), whose usage events are read
/// as they pass ([`usage::UsageScan`]).
pub(crate) fn pass_through(
    upstream: BodyStream,
    watch: Box<dyn StreamWatch>,
    protocol: protocol::Protocol,
    settings: StreamSettings,
) -> Pending {
    relay(upstream, PassThrough::new(watch, protocol), settings)
}
