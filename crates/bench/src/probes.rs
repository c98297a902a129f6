//! What the bench measures around the workloads: the hook path's commands (wall time of
//! `env --export` and `enter`) and agent-shim's RSS with many streams open and after they close.

use crate::report::{HookTimes, OpenStreams};
use crate::services::{self, AGENT_SHIM_KEY, Service};
use crate::{bodies, load, median, memory, ms, procfs};
use anyhow::{Result, bail};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wall time of `agent-shim env bench --export` and of `agent-shim enter <token> bench` for a
/// token that is already entered.
pub(crate) fn hook_path(
    bin: &Path,
    dirs: &services::ShimDirs,
    state: &Path,
    port: u16,
    work: &Path,
    runs: usize,
) -> Result<HookTimes> {
    let time = |args: &[&str]| -> Result<f64> {
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(work);
        services::shim_env(&mut cmd, dirs, state, port);
        let t0 = Instant::now();
        let out = cmd.output()?;
        let t = ms(t0.elapsed());
        if !out.status.success() {
            bail!(
                "agent-shim {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(t)
    };
    let env_args = ["env", "bench", "--export"];
    let enter_args = ["enter", "bench-token-0001", "bench"];
    // Untimed first runs: page cache, and the token's first entry.
    time(&env_args)?;
    time(&enter_args)?;
    let mut env_ms = Vec::new();
    let mut enter_ms = Vec::new();
    for _ in 0..runs {
        env_ms.push(time(&env_args)?);
        enter_ms.push(time(&enter_args)?);
    }
    eprintln!(
        "hook path: env --export {:.2} ms, enter {:.2} ms (medians of {runs})",
        median(&env_ms),
        median(&enter_ms)
    );
    Ok(HookTimes { env_ms, enter_ms })
}

/// Opens `n` slow streams through agent-shim and reads its RSS while they are all open, then
/// until it comes back once they closed.
pub(crate) async fn open_streams(
    shim: &Service,
    n: usize,
    idle: Option<f64>,
) -> Result<(OpenStreams, memory::Return)> {
    let client = load::client()?;
    let url = format!("{}/v1/messages", shim.base_url());
    let body = Bytes::from(serde_json::to_vec(&bodies::small_anthropic_stream(
        bodies::SLOW_MODEL,
    ))?);
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("x-api-key", HeaderValue::from_static(AGENT_SHIM_KEY));
    h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    let pids = procfs::tree(shim.pid());
    let before = procfs::sum_mib(&pids, "VmRSS");
    procfs::reset_peak(&pids);
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let mut tasks = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let (client, url, body, h) = (client.clone(), url.clone(), body.clone(), h.clone());
        let (opened, failed, first_error) = (opened.clone(), failed.clone(), first_error.clone());
        tasks.push(tokio::spawn(async move {
            let fail = |e: String| {
                failed.fetch_add(1, Ordering::Relaxed);
                first_error.lock().expect("lock").get_or_insert(e);
            };
            let mut resp = match client.post(url).headers(h).body(body).send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return fail(format!("HTTP {}", r.status())),
                Err(e) => return fail(format!("send: {e}")),
            };
            match resp.chunk().await {
                Ok(Some(_)) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => return fail("stream ended at once".into()),
                Err(e) => return fail(format!("body: {e}")),
            }
            while let Ok(Some(_)) = resp.chunk().await {}
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_after_ms = ms(t0.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pids = procfs::tree(shim.pid());
    let rss = procfs::sum_mib(&pids, "VmRSS");
    let hwm = procfs::sum_mib(&pids, "VmHWM");
    let still = tasks.iter().filter(|t| !t.is_finished()).count();
    for t in &tasks {
        t.abort();
    }
    drop(tasks);
    drop(client);
    let back = memory::settle(format!("{n} open streams"), shim.pid(), idle).await;
    let after = back.at_mib(1.0);
    let s = OpenStreams {
        requested: n,
        opened: opened.load(Ordering::Relaxed),
        still_open: still,
        errors: failed.load(Ordering::Relaxed),
        first_error: first_error.lock().expect("lock").clone(),
        open_after_ms,
        rss_before_mib: before,
        rss_mib: rss,
        peak_rss_mib: hwm,
        rss_after_close_mib: after,
    };
    eprintln!(
        "{} open streams ({} failed): agent-shim RSS {:.1} MiB (peak {:.1}), {:.1} MiB after they closed",
        s.opened,
        s.errors,
        rss.unwrap_or(f64::NAN),
        hwm.unwrap_or(f64::NAN),
        after.unwrap_or(f64::NAN)
    );
    Ok((s, back))
}
