//! The claude-code provider inside the binary's background gateway: the CLI runs in the
//! harness's own directory under the state dir (never the gateway's or the user's), the
//! request's log line carries the CLI's `total_cost_usd`, and a gateway started from a shell
//! that agent-shim pointed at itself does not hand the CLI its own address.

use crate::claude_e2e::claude_binary;
use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

const TEXT: &str = "Hello from the fake through the harness.";

#[test]
fn the_cli_runs_in_the_state_dirs_harness_and_its_cost_is_logged() {
    let fake = FakeProviderThread::start(
        Script::from_json(
            &json!({"protocols": ["anthropic"], "record": true, "default": {"text": TEXT}})
                .to_string(),
        )
        .unwrap(),
    )
    .unwrap();
    let s = Sandbox::new();
    // A wrapper that notes where it runs and what it inherited, then runs the real CLI with the
    // fake's address from a variable only extra_env sets.
    let note = s.dir.path().join("cli-run.txt");
    let wrapper = s.dir.path().join("claude");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n{{ pwd; echo \"base=$ANTHROPIC_BASE_URL token=$ANTHROPIC_AUTH_TOKEN\"; }} > '{}'\n\
             ANTHROPIC_BASE_URL=\"$FAKE_BASE\" exec '{}' \"$@\"\n",
            note.display(),
            claude_binary()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = json!({"model_list": [{"model_name": "cc", "litellm_params": {
        "model": "claude-code/sonnet", "claude_path": wrapper.to_str().unwrap(), "timeout": 60,
        "extra_env": {"ANTHROPIC_API_KEY": "sk-ant-harness", "FAKE_BASE": fake.base_url(),
            "CLAUDE_CONFIG_DIR": s.dir.path().join("claude-config").to_str().unwrap()}}}]});
    s.write_config("config.yaml", &cfg.to_string());
    // Started from a shell agent-shim pointed at this very gateway: the CLI must not inherit
    // that address (it would call the gateway that called it) nor its token.
    let o = s
        .cmd(&["proxy", "start"])
        .env("ANTHROPIC_BASE_URL", s.base_url())
        .env("ANTHROPIC_AUTH_TOKEN", "sk-agent-shim-self")
        .output()
        .unwrap();
    assert!(o.status.success(), "proxy start: {}", stderr(&o));
    let chat = |messages: serde_json::Value| {
        let body = json!({"model": "cc", "max_tokens": 32, "messages": messages});
        let url = format!("{}/v1/chat/completions", s.base_url());
        let (status, text) = post_json(&url, &master_key(&s), &body).expect("an answer");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let v = chat(json!([{"role": "user", "content": "hello"}]));
    assert_eq!(v["choices"][0]["message"]["content"], TEXT, "{v}");
    let ran = std::fs::read_to_string(&note).unwrap();
    let harness = s.state_dir().join("claude-code");
    assert_eq!(ran.lines().next(), Some(harness.to_str().unwrap()), "{ran}");
    assert_eq!(ran.lines().nth(1), Some("base= token="), "{ran}");
    let log = gateway_log_with(&s, "cost_usd=");
    let line = log
        .lines()
        .find(|l| l.contains("cost_usd=") && l.contains("model=cc"))
        .unwrap_or_else(|| panic!("{log}"));
    let cost: f64 = line
        .split("cost_usd=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(cost > 0.0, "{line}");
    assert!(fake.requests().iter().any(|r| r.path == "/v1/messages"));
    // A history this gateway did not answer (edited, or from before a restart): a new session,
    // and the log says it carries the earlier turns.
    chat(json!([
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "an answer from somewhere else"},
        {"role": "user", "content": "and now?"}]));
    let log = gateway_log_with(&s, "a new session starts with the earlier turns as context");
    assert!(log.contains("earlier_turns=2"), "{log}");
}
