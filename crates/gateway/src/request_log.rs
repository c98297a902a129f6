//! One record per attempt of a request (DESIGN.md §4.4), written when the attempt ends — for the
//! attempt that answers, when its answer ends, including when the client disconnects mid-stream,
//! because it is written from `Drop`. Dropping it also ends the attempt's hold on its deployment
//! ([`Lease`]: in flight until then, its tokens counted against `tpm`).

use crate::router::Lease;
use crate::transport::ReportedCost;
use protocol::ir::Usage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What is known about a request as it runs.
#[derive(Debug)]
pub struct RequestLog {
    pub client: &'static str,
    pub requested_model: String,
    pub group: Option<String>,
    pub provider: Option<&'static str>,
    pub upstream_model: Option<String>,
    pub status: u16,
    pub usage: Option<Usage>,
    pub dropped: String,
    pub stream: bool,
    start: Instant,
    first_byte: Option<Duration>,
    pub error: Option<String>,
    /// The cost the upstream reported itself (claude-code's `total_cost_usd`), in USD.
    pub reported_cost: Option<Arc<ReportedCost>>,
    /// Which attempt of the request this is (1 for the first; retries and fallbacks count on).
    pub attempt: u32,
    /// The attempt's hold on its deployment, when the router counts it.
    pub lease: Option<Lease>,
    /// The profile's scenario rule that chose the model (`background`, …), if one did.
    pub route: Option<&'static str>,
}

impl RequestLog {
    pub fn new(client: &'static str, requested_model: &str, stream: bool) -> RequestLog {
        RequestLog {
            client,
            requested_model: requested_model.to_owned(),
            group: None,
            provider: None,
            upstream_model: None,
            status: 200,
            usage: None,
            dropped: String::new(),
            stream,
            start: Instant::now(),
            first_byte: None,
            error: None,
            reported_cost: None,
            attempt: 1,
            lease: None,
            route: None,
        }
    }

    /// Marks the first byte from the upstream.
    pub fn first_byte(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(self.start.elapsed());
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let u = self.usage.unwrap_or_default();
        if let Some(lease) = &self.lease
            && self.status == 200
        {
            let used = self.usage.map(|u| u.input_tokens + u.output_tokens);
            lease.used_tokens(used, crate::router::now_ms());
        }
        tracing::info!(
            target: "agent_shim::request",
            client = self.client,
            model = %self.requested_model,
            group = self.group.as_deref().unwrap_or("-"),
            provider = self.provider.unwrap_or("-"),
            upstream_model = self.upstream_model.as_deref().unwrap_or("-"),
            status = self.status,
            stream = self.stream,
            attempt = self.attempt,
            route = self.route.unwrap_or("-"),
            input_tokens = u.input_tokens,
            output_tokens = u.output_tokens,
            cache_read_tokens = u.cache_read_tokens,
            cost_usd = self.reported_cost.as_ref().and_then(|c| c.get()),
            latency_ms = self.start.elapsed().as_secs_f64() * 1e3,
            ttfb_ms = self.first_byte.map(|d| d.as_secs_f64() * 1e3),
            dropped = %self.dropped,
            error = %crate::redact::urls_in(self.error.as_deref().unwrap_or("")),
            "request"
        );
    }
}
