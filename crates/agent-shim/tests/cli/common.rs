//! A sandbox per test: its own HOME, config and state directories and gateway port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Sandbox {
            dir,
            port: free_port(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home().join(".config/agent-shim")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.home().join(".local/state/agent-shim")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Writes `text` to `rel` under the config directory.
    pub fn write_config(&self, rel: &str, text: &str) {
        let p = self.config_dir().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `agent-shim` with only this sandbox's environment (plus PATH).
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_at(Path::new(env!("CARGO_BIN_EXE_agent-shim")), args)
    }

    pub fn cmd_at(&self, exe: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(exe);
        c.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AGENT_SHIM_PORT", self.port.to_string())
            .env("AGENT_SHIM_LOG", "info")
            .current_dir(self.work());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.cmd(&["proxy", "stop"]).output();
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A model list with one Chat Completions model at `base`, keyed by `FAKE_UPSTREAM_KEY`, and a
/// profile `test` whose three tiers use it.
pub fn chat_profile(s: &Sandbox, base: &str) {
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: test-chat\n    litellm_params:\n      model: openai/fake-chat\n      \
             api_base: {base}/v1\n      api_key: os.environ/FAKE_UPSTREAM_KEY\n    model_info:\n      context_window: 131072\n"
        ),
    );
    s.write_config(
        "profiles/test.yaml",
        "meta:\n  name: test\n  opus_model: test-chat\n  sonnet_model: test-chat\n  haiku_model: test-chat\n",
    );
}

/// POSTs JSON with `x-api-key`; `None` when nothing answers.
pub fn post_json(url: &str, key: &str, body: &serde_json::Value) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .header("x-api-key", key)
            .json(body)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    })
}

/// The gateway's master key, as `env` prints it.
pub fn master_key(s: &Sandbox) -> String {
    let out = stdout(&s.run(&["env", "demo"]));
    out.lines()
        .find_map(|l| l.strip_prefix("ANTHROPIC_AUTH_TOKEN="))
        .expect("env prints the key")
        .to_owned()
}

/// GETs JSON from the gateway with the master key.
pub fn get_json(s: &Sandbox, path: &str) -> serde_json::Value {
    let key = master_key(s);
    let url = format!("{}{path}", s.base_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    })
}

/// `status --json`.
pub fn status_json(s: &Sandbox) -> serde_json::Value {
    let o = s.run(&["status", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// Polls `check` every 50 ms until it holds or `secs` pass.
pub fn wait_until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The background gateway's log once it contains `needle` (it is written in batches, so a
/// line can land a few tens of milliseconds after what it reports); panics with the log after
/// 10 s.
pub fn gateway_log_with(s: &Sandbox, needle: &str) -> String {
    let path = s.state_dir().join(format!("gateway-{}.log", s.port));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway log {} has no {needle:?}: {log}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Registered model names, from `/v1/models`.
pub fn registered_models(s: &Sandbox) -> Vec<String> {
    let v = get_json(s, "/v1/models");
    let mut names: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Asserts `o` succeeded, showing its exit code and output under `what` otherwise.
pub fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// `PATH` with `dir` first.
pub fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}
