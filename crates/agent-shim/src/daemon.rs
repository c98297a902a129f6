//! The background gateway's lifecycle: a pid file the gateway holds locked for its whole life
//! (so liveness is a lock test, not a pid guess), a detached start (`setsid`, output to a log
//! file), a wait for `/health`, and stop by SIGTERM then SIGKILL.

use crate::error::{CliError, Result};
use crate::settings::Settings;
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lock a running gateway holds on its pid file.
pub struct PidLock {
    _file: File,
    path: std::path::PathBuf,
}

impl PidLock {
    /// Takes the pid file of `settings`' port. Errors when another live gateway holds it.
    pub fn acquire(settings: &Settings) -> Result<PidLock> {
        let path = settings.pid_path();
        std::fs::create_dir_all(&settings.state_dir).map_err(|e| {
            CliError::failed(format!(
                "cannot create {}: {e}",
                settings.state_dir.display()
            ))
        })?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CliError::failed(format!("cannot open {}: {e}", path.display())))?;
        if file.try_lock().is_err() {
            let pid = read_pid(&path).map_or_else(|| "?".into(), |p| p.to_string());
            return Err(CliError::failed(format!(
                "a gateway is already running on port {} (pid {pid}); stop it with `agent-shim proxy stop`",
                settings.port
            )));
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| write!(file, "{}", std::process::id()))
            .and_then(|_| file.sync_all())
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
        Ok(PidLock { _file: file, path })
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// The pid of the live gateway on this port, if one holds the pid file.
pub fn running_pid(settings: &Settings) -> Option<u32> {
    let path = settings.pid_path();
    let file = File::open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(_) => read_pid(&path),
    }
}

/// What answers on the gateway's port.
pub enum Probe {
    Nothing,
    /// agent-shim's gateway, with its `/health` body.
    Gateway(Value),
    /// Something else answers there.
    Foreign(String),
}

/// Asks `/health` on the configured address (1 s timeout).
pub async fn probe(settings: &Settings) -> Probe {
    let url = format!("{}/health", settings.base_url());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .no_proxy()
        .build()
        .expect("client builds");
    match client.get(&url).send().await {
        Err(_) => Probe::Nothing,
        Ok(r) => match r.json::<Value>().await {
            Ok(v) if v["service"] == "agent-shim" => Probe::Gateway(v),
            _ => Probe::Foreign(url),
        },
    }
}

/// Makes sure a gateway answers, starting one in the background if nothing does. Returns the
/// `/health` body.
pub async fn ensure_running(settings: &Settings) -> Result<Value> {
    match probe(settings).await {
        Probe::Gateway(v) => return Ok(v),
        Probe::Foreign(url) => {
            return Err(CliError::failed(format!(
                "{url} is answered by something other than agent-shim; choose another port with AGENT_SHIM_PORT or --port"
            )));
        }
        Probe::Nothing => {}
    }
    start(settings).await
}

/// Starts `agent-shim serve` detached, its output appended to the log file, and waits for health.
pub async fn start(settings: &Settings) -> Result<Value> {
    std::fs::create_dir_all(&settings.state_dir).map_err(|e| {
        CliError::failed(format!(
            "cannot create {}: {e}",
            settings.state_dir.display()
        ))
    })?;
    let log_path = settings.log_path();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| CliError::failed(format!("cannot open {}: {e}", log_path.display())))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find agent-shim's own path: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "serve",
        "--host",
        &settings.host.to_string(),
        "--port",
        &settings.port.to_string(),
    ])
    .stdin(Stdio::null())
    .stdout(
        log.try_clone()
            .map_err(|e| CliError::failed(e.to_string()))?,
    )
    .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot start the gateway: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Probe::Gateway(v) = probe(settings).await {
            return Ok(v);
        }
        // A child that exited because another process's gateway holds the pid file lost a race
        // to start it: wait for that one instead.
        if let Ok(Some(status)) = child.try_wait()
            && running_pid(settings).is_none_or(|pid| pid == child.id())
        {
            return Err(CliError::failed(format!(
                "the gateway exited at start ({status}); its log {} says: {}",
                log_path.display(),
                log_tail(&log_path, log_start)
            )));
        }
        if Instant::now() > deadline {
            return Err(CliError::failed(format!(
                "the gateway did not answer {}/health within 15 s; see {}",
                settings.base_url(),
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The last lines written to the log since `from`, on one line.
fn log_tail(path: &Path, from: u64) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let new = String::from_utf8_lossy(&text[(from as usize).min(text.len())..]).into_owned();
    let lines: Vec<&str> = new.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        tail
    }
}

/// Stops the gateway on this port: SIGTERM, up to 5 s for it to finish, then SIGKILL.
/// Returns the pid stopped, `None` when none was running.
pub fn stop(settings: &Settings) -> Result<Option<u32>> {
    let Some(pid) = running_pid(settings) else {
        return Ok(None);
    };
    let p = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| CliError::failed("invalid pid in the pid file"))?;
    let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if running_pid(settings).is_none() {
            return Ok(Some(pid));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    std::thread::sleep(Duration::from_millis(50));
    Ok(Some(pid))
}

/// Runs a future on a single-threaded runtime (commands that need a little async I/O).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(f)
}
