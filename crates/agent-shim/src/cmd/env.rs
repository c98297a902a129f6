//! `agent-shim env <profile> [--export]`: the environment that routes Claude Code (and the seeds'
//! other tools) through the gateway, or the external proxy when config.yaml names one — the Claude
//! adapter's variables. On the shell-hook path: it reads a few small files and touches no network.

use super::with::through;
use crate::adapters::{self, Agent, CLAUDE_VARS, Launch};
use crate::cli::EnvArgs;
use crate::error::Result;
use crate::registration::Target;
use crate::settings::catalog;
use crate::settings::{Settings, env_vars};
use std::process::ExitCode;

/// Claude Code's request timeout: 50 minutes, as the seed sets it (long agentic turns).
pub const API_TIMEOUT_MS: &str = "3000000";

pub fn run(args: EnvArgs) -> Result<ExitCode> {
    let settings = Settings::load(&args.net, None)?;
    // Only this profile and its models are read (the hook runs this on every `cd`).
    let profile = catalog::find_profile(&settings, &args.profile)?;
    let target = Target::of(&settings)?;
    let models = catalog::load_models_named(&settings, &profile.item.model_names())?;
    let endpoint = through(&target, Agent::Claude);
    let launch = Launch {
        agent: Agent::Claude,
        profile_name: &args.profile,
        profile: &profile.item,
        endpoint: &endpoint,
        models: &models,
        model: profile.item.sonnet_model.clone(),
        state_dir: &settings.state_dir,
        cache_dir: &settings.cache_dir,
        program: None,
        launching: false,
        isolated: profile.item.isolated,
        directory: adapters::directory_token(),
    };
    let prepared = adapters::prepare(&launch)?;
    let mut out = String::new();
    for (k, v) in &prepared.env {
        // What Claude Code reads, the profile (for the hook and `run-claude`), and the profile's
        // own `env`.
        let wanted = CLAUDE_VARS.contains(&k.as_str())
            || k == env_vars::PROFILE
            || profile.item.env.contains_key(k);
        if !wanted {
            continue;
        }
        if args.export {
            out.push_str(&format!("export {k}={}\n", shell_quote(v)));
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `s` in single quotes for POSIX shells (and fish).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
