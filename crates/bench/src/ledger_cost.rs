//! The usage ledger's cost on the hot path: W1 and W3 through agent-shim with the ledger off, on
//! in SQLite (the default) and in PostgreSQL, side by side from the same run.

use crate::report::{Results, Target, f};
use std::fmt::Write as _;

const ROWS: [(Target, &str); 3] = [
    (Target::AgentShimNoLedger, "off"),
    (Target::AgentShim, "SQLite"),
    (Target::AgentShimPg, "PostgreSQL"),
];

/// Appends the section (nothing when the run has no ledger-off rows).
pub fn markdown(r: &Results, m: &mut String) {
    let ids = ["W1", "W3"];
    let has = ids.iter().filter_map(|id| r.workload_index(id)).any(|w| {
        r.concurrencies()
            .iter()
            .any(|&c| r.run(w, Target::AgentShimNoLedger, c).is_some())
    });
    if !has {
        return;
    }
    let _ = writeln!(m, "\n## The usage ledger's cost\n");
    let _ = writeln!(
        m,
        "The same gateway with the ledger off (`disable_spend_logs: true`), on in SQLite (the \
         default) and in PostgreSQL (`database_url`). Added = minus the direct run; for W3, the \
         added time to first byte.\n"
    );
    let _ = writeln!(
        m,
        "| workload | c | ledger | CPU ms/req | added p50 ms | added TTFB p50 ms | req/s | peak RSS MiB |"
    );
    let _ = writeln!(m, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for id in ids {
        let Some(w) = r.workload_index(id) else {
            continue;
        };
        let stream = r.workloads[w].stream;
        for c in r.concurrencies() {
            for (t, name) in ROWS {
                let Some(x) = r.run(w, t, c) else { continue };
                let _ = writeln!(
                    m,
                    "| {id} | {c} | {name} | {} | {} | {} | {} | {} |",
                    f(x.cpu_ms_per_req, 4),
                    f(r.added(x, |s| s.p50_ms), 3),
                    if stream {
                        f(r.added(x, |s| s.ttfb_p50_ms), 3)
                    } else {
                        "–".into()
                    },
                    f(Some(x.stats.rps), 0),
                    f(x.peak_rss_mib, 1),
                );
            }
        }
    }
}
