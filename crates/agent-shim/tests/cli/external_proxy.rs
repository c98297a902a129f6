//! An external proxy instead of the embedded gateway (config.yaml `proxy: {url, master_key}`):
//! enter/leave/janitor register models there through LiteLLM's admin API, and `env`/`with` point
//! agents at it. Tested against a LiteLLM-compatible agent-shim gateway (the whole admin API
//! path) and against a real LiteLLM proxy from PyPI (what a database-less LiteLLM supports).

use crate::common::*;
use serde_json::{Value, json};
use std::process::{Child, Stdio};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str, key: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn listed(url: &str, key: &str) -> Vec<String> {
    let mut v: Vec<String> = get(&format!("{url}/v1/models"), key)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn mock_models(s: &Sandbox, prefix: &str) {
    let models: String = ["opus", "sonnet", "haiku"]
        .iter()
        .map(|t| format!("  - model_name: {prefix}-{t}\n    litellm_params:\n      model: mock/x\n      mock_response: {prefix} {t} answer\n"))
        .collect();
    s.write_config("models.yaml", &format!("model_list:\n{models}"));
    s.write_config(
        &format!("profiles/{prefix}.yaml"),
        &format!("meta:\n  name: {prefix}\n  opus_model: {prefix}-opus\n  sonnet_model: {prefix}-sonnet\n  haiku_model: {prefix}-haiku\n"),
    );
}

#[test]
fn enter_and_janitor_register_at_an_external_proxy_through_the_admin_api() {
    const KEY: &str = "sk-external-proxy-key";
    let ext = Sandbox::new();
    let cfg = ext.dir.path().join("proxy.yaml");
    std::fs::write(&cfg, format!("general_settings:\n  master_key: {KEY}\n")).unwrap();
    let _proxy = Killed(
        ext.cmd(&["serve", "--config", cfg.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = ext.base_url();
    wait_until(10, "the external proxy", || {
        post_json(&format!("{url}/v1/messages"), KEY, &json!({})).is_some()
    });

    let s = Sandbox::new();
    mock_models(&s, "ext");
    s.write_config(
        "config.yaml",
        &format!("proxy:\n  url: {url}\n  master_key: {KEY}\nlease_minutes: 0\n"),
    );
    let o = s.run(&["enter", "tok", "ext"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        listed(&url, KEY),
        ["ext-haiku", "ext-opus", "ext-sonnet"],
        "registered at the external proxy"
    );
    assert!(
        !s.state_dir()
            .join(format!("gateway-{}.pid", s.port))
            .exists(),
        "no embedded gateway was started"
    );
    let st = status_json(&s);
    assert_eq!(st["gateway"]["external"], true);
    for m in st["models"].as_array().unwrap() {
        assert_eq!(m["registered"], true);
        assert_eq!(
            m["external_ids"].as_array().unwrap().len(),
            1,
            "the proxy's id is kept for deletion: {m}"
        );
    }
    let env = stdout(&s.run(&["env", "ext"]));
    assert!(
        env.contains(&format!("ANTHROPIC_BASE_URL={url}\n"))
            && env.contains(&format!("ANTHROPIC_AUTH_TOKEN={KEY}\n")),
        "{env}"
    );
    let body = json!({"model": "ext-sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post_json(&format!("{url}/v1/messages"), KEY, &body).unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("ext sonnet answer"), "{text}");

    assert!(s.run(&["leave", "tok"]).status.success());
    let out = stdout(&s.run(&["janitor", "--force"]));
    assert!(out.contains("released ext-opus"), "{out}");
    assert!(
        listed(&url, KEY).is_empty(),
        "deleted at the external proxy by id"
    );
}

fn litellm_binary() -> String {
    if let Ok(p) = std::env::var("AGENT_SHIM_TEST_LITELLM") {
        return p;
    }
    crate::claude_e2e::on_path("litellm")
        .expect("LiteLLM is needed: `bash .ci/run` installs it (PyPI litellm[proxy]); or set AGENT_SHIM_TEST_LITELLM")
}

#[test]
fn a_real_litellm_proxy_serves_agents_pointed_at_it_e2e() {
    const KEY: &str = "sk-agent-shim-litellm-test-0123";
    let s = Sandbox::new();
    let port = free_port();
    let cfg = s.dir.path().join("litellm.yaml");
    let models: String = ["opus", "sonnet", "haiku"]
        .iter()
        .map(|t| format!("  - model_name: lt-{t}\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: LiteLLM {t} says hello\n"))
        .collect();
    std::fs::write(
        &cfg,
        format!("model_list:\n{models}general_settings:\n  master_key: {KEY}\n"),
    )
    .unwrap();
    let log = std::fs::File::create(s.dir.path().join("litellm.log")).unwrap();
    let _litellm = Killed(
        std::process::Command::new(litellm_binary())
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("LITELLM_LOG", "ERROR")
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    wait_until(120, "LiteLLM to start", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && get(&format!("{url}/health/liveliness"), KEY).is_string()
    });
    println!(
        "litellm started in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    s.write_config(
        "config.yaml",
        &format!("proxy:\n  url: {url}\n  master_key: {KEY}\n"),
    );
    s.write_config("profiles/lt.yaml", "meta:\n  name: lt\n  opus_model: lt-opus\n  sonnet_model: lt-sonnet\n  haiku_model: lt-haiku\n");
    let o = s.run(&["enter", "tok", "lt"]);
    assert!(
        o.status.success(),
        "models LiteLLM serves from its config need no /model/new: {}",
        stderr(&o)
    );
    let st = status_json(&s);
    assert_eq!(st["gateway"]["external"], true);
    assert_eq!(
        st["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["registered"] == true)
            .count(),
        3
    );

    // An agent pointed at LiteLLM by `with`: the real Claude Code, answered by LiteLLM's mock.
    let claude = crate::claude_e2e::claude_binary();
    let o = s
        .cmd(&[
            "with",
            "lt",
            "--",
            &claude,
            "-p",
            "hello",
            "--output-format",
            "json",
        ])
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .output()
        .unwrap();
    println!("claude -p through LiteLLM printed: {}", stdout(&o));
    let r: Value = serde_json::from_str(stdout(&o).trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(r["result"], "LiteLLM opus says hello", "{r}");

    // A model LiteLLM does not serve needs /model/new, which LiteLLM refuses without a database.
    mock_models(&s, "extra");
    let o = s.run(&["enter", "tok2", "extra"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{url} refused to register 'extra-opus'"))
            && e.contains("store_model_in_db"),
        "{e}"
    );
}
