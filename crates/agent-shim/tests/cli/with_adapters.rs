//! `with`: key_command, --direct, the profile's env templates and default agent, the generic
//! adapter's variables.

use crate::common::*;
use fake_provider::{FakeProviderThread, Script};

fn chat_fake() -> FakeProviderThread {
    let script = r#"{"protocols": ["openai-chat"], "default": {"text": "keyed answer"}}"#;
    FakeProviderThread::start(Script::from_json(script).unwrap()).unwrap()
}

fn model_yaml(name: &str, model: &str, base: &str, key_lines: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params:\n      model: {model}\n      api_base: {base}\n{key_lines}"
    )
}

fn profile(s: &Sandbox, name: &str, model: &str, extra: &str) {
    s.write_config(
        &format!("profiles/{name}.yaml"),
        &format!("meta:\n  name: {name}\n  opus_model: {model}\n  sonnet_model: {model}\n  haiku_model: {model}\n{extra}"),
    );
}

#[test]
fn key_command_supplies_the_upstream_key() {
    let fake = chat_fake();
    let s = Sandbox::new();
    let base = format!("{}/v1", fake.base_url());
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n{}{}",
            model_yaml(
                "cmd-key",
                "groq/x",
                &base,
                "      key_command: [sh, -c, \"echo sk-from-command\"]\n"
            ),
            model_yaml(
                "bad-key",
                "groq/y",
                &base,
                "      key_command: [sh, -c, \"exit 4\"]\n"
            )
        ),
    );
    let o = s.run(&["models", "test", "cmd-key"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        fake.requests()[0].headers["authorization"],
        "Bearer sk-from-command"
    );
    let o = s.run(&["models", "test", "bad-key"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("key_command `sh` failed") && out.contains("fix litellm_params.key_command"),
        "{out}"
    );
    assert_eq!(fake.requests().len(), 1, "nothing was sent without a key");
}

#[test]
fn direct_is_refused_when_the_protocols_differ() {
    let s = Sandbox::new();
    let o = s
        .cmd(&["with", "cerebras", "--direct", "--", "claude"])
        .env("CEREBRAS_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("claude speaks anthropic, but cerebras/")
            && e.contains("speaks openai-chat")
            && e.contains("drop --direct"),
        "{e}"
    );
}

/// A Bedrock profile speaks Anthropic's body over InvokeModel, but an agent cannot sign SigV4:
/// `--direct` must refuse rather than point Claude Code at a URL it cannot call.
#[test]
fn direct_is_refused_for_bedrock_which_needs_the_gateway_to_sign() {
    let s = Sandbox::new();
    let o = s
        .cmd(&["with", "bedrock", "--direct", "--", "claude"])
        .env("AWS_REGION", "us-west-2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("(bedrock) is reached only through the gateway") && e.contains("drop --direct"),
        "{e}"
    );
}

#[test]
fn direct_points_the_agent_at_the_provider() {
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n{}",
            model_yaml(
                "my-claude",
                "anthropic/claude-upstream-id",
                "https://anthropic.example",
                "      api_key: sk-ant-direct\n"
            )
        ),
    );
    profile(&s, "direct", "my-claude", "");
    // A stand-in for Claude Code that prints what it was given.
    let stub = s.dir.path().join("claude");
    std::fs::write(&stub, "#!/bin/sh\necho $ANTHROPIC_BASE_URL $ANTHROPIC_AUTH_TOKEN $ANTHROPIC_DEFAULT_OPUS_MODEL \"$1\"\n").unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = s.run(&["with", "direct", "--direct", "--", stub.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "https://anthropic.example sk-ant-direct claude-upstream-id --settings"
    );
    assert!(
        stderr(&o).contains("claude talks to anthropic directly (https://anthropic.example)"),
        "{}",
        stderr(&o)
    );
    assert!(
        !s.state_dir()
            .join(format!("gateway-{}.pid", s.port))
            .exists(),
        "no gateway was needed"
    );
}

#[test]
fn profile_env_templates_and_generic_variables() {
    let s = Sandbox::new();
    profile(
        &s,
        "tmpl",
        "demo/sonnet",
        "  env:\n    X_TRACE: \"${context:agent}:${context:model}\"\n    X_PROXY: \"${env:CORP_PROXY}\"\n",
    );
    let o = s
        .cmd(&[
            "with",
            "tmpl",
            "--",
            "sh",
            "-c",
            "echo $X_TRACE $X_PROXY $OPENAI_BASE_URL $OPENAI_MODEL $ANTHROPIC_MODEL",
        ])
        .env("CORP_PROXY", "http://corp:3128")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "generic:demo/sonnet http://corp:3128 {}/v1 demo/sonnet demo/sonnet",
            s.base_url()
        )
    );
    let o = s.run(&["with", "tmpl", "--", "true"]);
    assert_eq!(o.status.code(), Some(2), "an unset ${{env:…}} is an error");
    assert!(
        stderr(&o)
            .contains("profile 'tmpl', env X_PROXY: `${env:CORP_PROXY}`: CORP_PROXY is not set"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_profiles_agent_runs_when_no_command_is_given() {
    let s = Sandbox::new();
    profile(&s, "withagent", "demo/opus", "  agent: \"true\"\n");
    assert!(s.run(&["with", "withagent"]).status.success());
    let o = s.run(&["with", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("set `agent` in profile 'demo'"),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["with", "demo", "--agent", "vim", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown agent 'vim'"));
}
