//! One deployment's counters: requests in flight, requests and tokens this minute, recent
//! failures and the cooldown they led to, recent latency. Lock-free except the failure list (a
//! std mutex, taken only when an attempt failed). Times are Unix milliseconds passed in by the
//! caller, so every rule here is unit-tested with a made-up clock.
//!
//! Minutes are wall-clock minutes (`unix seconds / 60`), as LiteLLM's usage-based routing keys
//! its counters, so that gateways sharing the counters agree on the window: a deployment over
//! its `rpm` or `tpm` is available again when the minute turns.
//!
//! Several instances sharing a database (issue 12 §2, [`super::shared`]): the limits count this
//! instance's requests and tokens plus the other instances' (`remote_*`, refreshed about every
//! 250 ms by a background task), so the check stays a few atomic loads. What this instance
//! counted since the last refresh is handed out by [`Slot::take_usage`]; a cooldown it started
//! by [`Slot::take_cooldown`]; another instance's is applied by [`Slot::cool_until`].

use super::strategy::Candidate;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The failures counted against `allowed_fails` are those of the last minute.
const FAILURE_WINDOW_MS: u64 = 60_000;

/// A deployment's shared counters (see the module docs).
#[derive(Debug, Default)]
pub struct Slot {
    in_flight: AtomicU32,
    /// `(minute << 32) | requests started in that minute`.
    requests: AtomicU64,
    /// `(minute << 32) | tokens used in that minute` (saturating at `u32::MAX`).
    tokens: AtomicU64,
    /// Unix ms until which the deployment is out of rotation (0: never cooled down).
    cooldown_until: AtomicU64,
    /// Unix ms of the failures of the last minute (at most `allowed_fails + 1`).
    failures: Mutex<VecDeque<u64>>,
    /// Recent latency in µs, an exponentially weighted average (0: never measured).
    latency_us: AtomicU64,
    /// The other instances' `(minute << 32) | requests` and `| tokens` (module docs).
    remote_requests: AtomicU64,
    remote_tokens: AtomicU64,
    /// The packed `requests` and `tokens` values last handed out by [`Slot::take_usage`].
    taken_requests: AtomicU64,
    taken_tokens: AtomicU64,
    /// The cooldown end last published or received (Unix ms): a later one is new.
    shared_cooldown: AtomicU64,
}

/// A deployment's local limits (`litellm_params.rpm`, `tpm`, `max_parallel_requests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests started per wall-clock minute.
    pub rpm: Option<u64>,
    /// Tokens (input and output) per wall-clock minute.
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_parallel: Option<u32>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.max_parallel.is_some()
    }
}

/// Why a deployment cannot take an attempt now, and when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Cooled down after failing more than `allowed_fails` times in a minute.
    Cooldown { retry_in: Duration },
    /// `rpm` requests were started this minute.
    Rpm { limit: u64, retry_in: Duration },
    /// `tpm` tokens were used this minute (or this request would pass it).
    Tpm { limit: u64, retry_in: Duration },
    /// `max_parallel_requests` requests are in flight.
    Parallel { limit: u32 },
}

impl Busy {
    /// How long until the deployment may take the request (a parallel limit frees up when any
    /// request ends: a second is said).
    pub fn retry_in(&self) -> Duration {
        match *self {
            Busy::Cooldown { retry_in }
            | Busy::Rpm { retry_in, .. }
            | Busy::Tpm { retry_in, .. } => retry_in,
            Busy::Parallel { .. } => Duration::from_secs(1),
        }
    }

    /// The reason in words, naming the setting.
    pub fn describe(&self) -> String {
        match self {
            Busy::Cooldown { retry_in } => format!(
                "cooling down for {} s after failing more than router_settings.allowed_fails times in a minute",
                retry_in.as_secs_f64().ceil()
            ),
            Busy::Rpm { limit, .. } => format!("{limit} requests this minute (litellm_params.rpm)"),
            Busy::Tpm { limit, .. } => format!("{limit} tokens this minute (litellm_params.tpm)"),
            Busy::Parallel { limit } => {
                format!("{limit} requests in flight (litellm_params.max_parallel_requests)")
            }
        }
    }
}

fn minute(now_ms: u64) -> u64 {
    now_ms / 60_000
}

/// Time from `now_ms` to the start of the next minute.
fn to_next_minute(now_ms: u64) -> Duration {
    Duration::from_millis(60_000 - now_ms % 60_000)
}

/// The count of `packed` in `minute` (0 when it is another minute's).
fn count_in(packed: u64, minute: u64) -> u64 {
    if packed >> 32 == minute & 0xFFFF_FFFF {
        packed & 0xFFFF_FFFF
    } else {
        0
    }
}

fn pack(minute: u64, count: u64) -> u64 {
    ((minute & 0xFFFF_FFFF) << 32) | count.min(0xFFFF_FFFF)
}

impl Slot {
    /// Remaining cooldown at `now_ms`, if cooling down.
    pub fn cooling(&self, now_ms: u64) -> Option<Duration> {
        let until = self.cooldown_until.load(Ordering::Relaxed);
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }

    /// Whether an attempt of `estimate` tokens would be refused now, without taking anything.
    pub fn busy(&self, limits: &Limits, estimate: u64, now_ms: u64) -> Option<Busy> {
        if let Some(retry_in) = self.cooling(now_ms) {
            return Some(Busy::Cooldown { retry_in });
        }
        if let Some(limit) = limits.max_parallel
            && self.in_flight.load(Ordering::Relaxed) >= limit
        {
            return Some(Busy::Parallel { limit });
        }
        let m = minute(now_ms);
        if let Some(limit) = limits.tpm {
            let used = self.tokens_in(m);
            if used >= limit || (used > 0 && used + estimate > limit) {
                return Some(Busy::Tpm {
                    limit,
                    retry_in: to_next_minute(now_ms),
                });
            }
        }
        if let Some(limit) = limits.rpm
            && count_in(self.requests.load(Ordering::Relaxed), m)
                + self.remote_in(&self.remote_requests, m)
                >= limit
        {
            return Some(Busy::Rpm {
                limit,
                retry_in: to_next_minute(now_ms),
            });
        }
        None
    }

    /// Takes an attempt: counts it in flight and against `rpm`, unless a limit (or a cooldown)
    /// refuses it. A request larger than `tpm` on its own still goes when nothing was used this
    /// minute (it could never go otherwise; the upstream judges it).
    pub fn acquire(
        self: &Arc<Self>,
        limits: &Limits,
        estimate: u64,
        now_ms: u64,
    ) -> Result<Lease, Busy> {
        if let Some(b) = self.busy(limits, estimate, now_ms) {
            return Err(b);
        }
        let flying = self.in_flight.fetch_add(1, Ordering::Relaxed);
        let lease = Lease {
            slot: self.clone(),
            estimate,
        };
        if let Some(limit) = limits.max_parallel
            && flying >= limit
        {
            // Another request took the last place between the check and here.
            return Err(Busy::Parallel { limit });
        }
        let m = minute(now_ms);
        let limit = limits.rpm.unwrap_or(u64::MAX);
        let others = self.remote_in(&self.remote_requests, m);
        let counted = self
            .requests
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                let n = count_in(p, m);
                (n.saturating_add(others) < limit).then(|| pack(m, n + 1))
            });
        if counted.is_err() {
            return Err(Busy::Rpm {
                limit,
                retry_in: to_next_minute(now_ms),
            });
        }
        Ok(lease)
    }

    /// Adds `tokens` to this minute's usage.
    pub fn add_tokens(&self, tokens: u64, now_ms: u64) {
        let m = minute(now_ms);
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(pack(m, count_in(p, m).saturating_add(tokens)))
            });
    }

    /// Records a failed attempt at `now_ms`; when it is the `allowed_fails + 1`-th of the last
    /// minute, the deployment cools down for `cooldown` and `true` is returned. The failures
    /// that led to a cooldown are forgotten with it.
    pub fn record_failure(&self, now_ms: u64, allowed_fails: u32, cooldown: Duration) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        while f.front().is_some_and(|t| *t + FAILURE_WINDOW_MS <= now_ms) {
            f.pop_front();
        }
        f.push_back(now_ms);
        if f.len() as u64 <= u64::from(allowed_fails) {
            return false;
        }
        f.clear();
        let until = now_ms.saturating_add(cooldown.as_millis().try_into().unwrap_or(u64::MAX));
        self.cooldown_until.fetch_max(until, Ordering::Relaxed);
        true
    }

    /// Cools the deployment down until `now_ms + d` at least (an upstream's long `retry-after`).
    pub fn cool_for(&self, now_ms: u64, d: Duration) {
        let until = now_ms.saturating_add(d.as_millis().try_into().unwrap_or(u64::MAX));
        self.cooldown_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Folds a measured latency into the average (weight ½ for the newest).
    pub fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .latency_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 { us } else { old / 2 + us / 2 })
            });
    }

    /// What a routing strategy reads of this deployment now.
    pub fn candidate(&self, now_ms: u64) -> Candidate {
        Candidate {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            latency_us: self.latency_us.load(Ordering::Relaxed),
            tokens_this_minute: self.tokens_in(minute(now_ms)),
            ..Candidate::default()
        }
    }

    /// The other instances' count in `m` from `remote` (0 when it is another minute's).
    fn remote_in(&self, remote: &AtomicU64, m: u64) -> u64 {
        count_in(remote.load(Ordering::Relaxed), m)
    }

    /// Tokens used in minute `m` by every instance.
    fn tokens_in(&self, m: u64) -> u64 {
        count_in(self.tokens.load(Ordering::Relaxed), m)
            .saturating_add(self.remote_in(&self.remote_tokens, m))
    }

    /// Requests started in the minute of `now_ms` by every instance (for `/model/info`).
    pub fn requests_this_minute(&self, now_ms: u64) -> u64 {
        let m = minute(now_ms);
        count_in(self.requests.load(Ordering::Relaxed), m)
            .saturating_add(self.remote_in(&self.remote_requests, m))
    }

    /// Tokens used in the minute of `now_ms` by every instance (for `/model/info`).
    pub fn tokens_this_minute(&self, now_ms: u64) -> u64 {
        self.tokens_in(minute(now_ms))
    }

    /// This instance's requests and tokens counted since the last call, as
    /// `(minute, requests, tokens)` (`None`: nothing new). One caller at a time (the shared
    /// state's writer). When a minute turned since the last call, what the old minute counted
    /// after that call is not handed out: it no longer limits anything.
    pub fn take_usage(&self) -> Option<(u64, u64, u64)> {
        let delta = |now: &AtomicU64, taken: &AtomicU64| {
            let p = now.load(Ordering::Relaxed);
            let t = taken.swap(p, Ordering::Relaxed);
            let m = p >> 32;
            let before = if t >> 32 == m { t & 0xFFFF_FFFF } else { 0 };
            (m, (p & 0xFFFF_FFFF).saturating_sub(before))
        };
        let (mr, r) = delta(&self.requests, &self.taken_requests);
        let (mt, t) = delta(&self.tokens, &self.taken_tokens);
        match (r, t) {
            (0, 0) => None,
            (r, 0) => Some((mr, r, 0)),
            (0, t) => Some((mt, 0, t)),
            // Both moved: they are of one minute unless it turned in between (rare; the
            // tokens are then counted with the requests' minute).
            (r, t) => Some((mr, r, t)),
        }
    }

    /// The other instances' requests and tokens in minute `m` (Unix seconds / 60).
    pub fn set_remote(&self, m: u64, requests: u64, tokens: u64) {
        self.remote_requests
            .store(pack(m, requests), Ordering::Relaxed);
        self.remote_tokens.store(pack(m, tokens), Ordering::Relaxed);
    }

    /// The end (Unix ms) of a cooldown this instance started and has not handed out yet.
    pub fn take_cooldown(&self) -> Option<u64> {
        let until = self.cooldown_until.load(Ordering::Relaxed);
        let before = self.shared_cooldown.fetch_max(until, Ordering::Relaxed);
        (until > before).then_some(until)
    }

    /// Out of rotation until `until_ms` at least: another instance cooled the deployment down.
    pub fn cool_until(&self, until_ms: u64) {
        self.shared_cooldown.fetch_max(until_ms, Ordering::Relaxed);
        self.cooldown_until.fetch_max(until_ms, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// One attempt's hold on a deployment: in flight until dropped (for a stream, when its last
/// byte went out or the client left).
#[derive(Debug)]
pub struct Lease {
    slot: Arc<Slot>,
    /// The request's estimated input tokens, counted when the answer reports no usage.
    estimate: u64,
}

impl Lease {
    /// Counts the tokens the attempt used (`None`: the upstream reported none, so the estimate).
    pub fn used_tokens(&self, tokens: Option<u64>, now_ms: u64) {
        self.slot
            .add_tokens(tokens.unwrap_or(self.estimate), now_ms);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000; // on a minute boundary

    #[test]
    fn rpm_refuses_until_the_minute_turns() {
        let s = Arc::new(Slot::default());
        let l = Limits {
            rpm: Some(2),
            ..Limits::default()
        };
        let a = s.acquire(&l, 0, T0 + 1_000).unwrap();
        drop(a);
        let _b = s.acquire(&l, 0, T0 + 2_000).unwrap();
        let e = s.acquire(&l, 0, T0 + 15_000).unwrap_err();
        assert_eq!(
            e,
            Busy::Rpm {
                limit: 2,
                retry_in: Duration::from_secs(45)
            }
        );
        assert!(s.acquire(&l, 0, T0 + 60_000).is_ok());
    }

    #[test]
    fn parallel_limit_counts_leases_in_flight() {
        let s = Arc::new(Slot::default());
        let l = Limits {
            max_parallel: Some(1),
            ..Limits::default()
        };
        let a = s.acquire(&l, 0, T0).unwrap();
        assert_eq!(
            s.acquire(&l, 0, T0).unwrap_err(),
            Busy::Parallel { limit: 1 }
        );
        assert_eq!(s.in_flight(), 1);
        drop(a);
        assert_eq!(s.in_flight(), 0);
        assert!(s.acquire(&l, 0, T0).is_ok());
    }

    #[test]
    fn tpm_counts_used_tokens_and_lets_a_first_large_request_through() {
        let s = Arc::new(Slot::default());
        let l = Limits {
            tpm: Some(1000),
            ..Limits::default()
        };
        let a = s.acquire(&l, 5000, T0).unwrap();
        a.used_tokens(Some(600), T0);
        drop(a);
        assert!(s.busy(&l, 300, T0 + 1).is_none());
        assert!(matches!(
            s.busy(&l, 500, T0 + 1),
            Some(Busy::Tpm { limit: 1000, .. })
        ));
        let b = s.acquire(&l, 300, T0 + 2).unwrap();
        b.used_tokens(None, T0 + 2);
        assert!(matches!(s.busy(&l, 200, T0 + 3), Some(Busy::Tpm { .. })));
        assert!(s.busy(&l, 1, T0 + 60_000).is_none());
        assert_eq!(s.candidate(T0 + 3).tokens_this_minute, 900);
    }

    #[test]
    fn cooldown_after_more_than_allowed_fails_in_a_minute_then_back() {
        let s = Slot::default();
        let cool = Duration::from_secs(5);
        assert!(!s.record_failure(T0, 2, cool));
        assert!(!s.record_failure(T0 + 1_000, 2, cool));
        // Failures older than a minute do not count.
        assert!(!s.record_failure(T0 + 61_000, 2, cool));
        assert!(!s.record_failure(T0 + 62_000, 2, cool));
        assert!(s.record_failure(T0 + 63_000, 2, cool));
        assert_eq!(s.cooling(T0 + 64_000), Some(Duration::from_secs(4)));
        assert!(matches!(
            s.busy(&Limits::default(), 0, T0 + 64_000),
            Some(Busy::Cooldown { .. })
        ));
        assert_eq!(s.cooling(T0 + 68_000), None);
        // The count starts again after a cooldown.
        assert!(!s.record_failure(T0 + 68_500, 2, cool));
    }

    #[test]
    fn latency_is_an_average_leaning_on_the_newest() {
        let s = Slot::default();
        assert_eq!(s.candidate(T0).latency_us, 0);
        s.record_latency(Duration::from_millis(100));
        s.record_latency(Duration::from_millis(300));
        assert_eq!(s.candidate(T0).latency_us, 200_000);
    }

    #[test]
    fn other_instances_usage_counts_against_rpm_and_tpm() {
        let s = Arc::new(Slot::default());
        let l = Limits {
            rpm: Some(3),
            tpm: Some(100),
            ..Limits::default()
        };
        let m = T0 / 60_000;
        s.set_remote(m, 2, 0);
        let _a = s.acquire(&l, 0, T0 + 1).unwrap();
        assert!(matches!(
            s.acquire(&l, 0, T0 + 2),
            Err(Busy::Rpm { limit: 3, .. })
        ));
        assert_eq!(s.requests_this_minute(T0 + 2), 3);
        // Another minute's figures limit nothing.
        assert!(s.busy(&l, 0, T0 + 60_000).is_none());
        s.set_remote(m, 0, 100);
        assert!(matches!(s.busy(&l, 0, T0 + 3), Some(Busy::Tpm { .. })));
        assert_eq!(s.candidate(T0 + 3).tokens_this_minute, 100);
    }

    #[test]
    fn usage_is_handed_out_once_and_a_new_minute_starts_from_zero() {
        let s = Arc::new(Slot::default());
        let l = Limits::default();
        assert_eq!(s.take_usage(), None);
        for t in [1, 2] {
            s.acquire(&l, 0, T0 + t)
                .unwrap()
                .used_tokens(Some(10), T0 + t);
        }
        let m = T0 / 60_000;
        assert_eq!(s.take_usage(), Some((m & 0xFFFF_FFFF, 2, 20)));
        assert_eq!(s.take_usage(), None);
        s.acquire(&l, 0, T0 + 3)
            .unwrap()
            .used_tokens(Some(5), T0 + 3);
        assert_eq!(s.take_usage(), Some((m & 0xFFFF_FFFF, 1, 5)));
        s.acquire(&l, 0, T0 + 60_001)
            .unwrap()
            .used_tokens(Some(7), T0 + 60_001);
        assert_eq!(s.take_usage(), Some(((m + 1) & 0xFFFF_FFFF, 1, 7)));
    }

    #[test]
    fn a_cooldown_is_handed_out_once_and_a_received_one_is_not_handed_back() {
        let s = Slot::default();
        assert_eq!(s.take_cooldown(), None);
        assert!(s.record_failure(T0, 0, Duration::from_secs(5)));
        assert_eq!(s.take_cooldown(), Some(T0 + 5_000));
        assert_eq!(s.take_cooldown(), None);
        s.cool_until(T0 + 9_000);
        assert_eq!(s.cooling(T0 + 1_000), Some(Duration::from_secs(8)));
        assert_eq!(s.take_cooldown(), None);
        // An older one received changes nothing.
        s.cool_until(T0 + 2_000);
        assert_eq!(s.cooling(T0 + 1_000), Some(Duration::from_secs(8)));
    }
}
