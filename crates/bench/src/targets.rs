//! The targets table: each goal of the performance issues with what the run measured and
//! pass/fail (`report::markdown`'s first table and the JSON's `targets`).

use crate::load::RunStats;
use crate::report::{Results, Target, med};

/// One goal from the issue, with what was measured.
pub(crate) struct Goal {
    pub(crate) name: String,
    pub(crate) goal: String,
    pub(crate) measured: Option<f64>,
    pub(crate) unit: &'static str,
    pub(crate) pass: Option<bool>,
}

pub(crate) fn goals(r: &Results) -> Vec<Goal> {
    let mut g = Vec::new();
    let mut add =
        |name: &str, goal: &str, measured: Option<f64>, unit, ok: &dyn Fn(f64) -> bool| {
            g.push(Goal {
                name: name.into(),
                goal: goal.into(),
                measured,
                unit,
                pass: measured.filter(|v| v.is_finite()).map(ok),
            })
        };
    let s = &r.startup;
    add(
        "agent-shim time to healthy (median of launches)",
        "≤ 20 ms",
        med(&s.shim_launches_ms),
        "ms",
        &|v| v <= 20.0,
    );
    add(
        "agent-shim idle RSS",
        "≤ 15 MiB",
        s.shim_idle_rss_mib,
        "MiB",
        &|v| v <= 15.0,
    );
    if let Some(st) = &r.streams {
        add(
            &format!("agent-shim RSS with {} open streams", st.opened),
            "≤ 100 MiB",
            st.rss_mib.filter(|_| st.opened == st.requested),
            "MiB",
            &|v| v <= 100.0,
        );
    }
    if let Some((name, worst)) = crate::memory::goal(r) {
        let goal = format!(
            "≤ {}× idle within {} s",
            crate::memory::FACTOR,
            crate::memory::LIMIT.as_secs()
        );
        add(&name, &goal, worst, "× idle", &|v| {
            v <= crate::memory::FACTOR
        });
    }
    let w1 = r.workload_index("W1");
    let added_p50 = |w: Option<usize>, f: fn(&RunStats) -> f64| {
        w.and_then(|w| r.run(w, Target::AgentShim, 1))
            .and_then(|x| r.added(x, f))
    };
    add(
        "W1 added p50, c=1",
        "≤ 0.2 ms",
        added_p50(w1, |s| s.p50_ms),
        "ms",
        &|v| v <= 0.2,
    );
    let cpu_ratio = w1.and_then(|w| {
        let a = r.run(w, Target::AgentShim, 1)?.cpu_ms_per_req?;
        let n = r.run(w, Target::Nginx, 1)?.cpu_ms_per_req?;
        (n > 0.0).then(|| a / n)
    });
    add(
        "W1 gateway CPU per request ÷ nginx's, c=1",
        "≤ 1.5×",
        cpu_ratio,
        "×",
        &|v| v <= 1.5,
    );
    add(
        "W2 added p50, c=1",
        "≤ 0.5 ms",
        added_p50(r.workload_index("W2"), |s| s.p50_ms),
        "ms",
        &|v| v <= 0.5,
    );
    add(
        "W3 added time to first byte (p50), c=1",
        "≤ 0.3 ms",
        added_p50(r.workload_index("W3"), |s| s.ttfb_p50_ms),
        "ms",
        &|v| v <= 0.3,
    );
    let high = r.concurrencies().into_iter().max().unwrap_or(1);
    // Issue 13's stream and request CPU targets, at c=1 and at the highest concurrency.
    let cpu = |w: Option<usize>, t: Target, c: usize| {
        w.and_then(|w| r.run(w, t, c))
            .and_then(|x| x.cpu_ms_per_req)
    };
    let vs_nginx = |w: Option<usize>, c: usize| {
        let (a, n) = (cpu(w, Target::AgentShim, c)?, cpu(w, Target::Nginx, c)?);
        (n > 0.0).then(|| a / n)
    };
    let w5 = r.workload_index("W5");
    let w3 = r.workload_index("W3");
    let mut levels = vec![1];
    if high > 1 {
        levels.push(high);
        add(
            &format!("W1 gateway CPU per request ÷ nginx's, c={high}"),
            "≤ 1.5×",
            vs_nginx(w1, high),
            "×",
            &|v| v <= 1.5,
        );
    }
    for c in levels {
        add(
            &format!("W5 gateway CPU per stream ÷ nginx's, c={c}"),
            "≤ 1.2×",
            vs_nginx(w5, c),
            "×",
            &|v| v <= 1.2,
        );
        add(
            &format!("W3 gateway CPU per stream, c={c}"),
            "≤ 1.2 ms",
            cpu(w3, Target::AgentShim, c),
            "ms",
            &|v| v <= 1.2,
        );
    }
    for (wi, w) in r.workloads.iter().enumerate() {
        let ratio = (|| {
            let a = r.run(wi, Target::AgentShim, high)?.stats.rps;
            let l = r.run(wi, Target::LiteLlm, high)?.stats.rps;
            (l > 0.0).then(|| a / l)
        })();
        add(
            &format!("{} throughput ÷ LiteLLM's, c={high}", w.id),
            "≥ 50×",
            ratio,
            "×",
            &|v| v >= 50.0,
        );
    }
    if let Some(h) = &r.hook {
        add(
            "hook path: `agent-shim env <p> --export` (median wall)",
            "≤ 3 ms",
            med(&h.env_ms),
            "ms",
            &|v| v <= 3.0,
        );
        add(
            "hook path: `agent-shim enter` for an entered token (median wall)",
            "≤ 3 ms",
            med(&h.enter_ms),
            "ms",
            &|v| v <= 3.0,
        );
    }
    g
}
