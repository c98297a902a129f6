//! End to end with the real Codex CLI and opencode (npm `@openai/codex`, `opencode-ai`, installed
//! by `.ci/run`; found on PATH or as AGENT_SHIM_TEST_CODEX / AGENT_SHIM_TEST_OPENCODE). Each runs a
//! shell-tool round trip through the gateway against a fake upstream that speaks one other
//! protocol: the upstream asks for the tool, the agent runs it, the tool's output must arrive in
//! the next upstream request, and the agent's final text must quote it.

use crate::claude_e2e::{on_path, output_within};
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::{Value, json};
use std::time::Duration;

fn binary(var: &str, name: &str, package: &str) -> String {
    std::env::var(var)
        .ok()
        .or_else(|| on_path(name))
        .unwrap_or_else(|| {
            panic!(
                "{name} is needed: `npm install -g {package}` (or run `bash .ci/run`), or set {var}"
            )
        })
}

/// A fake upstream speaking only `protocol`: a shell-tool call first, then text quoting the result.
fn tool_round_trip(
    protocol: &str,
    tool: &str,
    args: Value,
    result_marker: &str,
) -> FakeProviderThread {
    let script = json!({
        "protocols": [protocol],
        "steps": [
            {"when": {"contains": result_marker}, "reply": {"text": "The tool printed: {{last_tool_result}}", "stream": {"text_chunks": 4}}},
            {"when": {"has_tools": true}, "reply": {"tool_calls": [{"name": tool, "arguments": args}], "stream": {"arg_fragments": 5}}}
        ],
        "default": {"text": "Marker run"}
    });
    FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap()
}

/// A profile `test` whose models are at `base` speaking `model` (`openai/…` or `anthropic/…`).
fn profile_at(s: &Sandbox, model: &str, base: &str) {
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: test-model\n    litellm_params:\n      model: {model}\n      api_base: {base}\n      api_key: sk-fake\n    model_info:\n      context_window: 131072\n      max_output_tokens: 16384\n"
        ),
    );
    s.write_config("profiles/test.yaml", "meta:\n  name: test\n  opus_model: test-model\n  sonnet_model: test-model\n  haiku_model: test-model\n");
}

fn codex_round_trip(upstream: &str, model: &str, base_of: impl Fn(&str) -> String, marker: &str) {
    let codex = binary("AGENT_SHIM_TEST_CODEX", "codex", "@openai/codex");
    let fake = tool_round_trip(
        upstream,
        "exec_command",
        json!({"cmd": "echo codex-e2e-$((6*7))"}),
        marker,
    );
    let s = Sandbox::new();
    profile_at(&s, model, &base_of(&fake.base_url()));
    let codex_home = s.dir.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let mut cmd = s.cmd(&[
        "with",
        "test",
        "--",
        &codex,
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "Run the marker command and report what it printed.",
    ]);
    cmd.env("CODEX_HOME", &codex_home)
        .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(180));
    let events = stdout(&out);
    println!("codex exec --json printed ({upstream} upstream):\n{events}");
    assert!(
        out.status.success(),
        "codex failed: {events}\n{}",
        stderr(&out)
    );
    // The generated model catalogue gives Codex the model's metadata (issue 11 §4): no
    // "Model metadata for `test-model` not found. Defaulting to fallback metadata" warning.
    assert!(
        !events.contains("Model metadata") && !stderr(&out).contains("Model metadata"),
        "Codex fell back to its default model metadata:\n{events}\n{}",
        stderr(&out)
    );
    let catalog: Value = serde_json::from_str(
        &std::fs::read_to_string(
            s.state_dir()
                .join("agents/codex/test/catalog/model_catalog.json"),
        )
        .expect("with wrote Codex's model catalogue"),
    )
    .unwrap();
    assert_eq!(catalog["models"][0]["slug"], "test-model", "{catalog}");
    assert_eq!(catalog["models"][0]["context_window"], 131_072, "{catalog}");
    let events: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let command = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
        .expect("Codex ran the command");
    assert_eq!(
        command["item"]["aggregated_output"]
            .as_str()
            .unwrap()
            .trim(),
        "codex-e2e-42"
    );
    let message = events
        .iter()
        .rev()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .expect("a final agent message");
    let text = message["item"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("The tool printed:") && text.contains("codex-e2e-42"),
        "{text}"
    );
    assert!(
        events.iter().any(|e| e["type"] == "turn.completed"),
        "the turn completed"
    );

    let reqs = fake.requests();
    let second = reqs
        .iter()
        .find(|r| r.raw_body.contains(marker))
        .expect("a request with the tool result");
    assert!(
        second.raw_body.contains("codex-e2e-42"),
        "the tool output reached the upstream"
    );
    let expected_path = if upstream == "anthropic" {
        "/v1/messages"
    } else {
        "/v1/chat/completions"
    };
    assert!(
        reqs.iter().all(|r| r.path == expected_path),
        "only {upstream} was spoken upstream"
    );
}

#[test]
fn codex_e2e_tool_round_trip_through_a_chat_only_upstream() {
    codex_round_trip(
        "openai-chat",
        "openai/fake-chat",
        |b| format!("{b}/v1"),
        "tool_call_id",
    );
}

#[test]
fn codex_e2e_tool_round_trip_through_an_anthropic_only_upstream() {
    codex_round_trip(
        "anthropic",
        "anthropic/fake-claude",
        str::to_owned,
        "tool_result",
    );
}

fn opencode_round_trip(provider_kind: &str, client: &str) {
    let opencode = binary("AGENT_SHIM_TEST_OPENCODE", "opencode", "opencode-ai");
    let fake = tool_round_trip(
        "openai-chat",
        "bash",
        json!({"command": "echo opencode-e2e-$((6*7))", "description": "Print the marker"}),
        "tool_call_id",
    );
    let s = Sandbox::new();
    profile_at(&s, "openai/fake-chat", &format!("{}/v1", fake.base_url()));
    let mut cmd = s.cmd(&[
        "with",
        "test",
        "--",
        &opencode,
        "run",
        "--format",
        "json",
        "--auto",
        "-m",
        &format!("{provider_kind}/test-model"),
        "Run the marker command and report what it printed.",
    ]);
    cmd.env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
        .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(240));
    let printed = stdout(&out);
    println!("opencode run ({provider_kind}) printed:\n{printed}");
    assert!(
        out.status.success(),
        "opencode failed: {printed}\n{}",
        stderr(&out)
    );
    let events: Vec<Value> = printed
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let tool = events
        .iter()
        .find(|e| e["type"] == "tool_use")
        .expect("opencode ran the tool");
    assert!(tool.to_string().contains("opencode-e2e-42"), "{tool}");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "text")
        .filter_map(|e| e["part"]["text"].as_str())
        .collect();
    assert!(
        text.contains("The tool printed:") && text.contains("opencode-e2e-42"),
        "{text}"
    );
    let second = fake
        .requests()
        .into_iter()
        .find(|r| r.raw_body.contains("tool_call_id"))
        .expect("the tool result went upstream");
    assert!(second.raw_body.contains("opencode-e2e-42"));
    // opencode spoke `client` to the gateway.
    gateway_log_with(&s, &format!("client=\"{client}\""));
}

#[test]
fn opencode_e2e_openai_compatible_provider() {
    opencode_round_trip("agent-shim", "openai-chat");
}

#[test]
fn opencode_e2e_openai_responses_provider() {
    opencode_round_trip("agent-shim-responses", "openai-responses");
}

#[test]
fn opencode_e2e_anthropic_provider() {
    opencode_round_trip("agent-shim-anthropic", "anthropic");
}
