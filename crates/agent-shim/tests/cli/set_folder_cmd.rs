//! `agent-shim set-folder <profile> [DIR] [--allow]`: the `.envrc` block, `.envrc.user`, a second
//! run, a profile switch, an unknown profile, and `--allow` with the real direnv.

use crate::common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

const EXE: &str = env!("CARGO_BIN_EXE_agent-shim");
const BEGIN: &str = "# >>> agent-shim >>>";
const END: &str = "# <<< agent-shim <<<";

/// A sandbox with `agent-shim` on PATH (the `.envrc` runs it by name) and a directory `proj`.
struct Folder {
    s: Sandbox,
    bin: PathBuf,
    proj: PathBuf,
}

impl Folder {
    fn new() -> Folder {
        let s = Sandbox::new();
        let bin = s.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(EXE, bin.join("agent-shim")).unwrap();
        let proj = s.work().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        Folder { s, bin, proj }
    }

    fn path_var(&self) -> String {
        path_with(&self.bin)
    }

    /// `agent-shim args…` in the sandbox's work directory, `agent-shim` on PATH.
    fn run(&self, args: &[&str]) -> Output {
        let mut c = self.s.cmd(args);
        c.env("PATH", self.path_var());
        c.output().unwrap()
    }

    /// `program args…` with the sandbox's HOME (so direnv's allow list is the sandbox's).
    fn program(&self, program: &str, args: &[&str], dir: &Path) -> Output {
        Command::new(program)
            .args(args)
            .env_clear()
            .env("HOME", self.s.home())
            .env("PATH", self.path_var())
            .env("AGENT_SHIM_PORT", self.s.port.to_string())
            .env("DIRENV_LOG_FORMAT", "")
            .current_dir(dir)
            .output()
            .unwrap()
    }

    fn envrc(&self) -> Vec<u8> {
        std::fs::read(self.proj.join(".envrc")).unwrap()
    }

    fn envrc_user(&self) -> Vec<u8> {
        std::fs::read(self.proj.join(".envrc.user")).unwrap()
    }

    /// The token `set-folder` must write: 16 hex digits of SHA-256 of the canonical path.
    fn expected_token(&self) -> String {
        let canonical = self.proj.canonicalize().unwrap();
        let digest = Sha256::digest(canonical.to_string_lossy().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

#[test]
fn set_folder_keeps_existing_envrc_lines_and_a_second_run_changes_nothing() {
    let f = Folder::new();
    let original = "export FOO=1\nuse nix\nPATH_add scripts";
    std::fs::write(f.proj.join(".envrc"), original).unwrap();

    let o = f.run(&["set-folder", "demo", "proj"]);
    assert_ok("set-folder", &o);
    let token = f.expected_token();
    assert!(
        stdout(&o).contains(&format!("now uses profile 'demo' (token {token})"))
            && stdout(&o).contains("direnv allow"),
        "{}",
        stdout(&o)
    );
    let envrc = text(&f.envrc());
    println!(".envrc after set-folder:\n{envrc}");
    assert!(
        envrc.starts_with(&format!("{original}\n{BEGIN}")),
        "the old lines are kept as they were, our block follows on a new line:\n{envrc}"
    );
    assert!(envrc.ends_with(&format!("{END}\n")), "{envrc}");
    assert_eq!(envrc.matches(BEGIN).count(), 1, "{envrc}");
    assert_eq!(envrc.matches(END).count(), 1, "{envrc}");
    let block = &envrc[envrc.find(BEGIN).unwrap()..];
    for line in [
        format!("export AGENT_SHIM_TOKEN={token}"),
        "dotenv_if_exists .envrc.user".to_owned(),
    ] {
        assert!(block.lines().any(|l| l == line), "no {line:?} in\n{block}");
    }
    assert!(
        block
            .lines()
            .any(|l| l.starts_with("eval \"$(agent-shim env ") && l.contains("--export")),
        "{block}"
    );
    assert_eq!(text(&f.envrc_user()), "AGENT_SHIM_PROFILE=demo\n");

    // The user adds a line after our block; a second run changes neither file.
    let edited = format!("{envrc}echo after the block\n");
    std::fs::write(f.proj.join(".envrc"), &edited).unwrap();
    let (envrc_before, user_before) = (f.envrc(), f.envrc_user());
    let times = (
        mtime(&f.proj.join(".envrc")),
        mtime(&f.proj.join(".envrc.user")),
    );
    let o = f.run(&["set-folder", "demo", "proj"]);
    assert_ok("second set-folder", &o);
    assert!(
        stdout(&o).contains("nothing changed") && !stdout(&o).contains("direnv allow"),
        "{}",
        stdout(&o)
    );
    assert_eq!(text(&f.envrc()), text(&envrc_before));
    assert_eq!(text(&f.envrc_user()), text(&user_before));
    assert_eq!(
        (
            mtime(&f.proj.join(".envrc")),
            mtime(&f.proj.join(".envrc.user"))
        ),
        times,
        "files not rewritten"
    );
}

#[test]
fn set_folder_defaults_to_the_current_directory() {
    let f = Folder::new();
    let mut c = f.s.cmd(&["set-folder", "demo"]);
    c.env("PATH", f.path_var()).current_dir(&f.proj);
    let o = c.output().unwrap();
    assert_ok("set-folder in proj", &o);
    assert!(
        text(&f.envrc()).contains(&format!("export AGENT_SHIM_TOKEN={}", f.expected_token())),
        "{}",
        text(&f.envrc())
    );
}

#[test]
fn set_folder_switching_profile_rewrites_only_envrc_user() {
    let f = Folder::new();
    std::fs::write(f.proj.join(".envrc.user"), "MY_SETTING=1\n").unwrap();
    assert_ok("set-folder demo", &f.run(&["set-folder", "demo", "proj"]));
    let envrc = f.envrc();
    let envrc_time = mtime(&f.proj.join(".envrc"));
    assert_eq!(
        text(&f.envrc_user()),
        "MY_SETTING=1\nAGENT_SHIM_PROFILE=demo\n"
    );

    let o = f.run(&["set-folder", "openai", "proj"]);
    assert_ok("set-folder openai", &o);
    assert!(
        stdout(&o).contains("now uses profile 'openai'"),
        "{}",
        stdout(&o)
    );
    assert_eq!(text(&f.envrc()), text(&envrc), ".envrc unchanged");
    assert_eq!(
        mtime(&f.proj.join(".envrc")),
        envrc_time,
        ".envrc not rewritten"
    );
    assert_eq!(
        text(&f.envrc_user()),
        "MY_SETTING=1\nAGENT_SHIM_PROFILE=openai\n",
        "the profile line replaced, the other line kept"
    );
}

#[test]
fn set_folder_unknown_profile_exits_2_and_writes_nothing() {
    let f = Folder::new();
    let o = f.run(&["set-folder", "no-such-profile", "proj"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    println!("stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("agent-shim: unknown profile 'no-such-profile'")
            && ["demo", "openai", "cerebras", "groq"]
                .iter()
                .all(|p| err.contains(p)),
        "names the profile and lists the profiles: {err}"
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(!f.proj.join(".envrc").exists() && !f.proj.join(".envrc.user").exists());

    // An existing .envrc is not touched either.
    std::fs::write(f.proj.join(".envrc"), "export FOO=1\n").unwrap();
    let o = f.run(&["set-folder", "no-such-profile", "proj"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&f.envrc()), "export FOO=1\n");
    assert!(!f.proj.join(".envrc.user").exists());
}

#[test]
fn set_folder_allow_lets_direnv_load_the_variables() {
    let f = Folder::new();
    assert_ok("set-folder", &f.run(&["set-folder", "demo", "proj"]));
    // Not allowed yet: direnv refuses the .envrc.
    let status = f.program("direnv", &["status"], &f.proj);
    assert!(
        stdout(&status).contains("Found RC allowed false"),
        "{}",
        stdout(&status)
    );
    let o = f.program("direnv", &["exec", ".", "env"], &f.proj);
    assert!(
        !o.status.success() && !stdout(&o).contains("AGENT_SHIM_TOKEN="),
        "a blocked .envrc does not load: {}",
        stdout(&o)
    );

    let o = f.run(&["set-folder", "demo", "proj", "--allow"]);
    assert_ok("set-folder --allow", &o);
    let status = f.program("direnv", &["status"], &f.proj);
    assert!(
        stdout(&status).contains("Found RC allowed true"),
        "{}",
        stdout(&status)
    );
    let proj = f.proj.display().to_string();
    let o = f.program("direnv", &["exec", &proj, "env"], &f.s.work());
    assert_ok("direnv exec", &o);
    let env = stdout(&o);
    for want in [
        format!("AGENT_SHIM_TOKEN={}", f.expected_token()),
        "AGENT_SHIM_PROFILE=demo".to_owned(),
        format!("ANTHROPIC_BASE_URL={}", f.s.base_url()),
        "ANTHROPIC_DEFAULT_OPUS_MODEL=demo/opus".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == want), "no {want} in\n{env}");
    }
}
