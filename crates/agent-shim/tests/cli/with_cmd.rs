//! `agent-shim with <profile> -- <command>` and the `with-agent-shim` name.

use crate::common::*;

#[test]
fn runs_the_command_with_the_environment_and_returns_its_exit_code() {
    let s = Sandbox::new();
    let o = s
        .cmd(&["with", "demo", "--", "sh", "-c", "echo \"$ANTHROPIC_BASE_URL $ANTHROPIC_DEFAULT_HAIKU_MODEL ${ANTHROPIC_API_KEY-unset}\"; exit 7"])
        .env("ANTHROPIC_API_KEY", "sk-ant-personal")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!("{} demo/haiku unset", s.base_url())
    );
    let health = reqwest_health(&s);
    assert_eq!(
        health["status"], "healthy",
        "the gateway keeps running in the background"
    );
}

#[test]
fn missing_command_is_127() {
    let s = Sandbox::new();
    let o = s.run(&["with", "demo", "--", "no-such-program-xyz"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(
        stderr(&o).contains("cannot run `no-such-program-xyz`: not found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn invoked_as_with_agent_shim() {
    let s = Sandbox::new();
    let link = s.dir.path().join("with-agent-shim");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_agent-shim"), &link).unwrap();
    let o = s
        .cmd_at(
            &link,
            &["demo", "--", "sh", "-c", "echo $AGENT_SHIM_PROFILE"],
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "demo");
}

#[test]
fn profile_naming_an_undefined_model_is_refused_before_running() {
    let s = Sandbox::new();
    s.write_config(
        "profiles/broken.yaml",
        "meta:\n  name: broken\n  opus_model: x\n  sonnet_model: y\n  haiku_model: z\n",
    );
    let o = s.run(&["with", "broken", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("uses model 'x'"), "{}", stderr(&o));
}

fn reqwest_health(s: &Sandbox) -> serde_json::Value {
    let o = s.run(&["proxy", "health"]);
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)))
}
