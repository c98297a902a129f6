//! `agent-shim env <profile> [--export]`: the environment that routes Claude Code (and the seeds'
//! other tools) through the gateway. On the shell-hook path: it reads two small files and touches
//! no network.

use crate::cli::EnvArgs;
use crate::error::Result;
use crate::registration::Target;
use crate::settings::catalog::{self, ProfileMeta, Sourced};
use crate::settings::{Settings, env_vars};
use gateway::ModelDefinition;
use std::process::ExitCode;

/// Claude Code's request timeout: 50 minutes, as the seed sets it (long agentic turns).
pub const API_TIMEOUT_MS: &str = "3000000";

pub fn run(args: EnvArgs) -> Result<ExitCode> {
    let settings = Settings::load(&args.net, None)?;
    let profiles = catalog::load_profiles(&settings)?;
    let profile = catalog::profile(&profiles, &args.profile)?;
    let target = Target::of(&settings)?;
    let models = catalog::load_models(&settings)?;
    let vars = profile_env(&target, &args.profile, &profile.item, &models);
    let mut out = String::new();
    for (k, v) in vars {
        if args.export {
            out.push_str(&format!("export {k}={}\n", shell_quote(&v)));
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// The variables for a profile, in a stable order. When the main models (opus and sonnet tiers)
/// declare a context window under 1M tokens, Claude Code is told the smaller one, so it compacts
/// before the upstream refuses the prompt.
pub fn profile_env(
    target: &Target,
    name: &str,
    p: &ProfileMeta,
    models: &[Sourced<ModelDefinition>],
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        (env_vars::ANTHROPIC_BASE_URL, target.url.clone()),
        (
            env_vars::ANTHROPIC_AUTH_TOKEN,
            target.master_key.expose().to_owned(),
        ),
        (env_vars::API_TIMEOUT_MS, API_TIMEOUT_MS.to_owned()),
        (env_vars::ANTHROPIC_DEFAULT_OPUS_MODEL, p.opus_model.clone()),
        (
            env_vars::ANTHROPIC_DEFAULT_SONNET_MODEL,
            p.sonnet_model.clone(),
        ),
        (
            env_vars::ANTHROPIC_DEFAULT_HAIKU_MODEL,
            p.haiku_model.clone(),
        ),
        (
            env_vars::ANTHROPIC_CUSTOM_HEADERS,
            format!("{}: {name}", gateway::dispatch::PROFILE_HEADER),
        ),
        (env_vars::PROFILE, name.to_owned()),
    ];
    let window = [&p.opus_model, &p.sonnet_model]
        .into_iter()
        .flat_map(|m| models.iter().filter(move |d| &d.item.model_name == m))
        .filter_map(|d| d.item.model_info.context_window)
        .min();
    if let Some(w) = window.filter(|w| *w < 1_000_000) {
        vars.push((env_vars::CLAUDE_CODE_MAX_CONTEXT_TOKENS, w.to_string()));
        vars.push((env_vars::CLAUDE_CODE_DISABLE_1M_CONTEXT, "1".to_owned()));
    }
    vars
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
