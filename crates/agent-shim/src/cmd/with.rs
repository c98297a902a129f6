//! `agent-shim with <profile> -- <command> [args…]` (also `with-agent-shim`): makes sure the
//! gateway runs, then replaces this process with the command, its environment routed through the
//! gateway. The command's exit code and signals are its own.
//!
//! For `claude` the same variables also go in `--settings`, because a user `settings.json` `env`
//! block beats the shell environment (agents.md §1 "Precedence"); `ANTHROPIC_API_KEY` is removed so
//! a personal key is not sent to the gateway.

use super::env::profile_env;
use crate::cli::WithArgs;
use crate::daemon;
use crate::error::{CliError, Result};
use crate::registration::Target;
use crate::settings::{Settings, catalog, env_vars};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

pub fn run(args: WithArgs) -> Result<ExitCode> {
    let settings = Settings::load(&args.net, None)?;
    launch(&settings, &args.profile, &args.command)
}

/// Starts the gateway if needed and replaces this process with `command`, routed through the
/// gateway for `profile`. Returns only on failure.
pub fn launch(settings: &Settings, profile_name: &str, command: &[OsString]) -> Result<ExitCode> {
    let profiles = catalog::load_profiles(settings)?;
    let profile = catalog::profile(&profiles, profile_name)?;
    let models = catalog::load_models(settings)?;
    let target = Target::of(settings)?;
    if !target.external {
        catalog::profile_models(&models, profile_name, profile)?;
        daemon::block_on(daemon::ensure_running(settings))?;
    }
    let vars = profile_env(&target, profile_name, &profile.item, &models);

    let (program, rest) = command
        .split_first()
        .ok_or_else(|| CliError::usage("no command given after --"))?;
    let mut cmd = Command::new(program);
    if agent_name(Path::new(program)) == "claude" {
        let env: serde_json::Map<String, serde_json::Value> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        cmd.arg("--settings")
            .arg(serde_json::json!({ "env": env }).to_string());
    }
    cmd.args(rest)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env_remove(env_vars::ANTHROPIC_API_KEY);
    let err = cmd.exec();
    let shown = program.to_string_lossy();
    Err(match err.kind() {
        std::io::ErrorKind::NotFound => CliError::with_code(
            format!("cannot run `{shown}`: not found; is it installed and on PATH?"),
            127,
        ),
        _ => CliError::with_code(format!("cannot run `{shown}`: {err}"), 126),
    })
}

/// The agent a command is, by its file name.
pub fn agent_name(program: &Path) -> String {
    program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
