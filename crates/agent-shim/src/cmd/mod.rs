//! One module and one handler per subcommand.

mod claude;
mod completion;
mod config;
mod enter;
mod env;
mod hook;
mod install;
mod janitor;
mod leave;
mod models;
mod models_remote;
mod prices;
mod profiles;
mod proxy;
mod secrets;
mod serve;
mod service;
mod set_folder;
mod status;
mod usage;
mod with;

pub use env::{API_TIMEOUT_MS, shell_quote};
pub use install::OPEN_CLAUDE;

use crate::cli::{Cli, Command};
use crate::error::Result;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Env(a) => env::run(a),
        Command::With(a) => with::run(a),
        Command::Proxy { action, net } => proxy::run(action, net),
        Command::Service { action, args } => service::run(action, args),
        Command::Models { action } => models::run(action),
        Command::Profiles { action } => profiles::run(action),
        Command::Config { action } => config::run(action),
        Command::Secrets { action } => secrets::run(action),
        Command::Prices { action } => prices::run(action),
        Command::SetFolder(a) => set_folder::run(a),
        Command::Enter(a) => enter::run(a),
        Command::Leave(a) => leave::run(a),
        Command::Janitor(a) => janitor::run(a),
        Command::Status(a) => status::run(a),
        Command::Usage(a) => usage::run(a),
        Command::Claude(a) => claude::run(a),
        Command::Hook(a) => hook::run(a),
        Command::Install(a) => install::run(a),
        Command::Uninstall(a) => install::uninstall(a),
        Command::Completion(a) => completion::run(a),
    }
}
