//! claude-code-router (npm `@musistudio/claude-code-router`, installed by bench/install-ccr.sh)
//! as a peer target in the Anthropic→Chat workloads: its headless start (`ccr serve --no-open`,
//! HOME in the work directory, a legacy `~/.claude-code-router/config.json` with the fake upstream
//! as an OpenAI-compatible provider, imported on first start), the CPU it spends after a load has
//! ended (it spools every request to disk and works through the spool afterwards, so its process
//! tree is sampled until it is idle and that CPU is counted), and its part of the report.

use crate::report::{Results, Run, Target, f, num, ratio};
use crate::services::{Service, free_port};
use crate::{home, ms, procfs};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The version bench/install-ccr.sh installs.
pub const CCR_VERSION: &str = "3.1.1";
/// The client key the generated config gives it (its legacy `APIKEY`).
pub const CCR_KEY: &str = "sk-bench-ccr-0123456789";
/// Its process tree counts as idle once it spends less than this much CPU in [`IDLE_WINDOW`].
const IDLE_CPU_MS: f64 = 15.0;
const IDLE_WINDOW: Duration = Duration::from_millis(500);
/// The longest wait for it to become idle after a run (the CPU up to then is counted).
const IDLE_CAP: Duration = Duration::from_secs(60);

/// Where bench/run.sh installs it (`~/.cache/agent-shim-bench/ccr-<version>`).
pub fn default_bin() -> PathBuf {
    home().join(format!(
        ".cache/agent-shim-bench/ccr-{CCR_VERSION}/node_modules/.bin/ccr"
    ))
}

/// A running claude-code-router: its gateway's port is the service's port.
pub struct Ccr {
    pub svc: Service,
    pub info: CcrInfo,
}

/// What the report says about it besides the runs.
#[derive(Clone, Debug, Default)]
pub struct CcrInfo {
    pub version: Option<String>,
    /// `node --version`.
    pub node: Option<String>,
    /// From launch to a 200 from the gateway's `/health` (the first start imports the config).
    pub ready_ms: f64,
    /// VmRSS of the whole tree (management process and gateway) 2 s after healthy.
    pub idle_rss_mib: Option<f64>,
    pub rss_after_mib: Option<f64>,
}

/// Writes the legacy config it imports on first start: the fake upstream's Chat Completions
/// endpoint as provider `fake` with models `fake` and `fake-slow`, the default route to it, its
/// gateway on `port` (the management UI takes its own `--port`), one client key.
fn write_config(home: &Path, port: u16, upstream: u16) -> Result<PathBuf> {
    let dir = home.join(".claude-code-router");
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let p = dir.join("config.json");
    let cfg = json!({
        "HOST": "127.0.0.1",
        "PORT": port,
        "APIKEY": CCR_KEY,
        "LOG": false,
        "Providers": [{
            "name": "fake",
            "api_base_url": format!("http://127.0.0.1:{upstream}/v1/chat/completions"),
            "api_key": "x",
            "models": ["fake", "fake-slow"],
        }],
        "Router": {"default": "fake,fake"},
    });
    std::fs::write(&p, serde_json::to_vec_pretty(&cfg)?)?;
    Ok(p)
}

/// Starts `ccr serve --no-open` with HOME in `<work>/ccr-home` (it rewrites `~/.claude` and
/// `~/.codex` there) and waits until its gateway is healthy and then idle.
pub async fn start(bin: &Path, work: &Path, logs: &Path, upstream: u16) -> Result<Ccr> {
    if !bin.is_file() {
        bail!(
            "claude-code-router not found at {}; run bench/run.sh (it installs it with \
             bench/install-ccr.sh), pass --ccr PATH, or --no-ccr",
            bin.display()
        );
    }
    let home = work.join("ccr-home");
    let port = free_port()?;
    write_config(&home, port, upstream)?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--no-open", "--host", "127.0.0.1", "--port"])
        .arg(free_port()?.to_string())
        .current_dir(work)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"));
    for v in [
        "CCR_INTERNAL_HOME_DIR",
        "CCR_INTERNAL_APP_DATA_DIR",
        "CCR_INTERNAL_USER_DATA_DIR",
        "CCR_WEB_HOST",
        "CCR_WEB_PORT",
    ] {
        cmd.env_remove(v);
    }
    let mut svc = Service::spawn("claude-code-router", port, &mut cmd, logs)?;
    eprintln!("starting claude-code-router (takes seconds)…");
    let t = svc.wait_healthy(
        "/health",
        Duration::from_millis(5),
        Duration::from_secs(180),
    )?;
    // Its start-up work (config import, profile files) finishes before the first run.
    wait_idle(svc.pid()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let info = CcrInfo {
        version: version(bin),
        node: Command::new("node")
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        ready_ms: ms(t),
        idle_rss_mib: procfs::sum_mib(&procfs::tree(svc.pid()), "VmRSS"),
        rss_after_mib: None,
    };
    eprintln!(
        "claude-code-router {} healthy after {:.0} ms, idle RSS {:.0} MiB",
        info.version.as_deref().unwrap_or("?"),
        info.ready_ms,
        info.idle_rss_mib.unwrap_or(f64::NAN)
    );
    Ok(Ccr { svc, info })
}

/// The `version` of the package the `ccr` executable belongs to
/// (`node_modules/.bin/ccr` → `<package>/dist/main/cli.js`).
fn version(bin: &Path) -> Option<String> {
    let cli = std::fs::canonicalize(bin).ok()?;
    let pkg = cli.parent()?.parent()?.parent()?.join("package.json");
    let v: Value = serde_json::from_slice(&std::fs::read(pkg).ok()?).ok()?;
    v["version"].as_str().map(str::to_owned)
}

/// CPU clock ticks of a process tree, per process, with the children each has reaped
/// (`utime + stime + cutime + cstime`): a helper process that exits between two marks is still
/// counted, in its parent.
pub struct TreeCpu {
    ticks: HashMap<u32, u64>,
}

impl TreeCpu {
    pub fn take(root: u32) -> TreeCpu {
        let ticks = procfs::tree(root)
            .into_iter()
            .filter_map(|p| {
                let f = procfs::stat_fields(p)?;
                // utime, stime, cutime, cstime: fields 14–17, indexes 11–14 here.
                let t = (11..=14)
                    .map(|i| f.get(i)?.parse::<u64>().ok())
                    .sum::<Option<u64>>()?;
                Some((p, t))
            })
            .collect();
        TreeCpu { ticks }
    }

    /// Ticks from this mark to `later`: what each process alive at `later` spent since this mark
    /// (all of it for a process started since), less what processes gone since had spent before
    /// this mark (their whole time is in their parent's reaped-children time now).
    pub fn ticks_to(&self, later: &TreeCpu) -> u64 {
        let grown: i64 = later
            .ticks
            .iter()
            .map(|(p, &t)| t as i64 - self.ticks.get(p).map_or(0, |&b| b as i64))
            .sum();
        let gone: i64 = self
            .ticks
            .iter()
            .filter(|(p, _)| !later.ticks.contains_key(p))
            .map(|(_, &t)| t as i64)
            .sum();
        (grown - gone).max(0) as u64
    }
}

fn ticks_ms(ticks: u64, tck: u64) -> f64 {
    ticks as f64 * 1000.0 / tck as f64
}

/// Samples the tree every [`IDLE_WINDOW`] until it spends less than [`IDLE_CPU_MS`] in one
/// window, or [`IDLE_CAP`] has passed: (how long that took, whether the cap cut it short).
pub async fn wait_idle(root: u32) -> (Duration, bool) {
    let tck = procfs::clk_tck();
    let t0 = Instant::now();
    let mut prev = TreeCpu::take(root);
    loop {
        tokio::time::sleep(IDLE_WINDOW).await;
        let now = TreeCpu::take(root);
        if ticks_ms(prev.ticks_to(&now), tck) < IDLE_CPU_MS {
            return (t0.elapsed(), false);
        }
        if t0.elapsed() >= IDLE_CAP {
            return (t0.elapsed(), true);
        }
        prev = now;
    }
}

/// The CPU of a run split at the end of the load: what it spent while requests were being
/// answered, and what it spent afterwards until idle.
#[derive(Clone, Copy, Debug)]
pub struct AfterLoad {
    pub load_cpu_ms: f64,
    pub tail_cpu_ms: f64,
    /// From the last answer to idle.
    pub settle_ms: f64,
    /// The wait hit [`IDLE_CAP`]: the tail is a lower bound.
    pub capped: bool,
}

impl AfterLoad {
    /// Called when the load has ended: the CPU since `start`, then waits for idle.
    pub async fn measure(start: &TreeCpu, root: u32, tck: u64) -> AfterLoad {
        let end = TreeCpu::take(root);
        let (settle, capped) = wait_idle(root).await;
        let fin = TreeCpu::take(root);
        AfterLoad {
            load_cpu_ms: ticks_ms(start.ticks_to(&end), tck),
            tail_cpu_ms: ticks_ms(end.ticks_to(&fin), tck),
            settle_ms: ms(settle),
            capped,
        }
    }

    pub fn total_cpu_ms(&self) -> f64 {
        self.load_cpu_ms + self.tail_cpu_ms
    }

    /// The JSON of a run's split, per request.
    pub fn json(&self, requests: usize) -> Value {
        let n = requests.max(1) as f64;
        json!({
            "cpu_ms_per_req_during_load": num(Some(self.load_cpu_ms / n)),
            "cpu_ms_per_req_after_load": num(Some(self.tail_cpu_ms / n)),
            "settle_ms": num(Some(self.settle_ms)),
            "capped": self.capped,
        })
    }
}

/// The runs of both and the ratios of each figure, for every workload and concurrency it ran.
fn pairs(r: &Results) -> Vec<(usize, usize, &Run, &Run)> {
    let mut out = Vec::new();
    for (wi, _) in r.workloads.iter().enumerate() {
        for c in r.concurrencies() {
            if let (Some(a), Some(x)) = (r.run(wi, Target::AgentShim, c), r.run(wi, Target::Ccr, c))
            {
                out.push((wi, c, a, x));
            }
        }
    }
    out
}

/// The claude-code-router section: its start, what it does after a load, and the ratios.
pub fn markdown(r: &Results, m: &mut String) {
    let Some(info) = &r.ccr else { return };
    let _ = writeln!(m, "\n## claude-code-router\n");
    let _ = writeln!(
        m,
        "`@musistudio/claude-code-router` {} (`ccr serve --no-open`, Node {}), the fake upstream \
         as an OpenAI-compatible provider: healthy {} ms after launch, idle RSS {} MiB, {} MiB \
         after the workloads (management process and gateway). It spools each request to disk \
         and keeps working after the load ends: its *CPU ms/req* above includes that work, \
         sampled until its process tree was idle.\n",
        info.version.as_deref().unwrap_or("–"),
        info.node.as_deref().unwrap_or("–"),
        f(Some(info.ready_ms), 0),
        f(info.idle_rss_mib, 1),
        f(info.rss_after_mib, 1),
    );
    let _ = writeln!(
        m,
        "| workload | c | CPU ms/req during load | CPU ms/req after it | idle after, s | req/s agent-shim ÷ CCR | CPU/req CCR ÷ agent-shim | added p50 CCR ÷ agent-shim | added TTFB p50 CCR ÷ agent-shim |"
    );
    let _ = writeln!(
        m,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (wi, c, a, x) in pairs(r) {
        let w = &r.workloads[wi];
        let n = x.stats.n.max(1) as f64;
        let al = x.after_load;
        let add = |run: &Run, f: fn(&crate::load::RunStats) -> f64| {
            r.added(run, f).filter(|v| *v > 0.001)
        };
        let _ = writeln!(
            m,
            "| {} | {c} | {} | {} | {}{} | {} | {} | {} | {} |",
            w.id,
            f(al.map(|a| a.load_cpu_ms / n), 3),
            f(al.map(|a| a.tail_cpu_ms / n), 3),
            f(al.map(|a| a.settle_ms / 1000.0), 1),
            if al.is_some_and(|a| a.capped) {
                " (cap)"
            } else {
                ""
            },
            ratio(Some(a.stats.rps), Some(x.stats.rps)),
            ratio(x.cpu_ms_per_req, a.cpu_ms_per_req),
            ratio(add(x, |s| s.p50_ms), add(a, |s| s.p50_ms)),
            if w.stream {
                ratio(add(x, |s| s.ttfb_p50_ms), add(a, |s| s.ttfb_p50_ms))
            } else {
                "–".into()
            },
        );
    }
}

/// The claude-code-router part of the JSON (`null` when it was left out).
pub fn to_json(r: &Results) -> Value {
    let Some(info) = &r.ccr else {
        return Value::Null;
    };
    let ratios: Vec<Value> = pairs(r)
        .into_iter()
        .map(|(wi, c, a, x)| {
            let div = |p: Option<f64>, q: Option<f64>| match (p, q) {
                (Some(p), Some(q)) if q.abs() > 1e-9 => num(Some(p / q)),
                _ => Value::Null,
            };
            json!({
                "workload": r.workloads[wi].id,
                "concurrency": c,
                "throughput_agent_shim_over_ccr": div(Some(a.stats.rps), Some(x.stats.rps)),
                "cpu_per_req_ccr_over_agent_shim": div(x.cpu_ms_per_req, a.cpu_ms_per_req),
                "added_p50_ccr_over_agent_shim":
                    div(r.added(x, |s| s.p50_ms), r.added(a, |s| s.p50_ms)),
                "added_ttfb_p50_ccr_over_agent_shim":
                    div(r.added(x, |s| s.ttfb_p50_ms), r.added(a, |s| s.ttfb_p50_ms)),
            })
        })
        .collect();
    json!({
        "version": info.version,
        "node": info.node,
        "time_to_healthy_ms": num(Some(info.ready_ms)),
        "idle_rss_mib": num(info.idle_rss_mib),
        "rss_after_workloads_mib": num(info.rss_after_mib),
        "idle_rule": format!(
            "CPU sampled every {} ms after each run until under {IDLE_CPU_MS} ms per window (cap {} s)",
            IDLE_WINDOW.as_millis(),
            IDLE_CAP.as_secs()
        ),
        "ratios": ratios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_cpu_counts_new_and_gone_processes() {
        let mark = |v: &[(u32, u64)]| TreeCpu {
            ticks: v.iter().copied().collect(),
        };
        // 10 grew by 5, 11 is new (7), 12 has gone (it had 4 before: its whole 6 is now in
        // 10's reaped-children time, which is part of 10's growth).
        let a = mark(&[(10, 100), (12, 4)]);
        let b = mark(&[(10, 105), (11, 7)]);
        assert_eq!(a.ticks_to(&b), 5 + 7 - 4);
        assert_eq!(b.ticks_to(&b), 0);
        // Never negative.
        assert_eq!(b.ticks_to(&mark(&[(10, 1)])), 0);
    }

    #[test]
    fn tree_cpu_reads_this_process() {
        let me = std::process::id();
        let t = TreeCpu::take(me);
        assert!(t.ticks.contains_key(&me));
        // Spin until the kernel has charged this process a tick (10 ms at CLK_TCK 100), or give
        // up after 10 s of it.
        let t0 = Instant::now();
        let mut x = 0u64;
        while t.ticks_to(&TreeCpu::take(me)) == 0 && t0.elapsed() < Duration::from_secs(10) {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
        }
        assert!(t.ticks_to(&TreeCpu::take(me)) > 0);
    }

    #[test]
    fn report_gives_the_split_and_the_ratios() {
        use crate::load::RunStats;
        use crate::report::{Startup, WorkloadInfo};
        let run = |target, p50, cpu, after_load| Run {
            workload: 0,
            target,
            concurrency: 1,
            stats: RunStats {
                n: 100,
                p50_ms: p50,
                ttfb_p50_ms: p50,
                rps: 1000.0 / p50,
                ..RunStats::default()
            },
            cpu_ms_per_req: Some(cpu),
            cpu_ms_per_req_sched: None,
            peak_rss_mib: Some(10.0),
            upstream_cpu_ms_per_req: 0.1,
            after_load,
        };
        let al = AfterLoad {
            load_cpu_ms: 1200.0,
            tail_cpu_ms: 800.0,
            settle_ms: 2500.0,
            capped: false,
        };
        let r = Results {
            name: "t".into(),
            command: "c".into(),
            versions: json!({}),
            settings: json!({}),
            workloads: vec![WorkloadInfo {
                id: "W2",
                title: "t",
                path: "/v1/messages",
                bytes: 1,
                stream: false,
            }],
            runs: vec![
                run(Target::Direct, 1.0, 0.0, None),
                run(Target::AgentShim, 1.5, 0.5, None),
                run(Target::Ccr, 11.0, al.total_cpu_ms() / 100.0, Some(al)),
            ],
            startup: Startup {
                shim_launches_ms: vec![],
                shim_first_ms: 1.0,
                shim_idle_rss_mib: None,
                shim_rss_after_mib: None,
                litellm_ms: None,
                litellm_idle_rss_mib: None,
                nginx_idle_rss_mib: None,
                upstream_idle_rss_mib: None,
            },
            hook: None,
            streams: None,
            memory: vec![],
            ccr: Some(CcrInfo {
                version: Some("3.1.1".into()),
                ready_ms: 2000.0,
                ..CcrInfo::default()
            }),
            notes: vec![],
        };
        let mut m = String::new();
        markdown(&r, &mut m);
        // 12 + 8 ms/req; 11 ÷ 1.5 the req/s, 40× the CPU, 20× the added p50 (10 vs 0.5 ms).
        assert!(
            m.contains("| W2 | 1 | 12.000 | 8.000 | 2.5 | 7.33× | 40.0× | 20.0× | – |"),
            "{m}"
        );
        let js = to_json(&r);
        assert_eq!(js["version"], json!("3.1.1"));
        assert_eq!(
            js["ratios"][0]["cpu_per_req_ccr_over_agent_shim"],
            json!(40.0)
        );
        assert_eq!(
            js["ratios"][0]["added_p50_ccr_over_agent_shim"],
            json!(20.0)
        );
        assert_eq!(al.json(100)["cpu_ms_per_req_after_load"], json!(8.0));
        let full = crate::report::markdown(&r);
        assert!(full.contains("| claude-code-router | 1 | 100 |"), "{full}");
    }

    #[test]
    fn config_points_at_the_upstream_chat_endpoint() {
        let dir = std::env::temp_dir().join(format!("ccr-config-test.{}", std::process::id()));
        let p = write_config(&dir, 4100, 4200).expect("written");
        let v: Value = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(p, dir.join(".claude-code-router/config.json"));
        assert_eq!(v["PORT"], json!(4100));
        assert_eq!(v["APIKEY"], json!(CCR_KEY));
        assert_eq!(
            v["Providers"][0]["api_base_url"],
            json!("http://127.0.0.1:4200/v1/chat/completions")
        );
        assert_eq!(v["Router"]["default"], json!("fake,fake"));
    }
}
