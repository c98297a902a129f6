//! One record per client request (issue 12 §1): a [`Record`] starts when a generation request
//! arrives, follows it through its attempts (each one's deployment and status, the router's
//! [`Lease`] of the attempt in progress), travels into the response body, and is finished when
//! the response ends — the last byte of a whole answer or stream handed on, an error response
//! built, or the client gone (the body, or the request's future, dropped first:
//! `client_disconnected`). Finishing ([`finish`]) prices the record, writes the one request
//! log line (`target: "agent_shim::request"`) and queues the [`UsageRecord`] for the ledger.
//!
//! Per attempt only numbers and `Arc`s are kept; the record's strings are built once, at the
//! end. With body capture on ([`capture`]) the record also keeps the request body and the
//! response as sent, each up to the cap.

pub mod capture;
pub mod client;
pub mod failure;
pub mod usage;

use crate::providers::deployment::Deployment;
use crate::router::Lease;
use crate::state::Ledger;
use crate::transport::ReportedCost;
use capture::Captured;
use client::ClientInfo;
use http::HeaderMap;
use ledger::{Tokens, UsageRecord};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The error class of a client that went away before its response ended.
pub const CLIENT_DISCONNECTED: &str = "client_disconnected";
/// The status recorded when the client went away before any response was sent (nginx's
/// "client closed request"; no client ever sees it).
pub const CLIENT_CLOSED_STATUS: u16 = 499;

/// A request's record in the making (module docs). Dropping it unfinished finishes it as
/// `client_disconnected`.
pub(crate) struct Record(Box<Draft>);

struct Draft {
    ledger: Ledger,
    start: Instant,
    time_ms: i64,
    client: Protocol,
    info: ClientInfo,
    requested_model: String,
    stream: bool,
    /// The profile's scenario rule that chose the model.
    scenario: Option<&'static str>,
    /// The group of the latest attempt.
    group: Option<String>,
    /// Whether the latest attempt's group is a fallback.
    in_fallback: bool,
    deployment: Option<Arc<Deployment>>,
    attempts: u32,
    attempt_path: String,
    /// An attempt has begun and not ended.
    in_attempt: bool,
    /// The attempt in progress's hold on its deployment (until its answer ends).
    lease: Option<Lease>,
    /// The status sent; 0 until a response is.
    status: u16,
    error_class: Option<&'static str>,
    error: Option<String>,
    tokens: Option<Tokens>,
    reported_cost: Option<Arc<ReportedCost>>,
    dropped: String,
    ttfb: Option<Duration>,
    /// Chunks of the body handed on so far, and when the last one went (a stream's mean gap
    /// between chunks is observed once, when it ends: no per-chunk work beyond these two).
    chunks: u32,
    last_sent: Option<Instant>,
    response_bytes: u64,
    /// The bodies captured so far; `None` when capture is off (the default).
    capture: Option<Box<Captured>>,
    finished: bool,
}

impl Record {
    /// The record of a request of protocol `client` arriving now with `headers`.
    pub fn start(ledger: &Ledger, client: Protocol, headers: &HeaderMap) -> Record {
        Record(Box::new(Draft {
            ledger: ledger.clone(),
            start: Instant::now(),
            time_ms: i64::try_from(crate::router::now_ms()).unwrap_or(i64::MAX),
            client,
            info: ClientInfo::of(headers),
            requested_model: String::new(),
            stream: false,
            scenario: None,
            group: None,
            in_fallback: false,
            deployment: None,
            attempts: 0,
            attempt_path: String::new(),
            in_attempt: false,
            lease: None,
            status: 0,
            error_class: None,
            error: None,
            tokens: None,
            reported_cost: None,
            dropped: String::new(),
            ttfb: None,
            chunks: 0,
            last_sent: None,
            response_bytes: 0,
            capture: ledger.body_capture.map(|cap| Box::new(Captured::new(cap))),
            finished: false,
        }))
    }

    /// A record going nowhere (no ledger), for unit tests of the stages.
    #[cfg(test)]
    pub fn detached(client: Protocol) -> Record {
        Record::start(&Ledger::default(), client, &HeaderMap::new())
    }

    /// The error message recorded so far, for unit tests.
    #[cfg(test)]
    pub fn error_message(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// The usage recorded so far, for unit tests.
    #[cfg(test)]
    pub fn tokens_seen(&self) -> Option<Tokens> {
        self.0.tokens
    }

    /// The model asked for and whether a stream was.
    pub fn request(&mut self, model: &str, stream: bool) {
        model.clone_into(&mut self.0.requested_model);
        self.0.stream = stream;
    }

    /// The profile's scenario rule chose the model.
    pub fn scenario(&mut self, rule: &'static str) {
        self.0.scenario = Some(rule);
    }

    /// The following attempts are in a fallback group (or, `false`, the group asked for).
    pub fn in_fallback(&mut self, yes: bool) {
        self.0.in_fallback = yes;
    }

    /// An attempt on `d` of group `group` begins; `lease` is its hold on `d`.
    pub fn begin_attempt(&mut self, group: &str, d: &Arc<Deployment>, lease: Option<Lease>) {
        let r = &mut *self.0;
        r.attempts += 1;
        r.in_attempt = true;
        if r.group.as_deref() != Some(group) {
            r.group = Some(group.to_owned());
        }
        r.deployment = Some(d.clone());
        r.lease = lease;
        r.tokens = None;
        r.reported_cost = None;
        r.dropped.clear();
    }

    /// Attempts begun so far.
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// The attempt in progress failed with `status`: it is in the path, its lease ends.
    pub fn attempt_failed(&mut self, status: u16) {
        self.path(status);
        let r = &mut *self.0;
        // A failed attempt used no tokens worth counting against `tpm`.
        r.lease = None;
        r.tokens = None;
    }

    /// The attempt in progress answered.
    pub fn attempt_answered(&mut self) {
        self.path(200);
    }

    fn path(&mut self, status: u16) {
        let r = &mut *self.0;
        r.in_attempt = false;
        if !r.attempt_path.is_empty() {
            r.attempt_path.push(',');
        }
        let id = r.deployment.as_ref().map_or("-", |d| d.id.as_str());
        let _ = write!(r.attempt_path, "{id}:{status}");
    }

    /// What translation dropped (`x-agent-shim-dropped`) and the cost the upstream reports
    /// itself, for the attempt in progress.
    pub fn answer_meta(&mut self, dropped: String, cost: Option<Arc<ReportedCost>>) {
        self.0.dropped = dropped;
        self.0.reported_cost = cost;
    }

    /// The usage the upstream reported (so far).
    pub fn tokens(&mut self, t: Tokens) {
        self.0.tokens = Some(t);
    }

    /// Ends the answering attempt's hold on its deployment, counting the tokens it used
    /// against `tpm` (the estimate when the upstream reported none).
    pub fn release_lease(&mut self) {
        let r = &mut *self.0;
        if let Some(lease) = r.lease.take() {
            let used = r.tokens.map(|t| t.input + t.output);
            lease.used_tokens(used, crate::router::now_ms());
        }
    }

    /// The response's status, now being sent.
    pub fn status(&mut self, status: u16) {
        self.0.status = status;
    }

    /// The response is `e` (or, mid-stream, ends with its error event).
    pub fn error(&mut self, e: &ApiError) {
        self.0.error_class = Some(class_of(e.kind));
        self.0.error = Some(e.message.clone());
    }

    /// Body capture is on for this request.
    pub fn capturing(&self) -> bool {
        self.0.capture.is_some()
    }

    /// The request body the client sent, kept (up to the cap) when capture is on.
    pub fn capture_request(&mut self, body: &[u8]) {
        if let Some(c) = &mut self.0.capture {
            c.request(body);
        }
    }

    /// The response body sent, kept (up to the cap) when capture is on, without counting it
    /// as sent (an error's body, whose length [`Record::sent_len`] counts).
    pub fn capture_response(&mut self, body: &[u8]) {
        if let Some(c) = &mut self.0.capture {
            c.response(body);
        }
    }

    /// `chunk`, a piece of the body, was handed on to the client (and kept when capture is
    /// on, until the cap).
    pub fn sent(&mut self, chunk: &[u8]) {
        self.sent_len(chunk.len());
        if let Some(c) = &mut self.0.capture {
            c.response(chunk);
        }
    }

    /// `n` bytes of the body were handed on to the client.
    pub fn sent_len(&mut self, n: usize) {
        let r = &mut *self.0;
        if r.ttfb.is_none() {
            r.ttfb = Some(r.start.elapsed());
        }
        r.response_bytes += n as u64;
        if r.stream {
            r.chunks += 1;
            r.last_sent = Some(Instant::now());
        }
    }

    /// The response ended: `complete`, or cut short because the client went away. Later
    /// calls do nothing.
    pub fn end(&mut self, complete: bool) {
        if self.0.finished {
            return;
        }
        self.0.finished = true;
        if !complete {
            self.0.error_class = Some(CLIENT_DISCONNECTED);
            if self.0.status == 0 {
                self.0.status = CLIENT_CLOSED_STATUS;
            }
            if self.0.in_attempt {
                // The attempt the client did not wait for.
                self.path(CLIENT_CLOSED_STATUS);
            }
        }
        self.release_lease();
        let r = &mut *self.0;
        // The stream's mean gap between chunks, from its first chunk to its last.
        if let (Some(first), Some(last)) = (r.ttfb, r.last_sent)
            && r.chunks > 1
        {
            let span = last.saturating_duration_since(r.start + first);
            r.ledger.metrics.inter_chunk(span / (r.chunks - 1));
        }
        let error = r.error.take().unwrap_or_default();
        let record = r.build();
        finish(&r.ledger, r.deployment.as_deref(), record, &error);
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.end(false);
    }
}

impl Draft {
    fn build(&mut self) -> UsageRecord {
        let d = self.deployment.as_deref();
        let micros = |t: Duration| i64::try_from(t.as_micros()).unwrap_or(i64::MAX);
        let reported = self.reported_cost.as_ref().and_then(|c| c.get());
        let route = if self.in_fallback {
            Some("fallback")
        } else {
            self.scenario
        };
        UsageRecord {
            time_ms: self.time_ms,
            request_id: uuid::Uuid::now_v7().to_string(),
            session_id: self.info.session_id.take(),
            directory: self.info.directory.take(),
            profile: self.info.profile.take(),
            agent: self.info.agent.take(),
            client_protocol: self.client.as_str().to_owned(),
            requested_model: std::mem::take(&mut self.requested_model),
            model_group: self.group.take(),
            deployment: d.map(|d| d.id.clone()),
            provider: d.map(|d| d.provider.name.to_owned()),
            served_model: d.map(|d| d.upstream_model.clone()),
            route: route.map(str::to_owned),
            status: self.status,
            error_class: self.error_class.map(str::to_owned),
            tokens: self.tokens.unwrap_or_default(),
            cost_pico_usd: reported.map(pico_usd),
            price_version: reported.map(|_| ledger::prices::REPORTED.to_owned()),
            latency_us: micros(self.start.elapsed()),
            ttfb_us: self.ttfb.map(micros),
            stream: self.stream,
            dropped: (!self.dropped.is_empty()).then(|| std::mem::take(&mut self.dropped)),
            attempts: self.attempts,
            attempt_path: (!self.attempt_path.is_empty())
                .then(|| std::mem::take(&mut self.attempt_path)),
            response_bytes: self.response_bytes,
            request_body: self.capture.as_mut().and_then(|c| c.request_text()),
            response_body: self
                .capture
                .as_mut()
                .map(|c| c.response_text(self.response_bytes)),
        }
    }
}

/// `usd` in picodollars (1e-12 USD), rounded.
fn pico_usd(usd: f64) -> i64 {
    let p = (usd * 1e12).round();
    if p >= i64::MAX as f64 {
        i64::MAX
    } else {
        p as i64
    }
}

/// The record's error class for an error of `kind` (UsageRecord::error_class).
pub fn class_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request",
        ErrorKind::Authentication => "authentication",
        ErrorKind::Permission => "permission",
        ErrorKind::NotFound => "not_found",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit",
        ErrorKind::Billing => "billing",
        ErrorKind::ContextLengthExceeded => "context_window",
        ErrorKind::Api => "upstream",
        ErrorKind::Overloaded => "overloaded",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Unreachable => "unreachable",
    }
}

/// Finishes a request's record: prices it (a cost the provider reported stays), writes the
/// request's log line (`error`: the message the client got, if any), and queues it for the
/// ledger (never blocking; a full queue drops and counts it).
pub(crate) fn finish(
    ledger: &Ledger,
    deployment: Option<&Deployment>,
    mut record: UsageRecord,
    error: &str,
) {
    // The deployment's configured price (`model_info`, `litellm_params`) wins over the table; a
    // cost the provider reported is kept (`PriceBook::price`).
    ledger
        .prices
        .price(&mut record, deployment.and_then(|d| d.price.as_deref()));
    ledger.metrics.observe(&record);
    log(&record, error);
    if let Some(s) = &ledger.sender {
        s.send(record);
    }
}

/// The request's one log line.
fn log(r: &UsageRecord, error: &str) {
    let ms = |us: i64| us as f64 / 1e3;
    tracing::info!(
        target: "agent_shim::request",
        client = r.client_protocol.as_str(),
        model = %r.requested_model,
        group = r.model_group.as_deref().unwrap_or("-"),
        provider = r.provider.as_deref().unwrap_or("-"),
        upstream_model = r.served_model.as_deref().unwrap_or("-"),
        status = r.status,
        stream = r.stream,
        attempts = r.attempts,
        route = r.route.as_deref().unwrap_or("-"),
        profile = r.profile.as_deref().unwrap_or("-"),
        agent = r.agent.as_deref().unwrap_or("-"),
        input_tokens = r.tokens.input,
        output_tokens = r.tokens.output,
        cache_read_tokens = r.tokens.cache_read,
        cost_usd = r.cost_pico_usd.map(|p| p as f64 / 1e12),
        latency_ms = ms(r.latency_us),
        ttfb_ms = r.ttfb_us.map(ms),
        dropped = r.dropped.as_deref().unwrap_or(""),
        error_class = r.error_class.as_deref().unwrap_or("-"),
        error = %crate::redact::urls_in(error),
        "request"
    );
}
