//! `agent-shim hook bash|zsh|fish`: the shell hook, one template per shell (assets/hooks), with
//! this binary's absolute path filled in.

use crate::cli::{HookArgs, Shell};
use crate::error::{CliError, Result};
use std::process::ExitCode;

const BASH: &str = include_str!("../../assets/hooks/agent-shim.bash");
const ZSH: &str = include_str!("../../assets/hooks/agent-shim.zsh");
const FISH: &str = include_str!("../../assets/hooks/agent-shim.fish");

/// The hook for `shell`, calling the binary at `exe`.
pub fn render(shell: Shell, exe: &str) -> String {
    let template = match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
    };
    template.replace("{{exe}}", &super::env::shell_quote(exe))
}

/// This binary's absolute path.
pub fn own_path() -> Result<String> {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .map_err(|e| CliError::failed(format!("cannot find agent-shim's own path: {e}")))
}

pub fn run(args: HookArgs) -> Result<ExitCode> {
    print!("{}", render(args.shell, &own_path()?));
    Ok(ExitCode::SUCCESS)
}
