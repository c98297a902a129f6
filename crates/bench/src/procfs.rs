//! What the kernel knows about the processes under test: CPU time (`/proc/<pid>/stat` utime +
//! stime, in clock ticks, and the per-thread nanosecond `schedstat` as a cross-check), resident
//! memory (`VmRSS`, and the peak `VmHWM`, reset through `clear_refs`), and process trees (nginx's
//! master and workers, LiteLLM's interpreter and any children).

use std::collections::HashMap;
use std::fs;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux in practice).
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3 onwards).
pub(crate) fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// `root` and all its descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // Field 4 (ppid) is index 1 after the command name.
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

/// utime + stime of the processes, in clock ticks (all threads, dead ones included).
pub fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|&p| {
            let f = stat_fields(p)?;
            // utime and stime are fields 14 and 15: indexes 11 and 12 here.
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// Nanoseconds on CPU of the live threads (`/proc/<pid>/task/*/schedstat`).
pub fn sched_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for p in pids {
        let Ok(dir) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in dir.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("schedstat"))
                && let Some(ns) = s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            {
                total += ns;
            }
        }
    }
    total
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Sum of a status field over the processes, in MiB.
pub fn sum_mib(pids: &[u32], field: &str) -> Option<f64> {
    let v: Vec<u64> = pids.iter().filter_map(|&p| status_kib(p, field)).collect();
    (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / 1024.0)
}

/// Resets the peak RSS (`VmHWM`) of the processes to their current RSS.
pub fn reset_peak(pids: &[u32]) {
    for p in pids {
        let _ = fs::write(format!("/proc/{p}/clear_refs"), "5");
    }
}

/// A snapshot of CPU counters of a process tree.
#[derive(Clone, Debug)]
pub struct CpuMark {
    pids: Vec<u32>,
    ticks: u64,
    ns: u64,
}

impl CpuMark {
    pub fn take(root: u32) -> CpuMark {
        let pids = tree(root);
        CpuMark {
            ticks: cpu_ticks(&pids),
            ns: sched_ns(&pids),
            pids,
        }
    }

    /// CPU milliseconds since this mark: (from ticks, from schedstat).
    pub fn elapsed_ms(&self, tck: u64) -> (f64, f64) {
        let ticks = cpu_ticks(&self.pids).saturating_sub(self.ticks);
        let ns = sched_ns(&self.pids).saturating_sub(self.ns);
        (ticks as f64 * 1000.0 / tck as f64, ns as f64 / 1e6)
    }

    pub fn pids(&self) -> &[u32] {
        &self.pids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").unwrap_or(0) > 0);
        assert!(tree(me).contains(&me));
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(sched_ns(&[me]) > 0);
        assert!(clk_tck() > 0);
    }
}
