//! `agent-shim completion bash|zsh|fish`: completions generated from the CLI definition.

use crate::cli::{Cli, HookArgs, Shell};
use crate::error::Result;
use clap::CommandFactory;
use std::process::ExitCode;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "agent-shim", &mut out);
    out
}

pub fn run(args: HookArgs) -> Result<ExitCode> {
    use std::io::Write;
    let _ = std::io::stdout().write_all(&script(args.shell));
    Ok(ExitCode::SUCCESS)
}
