//! `routing_strategy`: which deployment of a model group takes the next attempt, among those that
//! may (untried in this request, not cooling down, under their limits, in the lowest `order`
//! tier that has one). Pure functions over each candidate's counters, so every strategy is
//! unit-tested without a network.
//!
//! | strategy (LiteLLM name) | picks |
//! |---|---|
//! | `simple-shuffle` (default) | at random, weighted by `weight`; when no deployment has one, by `rpm`, then by `tpm`; else uniformly. As LiteLLM, a missing weight counts 0 once some deployment has one (that deployment is then only a failover). |
//! | `least-busy` | the fewest requests in flight |
//! | `latency-based-routing` | the lowest recent latency (time to the first byte of a stream, the whole answer otherwise); one never measured goes first |
//! | `usage-based-routing-v2` (also `usage-based-routing`) | the fewest tokens used this minute |
//!
//! Ties go to the first candidate in the group's order (the definition order), so an idle group
//! behaves like a list; `simple-shuffle` is the only strategy that draws.

/// LiteLLM's `routing_strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RoutingStrategy {
    #[default]
    SimpleShuffle,
    LeastBusy,
    LatencyBased,
    UsageBased,
}

impl RoutingStrategy {
    /// The strategy LiteLLM calls `name`; `None` for the ones not implemented here
    /// (`cost-based-routing`, custom strategies), which the caller names in a warning.
    pub fn parse(name: &str) -> Option<RoutingStrategy> {
        Some(match name.trim() {
            "simple-shuffle" => RoutingStrategy::SimpleShuffle,
            "least-busy" => RoutingStrategy::LeastBusy,
            "latency-based-routing" => RoutingStrategy::LatencyBased,
            "usage-based-routing-v2" | "usage-based-routing" => RoutingStrategy::UsageBased,
            _ => return None,
        })
    }

    /// Whether the strategy reads the counters of the candidates (all but the shuffle).
    pub fn reads_counters(self) -> bool {
        self != RoutingStrategy::SimpleShuffle
    }
}

/// What a strategy knows about one candidate deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Candidate {
    /// `litellm_params.weight` as configured.
    pub weight: Option<f64>,
    /// `litellm_params.rpm` as configured.
    pub rpm: Option<u64>,
    /// `litellm_params.tpm` as configured.
    pub tpm: Option<u64>,
    /// Requests in flight now.
    pub in_flight: u32,
    /// Recent latency in microseconds; 0 when never measured.
    pub latency_us: u64,
    /// Tokens used this minute.
    pub tokens_this_minute: u64,
}

/// The position (in `0..n`) of the candidate `strategy` picks, `candidate(i)` giving the
/// candidate at `i` or `None` when it may not be picked; `draw` is a uniform random number in
/// `[0, 1)` (used by `simple-shuffle` only). `None` when no candidate may be picked.
pub fn pick(
    strategy: RoutingStrategy,
    n: usize,
    candidate: impl Fn(usize) -> Option<Candidate>,
    draw: f64,
) -> Option<usize> {
    let key = |c: &Candidate| -> f64 {
        match strategy {
            RoutingStrategy::LeastBusy => f64::from(c.in_flight),
            RoutingStrategy::LatencyBased => c.latency_us as f64,
            RoutingStrategy::UsageBased => c.tokens_this_minute as f64,
            RoutingStrategy::SimpleShuffle => 0.0,
        }
    };
    if strategy != RoutingStrategy::SimpleShuffle {
        let mut best: Option<(usize, f64)> = None;
        for i in 0..n {
            if let Some(c) = candidate(i) {
                let k = key(&c);
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        return best.map(|(i, _)| i);
    }
    // Which figure weighs: the first of weight, rpm, tpm that some candidate sets.
    let mut by: Option<fn(&Candidate) -> Option<f64>> = None;
    let figures: [fn(&Candidate) -> Option<f64>; 3] = [
        |c| c.weight,
        |c| c.rpm.map(|v| v as f64),
        |c| c.tpm.map(|v| v as f64),
    ];
    for f in figures {
        if (0..n).any(|i| candidate(i).is_some_and(|c| f(&c).is_some())) {
            by = Some(f);
            break;
        }
    }
    let weight = |c: &Candidate| -> f64 {
        match by {
            Some(f) => f(c).filter(|w| w.is_finite() && *w > 0.0).unwrap_or(0.0),
            None => 1.0,
        }
    };
    let total: f64 = (0..n).filter_map(&candidate).map(|c| weight(&c)).sum();
    if total <= 0.0 {
        // Every weight is 0: uniformly among the candidates.
        let count = (0..n).filter(|i| candidate(*i).is_some()).count();
        if count == 0 {
            return None;
        }
        let nth = ((draw * count as f64) as usize).min(count - 1);
        return (0..n).filter(|i| candidate(*i).is_some()).nth(nth);
    }
    let mut target = draw * total;
    let mut last = None;
    for i in 0..n {
        let Some(c) = candidate(i) else { continue };
        let w = weight(&c);
        if w <= 0.0 {
            continue;
        }
        last = Some(i);
        if target < w {
            return Some(i);
        }
        target -= w;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(strategy: RoutingStrategy, cands: &[Option<Candidate>], draw: f64) -> Option<usize> {
        pick(strategy, cands.len(), |i| cands[i], draw)
    }

    fn weighted(w: f64) -> Option<Candidate> {
        Some(Candidate {
            weight: Some(w),
            ..Candidate::default()
        })
    }

    #[test]
    fn shuffle_follows_the_weights() {
        let cands = [weighted(1.0), weighted(3.0)];
        let mut hits = [0usize; 2];
        for k in 0..1000 {
            let draw = (k as f64 + 0.5) / 1000.0;
            hits[run(RoutingStrategy::SimpleShuffle, &cands, draw).unwrap()] += 1;
        }
        assert_eq!(hits, [250, 750]);
        // A candidate that may not be picked takes no share.
        let cands = [None, weighted(1.0)];
        assert_eq!(run(RoutingStrategy::SimpleShuffle, &cands, 0.01), Some(1));
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[None, None], 0.3),
            None
        );
    }

    #[test]
    fn shuffle_weighs_by_weight_then_rpm_then_tpm_else_uniformly() {
        let rpm = |r: u64| {
            Some(Candidate {
                rpm: Some(r),
                tpm: Some(1_000_000 - r),
                ..Candidate::default()
            })
        };
        // rpm 1 vs 9: the draw 0.5 lands on the second.
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[rpm(1), rpm(9)], 0.5),
            Some(1)
        );
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[rpm(1), rpm(9)], 0.05),
            Some(0)
        );
        // A weight anywhere wins over rpm, and a missing weight is 0.
        let cands = [rpm(9), weighted(1.0)];
        assert_eq!(run(RoutingStrategy::SimpleShuffle, &cands, 0.0), Some(1));
        assert_eq!(run(RoutingStrategy::SimpleShuffle, &cands, 0.99), Some(1));
        let plain = Some(Candidate::default());
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[plain, plain, plain], 0.5),
            Some(1)
        );
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[plain, plain, plain], 0.99),
            Some(2)
        );
        // All weights 0: uniform.
        let zero = weighted(0.0);
        assert_eq!(
            run(RoutingStrategy::SimpleShuffle, &[zero, zero], 0.75),
            Some(1)
        );
    }

    #[test]
    fn counter_strategies_take_the_lowest_and_the_first_of_equals() {
        let c = |in_flight, latency_us, tokens_this_minute| {
            Some(Candidate {
                in_flight,
                latency_us,
                tokens_this_minute,
                ..Candidate::default()
            })
        };
        let cands = [c(3, 900, 10), c(1, 500, 50), None, c(1, 100, 5)];
        assert_eq!(run(RoutingStrategy::LeastBusy, &cands, 0.9), Some(1));
        assert_eq!(run(RoutingStrategy::LatencyBased, &cands, 0.9), Some(3));
        assert_eq!(run(RoutingStrategy::UsageBased, &cands, 0.9), Some(3));
        // Never measured goes first.
        let cands = [c(0, 500, 0), c(0, 0, 0)];
        assert_eq!(run(RoutingStrategy::LatencyBased, &cands, 0.0), Some(1));
        assert_eq!(run(RoutingStrategy::LeastBusy, &[None, None], 0.0), None);
    }

    #[test]
    fn names_are_litellms() {
        for (name, s) in [
            ("simple-shuffle", RoutingStrategy::SimpleShuffle),
            ("least-busy", RoutingStrategy::LeastBusy),
            ("latency-based-routing", RoutingStrategy::LatencyBased),
            ("usage-based-routing-v2", RoutingStrategy::UsageBased),
            ("usage-based-routing", RoutingStrategy::UsageBased),
        ] {
            assert_eq!(RoutingStrategy::parse(name), Some(s));
        }
        assert_eq!(RoutingStrategy::parse("cost-based-routing"), None);
    }
}
