//! `agent-shim-bench run`: one command that measures the same workloads straight to a fake
//! upstream, through agent-shim, through LiteLLM's proxy, through nginx and through
//! claude-code-router, on one machine, and writes `bench/results/<date>.md` and `.json`. See
//! bench/README.md.

mod bodies;
mod ccr;
mod ledger_cost;
mod load;
mod memory;
mod probes;
mod procfs;
mod report;
mod services;
mod targets;
mod workload;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use load::{Request, RunStats};
use probes::{hook_path, open_streams};
use report::{Results, Run, Startup, Target, WorkloadInfo};
use services::Service;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::{Workload, headers, workloads};

/// The LiteLLM version run.sh installs.
const LITELLM_VERSION: &str = "1.106.2";

#[derive(Debug, Parser)]
#[command(
    name = "agent-shim-bench",
    version,
    about = "agent-shim's benchmark harness"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the benchmark and write <out>/<date>.md and <out>/<date>.json.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Fewer requests and launches (a few minutes less; noisier numbers).
    #[arg(long)]
    quick: bool,
    /// Leave LiteLLM out.
    #[arg(long)]
    no_litellm: bool,
    /// Leave nginx out (it is left out anyway when not installed).
    #[arg(long)]
    no_nginx: bool,
    /// Leave claude-code-router out.
    #[arg(long)]
    no_ccr: bool,
    /// claude-code-router's `ccr` executable [default:
    /// ~/.cache/agent-shim-bench/ccr-3.1.1/node_modules/.bin/ccr].
    #[arg(long, env = "AGENT_SHIM_BENCH_CCR")]
    ccr: Option<PathBuf>,
    /// Measured requests per run at concurrency 1 [default: 5000; --quick 500].
    #[arg(long)]
    requests: Option<usize>,
    /// Measured requests per run at higher concurrency [default: 20000; --quick 2000].
    #[arg(long)]
    requests_high: Option<usize>,
    /// Time budget of one measured run, in seconds; a run stops issuing requests after it
    /// (this is what bounds LiteLLM's runs) [default: 10; --quick 3].
    #[arg(long)]
    max_seconds: Option<f64>,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    concurrency: Vec<usize>,
    /// Workloads (w1, w2, w3, w4, w5).
    #[arg(long, value_delimiter = ',', default_value = "w1,w2,w3,w4,w5")]
    workloads: Vec<String>,
    /// Streams held open through agent-shim for the "RSS with open streams" number; 0 skips it
    /// [default: 1000].
    #[arg(long)]
    open_streams: Option<usize>,
    /// Launches of `agent-shim serve` timed to a healthy /health [default: 10; --quick 3].
    #[arg(long)]
    startup_runs: Option<usize>,
    /// Timed runs of each hook-path command [default: 50; --quick 10].
    #[arg(long)]
    hook_runs: Option<usize>,
    /// Directory for the results.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Name of the result files (without extension) [default: today's date, UTC].
    #[arg(long)]
    name: Option<String>,
    /// Directory holding the agent-shim and fake-provider binaries [default: this binary's].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// LiteLLM's `litellm` executable [default:
    /// ~/.cache/agent-shim-bench/litellm-1.106.2/bin/litellm].
    #[arg(long, env = "AGENT_SHIM_BENCH_LITELLM")]
    litellm: Option<PathBuf>,
    /// nginx executable [default: `nginx` on PATH or in /usr/sbin].
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// PostgreSQL database for the "ledger in PostgreSQL" rows of W1 and W3 (its tables are
    /// created; use a scratch database) [default: none, those rows are left out].
    #[arg(long, env = "AGENT_SHIM_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Keep the work directory (configs, logs) instead of removing it.
    #[arg(long)]
    keep_work: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Cmd::Run(args) = cli.cmd;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-shim-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("agent-shim-bench: some requests failed (see the report)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("agent-shim-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the open-files limit to the hard limit (1,000 open streams need ~3,000 descriptors
/// across the client, the gateway and the upstream; children inherit it).
fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
}

fn default_bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().context("no parent directory")?.to_path_buf())
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    load::percentile(&s, 50.0)
}

async fn run(args: RunArgs) -> Result<bool> {
    let q = args.quick;
    let n_low = args.requests.unwrap_or(if q { 500 } else { 5000 });
    let n_high = args.requests_high.unwrap_or(if q { 2000 } else { 20000 });
    let max = Duration::from_secs_f64(args.max_seconds.unwrap_or(if q { 3.0 } else { 10.0 }));
    let open_n = args.open_streams.unwrap_or(1000);
    let startup_runs = args.startup_runs.unwrap_or(if q { 3 } else { 10 });
    let hook_runs = args.hook_runs.unwrap_or(if q { 10 } else { 50 });
    let wls = workloads(&args.workloads)?;
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!("--concurrency needs levels of at least 1");
    }
    raise_nofile();
    let tck = procfs::clk_tck();

    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => default_bin_dir()?,
    };
    let shim_bin = bin_dir.join("agent-shim");
    let fake_bin = bin_dir.join("fake-provider");
    for b in [&shim_bin, &fake_bin] {
        if !b.is_file() {
            bail!(
                "{} not found; build it first: cargo build --release -p agent-shim -p fake-provider -p agent-shim-bench",
                b.display()
            );
        }
    }
    let litellm_bin = if args.no_litellm {
        None
    } else {
        let p = args.litellm.clone().unwrap_or_else(|| {
            home().join(format!(
                ".cache/agent-shim-bench/litellm-{LITELLM_VERSION}/bin/litellm"
            ))
        });
        if !p.is_file() {
            bail!(
                "LiteLLM not found at {}; run bench/run.sh (it installs it), pass --litellm PATH, or --no-litellm",
                p.display()
            );
        }
        Some(p)
    };
    let mut notes = Vec::new();
    let nginx_bin = if args.no_nginx {
        None
    } else {
        let p = args.nginx.clone().or_else(|| services::which("nginx"));
        if p.is_none() {
            notes.push("nginx is not installed: its rows are missing.".to_string());
            eprintln!("note: nginx not found; leaving it out");
        }
        p
    };

    let work = std::env::temp_dir().join(format!("agent-shim-bench.{}", std::process::id()));
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let _cleanup = Cleanup {
        dir: work.clone(),
        keep: args.keep_work,
    };
    eprintln!("work directory: {}", work.display());

    for w in &wls {
        eprintln!("{}: {} ({} bytes)", w.id, w.title, w.body.len());
    }

    // The upstream and agent-shim.
    let fake = services::start_fake(&fake_bin, &work, &logs)?;
    eprintln!("fake upstream on {}", fake.base_url());
    let dirs = services::write_shim_config(&work, fake.port)?;
    let state = work.join("agent-shim-state");
    let mut shim = services::spawn_shim("agent-shim", &shim_bin, &dirs, &state, &logs)?;
    let shim_first = shim.wait_healthy(
        "/health",
        Duration::from_micros(500),
        Duration::from_secs(15),
    )?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shim_idle = procfs::sum_mib(&procfs::tree(shim.pid()), "VmRSS");
    let upstream_idle = procfs::sum_mib(&procfs::tree(fake.pid()), "VmRSS");
    eprintln!(
        "agent-shim healthy after {:.1} ms, idle RSS {:.1} MiB",
        ms(shim_first),
        shim_idle.unwrap_or(f64::NAN)
    );

    // The ledger's cost: the same gateway with the ledger off, and in PostgreSQL (W1 and W3).
    let ledger_wl = |w: &Workload| matches!(w.id, "W1" | "W3");
    let variants = if wls.iter().any(ledger_wl) {
        services::start_ledger_variants(
            &shim_bin,
            &dirs,
            &work,
            &logs,
            args.database_url.as_deref(),
        )?
    } else {
        Vec::new()
    };
    if args.database_url.is_none() && !variants.is_empty() {
        notes.push("no --database-url: the \"ledger in PostgreSQL\" rows are missing.".to_string());
    }

    // Time to healthy, over fresh launches.
    let mut launches = Vec::new();
    let startup_state = work.join("agent-shim-startup-state");
    for _ in 0..startup_runs {
        let mut s = services::spawn_shim(
            "agent-shim-startup",
            &shim_bin,
            &dirs,
            &startup_state,
            &logs,
        )?;
        let t = s.wait_healthy(
            "/health",
            Duration::from_micros(500),
            Duration::from_secs(15),
        )?;
        launches.push(ms(t));
        s.stop();
    }
    if !launches.is_empty() {
        eprintln!(
            "agent-shim time to healthy: median {:.1} ms over {} launches",
            median(&launches),
            launches.len()
        );
    }

    // The hook path.
    let hook = if hook_runs > 0 {
        Some(hook_path(
            &shim_bin, &dirs, &state, shim.port, &work, hook_runs,
        )?)
    } else {
        None
    };

    // nginx and LiteLLM.
    let nginx = match &nginx_bin {
        Some(b) => {
            let n = services::start_nginx(b, &work, &logs, fake.port)?;
            eprintln!("nginx on {}", n.base_url());
            Some(n)
        }
        None => None,
    };
    let nginx_idle = nginx
        .as_ref()
        .and_then(|n| procfs::sum_mib(&procfs::tree(n.pid()), "VmRSS"));
    let (litellm, litellm_ready, litellm_idle) = match &litellm_bin {
        Some(b) => {
            let cfg = services::write_litellm_config(&work, fake.port)?;
            let mut l = services::spawn_litellm(b, &cfg, &work, &logs)?;
            eprintln!("starting LiteLLM (takes seconds)…");
            let t = l.wait_healthy(
                "/health/liveliness",
                Duration::from_millis(1),
                Duration::from_secs(180),
            )?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss = procfs::sum_mib(&procfs::tree(l.pid()), "VmRSS");
            eprintln!(
                "LiteLLM healthy after {:.0} ms, idle RSS {:.0} MiB",
                ms(t),
                rss.unwrap_or(f64::NAN)
            );
            (Some(l), Some(ms(t)), rss)
        }
        None => (None, None, None),
    };
    // claude-code-router, in the Anthropic->Chat workloads.
    let mut ccr = match &args.ccr {
        _ if args.no_ccr || !wls.iter().any(|w| w.anthropic) => None,
        p => {
            let bin = p.clone().unwrap_or_else(ccr::default_bin);
            Some(ccr::start(&bin, &work, &logs, fake.port).await?)
        }
    };

    // The workloads.
    let mut runs = Vec::new();
    let mut memory = Vec::new();
    let high = args.concurrency.iter().copied().max().unwrap_or(1);
    for (wi, w) in wls.iter().enumerate() {
        for &c in &args.concurrency {
            let n = if c == 1 { n_low } else { n_high };
            let mut targets = vec![(Target::Direct, &fake), (Target::AgentShim, &shim)];
            if ledger_wl(w) {
                targets.extend(variants.iter().map(|(t, s)| (*t, s)));
            }
            if let Some(l) = &litellm {
                targets.push((Target::LiteLlm, l));
            }
            if let (Some(ng), true) = (&nginx, w.passthrough) {
                targets.push((Target::Nginx, ng));
            }
            if let (Some(x), true) = (&ccr, w.anthropic) {
                targets.push((Target::Ccr, &x.svc));
            }
            for (target, svc) in targets {
                let req = Arc::new(Request {
                    url: format!("{}{}", svc.base_url(), w.path),
                    headers: headers(target, w),
                    body: w.body.clone(),
                    marker: w.marker,
                });
                let r = match measure(wi, w, target, svc, &fake, &req, c, n, max, tck).await {
                    Ok(r) => r,
                    // A peer that fails a run (LiteLLM once answered none of a run's warm-up
                    // after a slow run) leaves a gap that the report's notes name; a failure of
                    // agent-shim, of the upstream or of nginx still stops the bench.
                    Err(e) if matches!(target, Target::LiteLlm | Target::Ccr) => {
                        eprintln!("warning: {e:#}; this run is left out");
                        notes.push(format!("{e:#}: that row is missing."));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                runs.push(r);
                if target == Target::AgentShim && w.id == "W3" && c == high {
                    let m = memory::settle(format!("W3 c={c}"), shim.pid(), shim_idle).await;
                    memory.push(m);
                }
            }
        }
    }

    // RSS with open streams.
    let streams = if open_n > 0 {
        let (s, m) = open_streams(&shim, open_n, shim_idle).await?;
        memory.push(m);
        Some(s)
    } else {
        None
    };
    let shim_after = procfs::sum_mib(&procfs::tree(shim.pid()), "VmRSS");
    if let Some(x) = &mut ccr {
        x.info.rss_after_mib = procfs::sum_mib(&procfs::tree(x.svc.pid()), "VmRSS");
    }

    let versions = report::versions(&shim_bin, litellm_bin.as_deref(), nginx_bin.as_deref());
    drop(litellm);
    let ccr = ccr.map(|x| x.info);
    drop(nginx);
    drop(shim);
    drop(variants);
    drop(fake);

    let results = Results {
        name: args.name.clone().unwrap_or_else(report::today),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        versions,
        settings: serde_json::json!({
            "requests_c1": n_low, "requests_high": n_high, "max_seconds_per_run": max.as_secs_f64(),
            "concurrency": args.concurrency, "clk_tck": tck, "open_streams": open_n,
            "startup_runs": startup_runs, "hook_runs": hook_runs, "quick": q,
        }),
        workloads: wls
            .iter()
            .map(|w| WorkloadInfo {
                id: w.id,
                title: w.title,
                path: w.path,
                bytes: w.body.len(),
                stream: w.stream,
            })
            .collect(),
        runs,
        startup: Startup {
            shim_launches_ms: launches,
            shim_first_ms: ms(shim_first),
            shim_idle_rss_mib: shim_idle,
            shim_rss_after_mib: shim_after,
            litellm_ms: litellm_ready,
            litellm_idle_rss_mib: litellm_idle,
            nginx_idle_rss_mib: nginx_idle,
            upstream_idle_rss_mib: upstream_idle,
        },
        hook,
        streams,
        ccr,
        memory,
        notes,
    };
    let ok = results.runs.iter().all(|r| r.stats.errors == 0)
        && results.streams.as_ref().is_none_or(|s| s.errors == 0);
    let (md, json) = report::write(&results, &args.out)?;
    println!("{}", report::markdown(&results));
    eprintln!("wrote {} and {}", md.display(), json.display());
    Ok(ok)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Removes the work directory at the end (unless asked to keep it).
struct Cleanup {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Warm-up, then one measured run with the gateway's CPU time and peak RSS around it.
#[allow(clippy::too_many_arguments)]
async fn measure(
    wi: usize,
    w: &Workload,
    target: Target,
    svc: &Service,
    upstream: &Service,
    req: &Arc<Request>,
    c: usize,
    n: usize,
    max: Duration,
    tck: u64,
) -> Result<Run> {
    let client = load::client()?;
    let warm = (n / 10).clamp(20, 500).max(c);
    let w_stats = load::run(&client, req, c, warm, Duration::from_secs(3)).await;
    if w_stats.n == 0 {
        bail!(
            "{} {} c={c}: every warm-up request failed: {}",
            w.id,
            target.label(),
            w_stats.first_error.unwrap_or_default()
        );
    }
    // claude-code-router works through its spool after the load: the warm-up's work is done
    // before the mark, and the run's own is counted until it is idle.
    let spools = target == Target::Ccr;
    if spools {
        ccr::wait_idle(svc.pid()).await;
    }
    let tree0 = spools.then(|| ccr::TreeCpu::take(svc.pid()));
    let gateway = (target != Target::Direct).then(|| procfs::CpuMark::take(svc.pid()));
    if let Some(g) = &gateway {
        procfs::reset_peak(g.pids());
    }
    let up = procfs::CpuMark::take(upstream.pid());
    let stats: RunStats = load::run(&client, req, c, n, max).await;
    let after_load = match &tree0 {
        Some(t) => Some(ccr::AfterLoad::measure(t, svc.pid(), tck).await),
        None => None,
    };
    let done = stats.n.max(1) as f64;
    let (cpu_ms, cpu_ms_sched, peak) = match &gateway {
        Some(g) => {
            let (t, s) = g.elapsed_ms(tck);
            let t = after_load.map_or(t, |a| a.total_cpu_ms());
            (
                Some(t / done),
                Some(s / done),
                procfs::sum_mib(g.pids(), "VmHWM"),
            )
        }
        None => (None, None, None),
    };
    let (up_t, _) = up.elapsed_ms(tck);
    eprintln!(
        "{} c={c:<3} {:<10} n={:<6} p50 {:>8.3} ms  p99 {:>8.3} ms  ttfb p50 {:>8.3} ms  {:>8.0} req/s  cpu {} ms/req{}{}",
        w.id,
        target.label(),
        stats.n,
        stats.p50_ms,
        stats.p99_ms,
        stats.ttfb_p50_ms,
        stats.rps,
        cpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
        after_load.map_or(String::new(), |a| format!(
            " (of which {:.3} after the load; idle {:.1} s after it)",
            a.tail_cpu_ms / done,
            a.settle_ms / 1000.0
        )),
        if stats.errors > 0 {
            format!(
                "  ERRORS {} ({})",
                stats.errors,
                stats.first_error.clone().unwrap_or_default()
            )
        } else {
            String::new()
        }
    );
    Ok(Run {
        workload: wi,
        target,
        concurrency: c,
        stats,
        cpu_ms_per_req: cpu_ms,
        cpu_ms_per_req_sched: cpu_ms_sched,
        peak_rss_mib: peak,
        upstream_cpu_ms_per_req: up_t / done,
        after_load,
    })
}
