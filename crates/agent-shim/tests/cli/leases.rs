//! Leases: the janitor unregisters a released model when its lease expires; a gateway killed with
//! SIGKILL and restarted still serves (and lists) the leased models; a defined model that nobody
//! registered is served and leased on first use.

use crate::common::*;

fn short_leases(s: &Sandbox) {
    s.write_config(
        "config.yaml",
        "lease_minutes: 0.02\njanitor_interval_seconds: 0.3\n",
    );
}

#[test]
fn janitor_unregisters_a_model_when_its_lease_expires() {
    let s = Sandbox::new();
    short_leases(&s);
    assert!(s.run(&["enter", "tok1", "demo"]).status.success());
    assert_eq!(
        registered_models(&s),
        ["demo/haiku", "demo/opus", "demo/sonnet"]
    );
    assert!(s.run(&["leave", "tok1"]).status.success());
    let st = status_json(&s);
    assert!(
        st["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["refcount"] == 0 && m["lease_expires"].is_i64())
    );
    // The gateway's janitor timer releases them after the 1.2 s lease.
    wait_until(10, "the gateway to unregister the demo models", || {
        registered_models(&s).is_empty()
    });
    assert!(
        status_json(&s)["models"].as_array().unwrap().is_empty(),
        "the state has no models left"
    );
    gateway_log_with(&s, "lease expired; model unregistered");
}

#[test]
fn janitor_command_is_rate_limited_unless_forced() {
    let s = Sandbox::new();
    s.write_config("config.yaml", "lease_minutes: 0\n");
    assert!(s.run(&["enter", "tok1", "demo"]).status.success());
    assert!(s.run(&["leave", "tok1"]).status.success());
    let o = s.run(&["janitor"]);
    assert!(
        stdout(&o).contains("ran less than 60 s ago"),
        "enter/leave ran it just now: {}",
        stdout(&o)
    );
    let o = s.run(&["janitor", "--force"]);
    let out = stdout(&o);
    assert!(out.contains("released demo/opus"), "{out}");
    assert!(
        registered_models(&s).is_empty(),
        "the CLI janitor unregistered them from the gateway"
    );
}

#[test]
fn a_gateway_killed_with_sigkill_comes_back_with_its_leased_models() {
    let s = Sandbox::new();
    assert!(s.run(&["enter", "tok1", "demo"]).status.success());
    assert!(s.run(&["enter", "tok2", "demo"]).status.success());
    assert!(s.run(&["leave", "tok2"]).status.success());
    let pid: i32 = std::fs::read_to_string(s.state_dir().join(format!("gateway-{}.pid", s.port)))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    wait_until(5, "the gateway to die", || {
        s.run(&["proxy", "status"]).status.code() == Some(3)
    });
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        registered_models(&s),
        ["demo/haiku", "demo/opus", "demo/sonnet"],
        "reloaded from the state database"
    );
    let body = serde_json::json!({"model": "demo/opus", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post_json(
        &format!("{}/v1/messages", s.base_url()),
        &master_key(&s),
        &body,
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("demo profile"));
    let st = status_json(&s);
    assert_eq!(st["gateway"]["running"], true);
    assert_ne!(st["gateway"]["pid"].as_i64().unwrap(), pid as i64);
}

#[test]
fn a_defined_but_unregistered_model_is_served_and_leased() {
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        "model_list:\n  - model_name: lonely\n    litellm_params:\n      model: mock/x\n      mock_response: served anyway\n",
    );
    assert!(s.run(&["proxy", "start"]).status.success());
    assert!(!registered_models(&s).contains(&"lonely".to_owned()));
    let body = serde_json::json!({"model": "lonely", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post_json(
        &format!("{}/v1/messages", s.base_url()),
        &master_key(&s),
        &body,
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("served anyway"));
    assert!(registered_models(&s).contains(&"lonely".to_owned()));
    wait_until(5, "the lease to be recorded", || {
        status_json(&s)["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| {
                m["model_name"] == "lonely" && m["refcount"] == 0 && m["lease_expires"].is_i64()
            })
    });
}
