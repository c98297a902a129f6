//! `agent-shim set-folder <profile> [DIR] [--allow]`: writes the directory's `.envrc` (our lines
//! in a marked block; the rest of the file is kept; a second run changes nothing) and
//! `.envrc.user` (`AGENT_SHIM_PROFILE=<profile>`), for direnv.

use crate::cli::SetFolderArgs;
use crate::error::{CliError, Result};
use crate::settings::{Settings, catalog, env_vars};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const BEGIN: &str = "# >>> agent-shim >>>";
const END: &str = "# <<< agent-shim <<<";

/// The directory token: the first 16 hex digits of the SHA-256 of the canonical path.
pub fn token_for(dir: &Path) -> String {
    let digest = Sha256::digest(dir.to_string_lossy().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Our block of `.envrc`.
fn block(token: &str) -> String {
    format!(
        "{BEGIN} managed by `agent-shim set-folder`; the profile is in .envrc.user\n\
         export {}={token}\n\
         dotenv_if_exists .envrc.user\n\
         eval \"$(agent-shim env \"${{{}:?set it in .envrc.user}}\" --export)\"\n\
         {END}\n",
        env_vars::TOKEN,
        env_vars::PROFILE,
    )
}

/// `old` with our block replaced (or appended), everything else untouched.
fn with_block(old: &str, token: &str) -> String {
    let new_block = block(token);
    if let (Some(b), Some(e)) = (old.find(BEGIN), old.find(END))
        && b < e
    {
        let end = old[e..].find('\n').map_or(old.len(), |n| e + n + 1);
        return format!("{}{new_block}{}", &old[..b], &old[end..]);
    }
    let sep = if old.is_empty() || old.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!("{old}{sep}{new_block}")
}

/// `old` with the `AGENT_SHIM_PROFILE=` line set to `profile`.
fn with_profile(old: &str, profile: &str) -> String {
    let line = format!("{}={profile}", env_vars::PROFILE);
    let mut found = false;
    let mut lines: Vec<String> = old
        .lines()
        .map(|l| {
            let t = l.trim_start().trim_start_matches("export ").trim_start();
            if t.starts_with(&format!("{}=", env_vars::PROFILE)) {
                found = true;
                line.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !found {
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

fn write_if_changed(path: &Path, text: &str) -> Result<bool> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    if old == text {
        return Ok(false);
    }
    std::fs::write(path, text)
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(true)
}

pub fn run(args: SetFolderArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let profiles = catalog::load_profiles(&settings)?;
    catalog::profile(&profiles, &args.profile)?;
    let dir: PathBuf = match args.dir {
        Some(d) => d,
        None => std::env::current_dir()
            .map_err(|e| CliError::failed(format!("no current directory: {e}")))?,
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| CliError::usage(format!("{}: {e}", dir.display())))?;
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let token = token_for(&dir);
    let envrc = dir.join(".envrc");
    let user = dir.join(".envrc.user");
    let old_envrc = std::fs::read_to_string(&envrc).unwrap_or_default();
    let old_user = std::fs::read_to_string(&user).unwrap_or_default();
    let changed_envrc = write_if_changed(&envrc, &with_block(&old_envrc, &token))?;
    let changed_user = write_if_changed(&user, &with_profile(&old_user, &args.profile))?;
    if changed_envrc || changed_user {
        println!(
            "{} now uses profile '{}' (token {token})",
            dir.display(),
            args.profile
        );
    } else {
        println!(
            "{} already uses profile '{}' (token {token}); nothing changed",
            dir.display(),
            args.profile
        );
    }
    if which("agent-shim").is_none() {
        eprintln!(
            "note: `agent-shim` is not on PATH; direnv runs it from .envrc (add ~/.cargo/bin to PATH)"
        );
    }
    if args.allow {
        let status = Command::new("direnv")
            .arg("allow")
            .arg(&dir)
            .status()
            .map_err(|e| {
                CliError::failed(format!(
                    "cannot run `direnv allow`: {e}; is direnv installed?"
                ))
            })?;
        if !status.success() {
            return Err(CliError::failed(format!(
                "`direnv allow {}` failed ({status})",
                dir.display()
            )));
        }
    } else if changed_envrc {
        println!("run `direnv allow` in {} to activate it", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_added_once_and_other_lines_are_kept() {
        let old = "export FOO=1\nuse nix";
        let once = with_block(old, "abc");
        assert!(once.starts_with("export FOO=1\nuse nix\n# >>> agent-shim >>>"));
        assert_eq!(with_block(&once, "abc"), once);
        let moved = with_block(&once, "def");
        assert!(moved.contains("AGENT_SHIM_TOKEN=def") && !moved.contains("=abc"));
        assert!(moved.starts_with("export FOO=1\nuse nix\n"));
    }

    #[test]
    fn profile_line_is_replaced_not_duplicated() {
        let s = with_profile("OTHER=1\nAGENT_SHIM_PROFILE=groq\n", "cerebras");
        assert_eq!(s, "OTHER=1\nAGENT_SHIM_PROFILE=cerebras\n");
        assert_eq!(with_profile("", "demo"), "AGENT_SHIM_PROFILE=demo\n");
    }

    #[test]
    fn token_is_16_hex_of_sha256() {
        // python3 -c "import hashlib; print(hashlib.sha256(b'/tmp').hexdigest()[:16])"
        let t = token_for(Path::new("/tmp"));
        assert_eq!(t, "e9671acd244849c5");
        assert_ne!(t, token_for(Path::new("/tmp/x")));
    }
}
