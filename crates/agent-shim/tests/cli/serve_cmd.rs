//! `agent-shim serve` in the foreground: a LiteLLM config file, SIGTERM, `--workers`.

use crate::common::*;
use std::time::{Duration, Instant};

/// A LiteLLM config served as is: its master key, a wildcard group, a `model_group_alias`,
/// and a warning in the log for the key agent-shim does not implement; SIGTERM stops it.
#[test]
fn serves_a_litellm_config_and_stops_on_sigterm() {
    let s = Sandbox::new();
    let cfg = s.dir.path().join("litellm.yaml");
    std::fs::write(
        &cfg,
        "model_list:\n  - model_name: canned\n    litellm_params:\n      model: openai/x\n      mock_response: canned answer\n\
         \x20 - model_name: \"wild/*\"\n    litellm_params:\n      model: openai/*\n      mock_response: wild answer\n\
         general_settings:\n  master_key: sk-litellm-style\nlitellm_settings:\n  drop_params: true\n  success_callback: [langfuse]\n\
         router_settings:\n  model_group_alias: {\"old-name\": canned}\n",
    )
    .unwrap();
    let child = s
        .cmd(&["serve", "--config", cfg.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("{}/v1/messages", s.base_url());
    let ask = |model: &str| {
        let body = serde_json::json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        post_json(&url, "sk-litellm-style", &body)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Some((200, text)) = ask("canned") {
            break text;
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |body: &str| {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(text(&body), "canned answer", "{body}");
    for (model, want) in [
        ("old-name", "canned answer"),
        ("wild/any-model", "wild answer"),
    ] {
        let (status, body) = ask(model).unwrap();
        assert_eq!(
            (status, text(&body)),
            (200, want.to_owned()),
            "{model}: {body}"
        );
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!(
            "{}:14: litellm_settings.success_callback: callbacks are not implemented",
            cfg.display()
        )),
        "{log}"
    );
}

/// `max_request_body_mb` in config.yaml reaches the served gateway: a body announced over it is
/// refused with Anthropic's 413 before it is sent.
#[test]
fn max_request_body_mb_limits_the_served_gateway() {
    use std::io::{Read, Write};
    let s = Sandbox::new();
    s.write_config(
        "config.yaml",
        "master_key: sk-limit\nmax_request_body_mb: 1\nmodel_list:\n  - model_name: canned\n    litellm_params:\n      model: openai/x\n      mock_response: ok\n",
    );
    let mut child = s.cmd(&["serve"]).spawn().unwrap();
    let url = format!("{}/v1/messages", s.base_url());
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = serde_json::json!({"model": "canned", "max_tokens": 10,
        "messages": [{"role": "user", "content": "x".repeat(600 * 1024)}]});
    loop {
        let r = post_json(&url, "sk-limit", &body);
        if r.as_ref().map(|r| r.0) == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not come up: {r:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = s.base_url().trim_start_matches("http://").to_owned();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: sk-limit\r\ncontent-length: 1100000\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#""type":"request_too_large""#) && answer.contains("limit of 1 MiB"),
        "{answer}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
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

#[test]
fn config_directory_instead_of_file_is_a_usage_error_naming_the_file() {
    let s = Sandbox::new();
    let dir = s.dir.path().join("cfgdir");
    std::fs::create_dir_all(&dir).unwrap();
    let o = s.run(&["serve", "--config", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a directory; give a YAML file (e.g. ")
            && stderr(&o).contains("cfgdir/config.yaml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn serve_workers_out_of_range_is_a_usage_error() {
    let s = Sandbox::new();
    let o = s.run(&["serve", "--workers", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--workers"), "{}", stderr(&o));
}

#[test]
fn serve_with_one_worker_answers_requests() {
    let s = Sandbox::new();
    let mut child = s
        .cmd(&["serve", "--workers", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(10, "the gateway to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok()
    });
    let answer = post_json(
        &format!("{}/v1/messages", s.base_url()),
        &master_key(&s),
        &serde_json::json!({"model": "demo/sonnet", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}),
    );
    let _ = child.kill();
    let _ = child.wait();
    let (status, body) = answer.expect("the gateway answered");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"type\":\"message\""), "{body}");
}

/// `litellm_settings.num_retries` is the retry count when `router_settings` gives none, and
/// `router_settings.num_retries` wins over it: attempts counted at a failing fake upstream.
#[test]
fn litellm_settings_num_retries_applies_unless_router_settings_sets_it() {
    use fake_provider::{FakeProviderThread, Script};
    for (settings, attempts) in [
        ("litellm_settings:\n  num_retries: 0\n", 1),
        (
            "litellm_settings:\n  num_retries: 0\nrouter_settings:\n  num_retries: 1\n",
            2,
        ),
    ] {
        let script = serde_json::json!({"protocols": ["openai-chat"],
            "default": {"status": 500, "error": {"message": "upstream broke"}}});
        let fake =
            FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
        let s = Sandbox::new();
        let cfg = s.dir.path().join("litellm.yaml");
        std::fs::write(
            &cfg,
            format!(
                "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/x\n      api_base: {}/v1\n      api_key: sk-up\n\
                 general_settings:\n  master_key: sk-retries\n{settings}",
                fake.base_url()
            ),
        )
        .unwrap();
        let mut child = s
            .cmd(&["serve", "--config", cfg.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("{}/v1/messages", s.base_url());
        let body = serde_json::json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some((status, _)) = post_json(&url, "sk-retries", &body) {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not come up");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status >= 500, "{status}");
        assert_eq!(fake.requests().len(), attempts, "{settings}");
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        child.wait().unwrap();
    }
}
