//! The `agent-shim` binary. Invoked as `with-agent-shim` it behaves as `agent-shim with`; as
//! `run-claude`, as `agent-shim` (the seed's name for it).

mod cli;
mod cmd;
mod daemon;
mod error;
mod settings;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if invoked_as == "with-agent-shim" {
        args.insert(1, "with".into());
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
