//! `agent-shim env`.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn prints_the_profile_environment_and_keeps_one_master_key() {
    let s = Sandbox::new();
    let o = s.run(&["env", "demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} in {out}"))
            .to_owned()
    };
    assert_eq!(get("ANTHROPIC_BASE_URL"), s.base_url());
    assert_eq!(get("API_TIMEOUT_MS"), "3000000");
    assert_eq!(get("ANTHROPIC_DEFAULT_OPUS_MODEL"), "demo/opus");
    assert_eq!(get("ANTHROPIC_DEFAULT_SONNET_MODEL"), "demo/sonnet");
    assert_eq!(get("ANTHROPIC_DEFAULT_HAIKU_MODEL"), "demo/haiku");
    let key = get("ANTHROPIC_AUTH_TOKEN");
    assert!(key.starts_with("sk-shim-"));
    let secrets = s.config_dir().join(".secrets");
    assert_eq!(
        std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = stdout(&s.run(&["env", "demo", "--export"]));
    assert!(
        again.contains(&format!("export ANTHROPIC_AUTH_TOKEN='{key}'")),
        "{again}"
    );
}

#[test]
fn export_lines_evaluate_in_a_real_shell() {
    let s = Sandbox::new();
    let script = format!(
        "eval \"$({} env cerebras --export)\"; echo \"$ANTHROPIC_DEFAULT_SONNET_MODEL|$CLAUDE_CODE_DISABLE_1M_CONTEXT\"",
        env!("CARGO_BIN_EXE_agent-shim")
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("HOME", s.home())
        .env("AGENT_SHIM_PORT", s.port.to_string())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o).trim(),
        "cerebras/gpt-oss-120b|1",
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_profile_is_a_usage_error_listing_profiles() {
    let s = Sandbox::new();
    let o = s.run(&["env", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("unknown profile 'nosuch'") && e.contains("demo") && e.contains("cerebras"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "one line: {e}");
}

#[test]
fn world_readable_secrets_are_refused_with_the_fix() {
    let s = Sandbox::new();
    s.write_config(".secrets", "AGENT_SHIM_MASTER_KEY: sk-shim-x\n");
    let p = s.config_dir().join(".secrets");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = s.run(&["env", "demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("chmod 600 {}", p.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "AGENT_SHIM_MASTER_KEY: sk-shim-x\n",
        "nothing lost"
    );
}

#[test]
fn the_entered_directorys_token_goes_to_the_gateway_with_the_profile() {
    let s = Sandbox::new();
    let headers = |o: &std::process::Output| {
        let out = stdout(o);
        let (_, rest) = out
            .split_once("export ANTHROPIC_CUSTOM_HEADERS='")
            .unwrap_or_else(|| panic!("ANTHROPIC_CUSTOM_HEADERS in {out}"));
        rest.split_once('\'').unwrap().0.to_owned()
    };
    let plain = s.run(&["env", "demo", "--export"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(headers(&plain), "x-agent-shim-profile: demo");
    // What a directory's `.envrc` (set-folder) exports before it runs `agent-shim env`.
    let entered = s
        .cmd(&["env", "demo", "--export"])
        .env("AGENT_SHIM_TOKEN", "0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(
        headers(&entered),
        "x-agent-shim-profile: demo\nx-agent-shim-directory: 0123456789abcdef"
    );
    // Not a token: not sent.
    let odd = s
        .cmd(&["env", "demo", "--export"])
        .env("AGENT_SHIM_TOKEN", "../../etc")
        .output()
        .unwrap();
    assert_eq!(headers(&odd), "x-agent-shim-profile: demo");
}
