//! The shell hooks (`agent-shim hook bash|zsh|fish`) in real interactive shells: each shell runs
//! in a pseudo-terminal with a sandboxed HOME and XDG directories, the real direnv hook and the
//! rendered agent-shim hook in its rc file, and `cd`s into and out of a directory configured with
//! `set-folder demo --allow`. The test reads the variables back from the terminal and polls
//! `agent-shim status --json` for the refcounts the hook's background `enter`/`leave` produce.
//! Each command typed prints a marker of its own, so a test never mistakes a prompt redrawn by
//! the line editor for the prompt after the command. Each test prints the terminal's screen.

use crate::common::*;
use crate::terminal::Terminal;
use expectrl::process::unix::WaitStatus;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub(crate) const EXE: &str = env!("CARGO_BIN_EXE_agent-shim");
/// The prompt every sandboxed shell shows.
const PROMPT: &str = "ready> ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sh {
    Bash,
    Zsh,
    Fish,
}

impl Sh {
    fn name(self) -> &'static str {
        match self {
            Sh::Bash => "bash",
            Sh::Zsh => "zsh",
            Sh::Fish => "fish",
        }
    }
}

/// A sandbox with `agent-shim` on PATH (as `set-folder`'s .envrc needs), a directory `proj`
/// configured for the `demo` profile and allowed in direnv, and the shells' rc files.
pub(crate) struct World {
    pub(crate) s: Sandbox,
    bin: PathBuf,
    /// The configured directory, canonical.
    proj: PathBuf,
    pub(crate) token: String,
}

impl World {
    pub(crate) fn new() -> World {
        let s = Sandbox::new();
        let bin = s.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(EXE, bin.join("agent-shim")).unwrap();
        let proj = s.work().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        let proj = proj.canonicalize().unwrap();
        let mut w = World {
            s,
            bin,
            proj,
            token: String::new(),
        };
        let o = w
            .agent_shim(&["set-folder", "demo", "proj", "--allow"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "set-folder: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let envrc = std::fs::read_to_string(w.proj.join(".envrc")).unwrap();
        w.token = envrc
            .lines()
            .find_map(|l| l.strip_prefix("export AGENT_SHIM_TOKEN="))
            .unwrap_or_else(|| panic!("no token in .envrc:\n{envrc}"))
            .to_owned();
        assert!(
            w.token.len() == 16 && w.token.chars().all(|c| c.is_ascii_hexdigit()),
            "token {:?}",
            w.token
        );
        w.write_rc_files();
        w
    }

    fn home(&self) -> PathBuf {
        self.s.home()
    }

    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Everything a program in this world sees: only the sandbox's HOME and XDG directories,
    /// its gateway port and PATH with `agent-shim` on it.
    pub(crate) fn sandboxed(&self, mut c: Command) -> Command {
        let home = self.home();
        c.env_clear()
            .env("HOME", &home)
            .env("PATH", self.path_var())
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("ZDOTDIR", &home)
            .env("AGENT_SHIM_PORT", self.s.port.to_string())
            .env("LANG", "C.UTF-8")
            .current_dir(self.s.work());
        c
    }

    pub(crate) fn agent_shim(&self, args: &[&str]) -> Command {
        let mut c = self.sandboxed(Command::new(EXE));
        c.args(args);
        c
    }

    fn write_rc_files(&self) {
        let home = self.home();
        std::fs::write(
            home.join(".bashrc"),
            format!(
                "PS1='{PROMPT}'\n\
                 eval \"$(direnv hook bash)\"\n\
                 eval \"$(agent-shim hook bash)\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            home.join(".zshrc"),
            format!(
                "PS1='{PROMPT}'\n\
                 unsetopt prompt_sp\n\
                 eval \"$(direnv hook zsh)\"\n\
                 eval \"$(agent-shim hook zsh)\"\n"
            ),
        )
        .unwrap();
        let fish = home.join(".config/fish");
        std::fs::create_dir_all(&fish).unwrap();
        std::fs::write(
            fish.join("config.fish"),
            format!(
                "set -g fish_greeting\n\
                 function fish_prompt; printf '%s' '{PROMPT}'; end\n\
                 direnv hook fish | source\n\
                 agent-shim hook fish | source\n"
            ),
        )
        .unwrap();
    }

    /// An interactive `shell` in a new pty, at its first prompt.
    fn shell(&self, shell: Sh, label: &str) -> Terminal {
        let args: &[&str] = match shell {
            Sh::Bash => &["--noprofile", "-i"],
            Sh::Zsh | Sh::Fish => &["-i"],
        };
        let mut c = self.sandboxed(Terminal::command(shell.name(), args));
        c.env("TERM", "xterm");
        let mut p = Terminal::spawn(label, c);
        p.expect(PROMPT);
        p
    }

    fn status(&self) -> Value {
        let o = self.agent_shim(&["status", "--json"]).output().unwrap();
        assert!(o.status.success(), "status: {}", stderr(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}: {}", stdout(&o)))
    }

    /// Polls `status --json` until `check` passes (returns `Ok`), for up to 10 s; panics with the
    /// last status and the reason otherwise.
    fn wait_status(
        &self,
        terms: &[&Terminal],
        what: &str,
        check: impl Fn(&Value) -> Result<(), String>,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status();
            match check(&status) {
                Ok(()) => return status,
                Err(why) if Instant::now() >= deadline => {
                    for p in terms {
                        p.print_transcript();
                    }
                    panic!(
                        "status never showed {what}: {why}\n{}",
                        serde_json::to_string_pretty(&status).unwrap()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits until the directory is entered by `refs` shells, each of its models (demo/opus among
    /// them) has refcount `refs` and no lease, and the gateway runs.
    fn wait_entered(&self, terms: &[&Terminal], refs: i64) -> Value {
        let token = self.token.clone();
        let dir = self.proj.display().to_string();
        self.wait_status(terms, &format!("the token with refs {refs}"), move |st| {
            let dirs = st["directories"].as_array().ok_or("no directories")?;
            let d = dirs
                .iter()
                .find(|d| d["token"] == token.as_str())
                .ok_or("token not entered")?;
            if d["refs"] != refs {
                return Err(format!("refs {}", d["refs"]));
            }
            if d["profile"] != "demo" || d["directory"] != dir.as_str() {
                return Err(format!(
                    "profile/directory {} {}",
                    d["profile"], d["directory"]
                ));
            }
            let names: Vec<&str> = d["models"]
                .as_array()
                .ok_or("no models")?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if !names.contains(&"demo/opus") {
                return Err(format!("models {names:?}"));
            }
            for name in names {
                let m = model(st, name).ok_or(format!("no model row {name}"))?;
                if m["refcount"] != refs || !m["lease_expires"].is_null() {
                    return Err(format!("{name}: {m}"));
                }
            }
            if st["gateway"]["running"] != true {
                return Err("gateway not running".into());
            }
            Ok(())
        })
    }

    /// Waits until the directory is left by every shell: the token is gone and the demo models
    /// have refcount 0 with a lease that expires in the future.
    fn wait_left(&self, terms: &[&Terminal]) -> Value {
        let token = self.token.clone();
        self.wait_status(terms, "the token gone and the models leased", move |st| {
            let dirs = st["directories"].as_array().ok_or("no directories")?;
            if dirs.iter().any(|d| d["token"] == token.as_str()) {
                return Err("token still entered".into());
            }
            let now = st["now"].as_i64().ok_or("no now")?;
            for name in ["demo/opus", "demo/sonnet", "demo/haiku"] {
                let m = model(st, name).ok_or(format!("no model row {name}"))?;
                let lease = m["lease_expires"].as_i64();
                if m["refcount"] != 0 || lease.is_none_or(|t| t <= now) {
                    return Err(format!("{name}: {m}"));
                }
            }
            Ok(())
        })
    }
}

/// One line per directory and model of `status --json`, for the test log.
fn summary(st: &Value) -> String {
    let now = st["now"].as_i64().unwrap_or(0);
    let mut out = format!(
        "  gateway running: {}\n",
        st["gateway"]["running"].as_bool().unwrap_or(false)
    );
    for d in st["directories"].as_array().into_iter().flatten() {
        out += &format!(
            "  directory {} profile {} refs {} {}\n",
            d["token"].as_str().unwrap_or(""),
            d["profile"].as_str().unwrap_or(""),
            d["refs"],
            d["directory"].as_str().unwrap_or("")
        );
    }
    for m in st["models"].as_array().into_iter().flatten() {
        let lease = match m["lease_expires"].as_i64() {
            Some(t) => format!("lease expires in {} s", (t - now) / 1000),
            None => "in use".to_owned(),
        };
        out += &format!(
            "  model {} refcount {} {lease}\n",
            m["model_name"].as_str().unwrap_or(""),
            m["refcount"]
        );
    }
    out
}

fn model<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["models"]
        .as_array()?
        .iter()
        .find(|m| m["model_name"] == name)
}

/// A number no other command in this test process types: it marks the output of one command.
fn next_mark() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The variables the shell in `p` has, read back through the terminal: (token, profile, base URL).
fn read_vars(p: &mut Terminal) -> (String, String, String) {
    // The command echoed back reads `vars%s`, the output `vars<n>`: only the output matches.
    let n = next_mark();
    p.send(&format!(
        "printf 'vars%s [%s] [%s] [%s]\\n' {n} \"$AGENT_SHIM_TOKEN\" \"$AGENT_SHIM_PROFILE\" \"$ANTHROPIC_BASE_URL\""
    ));
    let line = p.expect_line(&format!("vars{n} ["));
    p.expect(PROMPT);
    assert_at_prompt(p);
    let parts: Vec<&str> = line.trim_end_matches(']').split("] [").collect();
    assert_eq!(parts.len(), 3, "vars line {line:?}");
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    )
}

/// Runs `line`, then a marker command in the same command line, and waits for the marker's
/// output and the prompt after it.
fn run(p: &mut Terminal, line: &str) {
    let n = next_mark();
    p.send(&format!("{line}; printf 'ran%s.\\n' {n}"));
    p.expect(&format!("ran{n}."));
    p.expect(PROMPT);
    assert_at_prompt(p);
}

/// The screen shows the cursor on a fresh prompt, nothing printed over or after it.
fn assert_at_prompt(p: &Terminal) {
    let (row, col) = p.cursor_row();
    check(
        row == PROMPT.trim_end() && usize::from(col) == PROMPT.len(),
        &[p],
        &format!("the cursor is at column {col} of {row:?}, not after a fresh {PROMPT:?}"),
    );
}

/// Panics with `what` after printing the transcripts when `ok` is false.
fn check(ok: bool, terms: &[&Terminal], what: &str) {
    if !ok {
        for p in terms {
            p.print_transcript();
        }
        panic!("{what}");
    }
}

/// `cd proj` in `p`; checks the variables direnv set there.
fn cd_in(w: &World, p: &mut Terminal) {
    run(p, "cd proj");
    let (token, profile, url) = read_vars(p);
    check(
        token == w.token && profile == "demo" && url == w.s.base_url(),
        &[p],
        &format!(
            "in proj: AGENT_SHIM_TOKEN={token:?} (want {:?}), AGENT_SHIM_PROFILE={profile:?} \
             (want \"demo\"), ANTHROPIC_BASE_URL={url:?} (want {:?})",
            w.token,
            w.s.base_url()
        ),
    );
}

/// Types `exit` and checks that the shell exits with status 0.
fn exit(shell: Sh, p: &mut Terminal) {
    p.send("exit");
    let status = p.wait_exit(Duration::from_secs(10));
    check(
        matches!(status, WaitStatus::Exited(_, 0)),
        &[p],
        &format!("{} exited with {status:?}", shell.name()),
    );
}

/// What no transcript may show: an error from agent-shim (the hook must print nothing) or a
/// job-control notice for the hook's background calls (bash/zsh `[1] …`, fish `Job 1, … has
/// ended`).
fn assert_quiet(p: &Terminal) {
    let t = p.transcript();
    for l in t.lines() {
        let job_notice = l.starts_with('[')
            && l[1..]
                .split(']')
                .next()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        assert!(
            !l.contains("agent-shim") && !job_notice && !l.contains("has ended"),
            "the hook printed {l:?}"
        );
    }
}

fn enter_and_leave(shell: Sh) {
    let w = World::new();
    let mut p = w.shell(shell, &format!("{}: cd in, cd out, exit", shell.name()));
    cd_in(&w, &mut p);
    let inside = w.wait_entered(&[&p], 1);

    run(&mut p, "cd ..");
    let (token, profile, url) = read_vars(&mut p);
    check(
        token.is_empty() && profile.is_empty() && url.is_empty(),
        &[&p],
        &format!("variables still set after cd ..: {token:?} {profile:?} {url:?}"),
    );
    let outside = w.wait_left(&[&p]);

    exit(shell, &mut p);
    p.print_transcript();
    println!(
        "status --json after `cd proj`:\n{}status --json after `cd ..`:\n{}",
        summary(&inside),
        summary(&outside)
    );
    let t = p.transcript();
    assert!(
        t.contains("direnv: loading") && t.contains("direnv: unloading"),
        "direnv's hook ran in the shell"
    );
    assert_quiet(&p);
}

#[test]
fn bash_hook_enters_and_leaves_in_a_real_shell() {
    enter_and_leave(Sh::Bash);
}

#[test]
fn zsh_hook_enters_and_leaves_in_a_real_shell() {
    enter_and_leave(Sh::Zsh);
}

#[test]
fn fish_hook_enters_and_leaves_in_a_real_shell() {
    enter_and_leave(Sh::Fish);
}

/// Two shells in the directory count twice; a shell that exits while inside leaves.
fn two_shells_then_exit_inside(shell: Sh) {
    let w = World::new();
    let name = shell.name();
    let mut a = w.shell(shell, &format!("{name} A: cd in, exit inside"));
    let mut b = w.shell(shell, &format!("{name} B: cd in, exit inside"));
    cd_in(&w, &mut a);
    w.wait_entered(&[&a], 1);
    cd_in(&w, &mut b);
    let both = w.wait_entered(&[&a, &b], 2);

    exit(shell, &mut a);
    // `exit` runs the hook's exit handler, which leaves before the shell is gone.
    let one = w.wait_entered(&[&a, &b], 1);
    exit(shell, &mut b);
    let none = w.wait_left(&[&a, &b]);
    a.print_transcript();
    b.print_transcript();
    println!(
        "status with both shells inside:\n{}after A exited:\n{}after B exited:\n{}",
        summary(&both),
        summary(&one),
        summary(&none)
    );
    assert_quiet(&a);
    assert_quiet(&b);
}

#[test]
fn bash_hook_counts_two_shells_and_leaves_on_exit() {
    two_shells_then_exit_inside(Sh::Bash);
}

#[test]
fn zsh_hook_counts_two_shells_and_leaves_on_exit() {
    two_shells_then_exit_inside(Sh::Zsh);
}

#[test]
fn fish_hook_counts_two_shells_and_leaves_on_exit() {
    two_shells_then_exit_inside(Sh::Fish);
}

/// Closing the terminal (SIGHUP) of a shell inside the directory leaves it.
fn hang_up_inside(shell: Sh) {
    let w = World::new();
    let mut p = w.shell(shell, &format!("{}: cd in, terminal closed", shell.name()));
    cd_in(&w, &mut p);
    w.wait_entered(&[&p], 1);
    p.hang_up();
    let status = p.wait_exit(Duration::from_secs(10));
    let after = w.wait_left(&[&p]);
    p.print_transcript();
    println!(
        "{} exited on SIGHUP ({status:?}); status --json then:\n{}",
        shell.name(),
        summary(&after)
    );
}

#[test]
fn bash_hook_leaves_when_the_terminal_closes() {
    hang_up_inside(Sh::Bash);
}

#[test]
fn zsh_hook_leaves_when_the_terminal_closes() {
    hang_up_inside(Sh::Zsh);
}

#[test]
fn fish_hook_leaves_when_the_terminal_closes() {
    hang_up_inside(Sh::Fish);
}
