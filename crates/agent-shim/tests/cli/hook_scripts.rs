//! The scripts agent-shim writes for shells, on their own (the interactive runs are in
//! `hooks.rs`). Each is checked by its shell's own tools, and any finding fails: the rendered
//! `hook bash` by shellcheck; `hook zsh` by `zsh -n` (shellcheck has no zsh mode, and its bash
//! mode only stops at zsh syntax such as `&!` and `${array[(I)…]}`, so it would check nothing);
//! `hook fish` by `fish --no-execute`; and the `.envrc` that `set-folder` writes (direnv evaluates
//! it with bash) by shellcheck in bash mode. Then each hook is loaded and run in a
//! non-interactive shell: in strict mode, twice, and (fish) with direnv's variables set in either
//! order. shellcheck, zsh and fish are Debian packages that `.ci/run` installs.

use crate::common::*;
use crate::hooks::{EXE, World};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `program args… file` and returns its output; a missing program is a failure that says
/// what to install.
fn check_with(program: &str, args: &[&str], file: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}; install the Debian package `{program}` \
                 (.ci/run does)"
            )
        })
}

/// The findings of `checker` on `file`: nothing when it exits 0 and prints nothing.
fn findings(checker: &str, args: &[&str], file: &Path) -> Option<String> {
    let o = check_with(checker, args, file);
    if o.status.success() && o.stdout.is_empty() && o.stderr.is_empty() {
        None
    } else {
        Some(format!(
            "{checker} {} {} exited {:?}\n{}{}",
            args.join(" "),
            file.display(),
            o.status.code(),
            stdout(&o),
            stderr(&o)
        ))
    }
}

/// shellcheck in bash mode, every severity (info and style included), one finding per line.
const SHELLCHECK_BASH: &[&str] = &["--shell=bash", "--severity=style", "--format=gcc"];

fn write(s: &Sandbox, name: &str, text: &str) -> PathBuf {
    let path = s.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `agent-shim hook <shell>`, checked to be the hook (so that an empty script never passes).
fn rendered_hook(s: &Sandbox, shell: &str, defines: &str) -> String {
    let o = s.run(&["hook", shell]);
    assert!(o.status.success(), "hook {shell}: {}", stderr(&o));
    let script = stdout(&o);
    assert!(
        script.contains(defines),
        "hook {shell} does not define {defines}:\n{script}"
    );
    script
}

fn assert_clean(what: &str, script: &str, found: Option<String>) {
    println!("{what}:\n{script}");
    if let Some(found) = found {
        panic!("{what} has findings:\n{found}");
    }
}

#[test]
fn bash_hook_passes_shellcheck() {
    let s = Sandbox::new();
    let script = rendered_hook(&s, "bash", "_agent_shim_hook()");
    let file = write(&s, "hook.bash", &script);
    assert_clean(
        "hook bash",
        &script,
        findings("shellcheck", SHELLCHECK_BASH, &file),
    );
}

#[test]
fn zsh_hook_passes_zsh_syntax_check() {
    let s = Sandbox::new();
    let script = rendered_hook(&s, "zsh", "_agent_shim_hook()");
    let file = write(&s, "hook.zsh", &script);
    assert_clean(
        "hook zsh",
        &script,
        findings("zsh", &["--no-rcs", "--no-exec"], &file),
    );
}

#[test]
fn fish_hook_passes_fish_syntax_check() {
    let s = Sandbox::new();
    let script = rendered_hook(&s, "fish", "function __agent_shim_sync");
    let file = write(&s, "hook.fish", &script);
    assert_clean(
        "hook fish",
        &script,
        findings("fish", &["--no-config", "--no-execute"], &file),
    );
}

#[test]
fn set_folder_envrc_passes_shellcheck() {
    let s = Sandbox::new();
    let dir = s.work().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let o = s.run(&["set-folder", "demo", "proj"]);
    assert!(o.status.success(), "set-folder: {}", stderr(&o));
    let envrc = dir.join(".envrc");
    let script = std::fs::read_to_string(&envrc).unwrap();
    assert!(
        script.contains("export AGENT_SHIM_TOKEN=") && script.contains("agent-shim env"),
        "not the .envrc set-folder writes:\n{script}"
    );
    assert_clean(
        ".envrc written by set-folder",
        &script,
        findings("shellcheck", SHELLCHECK_BASH, &envrc),
    );
}

/// The checks above can fail: each checker, run as they run it, reports a broken script.
#[test]
fn hook_script_checkers_report_broken_scripts() {
    let s = Sandbox::new();
    // SC2086: an unquoted expansion, as a hook might have.
    let bash = write(&s, "bad.bash", "f() { leave $1; }\n");
    let zsh = write(&s, "bad.zsh", "if [[ -n $x ]]; then\n");
    let fish = write(&s, "bad.fish", "function f\n  echo (\nend\n");
    for (checker, args, file) in [
        ("shellcheck", SHELLCHECK_BASH, &bash),
        ("zsh", ["--no-rcs", "--no-exec"].as_slice(), &zsh),
        ("fish", ["--no-config", "--no-execute"].as_slice(), &fish),
    ] {
        let found = findings(checker, args, file)
            .unwrap_or_else(|| panic!("{checker} found nothing wrong in {}", file.display()));
        println!("{found}");
    }
}

/// Runs `shell args…` in the world, without a terminal.
fn run_shell(w: &World, shell: &str, args: &[&str]) -> Output {
    let mut c = w.sandboxed(Command::new(shell));
    c.args(args).stdin(std::process::Stdio::null());
    c.output().unwrap()
}

fn assert_silent_success(what: &str, o: &Output) {
    println!(
        "{what}: exit {:?}, stdout {:?}, stderr {:?}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

#[test]
fn bash_hook_loads_and_runs_silently_in_strict_mode() {
    let w = World::new();
    // Loaded twice (an rc file sourced again): still one entry in PROMPT_COMMAND, and the EXIT
    // trap set; the hook and the exit handler run under `set -u` with no token.
    let script = r#"set -euo pipefail
eval "$(agent-shim hook bash)"
eval "$(agent-shim hook bash)"
unset AGENT_SHIM_TOKEN
_agent_shim_hook
n=$(grep -o _agent_shim_hook <<<"$PROMPT_COMMAND" | wc -l)
[[ $n -eq 1 ]] || exit 3
[[ "$(trap -p EXIT)" == *_agent_shim_exit* ]] || exit 4
"#;
    let o = run_shell(&w, "bash", &["--norc", "--noprofile", "-c", script]);
    assert_silent_success("bash strict mode", &o);
}

#[test]
fn zsh_hook_loads_and_runs_silently_in_strict_mode() {
    let w = World::new();
    let script = r#"setopt err_exit no_unset pipe_fail
eval "$(agent-shim hook zsh)"
eval "$(agent-shim hook zsh)"
unset AGENT_SHIM_TOKEN
_agent_shim_hook
hooks=(${(M)precmd_functions:#_agent_shim_hook})
exits=(${(M)zshexit_functions:#_agent_shim_exit})
(( $#hooks == 1 )) || exit 3
(( $#exits == 1 )) || exit 4
"#;
    let o = run_shell(&w, "zsh", &["-f", "-c", script]);
    assert_silent_success("zsh strict mode", &o);
}

#[test]
fn fish_hook_loads_and_runs_silently() {
    let w = World::new();
    let script = "agent-shim hook fish | source; __agent_shim_sync; \
                  functions -q __agent_shim_sync __agent_shim_exit; or exit 3";
    let o = run_shell(&w, "fish", &["--no-config", "-c", script]);
    assert_silent_success("fish", &o);
}

/// direnv sets a directory's variables in no particular order (Go map order), so the hook must
/// not act on AGENT_SHIM_TOKEN before AGENT_SHIM_PROFILE is set. Here fish's hook calls a stub
/// that records its arguments, and the variables are set token first, then profile, then the
/// prompt event fires: the stub must see `enter <token> demo`.
#[test]
fn fish_hook_enters_with_the_profile_whatever_order_direnv_sets_variables() {
    let w = World::new();
    let log = w.s.dir.path().join("calls.log");
    let stub = w.s.dir.path().join("stub-agent-shim");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nline=$(printf '<%s>' \"$@\")\necho \"$line\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = w.agent_shim(&["hook", "fish"]).output().unwrap();
    let hook = stdout(&o);
    assert!(hook.contains(EXE), "the hook calls the binary by its path");
    let hook_file = w.s.dir.path().join("hook.fish");
    std::fs::write(&hook_file, hook.replace(EXE, &stub.display().to_string())).unwrap();
    let script = format!(
        "source '{}'\n\
         set -gx AGENT_SHIM_TOKEN {tok}\n\
         set -gx AGENT_SHIM_PROFILE demo\n\
         emit fish_prompt\n",
        hook_file.display(),
        tok = w.token
    );
    let o = run_shell(&w, "fish", &["--no-config", "-c", &script]);
    assert_silent_success("fish with a stub", &o);
    // The calls run in the background: wait for the enter.
    let deadline = Instant::now() + Duration::from_secs(10);
    let calls = loop {
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        if calls.lines().any(|l| l.starts_with("<enter>")) || Instant::now() >= deadline {
            break calls;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("calls the fish hook made:\n{calls}");
    let enters: Vec<&str> = calls.lines().filter(|l| l.starts_with("<enter>")).collect();
    assert_eq!(
        enters,
        [format!("<enter><{}><demo>", w.token)],
        "the hook entered with the wrong profile: it reacted to AGENT_SHIM_TOKEN before direnv \
         had set AGENT_SHIM_PROFILE"
    );
}
