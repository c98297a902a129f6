//! `agent-shim install [--shell S]… [--dry-run] [--bin-dir DIR]`: adds the hook line to the rc file
//! of each shell (once: a marked line is not added again), writes completions, and links
//! `run-claude`, `with-agent-shim` and `openClaude` to this binary. `agent-shim uninstall
//! [--dry-run] [--bin-dir DIR]` removes exactly that: the marked lines, the completion files and
//! the links that point to an agent-shim binary.

use crate::cli::{InstallArgs, Shell, UninstallArgs};
use crate::error::{CliError, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const MARK: &str = "# agent-shim shell hook";

/// The seed's Bedrock launcher: this binary invoked under this name runs
/// `agent-shim with bedrock --isolated -- claude "$@"`.
pub const OPEN_CLAUDE: &str = "openClaude";

/// The links install makes to this binary.
const LINKS: [&str; 3] = ["run-claude", "with-agent-shim", OPEN_CLAUDE];

struct Plan {
    home: PathBuf,
    exe: String,
    dry_run: bool,
}

impl Plan {
    fn data_home(&self) -> PathBuf {
        std::env::var_os("XDG_DATA_HOME")
            .map_or_else(|| self.home.join(".local/share"), PathBuf::from)
    }

    fn config_home(&self) -> PathBuf {
        std::env::var_os("XDG_CONFIG_HOME").map_or_else(|| self.home.join(".config"), PathBuf::from)
    }

    fn rc_file(&self, shell: Shell) -> PathBuf {
        match shell {
            Shell::Bash => self.home.join(".bashrc"),
            Shell::Zsh => std::env::var_os("ZDOTDIR")
                .map_or_else(|| self.home.clone(), PathBuf::from)
                .join(".zshrc"),
            Shell::Fish => self.config_home().join("fish/config.fish"),
        }
    }

    fn hook_line(&self, shell: Shell) -> String {
        let exe = super::env::shell_quote(&self.exe);
        match shell {
            Shell::Bash => format!("eval \"$({exe} hook bash)\"  {MARK}"),
            Shell::Zsh => format!("eval \"$({exe} hook zsh)\"  {MARK}"),
            Shell::Fish => format!("{exe} hook fish | source  {MARK}"),
        }
    }

    fn completion_file(&self, shell: Shell) -> PathBuf {
        match shell {
            Shell::Bash => self
                .data_home()
                .join("bash-completion/completions/agent-shim"),
            Shell::Zsh => self.data_home().join("zsh/site-functions/_agent-shim"),
            Shell::Fish => self.config_home().join("fish/completions/agent-shim.fish"),
        }
    }

    fn write(&self, path: &Path, text: &[u8], what: &str) -> Result<()> {
        if std::fs::read(path).ok().as_deref() == Some(text) {
            println!("  ok       {what}: {} (unchanged)", path.display());
            return Ok(());
        }
        println!(
            "  {}  {what}: {}",
            if self.dry_run {
                "would write"
            } else {
                "write   "
            },
            path.display()
        );
        if self.dry_run {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(path, text)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))
    }

    fn add_hook(&self, shell: Shell) -> Result<()> {
        let rc = self.rc_file(shell);
        let old = std::fs::read_to_string(&rc).unwrap_or_default();
        if old.lines().any(|l| l.contains(MARK)) {
            println!("  ok       hook already in {}", rc.display());
            return Ok(());
        }
        let line = self.hook_line(shell);
        let sep = if old.is_empty() || old.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let text = format!("{old}{sep}{line}\n");
        if !old.contains("direnv hook") && !old.contains("direnv export") {
            println!(
                "  note     {} has no direnv hook; directory profiles need it (direnv.net/docs/hook.html)",
                rc.display()
            );
        }
        println!(
            "  {}  {}: {line}",
            if self.dry_run {
                "would add"
            } else {
                "add      "
            },
            rc.display()
        );
        if self.dry_run {
            return Ok(());
        }
        if let Some(dir) = rc.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(&rc, text)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", rc.display())))
    }

    fn link(&self, dir: &Path, name: &str) -> Result<()> {
        let path = dir.join(name);
        match std::fs::read_link(&path) {
            Ok(target) if target == Path::new(&self.exe) => {
                println!("  ok       {} -> {}", path.display(), self.exe);
                return Ok(());
            }
            Ok(_) => {}
            Err(_) if path.exists() => {
                println!(
                    "  skip     {} exists and is not a link; remove it to let install link it",
                    path.display()
                );
                return Ok(());
            }
            Err(_) => {}
        }
        println!(
            "  {}  {} -> {}",
            if self.dry_run {
                "would link"
            } else {
                "link     "
            },
            path.display(),
            self.exe
        );
        if self.dry_run {
            return Ok(());
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(&self.exe, &path)
            .map_err(|e| CliError::failed(format!("cannot link {}: {e}", path.display())))
    }
}

/// The shell named by `$SHELL`.
fn login_shell() -> Option<Shell> {
    let sh = std::env::var("SHELL").ok()?;
    match Path::new(&sh).file_name()?.to_str()? {
        "bash" => Some(Shell::Bash),
        "zsh" => Some(Shell::Zsh),
        "fish" => Some(Shell::Fish),
        _ => None,
    }
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| CliError::usage("HOME is not set"))
}

pub fn run(args: InstallArgs) -> Result<ExitCode> {
    let plan = Plan {
        home: home()?,
        exe: super::hook::own_path()?,
        dry_run: args.dry_run,
    };
    let shells = if args.shells.is_empty() {
        vec![login_shell().ok_or_else(|| {
            CliError::usage("cannot tell your shell from $SHELL; choose with --shell bash|zsh|fish")
        })?]
    } else {
        args.shells
    };
    for shell in shells {
        println!("{shell:?}:");
        plan.add_hook(shell)?;
        plan.write(
            &plan.completion_file(shell),
            &super::completion::script(shell),
            "completions",
        )?;
    }
    let bin = args.bin_dir.unwrap_or_else(|| plan.home.join(".local/bin"));
    println!("links:");
    for name in LINKS {
        plan.link(&bin, name)?;
    }
    if !args.dry_run {
        println!("open a new shell (or source your rc file) to start using the hook");
    }
    Ok(ExitCode::SUCCESS)
}

impl Plan {
    fn say(&self, doing: &str, would: &str, what: &str) {
        println!("  {}  {what}", if self.dry_run { would } else { doing });
    }

    /// Removes the marked hook lines from a shell's rc file (the rest stays byte for byte).
    fn remove_hook(&self, shell: Shell) -> Result<()> {
        let rc = self.rc_file(shell);
        let Ok(old) = std::fs::read_to_string(&rc) else {
            return Ok(());
        };
        if !old.lines().any(|l| l.contains(MARK)) {
            return Ok(());
        }
        let kept: String = old
            .split_inclusive('\n')
            .filter(|l| !l.contains(MARK))
            .collect();
        self.say(
            "remove   ",
            "would remove",
            &format!("hook line from {}", rc.display()),
        );
        if self.dry_run {
            return Ok(());
        }
        std::fs::write(&rc, kept)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", rc.display())))
    }

    fn remove_file(&self, path: &Path, what: &str) -> Result<()> {
        if std::fs::symlink_metadata(path).is_err() {
            return Ok(());
        }
        self.say(
            "remove   ",
            "would remove",
            &format!("{what}: {}", path.display()),
        );
        if self.dry_run {
            return Ok(());
        }
        std::fs::remove_file(path)
            .map_err(|e| CliError::failed(format!("cannot remove {}: {e}", path.display())))
    }

    /// Removes `dir/name` if it is a link to this binary or to another `agent-shim`.
    fn unlink(&self, dir: &Path, name: &str) -> Result<()> {
        let path = dir.join(name);
        match std::fs::read_link(&path) {
            Ok(target)
                if target == Path::new(&self.exe)
                    || target.file_name().is_some_and(|n| n == "agent-shim") =>
            {
                self.remove_file(&path, "link")
            }
            Ok(target) => {
                println!(
                    "  skip     {} -> {} is not agent-shim's link",
                    path.display(),
                    target.display()
                );
                Ok(())
            }
            Err(_) if path.exists() => {
                println!("  skip     {} is not a link", path.display());
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }
}

/// `agent-shim uninstall`: what [`run`] added, for every shell.
pub fn uninstall(args: UninstallArgs) -> Result<ExitCode> {
    let plan = Plan {
        home: home()?,
        exe: super::hook::own_path()?,
        dry_run: args.dry_run,
    };
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        plan.remove_hook(shell)?;
        plan.remove_file(&plan.completion_file(shell), "completions")?;
    }
    let bin = args.bin_dir.unwrap_or_else(|| plan.home.join(".local/bin"));
    for name in LINKS {
        plan.unlink(&bin, name)?;
    }
    Ok(ExitCode::SUCCESS)
}
