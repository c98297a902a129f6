//! `agent-shim claude [args…]` (and bare `run-claude [args…]`): Claude Code with the current
//! directory's profile — `AGENT_SHIM_PROFILE`, else the nearest `.envrc.user` up the tree — as the
//! seed's "run-claude sets up the system before invoking Claude" does.

use super::with::{Options, launch};
use crate::cli::ClaudeArgs;
use crate::error::{CliError, Result};
use crate::settings::{Settings, env_vars};
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: ClaudeArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::failed(format!("no current directory: {e}")))?;
    let profile = match std::env::var(env_vars::PROFILE).ok().filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => profile_up_the_tree(&cwd).ok_or_else(|| {
            CliError::usage(format!(
                "no profile for {}: run `agent-shim set-folder <profile>` here, set {}, or use `agent-shim with <profile> -- claude`",
                cwd.display(),
                env_vars::PROFILE
            ))
        })?,
    };
    let mut command: Vec<OsString> = vec!["claude".into()];
    command.extend(args.args);
    launch(&settings, &profile, &command, &Options::default())
}

/// The `AGENT_SHIM_PROFILE=` value of the nearest `.envrc.user` in `dir` or its parents.
pub fn profile_up_the_tree(dir: &Path) -> Option<String> {
    dir.ancestors().find_map(|d| {
        let text = std::fs::read_to_string(d.join(".envrc.user")).ok()?;
        text.lines().find_map(|l| {
            let l = l.trim().trim_start_matches("export ").trim();
            let v = l.strip_prefix(&format!("{}=", env_vars::PROFILE))?;
            Some(v.trim().trim_matches(['"', '\'']).to_owned()).filter(|v| !v.is_empty())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_profile_in_a_parent_directory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(".envrc.user"),
            "# x\nexport AGENT_SHIM_PROFILE=\"groq\"\n",
        )
        .unwrap();
        let sub = d.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(profile_up_the_tree(&sub).as_deref(), Some("groq"));
    }
}
