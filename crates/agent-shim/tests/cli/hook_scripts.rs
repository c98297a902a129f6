//! The hook scripts on their own (the interactive runs are in `hooks.rs`): each hook is loaded
//! and run in a non-interactive shell: in strict mode, twice, and (fish) with direnv's variables
//! set in either order.

use crate::common::*;
use crate::hooks::{EXE, World};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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
