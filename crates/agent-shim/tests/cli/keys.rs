//! Upstream keys as the gateway sees them: its own environment (the one it was started with, not
//! the user's shell's) and `.secrets`. `with` checks them before it launches an agent; a request
//! without a key says what to do; `secrets set` fixes it without a restart.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;
use std::io::Write;
use std::process::Stdio;

const UPSTREAM_KEY: &str = "sk-fake-upstream-keys";

#[test]
fn with_names_missing_key_before_launch() {
    let script = json!({"protocols": ["openai-chat"], "api_key": UPSTREAM_KEY,
                        "default": {"text": "upstream says hi"}});
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    chat_profile(&s, &fake.base_url());
    let launched = s.work().join("launched");

    // The key is nowhere: the gateway starts, the agent does not.
    let o = s.run(&["with", "test", "--", "sh", "-c", "touch launched"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!launched.exists(), "the command was not run");
    assert!(
        err.contains("not launching `sh`: no API key for model 'test-chat' (provider openai)")
            && err.contains("the gateway was started without FAKE_UPSTREAM_KEY")
            && err.contains("`agent-shim secrets set FAKE_UPSTREAM_KEY`")
            && err.contains("`agent-shim proxy restart`"),
        "{err}"
    );
    assert!(fake.requests().is_empty(), "nothing was sent upstream");

    // This shell has it, the running gateway does not: said so.
    let o = s
        .cmd(&["with", "test", "--", "sh", "-c", "touch launched"])
        .env("FAKE_UPSTREAM_KEY", UPSTREAM_KEY)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "FAKE_UPSTREAM_KEY is set in this shell, but the gateway keeps the environment it was started with"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!launched.exists());

    // A client of the gateway gets the same advice, in its protocol's error.
    let key = master_key(&s);
    let body = json!({"model": "test-chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post_json(&format!("{}/v1/messages", s.base_url()), &key, &body).unwrap();
    assert_eq!(status, 401, "{text}");
    assert!(
        text.contains("the gateway was started without FAKE_UPSTREAM_KEY")
            && text.contains("agent-shim secrets set FAKE_UPSTREAM_KEY"),
        "{text}"
    );

    // `secrets set` works on the running gateway: no restart.
    let pid = status_json(&s)["gateway"]["pid"].as_i64().unwrap();
    let mut set = s
        .cmd(&["secrets", "set", "FAKE_UPSTREAM_KEY"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(set.stdin.take().unwrap(), "{UPSTREAM_KEY}").unwrap();
    assert!(set.wait_with_output().unwrap().status.success());
    let o = s.run(&["with", "test", "--", "sh", "-c", "touch launched"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(launched.exists());
    let (status, text) = post_json(&format!("{}/v1/messages", s.base_url()), &key, &body).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("upstream says hi"), "{text}");
    assert_eq!(
        status_json(&s)["gateway"]["pid"].as_i64().unwrap(),
        pid,
        "the same gateway"
    );
}

#[test]
fn keyless_profiles_launch_without_keys() {
    let s = Sandbox::new();
    for profile in ["demo", "local"] {
        let o = s.run(&["with", profile, "--", "true"]);
        assert!(o.status.success(), "{profile}: {}", stderr(&o));
    }
}

/// The built-in `azure` profile needs the resource's URL as well as a key: without
/// AZURE_API_BASE its models are not served (logged at info level, not as a warning, since
/// nobody asked for them), and `with azure` says which variable to set instead of launching.
#[test]
fn with_azure_names_the_missing_endpoint_variable() {
    let s = Sandbox::new();
    let launched = s.work().join("launched");
    let o = s.run(&["with", "azure", "--", "sh", "-c", "touch launched"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!launched.exists(), "the command was not run");
    assert!(
        err.contains("not launching `sh`: model 'azure/gpt-6-sol'")
            && err.contains("set litellm_params.api_base")
            && err.contains("AZURE_API_BASE"),
        "{err}"
    );
    let log = gateway_log_with(&s, "not serving built-in model 'azure/gpt-6-luna'");
    assert!(
        !log.lines()
            .any(|l| l.contains("WARN") && l.contains("azure/")),
        "{log}"
    );
}
