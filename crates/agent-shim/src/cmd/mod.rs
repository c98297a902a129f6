//! One module and one handler per subcommand.

mod env;
mod models;
mod proxy;
mod serve;
mod with;

use crate::cli::{Cli, Command};
use crate::error::Result;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Env(a) => env::run(a),
        Command::With(a) => with::run(a),
        Command::Proxy { action, net } => proxy::run(action, net),
        Command::Models { action } => models::run(action),
    }
}
