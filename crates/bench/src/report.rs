//! The results: every number in JSON, and a Markdown report with one table per workload, the
//! ratios to LiteLLM and to nginx, and the targets with a pass/fail mark.

use crate::load::{RunStats, percentile};
use anyhow::Result;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Direct,
    /// agent-shim as installed: the usage ledger on, in SQLite.
    AgentShim,
    /// agent-shim with the ledger off (`general_settings.disable_spend_logs: true`).
    AgentShimNoLedger,
    /// agent-shim with the ledger in PostgreSQL (`database_url`).
    AgentShimPg,
    LiteLlm,
    Nginx,
    /// claude-code-router (`ccr serve`), Anthropic→Chat workloads only.
    Ccr,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::AgentShim => "agent-shim",
            Target::AgentShimNoLedger => "agent-shim, ledger off",
            Target::AgentShimPg => "agent-shim, ledger in PostgreSQL",
            Target::LiteLlm => "LiteLLM",
            Target::Nginx => "nginx",
            Target::Ccr => "claude-code-router",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::AgentShim => "agent_shim",
            Target::AgentShimNoLedger => "agent_shim_no_ledger",
            Target::AgentShimPg => "agent_shim_pg",
            Target::LiteLlm => "litellm",
            Target::Nginx => "nginx",
            Target::Ccr => "ccr",
        }
    }
}

pub struct WorkloadInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub path: &'static str,
    pub bytes: usize,
    pub stream: bool,
}

pub struct Run {
    pub workload: usize,
    pub target: Target,
    pub concurrency: usize,
    pub stats: RunStats,
    /// Gateway CPU (utime + stime of its process tree) per request.
    pub cpu_ms_per_req: Option<f64>,
    /// The same from per-thread schedstat (live threads only; finer grained).
    pub cpu_ms_per_req_sched: Option<f64>,
    /// Peak RSS of the gateway's process tree during the run (VmHWM after a reset).
    pub peak_rss_mib: Option<f64>,
    pub upstream_cpu_ms_per_req: f64,
    /// claude-code-router: its CPU split at the end of the load (counted in `cpu_ms_per_req`).
    pub after_load: Option<crate::ccr::AfterLoad>,
}

pub struct Startup {
    pub shim_launches_ms: Vec<f64>,
    pub shim_first_ms: f64,
    pub shim_idle_rss_mib: Option<f64>,
    pub shim_rss_after_mib: Option<f64>,
    pub litellm_ms: Option<f64>,
    pub litellm_idle_rss_mib: Option<f64>,
    pub nginx_idle_rss_mib: Option<f64>,
    pub upstream_idle_rss_mib: Option<f64>,
}

pub struct HookTimes {
    pub env_ms: Vec<f64>,
    pub enter_ms: Vec<f64>,
}

pub struct OpenStreams {
    pub requested: usize,
    pub opened: usize,
    pub still_open: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub open_after_ms: f64,
    pub rss_before_mib: Option<f64>,
    pub rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub rss_after_close_mib: Option<f64>,
}

pub struct Results {
    pub name: String,
    pub command: String,
    pub versions: Value,
    pub settings: Value,
    pub workloads: Vec<WorkloadInfo>,
    pub runs: Vec<Run>,
    pub startup: Startup,
    pub hook: Option<HookTimes>,
    pub streams: Option<OpenStreams>,
    pub ccr: Option<crate::ccr::CcrInfo>,
    /// RSS after the loads ended, until it came back (crate::memory).
    pub memory: Vec<crate::memory::Return>,
    pub notes: Vec<String>,
}

impl Results {
    pub(crate) fn run(&self, w: usize, t: Target, c: usize) -> Option<&Run> {
        self.runs
            .iter()
            .find(|r| r.workload == w && r.target == t && r.concurrency == c)
    }

    pub(crate) fn concurrencies(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self.runs.iter().map(|r| r.concurrency).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// Target minus direct, same workload and concurrency.
    pub(crate) fn added(&self, r: &Run, f: fn(&RunStats) -> f64) -> Option<f64> {
        if r.target == Target::Direct {
            return None;
        }
        let d = self.run(r.workload, Target::Direct, r.concurrency)?;
        Some(f(&r.stats) - f(&d.stats))
    }

    pub(crate) fn workload_index(&self, id: &str) -> Option<usize> {
        self.workloads.iter().position(|w| w.id == id)
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn cmd_out(cmd: &mut Command) -> Option<String> {
    let o = cmd.output().ok()?;
    let s = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let s = s.trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// Versions of everything measured, and the machine.
pub fn versions(shim: &Path, litellm: Option<&Path>, nginx: Option<&Path>) -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let git = cmd_out(Command::new("git").args(["rev-parse", "--short", "HEAD"])).map(|h| {
        let dirty = cmd_out(Command::new("git").args(["status", "--porcelain"])).is_some();
        if dirty { format!("{h}-dirty") } else { h }
    });
    let litellm_version = litellm.and_then(|l| {
        cmd_out(Command::new(l.with_file_name("python")).args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ]))
    });
    json!({
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "agent_shim": cmd_out(Command::new(shim).arg("--version")),
        "git": git,
        "litellm": litellm_version,
        "nginx": nginx.and_then(|n| cmd_out(Command::new(n).arg("-v")))
            .map(|s| s.trim_start_matches("nginx version: ").to_string()),
    })
}

pub(crate) fn num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!((x * 1e4).round() / 1e4),
        _ => Value::Null,
    }
}

fn stats_of(v: &[f64]) -> Value {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    json!({
        "median": num(Some(percentile(&s, 50.0))),
        "p90": num(Some(percentile(&s, 90.0))),
        "min": num(s.first().copied()),
        "max": num(s.last().copied()),
        "samples": s.len(),
    })
}

pub(crate) fn med(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    (!s.is_empty()).then(|| percentile(&s, 50.0))
}

pub fn to_json(r: &Results) -> Value {
    let runs: Vec<Value> = r
        .runs
        .iter()
        .map(|x| {
            let s = &x.stats;
            json!({
                "workload": r.workloads[x.workload].id,
                "target": x.target.key(),
                "concurrency": x.concurrency,
                "requests": s.n,
                "errors": s.errors,
                "first_error": s.first_error,
                "elapsed_s": num(Some(s.elapsed_s)),
                "throughput_rps": num(Some(s.rps)),
                "p50_ms": num(Some(s.p50_ms)),
                "p99_ms": num(Some(s.p99_ms)),
                "mean_ms": num(Some(s.mean_ms)),
                "ttfb_p50_ms": num(Some(s.ttfb_p50_ms)),
                "ttfb_p99_ms": num(Some(s.ttfb_p99_ms)),
                "added_p50_ms": num(r.added(x, |s| s.p50_ms)),
                "added_p99_ms": num(r.added(x, |s| s.p99_ms)),
                "added_ttfb_p50_ms": num(r.added(x, |s| s.ttfb_p50_ms)),
                "response_bytes": s.resp_bytes,
                "gateway_cpu_ms_per_req": num(x.cpu_ms_per_req),
                "gateway_cpu_ms_per_req_schedstat": num(x.cpu_ms_per_req_sched),
                "gateway_peak_rss_mib": num(x.peak_rss_mib),
                "upstream_cpu_ms_per_req": num(Some(x.upstream_cpu_ms_per_req)),
                "after_load": x.after_load.map(|a| a.json(s.n)),
            })
        })
        .collect();
    let s = &r.startup;
    json!({
        "name": r.name,
        "command": r.command,
        "versions": r.versions,
        "settings": r.settings,
        "workloads": r.workloads.iter().map(|w| json!({
            "id": w.id, "title": w.title, "path": w.path, "request_bytes": w.bytes, "stream": w.stream,
        })).collect::<Vec<_>>(),
        "runs": runs,
        "startup": {
            "agent_shim_time_to_healthy_ms": stats_of(&s.shim_launches_ms),
            "agent_shim_launches_ms": s.shim_launches_ms.iter().map(|v| num(Some(*v))).collect::<Vec<_>>(),
            "agent_shim_first_launch_ms": num(Some(s.shim_first_ms)),
            "agent_shim_idle_rss_mib": num(s.shim_idle_rss_mib),
            "agent_shim_rss_after_workloads_mib": num(s.shim_rss_after_mib),
            "litellm_time_to_healthy_ms": num(s.litellm_ms),
            "litellm_idle_rss_mib": num(s.litellm_idle_rss_mib),
            "nginx_idle_rss_mib": num(s.nginx_idle_rss_mib),
            "upstream_idle_rss_mib": num(s.upstream_idle_rss_mib),
        },
        "hook_path": r.hook.as_ref().map(|h| json!({
            "env_export_ms": stats_of(&h.env_ms),
            "enter_entered_token_ms": stats_of(&h.enter_ms),
        })),
        "open_streams": r.streams.as_ref().map(|o| json!({
            "requested": o.requested, "opened": o.opened, "still_open_when_measured": o.still_open,
            "errors": o.errors, "first_error": o.first_error,
            "all_open_after_ms": num(Some(o.open_after_ms)),
            "rss_before_mib": num(o.rss_before_mib), "rss_mib": num(o.rss_mib),
            "peak_rss_mib": num(o.peak_rss_mib), "rss_after_close_mib": num(o.rss_after_close_mib),
        })),
        "memory_comes_back": crate::memory::to_json(r),
        "targets": crate::targets::goals(r).iter().map(|g| json!({
            "target": g.name, "goal": g.goal, "measured": num(g.measured), "unit": g.unit, "pass": g.pass,
        })).collect::<Vec<_>>(),
        "claude_code_router": crate::ccr::to_json(r),
        "notes": r.notes,
    })
}

pub(crate) fn f(v: Option<f64>, d: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.d$}"),
        _ => "–".into(),
    }
}

pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && b.abs() > 1e-9 => {
            let r = a / b;
            if r >= 100.0 {
                format!("{r:.0}×")
            } else if r >= 10.0 {
                format!("{r:.1}×")
            } else {
                format!("{r:.2}×")
            }
        }
        _ => "–".into(),
    }
}

pub fn markdown(r: &Results) -> String {
    let mut m = String::new();
    let v = &r.versions;
    let s = |k: &str| v[k].as_str().unwrap_or("–").to_string();
    let _ = writeln!(m, "# agent-shim benchmark — {}\n", r.name);
    let _ = writeln!(
        m,
        "Machine: {} ({} CPUs), Linux {}. agent-shim: {} (git {}). LiteLLM: {}. nginx: {}.  ",
        s("cpu"),
        v["cpus"],
        s("kernel"),
        s("agent_shim"),
        s("git"),
        s("litellm"),
        s("nginx")
    );
    let _ = writeln!(m, "Command: `{}`  ", r.command);
    let _ = writeln!(
        m,
        "Upstream: fake-provider (Rust, recording off). Client: one HTTP/1.1 keep-alive client, \
         `c` tasks. Settings: `{}`\n",
        r.settings
    );
    for n in &r.notes {
        let _ = writeln!(m, "> {n}\n");
    }

    let _ = writeln!(m, "## Targets\n");
    let _ = writeln!(
        m,
        "| target | goal | measured | result |\n| --- | --- | --- | --- |"
    );
    for g in crate::targets::goals(r) {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} |",
            g.name,
            g.goal,
            g.measured
                .filter(|x| x.is_finite())
                .map_or("–".into(), |x| format!("{} {}", f(Some(x), 2), g.unit)),
            match g.pass {
                Some(true) => "✅ pass",
                Some(false) => "❌ miss",
                None => "n/a",
            }
        );
    }

    if let Some(w5) = r.workload_index("W5") {
        let ttfb = |t: Target| r.run(w5, t, 1).and_then(|x| r.added(x, |s| s.ttfb_p50_ms));
        if let (Some(a), Some(n)) = (ttfb(Target::AgentShim), ttfb(Target::Nginx)) {
            let _ = writeln!(
                m,
                "\nFor scale: passing W3's conversation through unchanged (W5, c=1), nginx adds \
                 {} ms to the first byte and agent-shim {} ms.",
                f(Some(n), 2),
                f(Some(a), 2)
            );
        }
    }

    let high = r.concurrencies().into_iter().max().unwrap_or(1);
    for (wi, w) in r.workloads.iter().enumerate() {
        let _ = writeln!(
            m,
            "\n## {} — {}\n\nRequest: {} bytes to `{}`{}.\n",
            w.id,
            w.title,
            w.bytes,
            w.path,
            if w.stream {
                "; p50/p99 are the time to the last byte, TTFB the time to the first body byte"
            } else {
                ""
            }
        );
        let _ = writeln!(
            m,
            "| target | c | n | p50 ms | p99 ms | added p50 ms | added p99 ms | TTFB p50 ms | added TTFB p50 ms | req/s | CPU ms/req | peak RSS MiB | upstream CPU ms/req |"
        );
        let _ = writeln!(
            m,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for c in r.concurrencies() {
            for t in [
                Target::Direct,
                Target::AgentShim,
                Target::AgentShimNoLedger,
                Target::AgentShimPg,
                Target::LiteLlm,
                Target::Nginx,
                Target::Ccr,
            ] {
                let Some(x) = r.run(wi, t, c) else { continue };
                let st = &x.stats;
                let _ = writeln!(
                    m,
                    "| {}{} | {c} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    t.label(),
                    if st.errors > 0 {
                        format!(" ({} errors)", st.errors)
                    } else {
                        String::new()
                    },
                    st.n,
                    f(Some(st.p50_ms), 3),
                    f(Some(st.p99_ms), 3),
                    f(r.added(x, |s| s.p50_ms), 3),
                    f(r.added(x, |s| s.p99_ms), 3),
                    if w.stream {
                        f(Some(st.ttfb_p50_ms), 3)
                    } else {
                        "–".into()
                    },
                    if w.stream {
                        f(r.added(x, |s| s.ttfb_p50_ms), 3)
                    } else {
                        "–".into()
                    },
                    f(Some(st.rps), 0),
                    f(x.cpu_ms_per_req, 4),
                    f(x.peak_rss_mib, 1),
                    f(Some(x.upstream_cpu_ms_per_req), 4),
                );
            }
        }
    }

    crate::ledger_cost::markdown(r, &mut m);
    crate::ccr::markdown(r, &mut m);
    crate::memory::markdown(r, &mut m);

    let _ = writeln!(m, "\n## Ratios\n");
    let _ = writeln!(
        m,
        "Throughput at c={high} (higher is better for agent-shim), gateway CPU per request at c=1 and \
         added p50 at c=1 (the other gateway ÷ agent-shim: higher is better for agent-shim).\n"
    );
    let _ = writeln!(
        m,
        "| workload | req/s agent-shim ÷ LiteLLM | CPU/req LiteLLM ÷ agent-shim | added p50 LiteLLM ÷ agent-shim | req/s agent-shim ÷ nginx | CPU/req nginx ÷ agent-shim | added p50 nginx ÷ agent-shim |"
    );
    let _ = writeln!(m, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (wi, w) in r.workloads.iter().enumerate() {
        let rps = |t| r.run(wi, t, high).map(|x| x.stats.rps);
        let cpu = |t| r.run(wi, t, 1).and_then(|x| x.cpu_ms_per_req);
        let add = |t| {
            r.run(wi, t, 1)
                .and_then(|x| r.added(x, |s| s.p50_ms))
                .filter(|v| *v > 0.001)
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            w.id,
            ratio(rps(Target::AgentShim), rps(Target::LiteLlm)),
            ratio(cpu(Target::LiteLlm), cpu(Target::AgentShim)),
            ratio(add(Target::LiteLlm), add(Target::AgentShim)),
            ratio(rps(Target::AgentShim), rps(Target::Nginx)),
            ratio(cpu(Target::Nginx), cpu(Target::AgentShim)),
            ratio(add(Target::Nginx), add(Target::AgentShim)),
        );
    }

    let st = &r.startup;
    let _ = writeln!(m, "\n## Startup, memory, hook path\n");
    let _ = writeln!(
        m,
        "| measure | agent-shim | LiteLLM | nginx |\n| --- | ---: | ---: | ---: |"
    );
    let mut launches = st.shim_launches_ms.clone();
    launches.sort_by(f64::total_cmp);
    let _ = writeln!(
        m,
        "| time from launch to a healthy /health, ms | {} (median of {}; min {}, max {}) | {} | – |",
        f(med(&launches), 1),
        launches.len(),
        f(launches.first().copied(), 1),
        f(launches.last().copied(), 1),
        f(st.litellm_ms, 0)
    );
    let _ = writeln!(
        m,
        "| idle RSS, MiB | {} | {} | {} |",
        f(st.shim_idle_rss_mib, 1),
        f(st.litellm_idle_rss_mib, 1),
        f(st.nginx_idle_rss_mib, 1)
    );
    let _ = writeln!(
        m,
        "| RSS after all workloads, MiB | {} | – | – |",
        f(st.shim_rss_after_mib, 1)
    );
    if let Some(o) = &r.streams {
        let _ = writeln!(
            m,
            "| RSS with {} open streams (of {} requested; {} failed), MiB | {} (peak {}; {} before, {} after they closed) | – | – |",
            o.opened,
            o.requested,
            o.errors,
            f(o.rss_mib, 1),
            f(o.peak_rss_mib, 1),
            f(o.rss_before_mib, 1),
            f(o.rss_after_close_mib, 1)
        );
    }
    if let Some(h) = &r.hook {
        let _ = writeln!(
            m,
            "| `agent-shim env <p> --export`, median wall ms ({} runs) | {} | – | – |",
            h.env_ms.len(),
            f(med(&h.env_ms), 2)
        );
        let _ = writeln!(
            m,
            "| `agent-shim enter` (token already entered), median wall ms ({} runs) | {} | – | – |",
            h.enter_ms.len(),
            f(med(&h.enter_ms), 2)
        );
    }
    let _ = writeln!(
        m,
        "\nDefinitions: see bench/README.md. *added* = the gateway's percentile minus the direct \
         run's (same workload, same concurrency; direct sends the same request to the fake \
         upstream's native endpoint for that protocol). *CPU ms/req* = utime+stime of the \
         gateway's process tree (/proc/<pid>/stat) over the measured run ÷ requests. *peak RSS* = \
         VmHWM of the gateway's process tree during the run (reset before it). *upstream CPU* = the \
         same for the fake upstream: the client, the gateway and the upstream share the machine's \
         CPUs, so throughput is bounded by all three."
    );
    m
}

/// Writes `<out>/<name>.md` and `<out>/<name>.json`.
pub fn write(r: &Results, out: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out)?;
    let md = out.join(format!("{}.md", r.name));
    let js = out.join(format!("{}.json", r.name));
    std::fs::write(&md, markdown(r))?;
    std::fs::write(&js, serde_json::to_string_pretty(&to_json(r))? + "\n")?;
    Ok((md, js))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(today().len(), 10);
    }

    #[test]
    fn report_renders_with_missing_parts() {
        let stats = |p50| RunStats {
            n: 10,
            p50_ms: p50,
            p99_ms: p50 * 2.0,
            ttfb_p50_ms: p50 / 2.0,
            rps: 1000.0 / p50,
            ..RunStats::default()
        };
        let run = |target, p50| Run {
            workload: 0,
            target,
            concurrency: 1,
            stats: stats(p50),
            cpu_ms_per_req: Some(0.05),
            cpu_ms_per_req_sched: None,
            peak_rss_mib: Some(10.0),
            upstream_cpu_ms_per_req: 0.02,
            after_load: None,
        };
        let r = Results {
            name: "test".into(),
            command: "agent-shim-bench run".into(),
            versions: json!({}),
            settings: json!({}),
            workloads: vec![WorkloadInfo {
                id: "W1",
                title: "t",
                path: "/v1/chat/completions",
                bytes: 100,
                stream: false,
            }],
            runs: vec![run(Target::Direct, 0.1), run(Target::AgentShim, 0.2)],
            startup: Startup {
                shim_launches_ms: vec![5.0, 6.0, 7.0],
                shim_first_ms: 8.0,
                shim_idle_rss_mib: Some(9.0),
                shim_rss_after_mib: None,
                litellm_ms: None,
                litellm_idle_rss_mib: None,
                nginx_idle_rss_mib: None,
                upstream_idle_rss_mib: None,
            },
            hook: None,
            streams: None,
            ccr: None,
            memory: vec![],
            notes: vec![],
        };
        let md = markdown(&r);
        assert!(
            md.contains("| agent-shim | 1 | 10 | 0.200 | 0.400 | 0.100 |"),
            "{md}"
        );
        assert!(md.contains("6.0 (median of 3"), "{md}");
        let js = to_json(&r);
        assert_eq!(js["runs"][1]["added_p50_ms"], json!(0.1));
        assert_eq!(js["targets"][0]["pass"], json!(true));
    }
}
