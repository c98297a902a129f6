//! The processes under test: the fake upstream, agent-shim's gateway, LiteLLM's proxy and nginx,
//! each on a free loopback port, in its own process group (stopped with SIGTERM, then SIGKILL),
//! with its output in `<work>/logs/<name>.log`.

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process_group};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The gateways' keys (LiteLLM refuses `sk-1234`).
pub const AGENT_SHIM_KEY: &str = "sk-bench-agent-shim-0123456789";
pub const LITELLM_KEY: &str = "sk-bench-litellm-0123456789";

/// A running child process; stopped (its whole process group) when dropped.
pub struct Service {
    pub name: String,
    pub port: u16,
    child: Child,
    pub log: PathBuf,
    pub started: Instant,
    stopped: bool,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Spawns `cmd` in a new process group, output to `<logs>/<name>.log`.
    pub fn spawn(name: &str, port: u16, cmd: &mut Command, logs: &Path) -> Result<Service> {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("{}", log.display()))?;
        let started = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Service {
            name: name.to_string(),
            port,
            child,
            log,
            started,
            stopped: false,
        })
    }

    /// Fails with the end of the log if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); end of {}:\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log)
            );
        }
        Ok(())
    }

    /// Polls `GET path` every `every` until it answers 200; the time since launch.
    pub fn wait_healthy(
        &mut self,
        path: &str,
        every: Duration,
        limit: Duration,
    ) -> Result<Duration> {
        loop {
            if http_get_ok(self.port, path) {
                return Ok(self.started.elapsed());
            }
            self.check_alive()?;
            if self.started.elapsed() > limit {
                bail!(
                    "{} did not answer {path} within {limit:?}; end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            std::thread::sleep(every);
        }
    }

    /// Waits until the port accepts connections.
    pub fn wait_port(&mut self, limit: Duration) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            self.check_alive()?;
            if self.started.elapsed() > limit {
                bail!("{} did not listen within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// SIGTERM to the process group; SIGKILL to what is left of it once the leader has exited,
    /// or after 5 s (LiteLLM's launcher leaves its interpreter behind otherwise).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pgid = Pid::from_raw(self.child.id() as i32);
        if let Some(pgid) = pgid {
            let _ = kill_process_group(pgid, Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(pgid) = pgid {
            let _ = kill_process_group(pgid, Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a log file.
pub fn log_tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A free loopback port (bound then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `GET path` on a fresh connection answers `200`.
pub fn http_get_ok(port: u16, path: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    got == buf.len() && (buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200"))
}

/// Text deltas of a streamed answer (W3, W4, W5).
pub const STREAM_CHUNKS: usize = 200;

/// The fake upstream's script: short answers, 200-delta streams, and slow streams for
/// `fake-slow` (the open-streams measurement). Recording is off.
pub fn fake_script(slow_delay_ms: u64) -> String {
    // Distinct deltas: LiteLLM aborts a stream that repeats the same chunk 100 times.
    let stream_text: String = (0..STREAM_CHUNKS).map(|i| format!("word{i:04} ")).collect();
    serde_json::json!({
        "models": ["fake", "fake-slow"],
        "record": false,
        "steps": [
            {"when": {"model": "fake-slow", "stream": true},
             "reply": {"text": "tick ", "repeat_text": 1000, "stream": {"delay_ms": slow_delay_ms}}},
            {"when": {"stream": true},
             "reply": {"text": stream_text, "stream": {"text_chunks": STREAM_CHUNKS}}}
        ],
        "default": {"text": "Hello! How can I help you today?"}
    })
    .to_string()
}

pub fn start_fake(bin: &Path, work: &Path, logs: &Path) -> Result<Service> {
    let script = work.join("fake-script.json");
    std::fs::write(&script, fake_script(500))?;
    let port = free_port()?;
    let mut svc = Service::spawn(
        "fake-provider",
        port,
        Command::new(bin)
            .arg("--script")
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port"])
            .arg(port.to_string()),
        logs,
    )?;
    svc.wait_healthy(
        "/v1/models",
        Duration::from_millis(2),
        Duration::from_secs(20),
    )?;
    Ok(svc)
}

/// agent-shim's config dir (config.yaml in LiteLLM's schema, a `bench` profile) and state dir.
pub struct ShimDirs {
    pub config_dir: PathBuf,
    pub config: PathBuf,
}

pub fn write_shim_config(work: &Path, upstream: u16) -> Result<ShimDirs> {
    let config_dir = work.join("agent-shim-config");
    std::fs::create_dir_all(config_dir.join("profiles"))?;
    let config = config_dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n\
             \x20 - model_name: fake\n\
             \x20   litellm_params:\n\
             \x20     model: openai/fake\n\
             \x20     api_base: http://127.0.0.1:{upstream}/v1\n\
             \x20     api_key: x\n\
             \x20 - model_name: fake-slow\n\
             \x20   litellm_params:\n\
             \x20     model: openai/fake-slow\n\
             \x20     api_base: http://127.0.0.1:{upstream}/v1\n\
             \x20     api_key: x\n\
             general_settings:\n\
             \x20 master_key: {AGENT_SHIM_KEY}\n"
        ),
    )?;
    std::fs::write(
        config_dir.join("profiles/bench.yaml"),
        "meta:\n  name: Bench\n  opus_model: fake\n  sonnet_model: fake\n  haiku_model: fake\n",
    )?;
    Ok(ShimDirs { config_dir, config })
}

/// The environment of every agent-shim command the bench runs.
pub fn shim_env(cmd: &mut Command, dirs: &ShimDirs, state_dir: &Path, port: u16) {
    for v in [
        "AGENT_SHIM_HOST",
        "AGENT_SHIM_MASTER_KEY",
        "AGENT_SHIM_PROFILE",
        "AGENT_SHIM_TOKEN",
        "DIRENV_DIR",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("AGENT_SHIM_CONFIG_DIR", &dirs.config_dir)
        .env("AGENT_SHIM_STATE_DIR", state_dir)
        .env("AGENT_SHIM_PORT", port.to_string())
        .env("AGENT_SHIM_LOG", "warn");
}

/// Launches `agent-shim serve` (not waiting).
pub fn spawn_shim(
    name: &str,
    bin: &Path,
    dirs: &ShimDirs,
    state_dir: &Path,
    logs: &Path,
) -> Result<Service> {
    std::fs::create_dir_all(state_dir)?;
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--config")
        .arg(&dirs.config)
        .arg("--port")
        .arg(port.to_string());
    shim_env(&mut cmd, dirs, state_dir, port);
    Service::spawn(name, port, &mut cmd, logs)
}

pub fn write_litellm_config(work: &Path, upstream: u16) -> Result<PathBuf> {
    let p = work.join("litellm-config.yaml");
    std::fs::write(
        &p,
        format!(
            "model_list:\n\
             \x20 - model_name: fake\n\
             \x20   litellm_params:\n\
             \x20     model: openai/fake\n\
             \x20     api_base: http://127.0.0.1:{upstream}/v1\n\
             \x20     api_key: x\n\
             \x20     use_chat_completions_api: true\n\
             litellm_settings:\n\
             \x20 use_chat_completions_url_for_anthropic_messages: true\n\
             \x20 turn_off_message_logging: true\n\
             \x20 callbacks: []\n\
             router_settings:\n\
             \x20 disable_cooldowns: true\n\
             \x20 num_retries: 0\n\
             general_settings:\n\
             \x20 master_key: os.environ/LITELLM_MASTER_KEY\n\
             \x20 disable_spend_logs: true\n\
             \x20 disable_error_logs: true\n"
        ),
    )?;
    Ok(p)
}

/// Launches LiteLLM's proxy offline (not waiting).
pub fn spawn_litellm(bin: &Path, config: &Path, work: &Path, logs: &Path) -> Result<Service> {
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(config)
        .args(["--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .current_dir(work)
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_LOG", "ERROR")
        .env(
            "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES",
            "True",
        )
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .env_remove("DATABASE_URL");
    Service::spawn("litellm", port, &mut cmd, logs)
}

/// Starts nginx as a plain reverse proxy in front of the upstream (foreground, unprivileged
/// paths, 2 workers, upstream keep-alive, no buffering).
pub fn start_nginx(bin: &Path, work: &Path, logs: &Path, upstream: u16) -> Result<Service> {
    let dir = work.join("nginx");
    std::fs::create_dir_all(dir.join("logs"))?;
    let port = free_port()?;
    let d = dir.display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 8192; }}\n\
             http {{\n\
             \x20 access_log off;\n\
             \x20 client_body_temp_path {d}/client_body;\n\
             \x20 proxy_temp_path {d}/proxy;\n\
             \x20 fastcgi_temp_path {d}/fastcgi;\n\
             \x20 uwsgi_temp_path {d}/uwsgi;\n\
             \x20 scgi_temp_path {d}/scgi;\n\
             \x20 client_max_body_size 16m;\n\
             \x20 upstream fake {{ server 127.0.0.1:{upstream}; keepalive 256; }}\n\
             \x20 server {{\n\
             \x20   listen 127.0.0.1:{port};\n\
             \x20   location / {{\n\
             \x20     proxy_pass http://fake;\n\
             \x20     proxy_http_version 1.1;\n\
             \x20     proxy_set_header Connection \"\";\n\
             \x20     proxy_buffering off;\n\
             \x20     proxy_request_buffering off;\n\
             \x20   }}\n\
             \x20 }}\n\
             }}\n"
        ),
    )?;
    let mut svc = Service::spawn(
        "nginx",
        port,
        Command::new(bin)
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"]),
        logs,
    )?;
    svc.wait_port(Duration::from_secs(10))?;
    Ok(svc)
}

/// `name` on PATH (or in /usr/sbin, /sbin).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// agent-shim with the usage ledger off (`disable_spend_logs`) and, given a PostgreSQL URL, with
/// the ledger there (`database_url`), each started and healthy: the rows that show the ledger's
/// cost on the hot path beside the default (ledger on, SQLite).
pub fn start_ledger_variants(
    bin: &Path,
    dirs: &ShimDirs,
    work: &Path,
    logs: &Path,
    database_url: Option<&str>,
) -> Result<Vec<(crate::report::Target, Service)>> {
    use crate::report::Target;
    let base = std::fs::read_to_string(&dirs.config)?;
    let mut variants = vec![(
        Target::AgentShimNoLedger,
        "ledger-off",
        "  disable_spend_logs: true\n".to_string(),
    )];
    if let Some(url) = database_url {
        variants.push((
            Target::AgentShimPg,
            "ledger-pg",
            format!("  database_url: {url}\n"),
        ));
    }
    let mut out = Vec::new();
    for (target, name, extra) in variants {
        let config = dirs.config_dir.join(format!("config-{name}.yaml"));
        // The base config ends inside `general_settings:`; the extra key joins it.
        std::fs::write(&config, format!("{base}{extra}"))?;
        let d = ShimDirs {
            config_dir: dirs.config_dir.clone(),
            config,
        };
        let state = work.join(format!("agent-shim-state-{name}"));
        let mut s = spawn_shim(&format!("agent-shim-{name}"), bin, &d, &state, logs)?;
        s.wait_healthy("/health", Duration::from_millis(1), Duration::from_secs(30))?;
        out.push((target, s));
    }
    Ok(out)
}
