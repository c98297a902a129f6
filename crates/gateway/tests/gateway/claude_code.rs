//! The `claude-code` provider with the real Claude Code CLI as its upstream, pointed through
//! `extra_env` at the fake's Anthropic API with a test key (no subscription needed): Chat,
//! Anthropic and Responses clients get the fake's text, tools are refused, a missing CLI is named, and a
//! client that disconnects mid-answer leaves no CLI process behind.

use crate::common::*;
use crate::faults::clients::{Client, answer_text};
use fake_provider::FakeProvider;
use futures_util::StreamExt;
use gateway::ModelDefinition;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TEXT: &str = "Hello from the fake upstream through Claude Code.";

/// The real `claude` binary: on PATH, else where the CI installs it.
pub fn claude_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("claude"));
    let ci = Path::new("/root/.cache/agent-shim-ci/npm-tools/node_modules/.bin/claude").to_owned();
    on_path
        .chain(std::iter::once(ci))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "these tests need the real Claude Code CLI: no `claude` on PATH (install it with \
                 `npm install -g @anthropic-ai/claude-code`, or run .ci/run which installs it)"
            )
        })
}

/// A fresh empty directory for one test's CLI runs, so its processes can be found by cwd.
pub fn private_cwd(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "agent-shim-cc-test-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The CLI's configuration directory for runs in `cwd` (beside it, so no test touches the
/// user's `~/.claude`).
pub fn config_dir(cwd: &Path) -> PathBuf {
    let mut name = cwd.file_name().unwrap().to_owned();
    name.push("-config");
    cwd.with_file_name(name)
}

/// Waits up to `within` for every process in `cwd` to be gone; the ones left.
pub async fn left_after(cwd: &Path, within: Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let left = processes_in(cwd);
        if left.is_empty() || start.elapsed() >= within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn cc_def(name: &str, fake: &FakeProvider, cwd: &Path, claude_path: &str) -> ModelDefinition {
    serde_json::from_value(json!({"model_name": name, "litellm_params": {
        "model": "claude-code/sonnet",
        "claude_path": claude_path,
        "timeout": 60,
        "cwd": cwd.to_str().unwrap(),
        "extra_env": {"ANTHROPIC_BASE_URL": fake.base_url(), "ANTHROPIC_API_KEY": "test",
            "CLAUDE_CONFIG_DIR": config_dir(cwd).to_str().unwrap()},
    }}))
    .unwrap()
}

async fn setup(tag: &str, stream: Value) -> (FakeProvider, Running, PathBuf) {
    let fake =
        fake(json!({"protocols": ["anthropic"], "default": {"text": TEXT, "stream": stream}}))
            .await;
    let cwd = private_cwd(tag);
    let claude = claude_binary();
    let gw = gateway(vec![cc_def("cc", &fake, &cwd, claude.to_str().unwrap())]).await;
    (fake, gw, cwd)
}

pub async fn post_bearer(gw: &Running, path: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(format!("{}{path}", gw.base))
        .bearer_auth(MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Processes whose working directory is `cwd`.
pub fn processes_in(cwd: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = e.path();
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if std::fs::read_link(p.join("cwd")).ok().as_deref() == Some(cwd) {
            let cmd = std::fs::read(p.join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_anthropic_clients_get_the_fake_text_through_the_real_cli() {
    let (_fake, gw, cwd) = setup("text", json!({})).await;
    for (client, stream) in [
        (Client::Chat, false),
        (Client::Chat, true),
        (Client::Anthropic, true),
        (Client::Anthropic, false),
        (Client::Responses, true),
        (Client::Responses, false),
    ] {
        let resp = post_bearer(&gw, client.path(), &client.request("cc", stream)).await;
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        assert_eq!(
            status,
            200,
            "{client:?} stream={stream}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            answer_text(client, stream, &body),
            TEXT,
            "{client:?} stream={stream}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Each CLI writes its session and exits on its own, within some 30 ms of its answer.
    let left = left_after(&cwd, Duration::from_secs(3)).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_tools_are_refused_with_a_400() {
    let (_fake, gw, _cwd) = setup("tools", json!({})).await;
    let mut req = Client::Chat.request("cc", false);
    req["tools"] = json!([{"type": "function", "function": {"name": "f",
        "parameters": {"type": "object", "properties": {}}}}]);
    let resp = post_bearer(&gw, "/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("tool calling is not available through the claude-code provider"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_cli_is_named_with_the_package_to_install() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": TEXT}})).await;
    let cwd = private_cwd("missing");
    let gw = gateway(vec![cc_def(
        "cc",
        &fake,
        &cwd,
        "/nonexistent/agent-shim-test/claude",
    )])
    .await;
    let resp = post_bearer(&gw, "/v1/messages", &Client::Anthropic.request("cc", false)).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("claude_path"), "{v}");
    assert!(msg.contains("/nonexistent/agent-shim-test/claude"), "{v}");
    assert!(
        msg.contains("npm install -g @anthropic-ai/claude-code"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_leaves_no_cli_process() {
    // A slow answer: about 40 events 250 ms apart.
    let (_fake, gw, cwd) = setup("disconnect", json!({"text_chunks": 40, "delay_ms": 250})).await;
    let resp = post_bearer(
        &gw,
        "/v1/chat/completions",
        &Client::Chat.request("cc", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut seen = Vec::new();
    // The role chunk, then at least two text deltas.
    while String::from_utf8_lossy(&seen)
        .matches("\"content\":\"")
        .count()
        < 3
    {
        let chunk = tokio::time::timeout(Duration::from_secs(60), body.next())
            .await
            .expect("a first delta within 60 s")
            .expect("the stream goes on")
            .unwrap();
        seen.extend_from_slice(&chunk);
    }
    assert!(
        !processes_in(&cwd).is_empty(),
        "the CLI should be running mid-answer"
    );
    drop(body);
    let left = left_after(&cwd, Duration::from_secs(1)).await;
    assert!(
        left.is_empty(),
        "CLI processes left 1 s after the client went: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_whose_login_is_refused_says_to_log_in_without_waiting_for_its_retries() {
    let fake = fake(
        json!({"protocols": ["anthropic"], "default": {"status": 401,
        "error": {"type": "authentication_error", "message": "invalid x-api-key"}}}),
    )
    .await;
    let cwd = private_cwd("login");
    let claude = claude_binary();
    let gw = gateway(vec![cc_def("cc", &fake, &cwd, claude.to_str().unwrap())]).await;
    for (client, stream) in [(Client::Chat, true), (Client::Anthropic, false)] {
        let started = std::time::Instant::now();
        let resp = post_bearer(&gw, client.path(), &client.request("cc", stream)).await;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, 403, "{client:?}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("`/login`"), "{v}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(processes_in(&cwd).is_empty(), "{:?}", processes_in(&cwd));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_cli_is_stopped_after_the_timeout_with_a_504() {
    let fake = fake(json!({"protocols": ["anthropic"], "default": {"text": TEXT,
        "stream": {"delay_ms": 30000}}}))
    .await;
    let cwd = private_cwd("stall");
    let claude = claude_binary();
    let mut d = cc_def("cc", &fake, &cwd, claude.to_str().unwrap());
    d.litellm_params.other.insert("timeout".into(), json!(3));
    let gw = gateway(vec![d]).await;
    let resp = post_bearer(&gw, "/v1/messages", &Client::Anthropic.request("cc", false)).await;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 504, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("litellm_params.timeout"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(processes_in(&cwd).is_empty(), "{:?}", processes_in(&cwd));
}
