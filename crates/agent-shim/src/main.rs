//! The `agent-shim` binary. Invoked as `with-agent-shim` it behaves as `agent-shim with`; as
//! `run-claude` (the seed's name for it), as `agent-shim`, where arguments that are not a
//! subcommand go to Claude Code (`agent-shim claude …`); as `openClaude` (the seed's name for its
//! Bedrock launcher), as `agent-shim with bedrock --isolated -- claude …`.

mod adapters;
mod alloc;
mod atomic_file;
mod cli;
mod cmd;
mod complete;
mod config_watch;
mod daemon;
mod error;
mod log_writer;
mod registration;
mod remote_models;
mod service;
mod settings;
mod state;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Shell completion: the scripts of `agent-shim completion` call back with AGENT_SHIM_COMPLETE
    // set; this answers with the candidates and exits (a no-op otherwise).
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command)
        .var(settings::env_vars::COMPLETE)
        .complete();
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if invoked_as == "with-agent-shim" {
        args.insert(1, "with".into());
    } else if invoked_as == cmd::OPEN_CLAUDE {
        // Every argument is Claude Code's.
        let rest = args.split_off(1);
        args.extend(["with", "bedrock", "--isolated", "--", "claude"].map(Into::into));
        args.extend(rest);
    } else if invoked_as == "run-claude" && !cli::is_subcommand(args.get(1)) {
        // Bare `run-claude [args…]` launches Claude Code with the directory's profile.
        args.insert(1, "claude".into());
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agent-shim: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
