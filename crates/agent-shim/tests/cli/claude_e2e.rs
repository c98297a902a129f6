//! End to end with the real Claude Code CLI: `agent-shim with <profile> -- claude -p …` against an
//! upstream that speaks only Chat Completions. The upstream asks for a Bash call; Claude Code runs
//! it; the tool's output must arrive in the second upstream request and come back in Claude Code's
//! final answer.
//!
//! Claude Code comes from npm (`@anthropic-ai/claude-code`, installed by `.ci/run`); the test finds
//! it as `AGENT_SHIM_TEST_CLAUDE` or `claude` on PATH, and fails (it does not skip) without it.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::time::Duration;

pub fn claude_binary() -> String {
    if let Ok(p) = std::env::var("AGENT_SHIM_TEST_CLAUDE") {
        return p;
    }
    on_path("claude")
        .expect("Claude Code is needed: `npm install -g @anthropic-ai/claude-code` (or run `bash .ci/run`), or set AGENT_SHIM_TEST_CLAUDE")
}

/// The path of `name` on PATH.
pub fn on_path(name: &str) -> Option<String> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// Runs a command, killing it after `limit`.
pub fn output_within(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

#[test]
fn claude_code_runs_a_bash_tool_round_trip_through_a_chat_only_upstream() {
    let claude = claude_binary();
    let script = json!({
        "protocols": ["openai-chat"],
        "api_key": "sk-fake-upstream",
        "steps": [
            {"when": {"has_tools": true, "contains": "tool_call_id"},
             "reply": {"text": "The command printed: {{last_tool_result}}", "stream": {"text_chunks": 5}}},
            {"when": {"has_tools": true},
             "reply": {"tool_calls": [{"name": "Bash", "arguments": {
                 "command": "echo agent-shim-e2e-$((6*7))", "description": "Print the marker"}}],
                 "stream": {"arg_fragments": 7}}}
        ],
        "default": {"text": "Marker check"}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    chat_profile(&s, &fake.base_url());
    let mut cmd = s.cmd(&[
        "with",
        "test",
        "--",
        &claude,
        "-p",
        "Run the marker command and tell me what it printed.",
        "--output-format",
        "json",
        "--allowedTools",
        "Bash",
    ]);
    cmd.env("FAKE_UPSTREAM_KEY", "sk-fake-upstream")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    let out = output_within(cmd, Duration::from_secs(180));
    let printed = stdout(&out);
    println!("claude -p printed: {printed}");
    assert!(
        out.status.success(),
        "claude failed: {printed}\n{}",
        stderr(&out)
    );
    let result: Value =
        serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(
        result["result"], "The command printed: agent-shim-e2e-42",
        "{result}"
    );
    assert_eq!(result["num_turns"], 2);

    let reqs = fake.requests();
    assert!(
        reqs.iter().all(|r| r.path == "/v1/chat/completions"),
        "only Chat Completions was spoken upstream"
    );
    let with_result = reqs
        .iter()
        .find(|r| r.raw_body.contains("tool_call_id"))
        .expect("a second request carrying the tool result");
    let msgs = with_result.body["messages"].as_array().unwrap();
    let call = msgs
        .iter()
        .find(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .expect("the assistant's call");
    assert_eq!(call["tool_calls"][0]["function"]["name"], "Bash");
    let tool = msgs.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool["tool_call_id"], call["tool_calls"][0]["id"]);
    assert_eq!(
        tool["content"].as_str().unwrap().trim(),
        "agent-shim-e2e-42",
        "the shell really ran the command"
    );
    assert_eq!(
        with_result.headers["authorization"],
        "Bearer sk-fake-upstream"
    );
    assert!(
        result["modelUsage"]["test-chat"]["contextWindow"] == 131072,
        "Claude Code was told the model's window: {result}"
    );
}

/// Regression (the seed's openClaude): a user whose `~/.claude/settings.json` sends Claude Code
/// to Bedrock (`CLAUDE_CODE_USE_BEDROCK=1`) with another model (`ANTHROPIC_MODEL`) could not use
/// `with`; with `--isolated` the real Claude Code answers through the gateway from the profile's
/// model, keeps the user's files as they were and sees (and writes to) the user's history and
/// projects through the isolated dir.
#[test]
fn isolated_e2e_claude_code_ignores_bedrock_and_model_in_the_users_settings() {
    use crate::claude_isolated::{
        BEDROCK_USER_SETTINGS, anthropic_fake, iso_profile, user_claude_files,
    };
    let claude = claude_binary();
    let fake = anthropic_fake("Answer from the fake upstream.");
    let s = Sandbox::new();
    iso_profile(&s, &fake.base_url(), "");
    user_claude_files(&s, BEDROCK_USER_SETTINGS);
    let user_dir = s.home().join(".claude");
    let settings = user_dir.join("settings.json");
    let stamp = |p: &std::path::Path| {
        (
            std::fs::read(p).unwrap(),
            std::fs::metadata(p).unwrap().modified().unwrap(),
        )
    };
    let settings_before = stamp(&settings);
    let history_before = std::fs::read_to_string(user_dir.join("history.jsonl")).unwrap();
    let mut cmd = s.cmd(&[
        "with",
        "iso",
        "--isolated",
        "--",
        &claude,
        "-p",
        "Say hello.",
        "--output-format",
        "json",
    ]);
    cmd.env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(180));
    let printed = stdout(&out);
    println!("claude -p printed: {printed}\nstderr: {}", stderr(&out));
    assert!(
        out.status.success(),
        "claude failed: {printed}\n{}",
        stderr(&out)
    );
    let result: Value =
        serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(
        result["result"], "Answer from the fake upstream.",
        "{result}"
    );
    assert_eq!(
        result["modelUsage"]["iso-big[1m]"]["contextWindow"], 1_000_000,
        "Claude Code used the profile's opus tier with its 1M window: {result}"
    );

    let reqs = fake.requests();
    assert!(!reqs.is_empty(), "the answer came from the fake upstream");
    for r in &reqs {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(
            r.body["model"], "fake-big",
            "the profile's model, not the settings' one"
        );
    }
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.raw_body.contains("some-wrong-model"))
    );

    assert_eq!(
        stamp(&settings),
        settings_before,
        "the user's settings.json is untouched"
    );
    let iso = s.state_dir().join("claude-isolated/iso");
    let history = std::fs::read_to_string(iso.join("history.jsonl")).unwrap();
    assert!(
        history.starts_with(&history_before),
        "the user's history, through the isolated dir: {history}"
    );
    let after = std::fs::read_to_string(user_dir.join("history.jsonl")).unwrap();
    println!(
        "claude -p {} the history file",
        if after == history_before {
            "did not append to"
        } else {
            "appended to"
        }
    );
    // `-p` writes the session's transcript under projects/: it lands in the user's dir.
    let transcripts = std::fs::read_dir(user_dir.join("projects"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "p")
        .count();
    assert!(
        transcripts > 0,
        "the session transcript is in the user's projects dir"
    );
    assert!(
        std::fs::symlink_metadata(s.home().join(".claude.json"))
            .unwrap()
            .is_file(),
        "the user's state file is a file still"
    );
    assert_eq!(
        std::fs::read_link(iso.join(".claude.json")).unwrap(),
        s.home().join(".claude.json")
    );
}
