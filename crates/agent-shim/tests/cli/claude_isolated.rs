//! The openClaude launch mode: `with <profile> --isolated -- claude` (or `isolated: true` in the
//! profile) gives Claude Code its own `CLAUDE_CONFIG_DIR` — links to the user's `~/.claude`, a
//! derived `settings.json` without the `env` keys that would route it elsewhere — and leaves
//! the user's files as they were; outside it, `with` warns about those keys; `[1m]` tier names
//! for 1M-context models; the built-in `bedrock` profile's environment. Claude Code is a stub
//! script here (the real one: `isolated_e2e_*` in `claude_e2e.rs`).

use crate::claude_e2e::output_within;
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The user's settings.json as a Bedrock user of Claude Code has it (seeds/003).
pub const BEDROCK_USER_SETTINGS: &str = r#"{
  "env": {
    "CLAUDE_CODE_USE_BEDROCK": "1",
    "ANTHROPIC_MODEL": "some-wrong-model",
    "AWS_BEARER_TOKEN_BEDROCK": "bedrock-token",
    "AWS_REGION": "us-west-2",
    "KEEP_ME": "kept"
  },
  "awsCredentialExport": "print-aws-credentials",
  "permissions": {"allow": ["Bash(ls:*)"]}
}
"#;

/// An Anthropic-protocol upstream answering every request.
pub fn anthropic_fake(text: &str) -> FakeProviderThread {
    let script = json!({"protocols": ["anthropic"], "api_key": "sk-up", "default": {"text": text}});
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// Models `iso-big` (1M window) and `iso-small` (128K) at `base`, and profile `iso` (opus and
/// sonnet `iso-big`, haiku `iso-small`) with `extra` lines.
pub fn iso_profile(s: &Sandbox, base: &str, extra: &str) {
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:
  - model_name: iso-big
    litellm_params:
      model: anthropic/fake-big
      api_base: {base}
      api_key: sk-up
    model_info:
      context_window: 1000000
  - model_name: iso-small
    litellm_params:
      model: anthropic/fake-small
      api_base: {base}
      api_key: sk-up
    model_info:
      context_window: 128000
"
        ),
    );
    s.write_config(
        "profiles/iso.yaml",
        &format!(
            "meta:\n  name: iso\n  opus_model: iso-big\n  sonnet_model: iso-big\n  haiku_model: iso-small\n{extra}"
        ),
    );
}

/// A user's Claude Code files: `~/.claude/{settings.json, history.jsonl, projects/,
/// .credentials.json}` and `~/.claude.json`.
pub fn user_claude_files(s: &Sandbox, settings: &str) {
    let dir = s.home().join(".claude");
    std::fs::create_dir_all(dir.join("projects/p")).unwrap();
    std::fs::write(dir.join("settings.json"), settings).unwrap();
    std::fs::write(dir.join("history.jsonl"), "{\"display\":\"earlier\"}\n").unwrap();
    std::fs::write(dir.join(".credentials.json"), "{\"claudeAiOauth\":{}}").unwrap();
    std::fs::write(
        s.home().join(".claude.json"),
        "{\"hasCompletedOnboarding\":true}",
    )
    .unwrap();
}

/// Content and mtime of every file under HOME's Claude Code files.
pub fn user_files(s: &Sandbox) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![s.home().join(".claude")];
    out.insert(
        s.home().join(".claude.json"),
        read_with_mtime(&s.home().join(".claude.json")),
    );
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path(), read_with_mtime(&e.path()));
            }
        }
    }
    out
}

fn read_with_mtime(p: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(p).unwrap(),
        std::fs::metadata(p).unwrap().modified().unwrap(),
    )
}

/// What the stub `claude` saw.
struct Seen {
    env: BTreeMap<String, String>,
    args: Vec<String>,
    stderr: String,
}

/// Runs `agent-shim <args…>` with a stub `claude` first on PATH that records its environment
/// and arguments.
fn with_stub(s: &Sandbox, args: &[&str]) -> Seen {
    let bin = s.dir.path().join("stub-bin");
    let dump = s.dir.path().join("stub-dump");
    let _ = std::fs::remove_dir_all(&dump);
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&dump).unwrap();
    let stub = bin.join("claude");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nd='{}'\nenv > \"$d/env\"\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$d/args\"\n",
            dump.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = s.cmd(args);
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
    .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "agent-shim {args:?}: {:?}\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let text = |n: &str| std::fs::read_to_string(dump.join(n)).unwrap();
    Seen {
        env: text("env")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        args: text("args").lines().map(str::to_owned).collect(),
        stderr: stderr(&out),
    }
}

fn isolated_dir(s: &Sandbox, profile: &str) -> PathBuf {
    s.state_dir().join("claude-isolated").join(profile)
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", p.display()))
}

fn link_target(p: &Path) -> PathBuf {
    std::fs::read_link(p).unwrap_or_else(|e| panic!("{} is not a link: {e}", p.display()))
}

/// Regression: a user settings.json selecting Bedrock and a model defeated `with` (Claude Code
/// applies its `env` over the shell and `--settings` does not set those keys).
#[test]
fn isolated_launch_links_the_users_dir_and_derives_settings_without_routing_keys() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(
        &s,
        &fake.base_url(),
        "  aws_auth_refresh: aws sso login --profile X\n",
    );
    user_claude_files(&s, BEDROCK_USER_SETTINGS);
    let before = user_files(&s);

    let seen = with_stub(
        &s,
        &["with", "iso", "--isolated", "--", "claude", "-p", "hi"],
    );
    let dir = isolated_dir(&s, "iso");
    assert_eq!(seen.env["CLAUDE_CONFIG_DIR"], dir.display().to_string());
    assert_eq!(seen.args[0], "--settings", "{:?}", seen.args);
    assert_eq!(&seen.args[2..], ["-p", "hi"]);
    assert!(
        !seen.stderr.contains("--isolated"),
        "no warning: {}",
        seen.stderr
    );

    let claude = s.home().join(".claude");
    for name in ["history.jsonl", "projects", ".credentials.json"] {
        assert_eq!(link_target(&dir.join(name)), claude.join(name), "{name}");
    }
    assert_eq!(
        link_target(&dir.join(".claude.json")),
        s.home().join(".claude.json")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("history.jsonl")).unwrap(),
        "{\"display\":\"earlier\"}\n",
        "the history is visible through the isolated dir"
    );
    let settings = dir.join("settings.json");
    assert!(!std::fs::symlink_metadata(&settings).unwrap().is_symlink());
    let derived = read_json(&settings);
    let key = master_key(&s);
    assert!(
        !std::fs::read_to_string(&settings).unwrap().contains(&key),
        "the gateway's key is not in the derived settings"
    );
    assert_eq!(
        derived,
        json!({
            "env": {
                "AWS_REGION": "us-west-2",
                "KEEP_ME": "kept",
                "ANTHROPIC_BASE_URL": s.base_url(),
                "API_TIMEOUT_MS": "3000000",
                "ANTHROPIC_DEFAULT_OPUS_MODEL": "iso-big[1m]",
                "ANTHROPIC_DEFAULT_SONNET_MODEL": "iso-big[1m]",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL": "iso-small",
                "ANTHROPIC_CUSTOM_HEADERS": "x-agent-shim-profile: iso"
            },
            "awsAuthRefresh": "aws sso login --profile X",
            "permissions": {"allow": ["Bash(ls:*)"]}
        })
    );
    assert_eq!(
        seen.env["ANTHROPIC_AUTH_TOKEN"], key,
        "the key is in the environment"
    );
    assert_eq!(
        user_files(&s),
        before,
        "the user's files are byte-identical, same mtime"
    );

    // The next launch reuses the directory and follows the user's changes.
    std::fs::remove_file(claude.join(".credentials.json")).unwrap();
    std::fs::create_dir(claude.join("plugins")).unwrap();
    std::fs::write(
        claude.join("settings.json"),
        "{\"env\":{\"ANTHROPIC_MODEL\":\"x\"}}",
    )
    .unwrap();
    let before = user_files(&s);
    let seen = with_stub(&s, &["with", "iso", "--isolated", "--", "claude"]);
    assert_eq!(seen.env["CLAUDE_CONFIG_DIR"], dir.display().to_string());
    assert!(std::fs::symlink_metadata(dir.join(".credentials.json")).is_err());
    assert_eq!(link_target(&dir.join("plugins")), claude.join("plugins"));
    let derived = read_json(&settings);
    assert!(
        derived.get("permissions").is_none() && derived["env"].get("ANTHROPIC_MODEL").is_none()
    );
    assert_eq!(derived["awsAuthRefresh"], "aws sso login --profile X");
    assert_eq!(user_files(&s), before);
}

#[test]
fn isolated_true_in_the_profile_isolates_without_the_flag_and_the_env_cmd_writes_nothing() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "  isolated: true\n");
    user_claude_files(&s, "{}");
    let o = s.run(&["env", "iso"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("CLAUDE_CONFIG_DIR"), "{}", stdout(&o));
    assert!(
        !isolated_dir(&s, "iso").exists(),
        "`env` creates no directory"
    );
    let seen = with_stub(&s, &["with", "iso", "--", "claude"]);
    assert_eq!(
        seen.env["CLAUDE_CONFIG_DIR"],
        isolated_dir(&s, "iso").display().to_string()
    );
}

/// Regression: outside `--isolated`, a user's settings.json routing Claude Code to Bedrock made
/// `with` fail silently (Claude Code retried Bedrock); now `with` says why and what to do.
#[test]
fn with_warns_once_about_routing_keys_in_the_users_settings_outside_isolated() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "");
    user_claude_files(
        &s,
        r#"{"env": {"ANTHROPIC_BASE_URL": "http://elsewhere", "CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_MODEL": "m"}}"#,
    );
    let seen = with_stub(&s, &["with", "iso", "--", "claude"]);
    let path = s.home().join(".claude/settings.json");
    let lines: Vec<&str> = seen
        .stderr
        .lines()
        .filter(|l| l.contains("--isolated"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", seen.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "agent-shim: {} sets CLAUDE_CODE_USE_BEDROCK, ANTHROPIC_MODEL in `env`",
            path.display()
        )) && lines[0].contains("`isolated: true` in profile 'iso'"),
        "{}",
        lines[0]
    );
    assert!(!seen.env.contains_key("CLAUDE_CONFIG_DIR"));

    // Claude Code's own config dir is the one read.
    let other = s.dir.path().join("other-claude");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("settings.json"),
        r#"{"env": {"CLAUDE_CODE_USE_VERTEX": "1"}}"#,
    )
    .unwrap();
    let o = s
        .cmd(&["with", "iso", "--", "true"])
        .env("CLAUDE_CONFIG_DIR", &other)
        .output()
        .unwrap();
    assert!(
        !stderr(&o).contains("--isolated"),
        "not Claude Code: {}",
        stderr(&o)
    );
    let o = s
        .cmd(&["with", "iso", "--agent", "claude", "--", "true"])
        .env("CLAUDE_CONFIG_DIR", &other)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "{} sets CLAUDE_CODE_USE_VERTEX",
            other.join("settings.json").display()
        )),
        "{e}"
    );
    // Nothing to warn about when the keys are absent or empty.
    std::fs::write(
        &path,
        r#"{"env": {"CLAUDE_CODE_USE_BEDROCK": "", "OTHER": "1"}}"#,
    )
    .unwrap();
    let seen = with_stub(&s, &["with", "iso", "--", "claude"]);
    assert!(!seen.stderr.contains("--isolated"), "{}", seen.stderr);
}

#[test]
fn isolated_with_a_settings_json_that_is_not_json_warns_and_derives_from_empty_settings() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "");
    user_claude_files(&s, "{ \"env\": { oops");
    let before = user_files(&s);
    let seen = with_stub(&s, &["with", "iso", "--isolated", "--", "claude"]);
    let path = s.home().join(".claude/settings.json");
    assert!(
        seen.stderr
            .contains(&format!("agent-shim: {}:1:", path.display()))
            && seen.stderr.contains("not valid JSON")
            && seen.stderr.contains("fix the file"),
        "{}",
        seen.stderr
    );
    let derived = read_json(&isolated_dir(&s, "iso").join("settings.json"));
    assert_eq!(derived["env"]["ANTHROPIC_BASE_URL"], s.base_url());
    assert_eq!(user_files(&s), before);
}

#[test]
fn isolated_is_refused_for_an_agent_that_is_not_claude_code() {
    let s = Sandbox::new();
    let o = s.run(&["with", "demo", "--isolated", "--", "sh", "-c", "true"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--isolated gives Claude Code its own config dir")
            && e.contains("`sh` is not Claude Code")
            && e.contains("--agent claude"),
        "{e}"
    );
}

#[test]
fn concurrent_isolated_launches_leave_a_consistent_directory() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "  isolated: true\n");
    user_claude_files(&s, BEDROCK_USER_SETTINGS);
    // Start the gateway once, so the launches race on the directory, not on the gateway.
    assert!(s.run(&["proxy", "start"]).status.success());
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = s.cmd(&["with", "iso", "--agent", "claude", "--", "true"]);
            cmd.stdin(std::process::Stdio::null());
            std::thread::spawn(move || output_within(cmd, Duration::from_secs(60)))
        })
        .collect();
    for h in handles {
        let o = h.join().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let dir = isolated_dir(&s, "iso");
    let derived = read_json(&dir.join("settings.json"));
    assert!(derived["env"].get("CLAUDE_CODE_USE_BEDROCK").is_none());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".agent-shim-tmp")),
        "no temporary left: {names:?}"
    );
    assert_eq!(
        link_target(&dir.join("history.jsonl")),
        s.home().join(".claude/history.jsonl")
    );
}

fn env_of(s: &Sandbox, profile: &str) -> BTreeMap<String, String> {
    let o = s.run(&["env", profile]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn one_m_tier_names_follow_the_models_window_and_the_profiles_context_1m() {
    let fake = anthropic_fake("unused");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "");
    let env = env_of(&s, "iso");
    assert_eq!(env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "iso-big[1m]");
    assert_eq!(env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "iso-big[1m]");
    assert_eq!(env["ANTHROPIC_DEFAULT_HAIKU_MODEL"], "iso-small");
    assert!(
        !env.contains_key("CLAUDE_CODE_DISABLE_1M_CONTEXT")
            && !env.contains_key("CLAUDE_CODE_MAX_CONTEXT_TOKENS"),
        "{env:?}"
    );

    // `context_1m: false`: no suffix; the smaller window is announced instead.
    s.write_config(
        "profiles/iso.yaml",
        "meta:\n  name: iso\n  opus_model: iso-small\n  sonnet_model: iso-big\n  haiku_model: iso-small\n  context_1m: false\n",
    );
    let env = env_of(&s, "iso");
    assert_eq!(env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "iso-big");
    assert_eq!(env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"], "128000");
    assert_eq!(env["CLAUDE_CODE_DISABLE_1M_CONTEXT"], "1");

    // A list: those tiers, whatever their windows.
    s.write_config(
        "profiles/iso.yaml",
        "meta:\n  name: iso\n  opus_model: iso-small\n  sonnet_model: iso-small\n  haiku_model: iso-small\n  context_1m: [opus]\n",
    );
    let env = env_of(&s, "iso");
    assert_eq!(env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "iso-small[1m]");
    assert_eq!(env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "iso-small");
    assert_eq!(env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"], "128000");
    assert!(
        !env.contains_key("CLAUDE_CODE_DISABLE_1M_CONTEXT"),
        "an opus [1m] tier keeps 1M on: {env:?}"
    );
}

/// The built-in `bedrock` profile exports first-party `[1m]` names for opus and sonnet. (Its
/// answers need the gateway's bedrock provider; only the environment is checked here.)
#[test]
fn bedrock_profile_exports_first_party_1m_tier_names() {
    let s = Sandbox::new();
    let env = env_of(&s, "bedrock");
    assert_eq!(env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "claude-opus-4-6[1m]");
    assert_eq!(
        env["ANTHROPIC_DEFAULT_SONNET_MODEL"],
        "claude-sonnet-4-5[1m]"
    );
    assert_eq!(env["ANTHROPIC_DEFAULT_HAIKU_MODEL"], "qwen3-coder");
    assert_eq!(env["AGENT_SHIM_PROFILE"], "bedrock");
    assert!(
        !env.contains_key("CLAUDE_CODE_DISABLE_1M_CONTEXT"),
        "{env:?}"
    );
    let o = s.run(&["profiles", "show", "bedrock"]);
    let shown = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for needle in [
        "isolated: true",
        "aws_auth_refresh: aws sso login",
        "bedrock/us.anthropic.claude-opus-4-6-v1",
        "bedrock/converse/qwen.qwen3-coder-480b-a35b-v1:0",
    ] {
        assert!(shown.contains(needle), "{needle}: {shown}");
    }
}
