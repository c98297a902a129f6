//! Memory that comes back (issue 13): once a load ends, agent-shim's RSS is sampled every second
//! until it is within [`FACTOR`]× its idle RSS or [`LIMIT`] has passed — after W3 at the highest
//! concurrency and after the open streams — with its report section, JSON and target row.

use crate::procfs;
use crate::report::{Results, f};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How long after a load ends the RSS may take to come back.
pub const LIMIT: Duration = Duration::from_secs(30);
/// "Come back" means within this many times the idle RSS.
pub const FACTOR: f64 = 2.0;
/// Time between samples.
const EVERY: Duration = Duration::from_secs(1);

/// The RSS of agent-shim's process tree after one load ended.
#[derive(Debug, Clone)]
pub struct Return {
    /// The load that ended ("W3 c=64", "1000 open streams").
    pub after: String,
    /// Idle RSS (before any request), the baseline.
    pub idle_mib: Option<f64>,
    /// (seconds since the load ended, RSS MiB), the first taken at once.
    pub samples: Vec<(f64, f64)>,
    /// Seconds until the first sample within [`FACTOR`]× idle (none: not within [`LIMIT`]).
    pub back_after_s: Option<f64>,
}

impl Return {
    /// RSS when the load ended.
    pub fn at_end_mib(&self) -> Option<f64> {
        self.samples.first().map(|s| s.1)
    }

    /// RSS at `secs` after the load ended (the last sample taken by then).
    pub fn at_mib(&self, secs: f64) -> Option<f64> {
        self.samples
            .iter()
            .take_while(|s| s.0 <= secs + 0.5)
            .last()
            .map(|s| s.1)
    }

    /// The last sample: the first one within [`FACTOR`]× idle, or the one at [`LIMIT`].
    pub fn last_mib(&self) -> Option<f64> {
        self.samples.last().map(|s| s.1)
    }

    /// The last sample ÷ idle RSS.
    pub fn ratio(&self) -> Option<f64> {
        let idle = self.idle_mib.filter(|v| *v > 0.0)?;
        Some(self.last_mib()? / idle)
    }
}

/// Samples the RSS of `root`'s process tree now and then every second, until it is within
/// [`FACTOR`]× `idle_mib` or [`LIMIT`] has passed.
pub async fn settle(after: String, root: u32, idle_mib: Option<f64>) -> Return {
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let mut back_after_s = None;
    let mut k = 0u32;
    loop {
        let t = t0.elapsed().as_secs_f64();
        let Some(rss) = procfs::sum_mib(&procfs::tree(root), "VmRSS") else {
            break;
        };
        samples.push((t, rss));
        if idle_mib.is_some_and(|idle| rss <= FACTOR * idle) {
            back_after_s = Some(t);
            break;
        }
        k += 1;
        let next = EVERY * k;
        if next > LIMIT {
            break;
        }
        tokio::time::sleep_until((t0 + next).into()).await;
    }
    let r = Return {
        after,
        idle_mib,
        samples,
        back_after_s,
    };
    eprintln!(
        "memory after {}: {} MiB at the end, {} MiB {} (idle {} MiB)",
        r.after,
        f(r.at_end_mib(), 1),
        f(r.last_mib(), 1),
        match r.back_after_s {
            Some(s) => format!("after {s:.1} s (within {FACTOR}× idle)"),
            None => format!("after {} s (not within {FACTOR}× idle)", LIMIT.as_secs()),
        },
        f(idle_mib, 1)
    );
    r
}

/// The target row: the worst (last sample ÷ idle) over the loads measured, and whether every one
/// came back within [`LIMIT`]. `None` when nothing was measured.
pub fn goal(r: &Results) -> Option<(String, Option<f64>)> {
    if r.memory.is_empty() {
        return None;
    }
    let name = format!(
        "agent-shim memory comes back within {} s (RSS ÷ idle; worst of: after {})",
        LIMIT.as_secs(),
        r.memory
            .iter()
            .map(|m| m.after.as_str())
            .collect::<Vec<_>>()
            .join(", after ")
    );
    let worst = r
        .memory
        .iter()
        .map(Return::ratio)
        .try_fold(0.0f64, |w, x| x.map(|x| w.max(x)));
    Some((name, worst))
}

/// The report's section (nothing when nothing was measured).
pub fn markdown(r: &Results, m: &mut String) {
    if r.memory.is_empty() {
        return;
    }
    let _ = writeln!(m, "\n## Memory comes back\n");
    let _ = writeln!(
        m,
        "agent-shim's RSS (VmRSS of its process tree) when a load ends, then every second until it \
         is within {FACTOR}× the idle RSS or {} s have passed.\n",
        LIMIT.as_secs()
    );
    let _ = writeln!(
        m,
        "| after | idle MiB | at the end MiB | after 5 s MiB | last sample MiB | within {FACTOR}× idle after |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for x in &r.memory {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            x.after,
            f(x.idle_mib, 1),
            f(x.at_end_mib(), 1),
            f(x.at_mib(5.0), 1),
            f(x.last_mib(), 1),
            x.back_after_s.map_or_else(
                || format!("not within {} s", LIMIT.as_secs()),
                |s| format!("{s:.1} s")
            ),
        );
    }
}

/// Every sample, for the JSON.
pub fn to_json(r: &Results) -> Value {
    r.memory
        .iter()
        .map(|x| {
            json!({
                "after": x.after,
                "idle_rss_mib": x.idle_mib,
                "rss_at_end_mib": x.at_end_mib(),
                "back_within_factor_after_s": x.back_after_s,
                "factor": FACTOR,
                "limit_s": LIMIT.as_secs(),
                "samples_s_mib": x.samples.iter().map(|s| [
                    (s.0 * 100.0).round() / 100.0,
                    (s.1 * 100.0).round() / 100.0,
                ]).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(idle: f64, samples: &[(f64, f64)], back: Option<f64>) -> Return {
        Return {
            after: "W3 c=64".into(),
            idle_mib: Some(idle),
            samples: samples.to_vec(),
            back_after_s: back,
        }
    }

    #[test]
    fn samples_read_back() {
        let r = ret(
            10.0,
            &[(0.0, 60.0), (1.0, 40.0), (2.0, 30.0), (3.0, 19.0)],
            Some(3.0),
        );
        assert_eq!(r.at_end_mib(), Some(60.0));
        assert_eq!(r.at_mib(1.0), Some(40.0));
        assert_eq!(r.at_mib(5.0), Some(19.0));
        assert_eq!(r.last_mib(), Some(19.0));
        assert_eq!(r.ratio(), Some(1.9));
        let none = Return {
            idle_mib: None,
            ..r.clone()
        };
        assert_eq!(none.ratio(), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn settle_stops_once_back() {
        // This process is well within twice a huge "idle" RSS: one sample, back at once.
        let r = settle("test".into(), std::process::id(), Some(1e9)).await;
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.back_after_s, Some(r.samples[0].0));
        // A process that is gone: no samples, never back.
        let gone = settle("gone".into(), u32::MAX, Some(1.0)).await;
        assert!(gone.samples.is_empty());
        assert_eq!(gone.back_after_s, None);
    }
}
