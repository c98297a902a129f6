//! `agent-shim serve` in the foreground with a LiteLLM config file.

use crate::common::*;
use std::time::{Duration, Instant};

#[test]
fn serves_a_litellm_config_and_stops_on_sigterm() {
    let s = Sandbox::new();
    let cfg = s.dir.path().join("litellm.yaml");
    std::fs::write(
        &cfg,
        "model_list:\n  - model_name: canned\n    litellm_params:\n      model: openai/x\n      mock_response: canned answer\n\
         general_settings:\n  master_key: sk-litellm-style\nlitellm_settings:\n  drop_params: true\n",
    )
    .unwrap();
    let mut child = s
        .cmd(&["serve", "--config", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    let url = format!("{}/v1/messages", s.base_url());
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let body = serde_json::json!({"model": "canned", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        if let Some((200, text)) = post_json(&url, "sk-litellm-style", &body) {
            break text;
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(20));
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["content"][0]["text"], "canned answer", "{body}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let s = Sandbox::new();
    let o = s.run(&["serve", "--config", "/nonexistent/config.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--config /nonexistent/config.yaml: no such file"),
        "{}",
        stderr(&o)
    );
}
