//! `profiles list|show|install`, `secrets init|set|list|export-env`, and `agent-shim claude` /
//! bare `run-claude` picking the directory's profile.

use crate::common::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

#[test]
fn profiles_list_show_install() {
    let s = Sandbox::new();
    s.write_config("profiles/groq.yaml", "meta:\n  name: My Groq\n  opus_model: demo/opus\n  sonnet_model: demo/sonnet\n  haiku_model: demo/haiku\n");
    s.write_config("models.yaml", "model_list:\n  - model_name: demo/opus\n    litellm_params:\n      model: groq/x\n      api_key: gsk-very-secret\n");
    let list = stdout(&s.run(&["profiles", "list"]));
    let groq = list.lines().find(|l| l.starts_with("groq ")).unwrap();
    assert!(groq.contains("profiles/groq.yaml"), "{groq}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("cerebras ") && l.ends_with("built-in")),
        "{list}"
    );
    let show = stdout(&s.run(&["profiles", "show", "groq"]));
    assert!(
        show.contains("opus     demo/opus  →  groq/x") && show.contains("key [redacted]"),
        "{show}"
    );
    assert!(!show.contains("gsk-very-secret"));
    let o = s.run(&["profiles", "install"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("kept") && out.contains("groq.yaml (edited; not overwritten)"),
        "{out}"
    );
    let installed = std::fs::read_to_string(s.config_dir().join("profiles/cerebras.yaml")).unwrap();
    assert!(installed.contains("opus_model"));
    assert!(
        std::fs::read_to_string(s.config_dir().join("profiles/groq.yaml"))
            .unwrap()
            .contains("My Groq")
    );
    let again = stdout(&s.run(&["profiles", "install"]));
    assert!(
        again.contains("cerebras.yaml (same as built-in)"),
        "{again}"
    );
}

#[test]
fn secrets_init_set_list_export() {
    let s = Sandbox::new();
    let o = s.run(&["secrets", "init"]);
    assert!(o.status.success());
    let path = s.config_dir().join(".secrets");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("# GROQ_API_KEY"),
        "a commented template"
    );
    let mut child = s
        .cmd(&["secrets", "set", "GROQ_API_KEY"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"gsk-with \"quotes\"\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let list = s
        .cmd(&["secrets", "list"])
        .env("CEREBRAS_API_KEY", "from-env")
        .output()
        .unwrap();
    let list = stdout(&list);
    assert!(
        list.contains("GROQ_API_KEY  (") && list.contains("CEREBRAS_API_KEY  (environment)"),
        "{list}"
    );
    assert!(!list.contains("gsk-with"), "names only: {list}");
    let export = stdout(&s.run(&["secrets", "export-env"]));
    assert!(
        export.contains(r#"GROQ_API_KEY="gsk-with \"quotes\"""#),
        "{export}"
    );
    let empty = s
        .cmd(&["secrets", "set", "X"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2), "an empty value is refused");
    // The key now serves a gateway request (env first, then the file).
    let o = s.run(&["models", "test", "groq"]);
    assert!(
        !stdout(&o).contains("set GROQ_API_KEY"),
        "the key was found: {}",
        stdout(&o)
    );
}

#[test]
fn claude_command_and_bare_run_claude_use_the_directorys_profile() {
    let claude = crate::claude_e2e::claude_binary();
    let s = Sandbox::new();
    let project = s.work().join("proj/sub");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        s.work().join("proj/.envrc.user"),
        "AGENT_SHIM_PROFILE=demo\n",
    )
    .unwrap();
    let bin = s.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&claude, bin.join("claude")).unwrap();
    let link = s.dir.path().join("run-claude");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_agent-shim"), &link).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for exe in [
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_agent-shim")),
        link,
    ] {
        let args: &[&str] = if exe.ends_with("run-claude") {
            &["-p", "hi", "--output-format", "json"]
        } else {
            &["claude", "-p", "hi", "--output-format", "json"]
        };
        let o = s
            .cmd_at(&exe, args)
            .current_dir(&project)
            .env("PATH", &path)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim())
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        assert!(
            v["result"]
                .as_str()
                .unwrap()
                .contains("Hello from agent-shim's demo profile"),
            "{v}"
        );
    }
    let o = s
        .cmd(&["claude", "-p", "hi"])
        .current_dir(s.work())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no profile for") && stderr(&o).contains("set-folder"),
        "{}",
        stderr(&o)
    );
}
