//! Dynamic shell completion (`agent-shim completion bash|fish`, clap_complete's engine) run in
//! real shells: profile names, model names and `--model` values come from the user's files and
//! the remote model cache, and completing never touches the network.

use crate::common::*;
use crate::terminal::Terminal;
use fake_provider::{FakeProviderThread, Script};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A sandbox with a profile `test` whose model `coder` (no declared window) is on a fake
/// upstream that lists `coder-upstream` with a 262,144-token window.
fn setup() -> (Sandbox, FakeProviderThread) {
    let script = json!({
        "models": ["coder-upstream"],
        "model_fields": {"coder-upstream": {"context_length": 262144}},
        "default": {"text": "hi"}
    });
    let fake = FakeProviderThread::start(Script::from_json(&script.to_string()).unwrap()).unwrap();
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        &format!(
            "model_list:\n  - model_name: coder\n    litellm_params:\n      model: openai/coder-upstream\n      \
             api_base: {}/v1\n      api_key: sk-x\n",
            fake.base_url()
        ),
    );
    s.write_config(
        "profiles/test.yaml",
        "meta:\n  name: Test profile\n  description: for completion\n  opus_model: coder\n  sonnet_model: coder\n  haiku_model: coder\n",
    );
    (s, fake)
}

fn script(s: &Sandbox, shell: &str) -> PathBuf {
    let o = s.run(&["completion", shell]);
    assert_ok("completion", &o);
    let p = s.dir.path().join(format!("completion.{shell}"));
    std::fs::write(&p, &o.stdout).unwrap();
    p
}

fn shell(s: &Sandbox, program: &str, code: &str) -> Output {
    Command::new(program)
        .args(match program {
            "bash" => vec!["--norc", "--noprofile", "-c", code],
            _ => vec!["--no-config", "-c", code],
        })
        .env_clear()
        .env("HOME", s.home())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AGENT_SHIM_PORT", s.port.to_string())
        .env("TERM", "dumb")
        .current_dir(s.work())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// What bash's completion function puts in COMPREPLY for `words` (the last one being completed).
fn bash_complete(s: &Sandbox, file: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_TYPE=9\n\
         _clap_complete_agent_shim agent-shim '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let o = shell(s, "bash", &code);
    assert_ok("bash completion", &o);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    stdout(&o).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_profiles_models_and_agents_from_local_files() {
    let (s, fake) = setup();
    let file = script(&s, "bash");
    let profiles = bash_complete(&s, &file, &["agent-shim", "with", ""]);
    assert!(
        profiles.iter().any(|p| p == "test") && profiles.iter().any(|p| p == "demo"),
        "{profiles:?}"
    );
    let t = bash_complete(&s, &file, &["agent-shim", "with", "te"]);
    assert_eq!(t, ["test"]);
    let models = bash_complete(&s, &file, &["agent-shim", "with", "test", "--model", ""]);
    assert!(models.iter().any(|m| m == "coder"), "{models:?}");
    assert!(
        !models.iter().any(|m| m == "test"),
        "profiles are not models: {models:?}"
    );
    let agents = bash_complete(&s, &file, &["agent-shim", "with", "test", "--agent", "co"]);
    assert_eq!(agents, ["codex"]);
    let shown = bash_complete(&s, &file, &["agent-shim", "profiles", "show", "te"]);
    assert_eq!(shown, ["test"]);
    let subs = bash_complete(&s, &file, &["agent-shim", "set-f"]);
    assert_eq!(subs, ["set-folder"]);
    assert!(
        fake.requests().is_empty(),
        "completion fetched nothing: {:?}",
        fake.requests()
    );
}

#[test]
fn fish_shows_the_cached_context_window_without_fetching() {
    let (s, fake) = setup();
    let file = script(&s, "fish");
    let complete = |line: &str| {
        let o = shell(
            &s,
            "fish",
            &format!(
                "source '{}'; complete --do-complete '{line}'",
                file.display()
            ),
        );
        assert_ok("fish completion", &o);
        stdout(&o)
    };
    let before = complete("agent-shim with test --model ");
    let coder = before
        .lines()
        .find(|l| l.starts_with("coder\t"))
        .unwrap_or_else(|| panic!("{before}"));
    assert!(
        coder.contains("openai/coder-upstream") && !coder.contains("context"),
        "no window known yet: {coder}"
    );
    assert!(fake.requests().is_empty(), "completion fetched nothing");

    // Once `models list --remote` has cached the provider's list, completion shows its window.
    assert_ok(
        "models list --remote",
        &s.run(&["models", "list", "--remote", "test"]),
    );
    assert_eq!(fake.requests().len(), 1);
    let after = complete("agent-shim with test --model ");
    let coder = after
        .lines()
        .find(|l| l.starts_with("coder\t"))
        .unwrap_or_else(|| panic!("{after}"));
    assert!(coder.contains("262k context"), "{coder}");
    let profiles = complete("agent-shim with ");
    assert!(
        profiles
            .lines()
            .any(|l| l.starts_with("test\t") && l.contains("for completion")),
        "{profiles}"
    );
    assert_eq!(fake.requests().len(), 1, "completion fetched nothing");
}

/// Tab pressed in interactive bash and zsh (in a pseudo-terminal, with the completion script
/// sourced from the rc file as `install` arranges) completes a profile and a `--model` value.
#[test]
fn tab_completes_in_interactive_bash_and_zsh() {
    let (s, fake) = setup();
    for sh in ["bash", "zsh"] {
        let file = script(&s, sh);
        let rc = s.home().join(format!(".{sh}rc"));
        let init = if sh == "zsh" {
            "autoload -U compinit && compinit -u\n"
        } else {
            ""
        };
        std::fs::write(
            &rc,
            format!("PS1='ready> '\n{init}source '{}'\n", file.display()),
        )
        .unwrap();
        let args: &[&str] = if sh == "bash" {
            &["--noprofile", "--rcfile", rc.to_str().unwrap(), "-i"]
        } else {
            &["-i"]
        };
        let mut c = Terminal::command(sh, args);
        c.env_clear()
            .env("HOME", s.home())
            .env("ZDOTDIR", s.home())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AGENT_SHIM_PORT", s.port.to_string())
            .env("TERM", "xterm")
            .env("LANG", "C.UTF-8")
            .current_dir(s.work());
        let mut t = Terminal::spawn(sh, c);
        t.expect("ready> ");
        t.type_keys("agent-shim with te\t");
        t.expect_on_screen("agent-shim with test");
        t.type_keys("--model cod\t");
        t.expect_on_screen("agent-shim with test --model coder");
        // Ctrl-U clears the line in both shells' editors.
        t.type_keys("\x15");
        t.send("exit");
        t.wait_exit(std::time::Duration::from_secs(10));
    }
    assert!(fake.requests().is_empty(), "completion fetched nothing");
}
