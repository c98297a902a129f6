//! The official Python SDKs — PyPI `anthropic` (Messages) and `openai` (Chat Completions and
//! Responses) — against the running gateway, each reaching an upstream that speaks only another
//! protocol. `sdk_clients.py` makes the calls and asserts on the SDKs' own parsed objects; this side
//! sets up the fake upstreams and the gateway, checks the script's verdict line by line, and checks
//! what the upstreams received.
//!
//! The Python comes from `AGENT_SHIM_TEST_PYTHON` (a venv with pinned `anthropic` and `openai`,
//! made by `.ci/run`); the tests fail, not skip, without it.

use crate::claude_e2e::output_within;
use crate::common::*;
use fake_provider::{FakeProviderThread, RecordedRequest, Script};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/sdk_clients.py");
const UPSTREAM_KEY: &str = "sk-fake-upstream-sdk";

/// The venv's python, checked to import both SDKs.
pub fn python() -> String {
    let py = std::env::var("AGENT_SHIM_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_PYTHON is not set: it must name a Python with the PyPI packages \
             `anthropic` and `openai` (`bash .ci/run` makes that venv; by hand: \
             python3 -m venv /tmp/py-sdks && /tmp/py-sdks/bin/pip install anthropic openai, \
             then AGENT_SHIM_TEST_PYTHON=/tmp/py-sdks/bin/python)"
        )
    });
    let out = Command::new(&py)
        .args([SCRIPT, "--check"])
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("AGENT_SHIM_TEST_PYTHON={py} cannot be run: {e}"));
    assert!(
        out.status.success(),
        "AGENT_SHIM_TEST_PYTHON={py} cannot import the SDKs (pip install anthropic openai): {}{}",
        stdout(&out),
        stderr(&out)
    );
    py
}

/// The tool schema `sdk_clients.py` offers (`SCHEMA` there).
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["city", "unit"]
    })
}

/// A fake upstream speaking only `protocol` that answers a request offering `get_weather` with a
/// call of it (arguments streamed in fragments), and anything else with text.
fn upstream(protocol: &str) -> FakeProviderThread {
    let script = json!({
        "protocols": [protocol],
        "api_key": UPSTREAM_KEY,
        "steps": [{
            "when": {"has_tools": true, "contains": "get_weather"},
            "reply": {
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}],
                "usage": {"input": 42, "output": 17},
                "stream": {"arg_fragments": 4}
            }
        }],
        "default": {"text": "No tool was offered."}
    });
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// Three one-protocol upstreams and a gateway whose models reach them:
/// `chat-up` (Chat Completions), `anthropic-up` (Messages), `responses-up` (Responses).
struct Setup {
    s: Sandbox,
    chat: FakeProviderThread,
    anthropic: FakeProviderThread,
    responses: FakeProviderThread,
}

fn setup() -> Setup {
    let chat = upstream("openai-chat");
    let anthropic = upstream("anthropic");
    let responses = upstream("openai-responses");
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:
  - model_name: chat-up
    litellm_params:
      model: openai/fake-chat
      api_base: {chat}/v1
      api_key: {UPSTREAM_KEY}
  - model_name: anthropic-up
    litellm_params:
      model: anthropic/fake-claude
      api_base: {anthropic}
      api_key: {UPSTREAM_KEY}
  - model_name: responses-up
    litellm_params:
      model: openai/fake-responses
      api_base: {responses}/v1
      api_key: {UPSTREAM_KEY}
      api_mode: responses
",
            chat = chat.base_url(),
            anthropic = anthropic.base_url(),
            responses = responses.base_url(),
        ),
    );
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "proxy start: {}", stderr(&o));
    Setup {
        s,
        chat,
        anthropic,
        responses,
    }
}

/// Runs the Python `script` (with the venv's python, a clean environment plus `env`, the
/// gateway's address and key) on `cases` (`(case, model)`); asserts it printed one `ok case model`
/// line per case and exited 0, showing the gateway log otherwise. Returns what it printed.
pub fn run_script(
    s: &Sandbox,
    script: &str,
    cases: &[(&str, &str)],
    env: &[(&str, String)],
    within: Duration,
) -> String {
    let name = std::path::Path::new(script)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .args(cases.iter().map(|(c, m)| format!("{c}={m}")))
        .env_clear()
        .env("HOME", s.home())
        .env("AGENT_SHIM_GATEWAY", s.base_url())
        .env("AGENT_SHIM_KEY", master_key(s))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(s.work());
    let out = output_within(cmd, within);
    let printed = stdout(&out);
    println!("{name} printed:\n{printed}");
    assert!(
        out.status.success(),
        "{name} failed ({:?}):\n{printed}\n{}\ngateway log:\n{}",
        out.status,
        stderr(&out),
        std::fs::read_to_string(s.state_dir().join(format!("gateway-{}.log", s.port)))
            .unwrap_or_default()
    );
    for (case, model) in cases {
        let prefix = format!("ok {case} {model} ");
        assert!(
            printed.lines().any(|l| l.starts_with(&prefix)),
            "no `{prefix}…` line:\n{printed}"
        );
    }
    assert_eq!(printed.lines().count(), cases.len(), "{printed}");
    printed
}

impl Setup {
    /// Runs `sdk_clients.py` on `cases` (`(case, model)`), asserting it passed every one.
    fn run(&self, cases: &[(&str, &str)]) -> String {
        let path = std::env::var("PATH").unwrap_or_default();
        run_script(
            &self.s,
            SCRIPT,
            cases,
            &[("PATH", path)],
            Duration::from_secs(120),
        )
    }

    /// The gateway logged a request from a client speaking `client`.
    fn assert_logged(&self, client: &str) {
        gateway_log_with(&self.s, &format!("client=\"{client}\""));
    }
}

/// Every request `fake` received went to `path`, for `model`, carried the prompt and offered the
/// tool in that protocol's own shape (`tool` extracts it); `streams` lists the requests' `stream`
/// flags in order.
fn assert_upstream(
    fake: &FakeProviderThread,
    path: &str,
    model: &str,
    streams: &[bool],
    tool: impl Fn(&Value) -> (Value, Value),
) -> Vec<RecordedRequest> {
    let reqs = fake.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert!(
        reqs.iter().all(|r| r.path == path),
        "only {path} upstream: {paths:?}"
    );
    let got: Vec<bool> = reqs
        .iter()
        .map(|r| r.body["stream"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(got, streams, "requests (stream flags) at {path}");
    for r in &reqs {
        assert_eq!(r.body["model"], model, "{}", r.raw_body);
        assert!(r.raw_body.contains("weather in Paris"), "{}", r.raw_body);
        let (name, params) = tool(&r.body);
        assert_eq!(name, "get_weather", "{}", r.raw_body);
        assert_eq!(params, schema(), "{}", r.raw_body);
    }
    reqs
}

fn chat_tool(b: &Value) -> (Value, Value) {
    assert_eq!(b["tools"][0]["type"], "function", "{b}");
    (
        b["tools"][0]["function"]["name"].clone(),
        b["tools"][0]["function"]["parameters"].clone(),
    )
}

fn anthropic_tool(b: &Value) -> (Value, Value) {
    (
        b["tools"][0]["name"].clone(),
        b["tools"][0]["input_schema"].clone(),
    )
}

fn responses_tool(b: &Value) -> (Value, Value) {
    assert_eq!(b["tools"][0]["type"], "function", "{b}");
    (
        b["tools"][0]["name"].clone(),
        b["tools"][0]["parameters"].clone(),
    )
}

#[test]
fn anthropic_sdk_messages_through_chat_only_and_responses_only_upstreams() {
    let t = setup();
    t.run(&[
        ("messages", "chat-up"),
        ("messages-stream", "chat-up"),
        ("messages", "responses-up"),
        ("messages-stream", "responses-up"),
    ]);
    assert_upstream(
        &t.chat,
        "/v1/chat/completions",
        "fake-chat",
        &[false, true],
        chat_tool,
    );
    assert_upstream(
        &t.responses,
        "/v1/responses",
        "fake-responses",
        &[false, true],
        responses_tool,
    );
    assert!(t.anthropic.requests().is_empty());
    t.assert_logged("anthropic");
}

#[test]
fn openai_sdk_chat_completions_through_anthropic_only_and_responses_only_upstreams() {
    let t = setup();
    t.run(&[
        ("chat", "anthropic-up"),
        ("chat-stream", "anthropic-up"),
        ("chat-stream-helper", "anthropic-up"),
        ("chat", "responses-up"),
        ("chat-stream", "responses-up"),
    ]);
    let reqs = assert_upstream(
        &t.anthropic,
        "/v1/messages",
        "fake-claude",
        &[false, true, true],
        anthropic_tool,
    );
    for r in &reqs {
        assert_eq!(
            r.headers.get("x-api-key").map(String::as_str),
            Some(UPSTREAM_KEY),
            "the upstream's own key, as Anthropic takes it"
        );
        assert_eq!(r.body["max_tokens"], 256, "{}", r.raw_body);
    }
    assert_upstream(
        &t.responses,
        "/v1/responses",
        "fake-responses",
        &[false, true],
        responses_tool,
    );
    assert!(t.chat.requests().is_empty());
    t.assert_logged("openai-chat");
}

#[test]
fn openai_sdk_responses_through_chat_only_and_anthropic_only_upstreams() {
    let t = setup();
    t.run(&[
        ("responses", "chat-up"),
        ("responses-stream", "chat-up"),
        ("responses", "anthropic-up"),
        ("responses-stream", "anthropic-up"),
        ("responses-stream-helper", "anthropic-up"),
    ]);
    assert_upstream(
        &t.chat,
        "/v1/chat/completions",
        "fake-chat",
        &[false, true],
        chat_tool,
    );
    assert_upstream(
        &t.anthropic,
        "/v1/messages",
        "fake-claude",
        &[false, true, true],
        anthropic_tool,
    );
    assert!(t.responses.requests().is_empty());
    t.assert_logged("openai-responses");
}
