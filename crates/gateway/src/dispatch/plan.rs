//! Planning a request's attempts within one model group: which deployment goes next
//! ([`Picker`]: session affinity, `order` tiers, the routing strategy, cooldowns and local
//! limits, the pre-call context-window check), and what a failed attempt leads to ([`decide`],
//! the decision table in [`super`]'s docs).

use super::Failure;
use super::incoming::Incoming;
use crate::providers::deployment::Deployment;
use crate::router::settings::FallbackKind;
use crate::router::strategy::{self, Candidate};
use crate::router::{Busy, Lease, Limits, RouterSettings, now_ms};
use crate::state::GatewayState;
use crate::upstream::UpstreamError;
use http::HeaderValue;
use protocol::ir::{ApiError, ErrorKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step {
    /// Wait, then try the same deployment again.
    RetryHere(Duration),
    /// Try another deployment of the group now.
    OtherDeployment,
    /// Leave the group for its fallbacks.
    Fallback,
    /// Answer the client with this error (and its `retry-after`).
    HandBack,
}

/// What [`decide`] may choose from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// The group's `num_retries` are not used up.
    pub retries_left: bool,
    /// Another deployment of the group may take the request now.
    pub other_deployment: bool,
    /// A fallback group exists for this kind of failure.
    pub fallback: bool,
    /// Retries made in this group so far (for the backoff).
    pub retries_done: u32,
    /// The longest `retry-after` waited for here.
    pub max_retry_after: Duration,
}

/// Which fallback list a failure takes.
pub(crate) fn fallback_kind(e: &UpstreamError) -> FallbackKind {
    if e.error.kind == ErrorKind::ContextLengthExceeded {
        FallbackKind::ContextWindow
    } else if e.content_policy {
        FallbackKind::ContentPolicy
    } else {
        FallbackKind::Generic
    }
}

/// Whether the failure says the deployment is saturated: rate limited, overloaded, out of quota.
fn saturated(e: &UpstreamError) -> bool {
    matches!(
        e.error.kind,
        ErrorKind::RateLimit | ErrorKind::Overloaded | ErrorKind::Billing
    ) || matches!(e.error.status, 429 | 503 | 529)
}

/// The decision table of [`super`] (each row tested in `tests/gateway/router_limits.rs` and
/// below).
pub(crate) fn decide(e: &UpstreamError, o: &Options) -> Step {
    let or_hand_back = |fallback: bool| {
        if fallback {
            Step::Fallback
        } else {
            Step::HandBack
        }
    };
    match fallback_kind(e) {
        // Another deployment of the same model would refuse it alike: only the kind's own
        // fallbacks can help (LiteLLM).
        FallbackKind::ContextWindow | FallbackKind::ContentPolicy => {
            return or_hand_back(o.fallback);
        }
        FallbackKind::Generic => {}
    }
    if !e.retryable && !e.another_deployment_may_serve() {
        // The request itself was refused (400, 413, 422): the client must change it.
        return Step::HandBack;
    }
    let wait = || {
        if o.retries_left {
            backoff(o.retries_done, e.retry_after.as_ref(), o.max_retry_after)
        } else {
            None
        }
    };
    if saturated(e) {
        // Waiting for a saturated deployment is the last resort: anything else serves sooner.
        if o.other_deployment {
            return Step::OtherDeployment;
        }
        if o.fallback {
            return Step::Fallback;
        }
        if e.error.kind == ErrorKind::Billing {
            return Step::HandBack;
        }
        return wait().map_or(Step::HandBack, Step::RetryHere);
    }
    if o.other_deployment {
        return Step::OtherDeployment;
    }
    if e.retryable
        && let Some(w) = wait()
    {
        return Step::RetryHere(w);
    }
    or_hand_back(o.fallback)
}

/// How long to wait before retry `retries_done + 1`: the upstream's `retry-after` (seconds)
/// when it is at most `max`, else exponential backoff from 250 ms. `None` when `retry-after` is
/// longer than `max`: not waited for here.
pub(crate) fn backoff(
    retries_done: u32,
    retry_after: Option<&HeaderValue>,
    max: Duration,
) -> Option<Duration> {
    if let Some(secs) = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
    {
        let d = Duration::from_secs_f64(secs.clamp(0.0, 1e9));
        return (d <= max).then_some(d);
    }
    Some(Duration::from_millis(250 << retries_done.min(6)))
}

/// The deployments of a group already tried (or excluded) in this request.
#[derive(Debug, Default)]
struct Tried {
    first: u64,
    /// Positions 64 and beyond (large groups only).
    more: Vec<bool>,
}

impl Tried {
    fn has(&self, i: usize) -> bool {
        if i < 64 {
            self.first >> i & 1 == 1
        } else {
            self.more.get(i - 64).copied().unwrap_or(false)
        }
    }

    fn add(&mut self, i: usize) {
        if i < 64 {
            self.first |= 1 << i;
        } else {
            if self.more.len() <= i - 64 {
                self.more.resize(i - 63, false);
            }
            self.more[i - 64] = true;
        }
    }
}

/// Chooses the deployments of one group for a request, one attempt at a time.
pub(crate) struct Picker<'g> {
    gw: &'g GatewayState,
    name: &'g str,
    group: &'g [Arc<Deployment>],
    /// Whether the router counts this group's attempts: it has several deployments, or limits.
    /// A lone deployment without limits costs the router nothing per request.
    counted: bool,
    tried: Tried,
    /// The session's key in this group (groups of several deployments only).
    session: Option<u64>,
    /// Rough input tokens, for `tpm`.
    estimate: u64,
}

impl<'g> Picker<'g> {
    pub fn new(
        gw: &'g GatewayState,
        name: &'g str,
        group: &'g [Arc<Deployment>],
        req: &Incoming<'_>,
    ) -> Picker<'g> {
        let s = &gw.router;
        let counted = group.len() > 1
            || group
                .iter()
                .any(|d| d.route.limits.any() || s.default_max_parallel_requests.is_some());
        let session = if group.len() > 1 {
            req.session().map(|id| gw.routing.sessions.key(id, name))
        } else {
            None
        };
        Picker {
            gw,
            name,
            group,
            counted,
            tried: Tried::default(),
            session,
            estimate: req.rough_tokens(),
        }
    }

    fn settings(&self) -> &RouterSettings {
        &self.gw.router
    }

    fn limits(&self, d: &Deployment) -> Limits {
        let mut l = d.route.limits;
        if l.max_parallel.is_none() {
            l.max_parallel = self.settings().default_max_parallel_requests;
        }
        l
    }

    /// Why `d` cannot take an attempt at `now`, if it cannot.
    fn busy(&self, d: &Deployment, now: u64) -> Option<Busy> {
        self.gw
            .routing
            .slot(d)
            .busy(&self.limits(d), self.estimate, now)
    }

    fn eligible(&self, i: usize, now: u64) -> bool {
        !self.tried.has(i) && self.busy(&self.group[i], now).is_none()
    }

    /// The pre-call check: deployments whose `max_input_tokens` the request exceeds are left
    /// out. `Some(error)` when that leaves none (nothing was sent).
    pub async fn check_context(
        &mut self,
        req: &mut Incoming<'_>,
    ) -> Result<Option<UpstreamError>, Failure> {
        let mut largest_left_out = None;
        for (i, d) in self.group.iter().enumerate() {
            if let Some(w) = d.route.max_input_tokens
                && !req.fits(w).await?
            {
                self.tried.add(i);
                largest_left_out = Some(largest_left_out.map_or(w, |s: u64| s.max(w)));
            }
        }
        let Some(window) = largest_left_out else {
            return Ok(None);
        };
        if (0..self.group.len()).any(|i| !self.tried.has(i)) {
            return Ok(None);
        }
        let tokens = req.input_tokens().await?;
        Ok(Some(UpstreamError::fatal(ApiError::new(
            ErrorKind::ContextLengthExceeded,
            format!(
                "prompt is too long for model '{}': about {tokens} input tokens, more than its \
                 model_info.max_input_tokens ({window}); nothing was sent. Shorten the \
                 conversation, or set router_settings.context_window_fallbacks for '{}' to a \
                 model with a larger window",
                self.name, self.name
            ),
        ))))
    }

    /// The next deployment to try and its lease (`None` when the router does not count this
    /// group), or `None` when no deployment may take the request now.
    pub fn next(&mut self) -> Option<(usize, Option<Lease>)> {
        if !self.counted {
            // A lone deployment without limits: no counters to read or take.
            if self.group.len() == 1 && !self.tried.has(0) {
                self.tried.add(0);
                return Some((0, None));
            }
            return None;
        }
        let now = now_ms();
        loop {
            let i = self.choose(now)?;
            self.tried.add(i);
            let d = &self.group[i];
            match self
                .gw
                .routing
                .slot(d)
                .acquire(&self.limits(d), self.estimate, now)
            {
                Ok(lease) => return Some((i, Some(lease))),
                // Another request took its last place since the check: the next one.
                Err(_) => continue,
            }
        }
    }

    /// The session's deployment when it may take the request, else the strategy's pick in the
    /// lowest `order` tier that has an eligible deployment.
    fn choose(&self, now: u64) -> Option<usize> {
        if let Some(key) = self.session {
            let bound = self.gw.routing.sessions.find(key, Instant::now(), |id| {
                self.group
                    .iter()
                    .position(|d| d.id == id)
                    .filter(|i| self.eligible(*i, now))
            });
            if bound.is_some() {
                return bound;
            }
        }
        let n = self.group.len();
        let tier = (0..n)
            .filter(|i| self.eligible(*i, now))
            .map(|i| self.group[i].route.order)
            .min()?;
        let s = self.settings().routing_strategy;
        let draw = if s.reads_counters() {
            0.0
        } else {
            rand::random::<f64>()
        };
        strategy::pick(
            s,
            n,
            |i| {
                let d = &self.group[i];
                (d.route.order == tier && self.eligible(i, now)).then(|| {
                    let mut c = if s.reads_counters() {
                        self.gw.routing.slot(d).candidate(now)
                    } else {
                        Candidate::default()
                    };
                    c.weight = d.route.weight;
                    c.rpm = d.route.limits.rpm;
                    c.tpm = d.route.limits.tpm;
                    c
                })
            },
            draw,
        )
    }

    /// The same deployment again (a retry), with a new lease; `None` when it cannot take it now.
    pub fn again(&self, i: usize) -> Option<Option<Lease>> {
        if !self.counted {
            return Some(None);
        }
        let d = &self.group[i];
        self.gw
            .routing
            .slot(d)
            .acquire(&self.limits(d), self.estimate, now_ms())
            .ok()
            .map(Some)
    }

    /// Whether another deployment may take the request now.
    pub fn has_other(&self) -> bool {
        if !self.counted {
            return false;
        }
        let now = now_ms();
        (0..self.group.len()).any(|i| self.eligible(i, now))
    }

    /// Records a failed attempt on deployment `i`: counted towards its cooldown (LiteLLM cools
    /// down on 429, 401, 404, 408 and 5xx; here also on connection failures and unusable
    /// answers, never on a request the client must fix). A lone deployment is never cooled
    /// down: there is nothing to rotate to (LiteLLM needs heavy traffic for it).
    pub fn failed(&self, i: usize, e: &UpstreamError) {
        let s = self.settings();
        if !self.counted || self.group.len() < 2 || s.disable_cooldowns {
            return;
        }
        let deployment_fault = e.retryable
            || e.unusable_answer
            || (e.another_deployment_may_serve() && fallback_kind(e) == FallbackKind::Generic);
        if !deployment_fault {
            return;
        }
        let d = &self.group[i];
        let slot = self.gw.routing.slot(d);
        let now = now_ms();
        if saturated(e)
            && let Some(secs) = e
                .retry_after
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
            && secs > s.max_retry_after.as_secs_f64()
        {
            // Rate limited for longer than is waited for: out of rotation until then.
            slot.cool_for(now, Duration::from_secs_f64(secs.min(86_400.0)));
        }
        if slot.record_failure(now, s.allowed_fails, s.cooldown_time) {
            tracing::warn!(
                model = self.name,
                deployment = %d.id,
                provider = d.provider.name,
                "deployment cooled down for {} s: it failed more than {} times within a minute \
                 (router_settings.allowed_fails, cooldown_time)",
                s.cooldown_time.as_secs_f64(),
                s.allowed_fails
            );
        }
    }

    /// Records the success of deployment `i` (its attempt began at `started`): its latency, and
    /// the session's binding to it.
    pub fn succeeded(&self, i: usize, started: Instant) {
        if !self.counted {
            return;
        }
        let d = &self.group[i];
        self.gw.routing.slot(d).record_latency(started.elapsed());
        if let Some(key) = self.session {
            self.gw.routing.sessions.bind(key, &d.id, Instant::now());
        }
    }

    /// The error when no deployment of the group can take the request and none was tried: 429
    /// with the soonest `retry-after`, naming each deployment's reason.
    pub fn busy_error(&self, requested: &str) -> UpstreamError {
        let now = now_ms();
        let mut soonest: Option<Duration> = None;
        let mut why = Vec::new();
        for d in self.group {
            if let Some(b) = self.busy(d, now) {
                soonest = Some(soonest.map_or(b.retry_in(), |s| s.min(b.retry_in())));
                why.push(format!("{} ({}): {}", d.id, d.provider.name, b.describe()));
            }
        }
        let secs = soonest.map_or(1.0, |s| s.as_secs_f64().ceil().max(1.0)) as u64;
        let mut e = UpstreamError::fatal(ApiError::new(
            ErrorKind::RateLimit,
            format!(
                "model '{requested}' (group '{}'): no deployment can take the request now: {}; \
                 retry in {secs} s, or raise the deployments' limits",
                self.name,
                why.join("; ")
            ),
        ));
        e.retry_after = Some(HeaderValue::from(secs));
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind, status: u16, retry_after: Option<&'static str>) -> UpstreamError {
        UpstreamError::from_status(
            ApiError {
                kind,
                status,
                message: "x".into(),
            },
            status,
            retry_after.map(HeaderValue::from_static),
        )
    }

    fn opts(other: bool, fallback: bool, retries: bool) -> Options {
        Options {
            retries_left: retries,
            other_deployment: other,
            fallback,
            retries_done: 0,
            max_retry_after: Duration::from_secs(20),
        }
    }

    #[test]
    fn the_decision_table() {
        use Step::*;
        let rl = |ra| err(ErrorKind::RateLimit, 429, ra);
        let s = Duration::from_secs;
        // 429, short retry-after: retried here when nothing else can serve.
        assert_eq!(
            decide(&rl(Some("2")), &opts(false, false, true)),
            RetryHere(s(2))
        );
        // … but another deployment, then a fallback, serve sooner.
        assert_eq!(
            decide(&rl(Some("2")), &opts(true, true, true)),
            OtherDeployment
        );
        assert_eq!(decide(&rl(Some("2")), &opts(false, true, true)), Fallback);
        // 429, long retry-after: handed back with it.
        assert_eq!(decide(&rl(Some("90")), &opts(false, false, true)), HandBack);
        assert_eq!(
            decide(&rl(Some("90")), &opts(true, false, true)),
            OtherDeployment
        );
        // 429 without retry-after: backoff; retries used up: handed back.
        assert_eq!(
            decide(&rl(None), &opts(false, false, true)),
            RetryHere(Duration::from_millis(250))
        );
        assert_eq!(decide(&rl(None), &opts(false, false, false)), HandBack);
        // A used-up quota is never waited for.
        let quota = err(ErrorKind::Billing, 402, None);
        assert_eq!(decide(&quota, &opts(false, false, true)), HandBack);
        assert_eq!(decide(&quota, &opts(true, false, true)), OtherDeployment);
        // 529 overloaded: failed over at once; waited for only when alone.
        let over = err(ErrorKind::Overloaded, 529, None);
        assert_eq!(decide(&over, &opts(true, false, true)), OtherDeployment);
        assert_eq!(decide(&over, &opts(false, true, true)), Fallback);
        assert_eq!(
            decide(&over, &opts(false, false, true)),
            RetryHere(Duration::from_millis(250))
        );
        // 500: another deployment, else a retry here, then the fallbacks.
        let five = err(ErrorKind::Api, 500, None);
        assert_eq!(
            decide(&five, &opts(false, true, true)),
            RetryHere(Duration::from_millis(250))
        );
        assert_eq!(decide(&five, &opts(false, true, false)), Fallback);
        assert_eq!(decide(&five, &opts(false, false, false)), HandBack);
        // A request the client must fix: handed back whatever else exists.
        let bad = err(ErrorKind::InvalidRequest, 400, None);
        assert_eq!(decide(&bad, &opts(true, true, true)), HandBack);
        // Context window: only its own fallbacks.
        let long = err(ErrorKind::ContextLengthExceeded, 400, None);
        assert_eq!(decide(&long, &opts(true, true, true)), Fallback);
        assert_eq!(decide(&long, &opts(true, false, true)), HandBack);
        // A wrong key is this deployment's: others may serve, retrying it cannot.
        let key = err(ErrorKind::Authentication, 401, None);
        assert_eq!(decide(&key, &opts(false, false, true)), HandBack);
        assert_eq!(decide(&key, &opts(false, true, true)), Fallback);
    }

    #[test]
    fn backoff_honours_short_retry_after_only() {
        let max = Duration::from_secs(20);
        assert_eq!(
            backoff(0, Some(&HeaderValue::from_static("2")), max),
            Some(Duration::from_secs(2))
        );
        assert_eq!(backoff(0, Some(&HeaderValue::from_static("60")), max), None);
        assert_eq!(backoff(0, None, max), Some(Duration::from_millis(250)));
        assert_eq!(backoff(2, None, max), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn tried_set_covers_large_groups() {
        let mut t = Tried::default();
        for i in [0, 63, 64, 200] {
            assert!(!t.has(i));
            t.add(i);
            assert!(t.has(i));
        }
        assert!(!t.has(65) && !t.has(1));
    }
}
