//! The running gateway and the files stay in step: edits reach it through its watcher (no
//! command needed), `proxy reload` and `models test` make it read them at once, an invalid edit
//! keeps the previous configuration with the error located in the file, leases and the keys
//! `enter` gave survive, and settings that need a restart are named.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;

/// models.yaml with one mock model `m` answering `answer`.
fn mock_model(answer: &str) -> String {
    format!(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n      mock_response: {answer}\n"
    )
}

/// The text `model` answers through the gateway (with the profile header when given), or the
/// status and body when it fails.
fn answer(s: &Sandbox, key: &str, model: &str, profile: Option<&str>) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .post(format!("{}/v1/messages", s.base_url()))
            .header("x-api-key", key)
            .json(&json!({"model": model, "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi"}]}));
        if let Some(p) = profile {
            req = req.header("x-agent-shim-profile", p);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap();
        if status.is_success() {
            v["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        } else {
            format!("{status}: {v}")
        }
    })
}

fn start(s: &Sandbox) {
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn edited_models_yaml_reaches_running_gateway() {
    let s = Sandbox::new();
    s.write_config("models.yaml", &mock_model("first"));
    s.write_config(
        "profiles/p.yaml",
        "meta:\n  name: p\n  opus_model: m\n  sonnet_model: m\n  haiku_model: m\n",
    );
    start(&s);
    let key = master_key(&s);
    assert_eq!(answer(&s, &key, "m", None), "first");

    // models.yaml: no command, the watcher sees the edit.
    s.write_config("models.yaml", &mock_model("second"));
    wait_until(10, "the models.yaml edit to be served", || {
        answer(&s, &key, "m", None) == "second"
    });
    let log = gateway_log_with(&s, "models changed: m");
    assert!(log.contains("configuration reloaded"), "{log}");

    // A profile: Claude ids resolve through its new tiers.
    s.write_config(
        "models.yaml",
        &format!(
            "{}  - model_name: other\n    litellm_params:\n      model: mock/y\n      mock_response: from other\n",
            mock_model("second")
        ),
    );
    s.write_config(
        "profiles/p.yaml",
        "meta:\n  name: p\n  opus_model: other\n  sonnet_model: m\n  haiku_model: m\n",
    );
    wait_until(10, "the profile edit to be served", || {
        answer(&s, &key, "claude-opus-4-5", Some("p")) == "from other"
    });

    // config.yaml's model_list overrides models.yaml by name.
    s.write_config(
        "config.yaml",
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/z\n      mock_response: from config\n",
    );
    wait_until(10, "the config.yaml edit to be served", || {
        answer(&s, &key, "m", None) == "from config"
    });
    let h: serde_json::Value = serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
    assert!(
        h["config"]["generation"].as_u64().unwrap() >= 3,
        "three reloads: {h}"
    );
}

#[test]
fn invalid_edit_keeps_old_config_and_logs_located_error() {
    let s = Sandbox::new();
    s.write_config("models.yaml", &mock_model("first"));
    start(&s);
    let key = master_key(&s);
    let models_yaml = s.config_dir().join("models.yaml");

    // A YAML value of the wrong type: the error names file, line and column.
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n      mock_response: broken\n      max_tokens: lots\n",
    );
    let located = format!("{}:6:19", models_yaml.display());
    let log = gateway_log_with(&s, &located);
    assert!(
        log.contains("configuration not reloaded, the gateway keeps serving the previous one"),
        "{log}"
    );
    assert_eq!(
        answer(&s, &key, "m", None),
        "first",
        "the previous configuration is still served"
    );
    let status = stdout(&s.run(&["proxy", "status"]));
    assert!(
        status.contains("the last edit was not applied") && status.contains(&located),
        "{status}"
    );

    // Valid YAML, but a definition that cannot be served: located at its entry.
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: nosuchprovider/x\n",
    );
    let log = gateway_log_with(
        &s,
        &format!(
            "{}:2:5: model 'm': unknown provider 'nosuchprovider'",
            models_yaml.display()
        ),
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(answer(&s, &key, "m", None), "first");

    // Fixed: served at once, and the error is gone from /health.
    s.write_config("models.yaml", &mock_model("third"));
    wait_until(10, "the fixed file to be served", || {
        answer(&s, &key, "m", None) == "third"
    });
    let h: serde_json::Value = serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
    assert!(h["config"]["last_error"].is_null(), "{h}");
}

#[test]
fn proxy_reload_reports_located_error() {
    let s = Sandbox::new();
    s.write_config("models.yaml", &mock_model("first"));
    let o = s.run(&["proxy", "reload"]);
    assert_eq!(o.status.code(), Some(1), "nothing runs yet");
    assert!(
        stderr(&o).contains("no gateway is running"),
        "{}",
        stderr(&o)
    );
    start(&s);
    let key = master_key(&s);

    let bad = "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n     mock_response: x\n";
    s.write_config("models.yaml", bad);
    let o = s.run(&["proxy", "reload"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    let path = s.config_dir().join("models.yaml");
    assert!(
        err.starts_with(&format!("agent-shim: {}:5:", path.display())),
        "{err}"
    );
    assert_eq!(answer(&s, &key, "m", None), "first");

    s.write_config("models.yaml", &mock_model("second"));
    let o = s.run(&["proxy", "reload"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The watcher may have applied the edit before the command: either run reports it.
    let out = stdout(&o);
    assert!(out.starts_with("configuration reloaded"), "{out}");
    assert_eq!(answer(&s, &key, "m", None), "second");
}

#[test]
fn models_test_does_not_report_a_stale_gateway_as_ok() {
    let s = Sandbox::new();
    s.write_config("models.yaml", &mock_model("first"));
    start(&s);
    let o = s.run(&["models", "test", "m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("first"), "{}", stdout(&o));

    // Tested right after the edit, faster than the watcher: the new definition is what answers.
    s.write_config("models.yaml", &mock_model("second"));
    let o = s.run(&["models", "test", "m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("second"), "{}", stdout(&o));

    // An invalid edit is a failure with its location, not an ok from the old definition.
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n      mock_response: third\n      max_tokens: lots\n",
    );
    let o = s.run(&["models", "test", "m"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(!stdout(&o).contains("ok"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:6:19",
            s.config_dir().join("models.yaml").display()
        )),
        "{err}"
    );

    // Valid YAML the gateway cannot serve: found by the gateway's reload, not passed as ok.
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: nosuchprovider/x\n",
    );
    let o = s.run(&["models", "test", "m"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(!stdout(&o).contains("ok"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:2:5: model 'm': unknown provider 'nosuchprovider'",
            s.config_dir().join("models.yaml").display()
        )) && err
            .contains("the gateway still serves the configuration it had, so nothing was tested"),
        "{err}"
    );
}

#[test]
fn leases_and_the_keys_enter_gave_survive_a_reload() {
    let script = json!({"protocols": ["openai-chat"], "api_key": "sk-from-the-shell",
                        "default": {"text": "upstream says hi"}});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    chat_profile(&s, &fake.base_url());
    start(&s);
    // The gateway was started without FAKE_UPSTREAM_KEY; `enter` registers the profile's model
    // with the key from its own environment.
    let o = s
        .cmd(&["enter", "tok1", "test", "--dir", "/tmp"])
        .env("FAKE_UPSTREAM_KEY", "sk-from-the-shell")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let key = master_key(&s);
    assert_eq!(registered_models(&s), ["test-chat"]);
    assert_eq!(answer(&s, &key, "test-chat", None), "upstream says hi");

    // An edit elsewhere in the file (a new model): the lease and the key stay.
    let models = std::fs::read_to_string(s.config_dir().join("models.yaml")).unwrap();
    s.write_config(
        "models.yaml",
        &format!("{models}  - model_name: extra\n    litellm_params:\n      model: mock/x\n      mock_response: extra\n"),
    );
    let o = s.run(&["proxy", "reload"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(answer(&s, &key, "extra", None), "extra");
    assert!(
        registered_models(&s).contains(&"test-chat".to_owned()),
        "the lease survived the reload"
    );
    assert_eq!(
        answer(&s, &key, "test-chat", None),
        "upstream says hi",
        "the key enter gave is still used"
    );
}

#[test]
fn settings_that_need_a_restart_are_named() {
    let s = Sandbox::new();
    start(&s);
    s.write_config("config.yaml", "lease_minutes: 5\nlog_level: debug\n");
    let o = s.run(&["proxy", "reload"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: lease_minutes, log_level changed in")
            && err.contains("config.yaml")
            && err.contains("`agent-shim proxy restart`"),
        "{err}"
    );
    gateway_log_with(&s, "lease_minutes, log_level changed");

    // `proxy restart` applies them, and the leases come back.
    assert!(s.run(&["enter", "tok1", "demo"]).status.success());
    let before = status_json(&s)["gateway"]["pid"].as_i64().unwrap();
    let o = s.run(&["proxy", "restart"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("pid {before} →")),
        "{}",
        stdout(&o)
    );
    assert_ne!(status_json(&s)["gateway"]["pid"].as_i64().unwrap(), before);
    assert_eq!(
        registered_models(&s),
        ["demo/haiku", "demo/opus", "demo/sonnet"]
    );
    let o = s.run(&["proxy", "reload"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn sighup_reloads_the_configuration() {
    let s = Sandbox::new();
    start(&s);
    let health = || -> serde_json::Value {
        serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap()
    };
    let h = health();
    let before = h["config"]["generation"].as_u64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(h["pid"].as_i64().unwrap() as i32).unwrap(),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    wait_until(10, "the SIGHUP reload", || {
        health()["config"]["generation"].as_u64().unwrap() > before
    });
    assert_eq!(health()["pid"], h["pid"], "reloaded, not restarted");
}

/// Regression: the watcher counted inotify's "opened" events, and a reload opens every file it
/// reads — so once anything read the files (the gateway's own first reload, `env`, an editor
/// opening one), the gateway reloaded every 200 ms for as long as it ran (7% of its CPU under
/// load, and never idle).
#[test]
fn reading_the_files_does_not_reload() {
    let s = Sandbox::new();
    s.write_config("models.yaml", &mock_model("first"));
    s.write_config(
        "profiles/p.yaml",
        "meta:\n  name: p\n  opus_model: m\n  sonnet_model: m\n  haiku_model: m\n",
    );
    start(&s);
    let generation = || {
        let h: serde_json::Value =
            serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
        h["config"]["generation"].as_u64().unwrap()
    };
    // An edit is still seen ...
    s.write_config("models.yaml", &mock_model("second"));
    wait_until(10, "the edit to be reloaded", || generation() >= 1);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let after_edit = generation();
    // ... but reading the files (as `env`, `cat` and the reload itself do) is not an edit.
    for f in ["models.yaml", "profiles/p.yaml"] {
        std::fs::read_to_string(s.config_dir().join(f)).unwrap();
    }
    let o = s.run(&["env", "p", "--export"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        generation(),
        after_edit,
        "the gateway reloaded without an edit: {}",
        gateway_log_with(&s, "configuration reloaded")
    );
}
