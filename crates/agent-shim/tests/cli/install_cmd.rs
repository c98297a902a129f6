//! `agent-shim install`: hook lines in the rc files (once), completion files, the `run-claude`,
//! `with-agent-shim` and `openClaude` links, `--dry-run`; the links' behaviour; `agent-shim
//! uninstall` removing exactly that; `agent-shim completion` loading in each shell.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_agent-shim");
const MARK: &str = "agent-shim shell hook";

struct Setup {
    s: Sandbox,
    bin: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let s = Sandbox::new();
        let bin = s.dir.path().join("bin");
        Setup { s, bin }
    }

    fn bashrc(&self) -> PathBuf {
        self.s.home().join(".bashrc")
    }

    fn zshrc(&self) -> PathBuf {
        self.s.home().join(".zshrc")
    }

    fn config_fish(&self) -> PathBuf {
        self.s.home().join(".config/fish/config.fish")
    }

    fn install(&self, extra: &[&str]) -> Output {
        let bin = self.bin.display().to_string();
        let mut args = vec![
            "install",
            "--shell",
            "bash",
            "--shell",
            "zsh",
            "--shell",
            "fish",
            "--bin-dir",
            &bin,
        ];
        args.extend_from_slice(extra);
        let o = self.s.run(&args);
        println!(
            "$ agent-shim {}\n{}{}",
            args.join(" "),
            stdout(&o),
            stderr(&o)
        );
        o
    }

    /// `shell args…` with only the sandbox's HOME and `agent-shim` on PATH (in `bin`).
    fn shell(&self, shell: &str, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(shell)
            .args(args)
            .env_clear()
            .env("HOME", self.s.home())
            .env("PATH", path)
            .env("AGENT_SHIM_PORT", self.s.port.to_string())
            .env("TERM", "dumb")
            .current_dir(self.s.work())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file and link under `root`: path → content or link target.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_symlink() {
                out.insert(
                    p.clone(),
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if meta.is_dir() {
                out.insert(p.clone(), "<dir>".into());
                todo.push(p);
            } else {
                out.insert(
                    p.clone(),
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into(),
                );
            }
        }
    }
    out
}

fn hook_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(MARK)).collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    a.canonicalize().unwrap() == b.canonicalize().unwrap()
}

#[test]
fn install_adds_hooks_once_completions_and_links() {
    let t = Setup::new();
    let old_bashrc = "alias ll='ls -l'\nexport EDITOR=vi";
    std::fs::write(t.bashrc(), old_bashrc).unwrap();

    let o = t.install(&[]);
    assert_ok("install", &o);

    let bashrc = read(&t.bashrc());
    assert!(
        bashrc.starts_with(&format!("{old_bashrc}\n")),
        "existing .bashrc kept:\n{bashrc}"
    );
    for (rc, needle) in [
        (t.bashrc(), "hook bash)\""),
        (t.zshrc(), "hook zsh)\""),
        (t.config_fish(), "hook fish | source"),
    ] {
        let text = read(&rc);
        let lines = hook_lines(&text);
        assert_eq!(lines.len(), 1, "{}:\n{text}", rc.display());
        assert!(
            lines[0].contains(needle) && lines[0].contains(EXE),
            "{}: {}",
            rc.display(),
            lines[0]
        );
    }

    let completions = [
        (
            "bash",
            t.s.home()
                .join(".local/share/bash-completion/completions/agent-shim"),
        ),
        (
            "zsh",
            t.s.home()
                .join(".local/share/zsh/site-functions/_agent-shim"),
        ),
        (
            "fish",
            t.s.home().join(".config/fish/completions/agent-shim.fish"),
        ),
    ];
    for (shell, path) in &completions {
        let want = t.s.run(&["completion", shell]);
        assert_ok("completion", &want);
        assert!(!want.stdout.is_empty());
        assert_eq!(
            std::fs::read(path).unwrap_or_default(),
            want.stdout,
            "{} holds `agent-shim completion {shell}`",
            path.display()
        );
    }

    for name in ["run-claude", "with-agent-shim", "openClaude"] {
        let link = t.bin.join(name);
        let target = std::fs::read_link(&link)
            .unwrap_or_else(|e| panic!("{} is not a link: {e}", link.display()));
        assert!(
            same_file(&target, Path::new(EXE)),
            "{} -> {}",
            link.display(),
            target.display()
        );
    }

    // A second run adds nothing and rewrites nothing.
    let before = snapshot(t.s.dir.path());
    let o = t.install(&[]);
    assert_ok("second install", &o);
    let out = stdout(&o);
    assert_eq!(out.matches("hook already in").count(), 3, "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("  ok ") && l.contains(" -> "))
            .count(),
        3,
        "the three links are there: {out}"
    );
    assert_eq!(out.matches("(unchanged)").count(), 3, "{out}");
    assert!(!out.contains("add  ") && !out.contains("write  "), "{out}");
    assert_eq!(
        snapshot(t.s.dir.path()),
        before,
        "the second run changed files"
    );
    for rc in [t.bashrc(), t.zshrc(), t.config_fish()] {
        assert_eq!(hook_lines(&read(&rc)).len(), 1, "{}", rc.display());
    }
}

#[test]
fn install_dry_run_changes_nothing() {
    let t = Setup::new();
    std::fs::write(t.bashrc(), "export EDITOR=vi\n").unwrap();
    let before = snapshot(t.s.dir.path());
    let o = t.install(&["--dry-run"]);
    assert_ok("install --dry-run", &o);
    let out = stdout(&o);
    assert!(
        out.contains("would add") && out.contains("would write") && out.contains("would link"),
        "{out}"
    );
    assert_eq!(snapshot(t.s.dir.path()), before, "--dry-run changed files");
}

/// The lines install wrote load the hook in each shell (no direnv hook is needed for that).
#[test]
fn install_hook_lines_load_in_each_shell() {
    let t = Setup::new();
    assert_ok("install", &t.install(&[]));
    for (shell, args) in [
        (
            "bash",
            [
                "--noprofile",
                "-c",
                "source ~/.bashrc; [[ \";$PROMPT_COMMAND;\" == *\";_agent_shim_hook;\"* ]]",
            ]
            .as_slice(),
        ),
        (
            "zsh",
            &[
                "-c",
                "source ~/.zshrc; (( ${precmd_functions[(I)_agent_shim_hook]} ))",
            ],
        ),
        (
            "fish",
            &["-c", "functions -q __agent_shim_sync __agent_shim_exit"],
        ),
    ] {
        let o = t.shell(shell, args);
        assert_ok(&format!("{shell} loads its rc file"), &o);
        assert!(o.stderr.is_empty(), "{shell}: {}", stderr(&o));
    }
}

/// After install, completion works in a new shell without further setup: fish finds the file in
/// its completions directory; zsh (whose rc runs compinit, as most do) must find `_agent-shim`
/// on its fpath.
#[test]
fn install_completions_are_found_by_new_shells() {
    let t = Setup::new();
    std::fs::create_dir_all(&t.bin).unwrap();
    std::os::unix::fs::symlink(EXE, t.bin.join("agent-shim")).unwrap();
    std::fs::write(t.zshrc(), "autoload -U compinit && compinit\n").unwrap();
    assert_ok("install", &t.install(&[]));

    let o = t.shell("fish", &["-c", "complete --do-complete 'agent-shim set-f'"]);
    assert_ok("fish completes", &o);
    assert!(stdout(&o).starts_with("set-folder"), "fish: {}", stdout(&o));

    let o = t.shell(
        "zsh",
        &[
            "-i",
            "-c",
            "print -r -- \"completion: ${_comps[agent-shim]-none}\"",
        ],
    );
    println!("zsh: {}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("completion: _agent-shim"),
        "a new zsh does not find agent-shim's completion: install wrote it to \
         ~/.local/share/zsh/site-functions, which is not on zsh's fpath, and the rc file does not \
         add it\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn run_claude_link_runs_agent_shim_subcommands() {
    let t = Setup::new();
    assert_ok("install", &t.install(&[]));
    let run_claude = t.bin.join("run-claude");

    let o = t.s.cmd_at(&run_claude, &["--version"]).output().unwrap();
    assert_ok("run-claude --version", &o);
    assert!(
        stdout(&o).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        stdout(&o)
    );

    let json = |o: &Output| -> serde_json::Value {
        assert_ok("status --json", o);
        let mut v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)));
        v.as_object_mut().unwrap().remove("now");
        v
    };
    let via_link = json(
        &t.s.cmd_at(&run_claude, &["status", "--json"])
            .output()
            .unwrap(),
    );
    let direct = json(&t.s.run(&["status", "--json"]));
    assert_eq!(via_link, direct);
    assert_eq!(via_link["gateway"]["running"], false);

    let human_link = t.s.cmd_at(&run_claude, &["status"]).output().unwrap();
    let human = t.s.run(&["status"]);
    assert_ok("run-claude status", &human_link);
    assert_eq!(stdout(&human_link), stdout(&human));

    // with-agent-shim <profile> -- cmd is `agent-shim with`.
    let o =
        t.s.cmd_at(
            &t.bin.join("with-agent-shim"),
            &[
                "demo",
                "--",
                "sh",
                "-c",
                "echo \"$AGENT_SHIM_PROFILE $ANTHROPIC_BASE_URL\"",
            ],
        )
        .output()
        .unwrap();
    assert_ok("with-agent-shim", &o);
    assert_eq!(stdout(&o).trim(), format!("demo {}", t.s.base_url()));
}

/// `openClaude [args…]` is `agent-shim with bedrock --isolated -- claude [args…]`; here the
/// user's own `bedrock` profile (which overrides the built-in one by name) points at the demo
/// models, and `claude` is a stub that prints what it got.
#[test]
fn open_claude_link_runs_claude_isolated_with_the_bedrock_profile() {
    let t = Setup::new();
    assert_ok("install", &t.install(&[]));
    t.s.write_config(
        "profiles/bedrock.yaml",
        "meta:\n  name: bedrock\n  opus_model: demo/opus\n  sonnet_model: demo/sonnet\n  haiku_model: demo/haiku\n",
    );
    let stub = t.bin.join("claude");
    std::fs::write(
        &stub,
        "#!/bin/sh\necho \"$AGENT_SHIM_PROFILE $CLAUDE_CONFIG_DIR\"\nshift 2\necho \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        t.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o =
        t.s.cmd_at(
            &t.bin.join("openClaude"),
            &["-p", "hello there", "--model", "opus"],
        )
        .env("PATH", path)
        .output()
        .unwrap();
    assert_ok("openClaude", &o);
    let iso = t.s.state_dir().join("claude-isolated/bedrock");
    assert_eq!(
        stdout(&o),
        format!("bedrock {}\n-p hello there --model opus\n", iso.display())
    );
}

#[test]
fn uninstall_removes_exactly_what_install_added() {
    let t = Setup::new();
    std::fs::write(t.bashrc(), "alias ll='ls -l'\n").unwrap();
    std::fs::write(t.zshrc(), "setopt autocd\n").unwrap();
    std::fs::create_dir_all(&t.bin).unwrap();
    std::fs::write(t.bin.join("mine"), "#!/bin/sh\n").unwrap();
    let completion_dir = t.s.home().join(".local/share/zsh/site-functions");
    std::fs::create_dir_all(&completion_dir).unwrap();
    std::fs::write(completion_dir.join("_git"), "#compdef git\n").unwrap();
    let before = snapshot(t.s.dir.path());
    assert_ok("install", &t.install(&[]));
    assert_ne!(snapshot(t.s.dir.path()), before);

    // The user pointed openClaude elsewhere since: not install's any more.
    let mine = t.bin.join("openClaude");
    std::fs::remove_file(&mine).unwrap();
    std::os::unix::fs::symlink("/usr/bin/true", &mine).unwrap();

    let bin = t.bin.display().to_string();
    let o = t.s.run(&["uninstall", "--dry-run", "--bin-dir", &bin]);
    assert_ok("uninstall --dry-run", &o);
    assert!(stdout(&o).contains("would remove"), "{}", stdout(&o));
    let o = t.s.run(&["uninstall", "--bin-dir", &bin]);
    assert_ok("uninstall", &o);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "{} -> /usr/bin/true is not agent-shim's link",
            mine.display()
        )),
        "{out}"
    );
    let mut after = snapshot(t.s.dir.path());
    assert_eq!(after.remove(&mine).as_deref(), Some("-> /usr/bin/true"));
    // install created these directories for its files; uninstall leaves directories alone.
    after.retain(|p, v| v != "<dir>" || before.contains_key(p));
    // The fish rc file did not exist: install created it, uninstall leaves it empty.
    let fish = t.config_fish();
    assert_eq!(after.remove(&fish).as_deref(), Some(""));
    assert_eq!(
        after, before,
        "uninstall left something of install's, or removed the user's"
    );
    let o = t.s.run(&["uninstall", "--bin-dir", &bin]);
    assert_ok("a second uninstall", &o);
    assert!(
        !stdout(&o).contains("remove"),
        "nothing left: {}",
        stdout(&o)
    );
}

fn completion_loads(shell: &str, script: &str) {
    let t = Setup::new();
    let o = t.shell(shell, &["-c", script]);
    println!(
        "{shell}: exit {:?} {}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    assert_ok(&format!("{shell} loads the completion"), &o);
    assert!(o.stderr.is_empty(), "{shell}: {}", stderr(&o));
}

#[test]
fn completion_bash_loads() {
    completion_loads(
        "bash",
        &format!("set -e; source <('{EXE}' completion bash); complete -p agent-shim >/dev/null"),
    );
}

#[test]
fn completion_zsh_loads() {
    completion_loads(
        "zsh",
        &format!(
            "autoload -U compinit; compinit; source <('{EXE}' completion zsh); \
             [[ ${{_comps[agent-shim]}} == _agent-shim ]]"
        ),
    );
}

#[test]
fn completion_fish_loads() {
    completion_loads(
        "fish",
        &format!(
            "'{EXE}' completion fish | source; and complete -c agent-shim | string match -q '*set-folder*'"
        ),
    );
}
