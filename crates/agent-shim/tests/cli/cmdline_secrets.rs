//! No secret on any command line: any local user reads `/proc/<pid>/cmdline` (and `ps`), so the
//! master key and, with `--direct`, the provider key must never be in the arguments of a process
//! `with` starts. Each test runs a real agent (Claude Code, Codex, opencode, installed by
//! `.ci/run`) or a generic command through `agent-shim with`, through the gateway and with
//! `--direct`, and checks two ways:
//!
//! - the agent is a wrapper script that records its own `/proc/self/cmdline` (exactly what `with`
//!   gave it) and then `exec`s the real binary with the same arguments;
//! - while the launch runs, a watcher thread reads `/proc/<pid>/cmdline` of every process on the
//!   machine (the agent, its children, the background gateway) and records any that holds a key.
//!
//! The agent must also really work (its answer printed), so the key did reach it another way.

use crate::claude_e2e::{on_path, output_within};
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const MASTER_KEY: &str = "sk-PLANTED-MASTER-in-cmdline-test-0001";
const PROVIDER_KEY: &str = "sk-PLANTED-PROVIDER-in-cmdline-test-0002";
const ANSWER: &str = "Watched answer.";

/// Every process's command line, read over and over until stopped.
struct Watcher {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(BTreeMap<u32, String>, BTreeSet<u32>)>,
}

impl Watcher {
    /// Watches for `secrets` in command lines, and counts the processes whose command line
    /// contains `marker` (to show the watcher saw the launch).
    fn start(marker: &str) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let marker = marker.to_owned();
        let handle = std::thread::spawn(move || {
            let mut leaks = BTreeMap::new();
            let mut seen = BTreeSet::new();
            while !flag.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Some(pid) = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                    if [MASTER_KEY, PROVIDER_KEY].iter().any(|k| line.contains(k)) {
                        leaks.insert(pid, line.clone());
                    }
                    if line.contains(&marker) {
                        seen.insert(pid);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (leaks, seen)
        });
        Watcher { stop, handle }
    }

    fn finish(self) -> (BTreeMap<u32, String>, BTreeSet<u32>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// A fake upstream that wants the provider key, and a sandbox whose master key is known, with
/// profiles `chat` (Chat Completions), `claude` (Anthropic) and `responses` (Responses) at it.
fn setup() -> (Sandbox, FakeProviderThread) {
    let script = json!({"api_key": PROVIDER_KEY, "default": {"text": ANSWER}});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let base = fake.base_url();
    let s = Sandbox::new();
    s.write_config("config.yaml", &format!("master_key: {MASTER_KEY}\n"));
    let model = |name: &str, model: &str, base: &str, extra: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: {model}\n      api_base: {base}\n      \
             api_key: {PROVIDER_KEY}\n{extra}    model_info:\n      context_window: 131072\n      max_output_tokens: 8192\n"
        )
    };
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n{}{}{}",
            model("chat-model", "openai/fake-chat", &format!("{base}/v1"), ""),
            model("claude-model", "anthropic/fake-claude", &base, ""),
            model(
                "resp-model",
                "openai/fake-resp",
                &format!("{base}/v1"),
                "      api_mode: responses\n"
            ),
        ),
    );
    for (profile, m) in [
        ("chat", "chat-model"),
        ("claude", "claude-model"),
        ("responses", "resp-model"),
    ] {
        s.write_config(
            &format!("profiles/{profile}.yaml"),
            &format!("meta:\n  name: {profile}\n  opus_model: {m}\n  sonnet_model: {m}\n  haiku_model: {m}\n"),
        );
    }
    (s, fake)
}

/// The real agent binary (`AGENT_SHIM_TEST_<NAME>` or on PATH); fails without it.
fn real_binary(name: &str, package: &str) -> String {
    let var = format!("AGENT_SHIM_TEST_{}", name.to_uppercase());
    std::env::var(&var)
        .ok()
        .or_else(|| on_path(name))
        .unwrap_or_else(|| {
            panic!(
                "{name} is needed: `npm install -g {package}` (or run `bash .ci/run`), or set {var}"
            )
        })
}

/// What one watched launch showed.
struct Watched {
    out: std::process::Output,
    /// The arguments `with` gave the agent (the wrapper's `/proc/self/cmdline`, after `sh` and
    /// the wrapper's path).
    argv: Vec<String>,
}

/// Runs `agent-shim with <profile> [--direct] -- <wrapper named agent> <args…>`; the wrapper
/// records its command line, then runs `real` (or, without one, sleeps a second).
fn run_watched(
    s: &Sandbox,
    profile: &str,
    direct: bool,
    agent: &str,
    real: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Watched {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let bin = s.dir.path().join(format!("wrap-{n}"));
    std::fs::create_dir_all(&bin).unwrap();
    let record = bin.join("argv");
    let wrapper = bin.join(agent);
    let then = match real {
        Some(r) => format!("exec '{r}' \"$@\""),
        None => "sleep 1".into(),
    };
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ntr '\\000' '\\n' < /proc/$$/cmdline > '{}'\n{then}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = format!("cmdline-watch-marker-{}-{n}", std::process::id());
    let mut with = vec!["with", profile];
    if direct {
        with.push("--direct");
    }
    with.push("--");
    let wrapper_path = wrapper.display().to_string();
    with.push(&wrapper_path);
    let prompt = format!("Say something ({marker}).");
    for a in args {
        with.push(if *a == "PROMPT" { &prompt } else { a });
    }
    if real.is_none() {
        with.push(&marker);
    }
    let mut cmd = s.cmd(&with);
    cmd.stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let watcher = Watcher::start(&marker);
    let out = output_within(cmd, Duration::from_secs(240));
    let (leaks, seen) = watcher.finish();
    let what = format!("{agent} ({profile}, direct: {direct})");
    assert!(
        leaks.is_empty(),
        "{what}: a key is on a command line: {leaks:#?}"
    );
    assert!(
        !seen.is_empty(),
        "{what}: the watcher never saw the launch's processes"
    );
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let argv: Vec<String> = std::fs::read_to_string(&record)
        .unwrap_or_else(|e| panic!("{what}: the wrapper recorded nothing: {e}"))
        .lines()
        .skip(2)
        .map(str::to_owned)
        .collect();
    for a in &argv {
        assert!(
            !a.contains(MASTER_KEY) && !a.contains(PROVIDER_KEY),
            "{what}: `with` passed a key in an argument: {a}"
        );
    }
    Watched { out, argv }
}

/// The file `--settings` names: 0600, in a 0700 directory under the state dir, holding `key`.
fn check_claude_settings(s: &Sandbox, w: &Watched, key: &str) {
    let i = w
        .argv
        .iter()
        .position(|a| a == "--settings")
        .unwrap_or_else(|| panic!("claude gets --settings: {:?}", w.argv));
    let path = PathBuf::from(&w.argv[i + 1]);
    assert!(
        path.starts_with(s.state_dir().join("launches")),
        "{}",
        path.display()
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "{}", path.display());
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(settings["env"]["ANTHROPIC_AUTH_TOKEN"], key);
}

#[test]
fn claude_gets_no_key_on_its_command_line() {
    let claude = real_binary("claude", "@anthropic-ai/claude-code");
    let (s, fake) = setup();
    // A user settings.json whose `env` would send Claude Code elsewhere with another token:
    // only the `--settings` file (which beats it) lets it reach the endpoint.
    let dot_claude = s.home().join(".claude");
    std::fs::create_dir_all(&dot_claude).unwrap();
    std::fs::write(
        dot_claude.join("settings.json"),
        r#"{"env": {"ANTHROPIC_AUTH_TOKEN": "sk-user-stale", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}}"#,
    )
    .unwrap();
    let env = &[("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")];
    for (profile, direct, key) in [("chat", false, MASTER_KEY), ("claude", true, PROVIDER_KEY)] {
        let w = run_watched(
            &s,
            profile,
            direct,
            "claude",
            Some(&claude),
            &["-p", "PROMPT", "--output-format", "json"],
            env,
        );
        let printed = stdout(&w.out);
        let result: serde_json::Value = serde_json::from_str(printed.trim())
            .unwrap_or_else(|e| panic!("{e}: {printed}\n{}", stderr(&w.out)));
        assert_eq!(result["result"], ANSWER, "{result}");
        check_claude_settings(&s, &w, key);
    }
    assert!(
        fake.requests().iter().any(|r| r.path == "/v1/messages"),
        "--direct reached the Anthropic endpoint itself"
    );
}

#[test]
fn codex_gets_no_key_on_its_command_line() {
    let codex = real_binary("codex", "@openai/codex");
    let (s, fake) = setup();
    let codex_home = s.dir.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    for (profile, direct) in [("chat", false), ("responses", true)] {
        let w = run_watched(
            &s,
            profile,
            direct,
            "codex",
            Some(&codex),
            &["exec", "--skip-git-repo-check", "--json", "PROMPT"],
            &[("CODEX_HOME", codex_home.to_str().unwrap())],
        );
        assert!(w.argv.iter().any(|a| a == "-c"), "{:?}", w.argv);
        assert!(
            stdout(&w.out).contains(ANSWER),
            "{}\n{}",
            stdout(&w.out),
            stderr(&w.out)
        );
        if !direct {
            request_line_of(&s, "codex", profile);
        }
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.ends_with("/responses")),
        "--direct reached the Responses endpoint itself"
    );
}

/// The gateway's request line for `agent`, checked to name the profile it came from (the
/// headers the adapter configured the agent to send, for the usage ledger).
fn request_line_of(s: &Sandbox, agent: &str, profile: &str) {
    let needle = format!("agent=\"{agent}\"");
    let log = gateway_log_with(s, &needle);
    let line = log
        .lines()
        .find(|l| l.contains(&needle) && l.contains("request"))
        .unwrap();
    assert!(line.contains(&format!("profile=\"{profile}\"")), "{line}");
}

#[test]
fn opencode_gets_no_key_on_its_command_line() {
    let opencode = real_binary("opencode", "opencode-ai");
    let (s, _fake) = setup();
    for (direct, model) in [
        (false, "agent-shim/chat-model"),
        (true, "agent-shim/fake-chat"),
    ] {
        let w = run_watched(
            &s,
            "chat",
            direct,
            "opencode",
            Some(&opencode),
            &["run", "--format", "json", "-m", model, "PROMPT"],
            &[
                ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
                ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ],
        );
        assert!(
            stdout(&w.out).contains(ANSWER),
            "{}\n{}",
            stdout(&w.out),
            stderr(&w.out)
        );
        if !direct {
            request_line_of(&s, "opencode", "chat");
        }
    }
}

#[test]
fn a_generic_command_gets_no_key_on_its_command_line() {
    let (s, _fake) = setup();
    for (profile, direct) in [("chat", false), ("chat", true)] {
        let w = run_watched(&s, profile, direct, "tool", None, &["--flag"], &[]);
        assert_eq!(w.argv.first().map(String::as_str), Some("--flag"));
    }
}
