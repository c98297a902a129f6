//! The background gateway's lifecycle: a pid file the gateway holds locked for its whole life
//! (so liveness is a lock test, not a pid guess), a detached start (`setsid`, output to a log
//! file), a wait for `/health`, and stop by SIGTERM then SIGKILL; the handshake that tells this
//! installation's gateway (and its version) from another's or another program on the port
//! ([`probe`]); the mark a gateway run by the service leaves next to its pid file
//! ([`ServiceMark`], so `proxy stop` leaves it to the service manager); and the calls to the
//! gateway's own admin API (reload, key check).

use crate::cli::ServiceManager;
use crate::error::{CliError, Result};
use crate::settings::Settings;
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, Write};
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

/// Says, in the state dir, that the gateway holding the pid file is the service's: a file
/// `gateway-<port>.service` holding the manager and the pid, removed when dropped. A mark whose
/// pid is not the pid file's live holder (left by a killed gateway) means nothing.
pub struct ServiceMark {
    path: std::path::PathBuf,
}

impl ServiceMark {
    /// Writes the mark for this process (which holds the pid file).
    pub fn write(settings: &Settings, manager: ServiceManager) -> Result<ServiceMark> {
        let path = settings.service_mark_path();
        let name = match manager {
            ServiceManager::Systemd => "systemd",
            ServiceManager::Launchd => "launchd",
        };
        std::fs::write(&path, format!("{name} {}\n", std::process::id()))
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
        Ok(ServiceMark { path })
    }
}

impl Drop for ServiceMark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The service manager running the live gateway on this port, when the service runs it.
pub fn service_of(settings: &Settings) -> Option<ServiceManager> {
    let text = std::fs::read_to_string(settings.service_mark_path()).ok()?;
    let (name, pid) = text.trim().split_once(' ')?;
    let manager = match name {
        "systemd" => ServiceManager::Systemd,
        "launchd" => ServiceManager::Launchd,
        _ => return None,
    };
    (running_pid(settings) == pid.parse().ok()).then_some(manager)
}

/// The refusal of a `proxy` action (or of a restart for a new version) on the service's
/// gateway, naming the `agent-shim service` action to run instead.
pub fn run_by_service(settings: &Settings, manager: ServiceManager, action: &str) -> CliError {
    let pid = running_pid(settings).map_or_else(|| "?".into(), |p| p.to_string());
    CliError::failed(format!(
        "the gateway on port {} (pid {pid}) is run by the agent-shim service ({}); use \
         `agent-shim service {action}`",
        settings.port,
        crate::service::describe(manager)
    ))
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
    /// This installation's gateway (same state dir), at this version; its `/health` body.
    Ours(Value),
    /// This installation's gateway at another version (an upgrade happened while it ran).
    OursOtherVersion(Value),
    /// Another installation's gateway: another state dir or another user.
    Other(Value),
    /// Something that is not agent-shim, described in words.
    Foreign(String),
}

/// This binary's version, compared with the `/health` one.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An HTTP client for one CLI command's calls to a gateway: `timeout` for the whole request,
/// `connect` for the connection when given, and no proxy from the environment (the gateway is
/// the user's own).
pub fn cli_client(timeout: Duration, connect: Option<Duration>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().timeout(timeout).no_proxy();
    if let Some(c) = connect {
        b = b.connect_timeout(c);
    }
    b.build()
        .expect("a client with timeouts only always builds")
}

/// Asks `/health` on the configured address and tells whose gateway answers (see [`Probe`]).
pub async fn probe(settings: &Settings) -> Probe {
    let url = format!("{}/health", settings.base_url());
    let client = cli_client(Duration::from_secs(3), Some(Duration::from_secs(1)));
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        // Refused: nothing listens.
        Err(e) if e.is_connect() => return Probe::Nothing,
        Err(e) if e.is_timeout() => {
            return Probe::Foreign(
                "it accepts connections but did not answer GET /health within 3 s".into(),
            );
        }
        Err(_) => return Probe::Foreign("it does not answer HTTP".into()),
    };
    let status = resp.status();
    match resp.json::<Value>().await {
        Ok(v) if v["service"] == "agent-shim" => classify(settings, v),
        _ => Probe::Foreign(format!(
            "GET /health answered {status}, not as agent-shim does"
        )),
    }
}

fn classify(settings: &Settings, health: Value) -> Probe {
    let same_instance = match health["instance"].as_str() {
        Some(id) => id == settings.instance_id(),
        // Gateways from before the handshake report no instance: it is ours when it holds our
        // pid file.
        None => health["pid"]
            .as_u64()
            .is_some_and(|p| running_pid(settings) == Some(p as u32)),
    };
    if !same_instance {
        Probe::Other(health)
    } else if health["version"] == VERSION {
        Probe::Ours(health)
    } else {
        Probe::OursOtherVersion(health)
    }
}

/// What to say about another installation's gateway on our port.
pub fn other_instance(settings: &Settings, health: &Value) -> CliError {
    let port = settings.port;
    let pid = &health["pid"];
    let me = rustix::process::getuid().as_raw();
    let message = match (health["uid"].as_u64(), health["state_dir"].as_str()) {
        (Some(uid), _) if uid != u64::from(me) => format!(
            "port {port} is served by another user's agent-shim (pid {pid}, uid {uid}): \
             set AGENT_SHIM_PORT (or --port) to use another port"
        ),
        (_, Some(dir)) => format!(
            "port {port} is served by another agent-shim (pid {pid}, state dir {dir}): set \
             AGENT_SHIM_PORT (or --port) to use another port, or stop it \
             (`AGENT_SHIM_STATE_DIR={dir} agent-shim proxy stop`)"
        ),
        _ => format!(
            "port {port} is served by another agent-shim (pid {pid}, another state dir than {}): \
             set AGENT_SHIM_PORT (or --port) to use another port, or stop it (`kill {pid}`)",
            settings.state_dir.display()
        ),
    };
    CliError::failed(message)
}

/// What to say about a program that is not agent-shim on our port.
pub fn foreign(settings: &Settings, what: &str) -> CliError {
    CliError::failed(format!(
        "port {} ({}) is answered by something other than agent-shim: {what}; choose another port \
         with AGENT_SHIM_PORT or --port, or stop that program",
        settings.port,
        settings.base_url()
    ))
}

/// The generation requests a gateway reports in flight (`None`: too old to say).
pub fn open_requests(health: &Value) -> Option<u64> {
    health["open_requests"].as_u64()
}

/// What to do about our gateway of another version that cannot be restarted now.
fn other_version(settings: &Settings, health: &Value) -> CliError {
    let theirs = health["version"].as_str().unwrap_or("?");
    let busy = match open_requests(health) {
        Some(n) => format!("has {n} requests in flight"),
        None => "cannot say whether requests are in flight".into(),
    };
    CliError::failed(format!(
        "the gateway on port {} runs agent-shim {theirs} (this is {VERSION}) and {busy}; \
         run `agent-shim proxy restart` when no agent is using it",
        settings.port
    ))
}

/// Makes sure this installation's gateway answers at this version: starts one in the background
/// if nothing does, restarts one of another version when no request is in flight, and refuses
/// (saying what to do) when another installation or program holds the port. Returns the
/// `/health` body.
pub async fn ensure_running(settings: &Settings) -> Result<Value> {
    match probe(settings).await {
        Probe::Ours(v) => Ok(v),
        Probe::OursOtherVersion(v) => match service_of(settings) {
            // The service manager restarts the service's gateway, not this command.
            Some(manager) => Err(run_by_service(settings, manager, "restart")),
            None if open_requests(&v) == Some(0) => {
                stop(settings)?;
                let h = start(settings).await?;
                eprintln!(
                    "agent-shim: restarted the gateway on port {} (it ran agent-shim {}; this is {VERSION})",
                    settings.port,
                    v["version"].as_str().unwrap_or("?")
                );
                Ok(h)
            }
            None => Err(other_version(settings, &v)),
        },
        Probe::Other(v) => Err(other_instance(settings, &v)),
        Probe::Foreign(what) => Err(foreign(settings, &what)),
        Probe::Nothing => start(settings).await,
    }
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
        // The child calls setsid itself (cmd/serve.rs), out of this terminal's session.
        "--new-session",
    ])
    .stdin(Stdio::null())
    .stdout(
        log.try_clone()
            .map_err(|e| CliError::failed(e.to_string()))?,
    )
    .stderr(log);
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError::failed(format!("cannot start the gateway: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Probe::Ours(v) = probe(settings).await {
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

/// A call to this installation's gateway's own admin API (`/admin/…`, master key), with the
/// failures every caller reports alike. Returns the status and the JSON body.
async fn admin_call(
    settings: &Settings,
    path: &str,
    body: &Value,
) -> Result<(reqwest::StatusCode, Value)> {
    let key = settings.master_key()?;
    let url = format!("{}{path}", settings.base_url());
    let client = cli_client(Duration::from_secs(60), None);
    let resp = client
        .post(&url)
        .bearer_auth(key.expose())
        .json(body)
        .send()
        .await
        .map_err(|e| CliError::failed(format!("cannot reach the gateway at {url}: {e}")))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    match status.as_u16() {
        401 => Err(CliError::failed(format!(
            "the gateway on port {} does not accept this agent-shim's master key (it changed \
             since the gateway started): run `agent-shim proxy restart`",
            settings.port
        ))),
        404 => Err(CliError::failed(format!(
            "the gateway on port {} is older than this agent-shim and has no {path}: run \
             `agent-shim proxy restart`",
            settings.port
        ))),
        _ => Ok((status, v)),
    }
}

/// Asks this installation's gateway to read its configuration files again now
/// (`POST /admin/reload`) and returns its report (`changed`, `warnings`). An invalid file is a
/// usage error with the located message; the gateway keeps serving what it had.
pub async fn reload(settings: &Settings) -> Result<Value> {
    let (status, v) = admin_call(settings, "/admin/reload", &Value::Null).await?;
    let message = v["error"]["message"].as_str().unwrap_or("no message");
    match status.as_u16() {
        200 => Ok(v["report"].clone()),
        422 => Err(CliError::usage(message)),
        _ => Err(CliError::failed(format!(
            "the gateway could not reload ({status}): {message}"
        ))),
    }
}

/// The gateway's own view of the upstream keys of `models` (`POST /admin/keys`): one entry per
/// model group with `usable` and per deployment `key` (`ok`, `none`, `missing` + `var`,
/// `command_failed` + `error`).
pub async fn keys(settings: &Settings, models: &[String]) -> Result<Vec<Value>> {
    let (status, v) = admin_call(
        settings,
        "/admin/keys",
        &serde_json::json!({ "models": models }),
    )
    .await?;
    if !status.is_success() {
        return Err(CliError::failed(format!(
            "the gateway could not check the keys ({status}): {}",
            v["error"]["message"].as_str().unwrap_or("no message")
        )));
    }
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

/// Runs a future on a single-threaded runtime (commands that need a little async I/O).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(f)
}
