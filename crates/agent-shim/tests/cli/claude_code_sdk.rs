//! The official Python SDKs against a `claude-code/sonnet` model of the agent-shim binary's gateway
//! (`proxy start`), whose upstream is the real `claude` CLI pointed by `extra_env` at the fake
//! Anthropic API with a test key, as the built-in `claude-subscription` profile serves a
//! subscription. `claude_code_sdk.py` makes the calls and asserts on the SDKs' own objects and
//! exceptions: the fake's text and exactly its token counts for Chat Completions, Messages and
//! Responses, streamed and whole; the model in both SDKs' model lists; a missing CLI named with
//! `claude_path` and the npm package; a refused login with `claude` and `/login`.
//!
//! Each answer costs one CLI run (a second or two); the Python comes from
//! `AGENT_SHIM_TEST_PYTHON` (see sdk_clients.rs), the CLI from PATH or `AGENT_SHIM_TEST_CLAUDE`.

use crate::claude_e2e::claude_binary;
use crate::common::*;
use crate::sdk_clients::run_script;
use fake_provider::{FakeProviderThread, RecordedRequest, Script};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/claude_code_sdk.py");
const TEXT: &str = "Hello from the fake upstream through the claude CLI.";
/// The tokens the fake reports for every answer (`usage` in its script).
const INPUT_TOKENS: u64 = 37;
const OUTPUT_TOKENS: u64 = 11;
/// The key the CLI is given in `extra_env`, which the fake then sees.
const CLI_KEY: &str = "sk-ant-test-claude-code";

fn anthropic_fake(default: Value) -> FakeProviderThread {
    let script = json!({"protocols": ["anthropic"], "default": default});
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// A gateway with three `claude-code` models, from config.yaml (so registered, LiteLLM style):
/// `claude-code/sonnet` (the built-in name) on the real CLI and the answering fake,
/// `cc-missing` with a `claude_path` that does not exist, and `cc-logged-out` on a fake that
/// refuses the CLI's key.
struct Setup {
    s: Sandbox,
    answering: FakeProviderThread,
    refusing: FakeProviderThread,
    /// The CLI's working directory, to find its processes.
    cwd: PathBuf,
}

fn setup() -> Setup {
    let answering = anthropic_fake(json!({"text": TEXT,
        "usage": {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS},
        "stream": {"text_chunks": 4}}));
    let refusing = anthropic_fake(json!({"status": 401,
        "error": {"type": "authentication_error", "message": "invalid x-api-key"}}));
    let s = Sandbox::new();
    let cwd = s.dir.path().join("cli-cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let claude = claude_binary();
    // The fake's address and a key (the provider turns the CLI's title request off itself).
    let def = |name: &str, claude_path: &str, base: &str| {
        json!({"model_name": name, "litellm_params": {"model": "claude-code/sonnet",
            "claude_path": claude_path, "timeout": 60, "cwd": cwd.display().to_string(),
            "extra_env": {"ANTHROPIC_BASE_URL": base, "ANTHROPIC_API_KEY": CLI_KEY}}})
    };
    let missing = s.dir.path().join("not-installed/claude");
    let config = json!({"model_list": [
        def("claude-code/sonnet", &claude, &answering.base_url()),
        def("cc-missing", missing.to_str().unwrap(), &answering.base_url()),
        def("cc-logged-out", &claude, &refusing.base_url()),
    ]});
    // JSON is YAML.
    s.write_config("config.yaml", &config.to_string());
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "proxy start: {}", stderr(&o));
    Setup {
        s,
        answering,
        refusing,
        cwd,
    }
}

impl Setup {
    /// Runs `claude_code_sdk.py` on `cases` (`(case, model)`), asserting it passed every one.
    fn run(&self, cases: &[(&str, &str)]) -> String {
        let env = [
            ("EXPECT_TEXT", TEXT.to_owned()),
            ("EXPECT_INPUT_TOKENS", INPUT_TOKENS.to_string()),
            ("EXPECT_OUTPUT_TOKENS", OUTPUT_TOKENS.to_string()),
        ];
        run_script(&self.s, SCRIPT, cases, &env, Duration::from_secs(240))
    }

    /// No process is left running in the CLI's working directory.
    fn assert_no_cli_left(&self) {
        let mut left = processes_in(&self.cwd);
        for _ in 0..30 {
            if left.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
            left = processes_in(&self.cwd);
        }
        panic!("CLI processes left after the SDK calls: {left:?}");
    }
}

/// The Messages requests `fake` received (not the CLI's `HEAD /` checks).
fn messages_posts(fake: &FakeProviderThread) -> Vec<RecordedRequest> {
    let reqs = fake.requests();
    let other: Vec<String> = reqs
        .iter()
        .filter(|r| r.path != "/v1/messages")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(other.iter().all(|r| r == "HEAD /"), "{other:?}");
    reqs.into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/messages")
        .collect()
}

/// Processes whose working directory is `cwd` (pid: command line).
fn processes_in(cwd: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if std::fs::read_link(e.path().join("cwd")).ok().as_deref() == Some(cwd) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

#[test]
fn sdk_clients_get_the_fake_text_and_its_usage_through_the_claude_cli() {
    let t = setup();
    let model = "claude-code/sonnet";
    t.run(&[
        ("models", model),
        ("chat", model),
        ("chat-stream", model),
        ("messages", model),
        ("messages-stream", model),
        ("responses", model),
        ("responses-stream", model),
    ]);
    // One Messages request per answer, from the CLI with its own key, for its model for `sonnet`
    // (and a `HEAD /` before each, its connectivity check); no session-title request.
    let posts = messages_posts(&t.answering);
    let seen: Vec<&str> = posts
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(posts.len(), 6, "{seen:?}");
    for r in &posts {
        assert!(
            r.body["model"].as_str().unwrap().contains("sonnet"),
            "{seen:?}"
        );
        assert_eq!(r.body["stream"], true, "{}", r.raw_body);
        assert_eq!(
            r.headers.get("x-api-key").map(String::as_str),
            Some(CLI_KEY),
            "{:?}",
            r.headers
        );
        let last = &r.body["messages"].as_array().unwrap().last().unwrap()["content"];
        assert_eq!(
            last.as_array().unwrap().last().unwrap()["text"],
            "Say hello.",
            "{}",
            r.raw_body
        );
    }
    assert!(t.refusing.requests().is_empty());
    t.assert_no_cli_left();
}

#[test]
fn a_missing_cli_and_a_refused_login_reach_the_sdks_as_named_errors() {
    let t = setup();
    t.run(&[
        ("missing-cli", "cc-missing"),
        ("logged-out", "cc-logged-out"),
    ]);
    assert!(
        t.answering.requests().is_empty(),
        "the missing CLI sent nothing"
    );
    let refused = messages_posts(&t.refusing);
    assert!(
        (3..=6).contains(&refused.len()),
        "the three runs reach the fake and stop at its refusal, before the CLI retries: {} requests",
        refused.len()
    );
    t.assert_no_cli_left();
}
