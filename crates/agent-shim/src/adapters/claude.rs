//! Claude Code: the environment, plus `--settings <file>` carrying the same `env`, because a user
//! `settings.json` `env` block otherwise beats the shell (agents.md §1 "Precedence"). The file
//! holds the key, so it is written 0600 in the launch's private directory, never passed inline
//! (an inline `--settings '{…}'` shows the key to every local user in `ps`).
//!
//! `--settings` only beats the variables it sets: a user `settings.json` that sets others which
//! route Claude Code elsewhere (`CLAUDE_CODE_USE_BEDROCK`, `ANTHROPIC_MODEL`…) still wins. An
//! isolated launch gives Claude Code its own config dir without them ([`super::claude_isolated`]);
//! otherwise `with` warns about them.

use super::claude_isolated::{self, UserConfig};
use super::{Launch, Prepared};
use crate::error::Result;
use crate::settings::catalog::Tier;
use crate::settings::env_vars;
use serde_json::{Map, Value};

/// The variables Claude Code reads, passed again through `--settings`.
pub const CLAUDE_VARS: &[&str] = &[
    env_vars::ANTHROPIC_BASE_URL,
    env_vars::ANTHROPIC_AUTH_TOKEN,
    env_vars::API_TIMEOUT_MS,
    env_vars::ANTHROPIC_DEFAULT_OPUS_MODEL,
    env_vars::ANTHROPIC_DEFAULT_SONNET_MODEL,
    env_vars::ANTHROPIC_DEFAULT_HAIKU_MODEL,
    env_vars::ANTHROPIC_CUSTOM_HEADERS,
    env_vars::CLAUDE_CODE_MAX_CONTEXT_TOKENS,
    env_vars::CLAUDE_CODE_DISABLE_1M_CONTEXT,
];

/// The context-window variables. A tier exported as `<id>[1m]` gets 1M from Claude Code; the
/// others get `CLAUDE_CODE_MAX_CONTEXT_TOKENS` (the smallest declared window of the opus and
/// sonnet tiers) when it is below 1M. `CLAUDE_CODE_DISABLE_1M_CONTEXT=1` is added then unless the
/// opus tier is `[1m]`: Claude Code's default model is `opus[1m]`, which would otherwise claim 1M
/// for a smaller model — at the cost of a `[1m]` sonnet tier, since the variable turns `[1m]` off
/// for every tier (both observed on Claude Code 2.1.197).
pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let p_ = l.profile;
    let window = [Tier::Opus, Tier::Sonnet]
        .into_iter()
        .filter(|t| !l.tier_is_1m(*t))
        .filter_map(|t| l.context_window(p_.tier_model(t)))
        .min();
    if let Some(w) = window.filter(|w| *w < 1_000_000) {
        super::set(
            &mut p.env,
            env_vars::CLAUDE_CODE_MAX_CONTEXT_TOKENS,
            w.to_string(),
        );
        if !l.tier_is_1m(Tier::Opus) {
            super::set(
                &mut p.env,
                env_vars::CLAUDE_CODE_DISABLE_1M_CONTEXT,
                "1".into(),
            );
        }
    }
    Ok(())
}

/// After the profile's `env` is applied: the `--settings` file (what Claude Code reads, and the
/// profile's `env`), then the isolated config dir or the warning about the user's settings.
pub fn finish(l: &Launch, p: &mut Prepared, aws_auth_refresh: Option<&str>) -> Result<()> {
    let mut env = Map::new();
    for (k, v) in &p.env {
        if CLAUDE_VARS.contains(&k.as_str()) || l.profile.env.contains_key(k) {
            env.insert(k.clone(), Value::String(v.clone()));
        }
    }
    // An empty value neutralises a stale shell export of a personal key (observed, agents.md §1).
    env.insert(
        env_vars::ANTHROPIC_API_KEY.into(),
        Value::String(String::new()),
    );
    if !l.launching {
        return Ok(());
    }
    if l.isolated {
        let dir = claude_isolated::prepare_dir(
            l.state_dir,
            l.profile_name,
            &UserConfig::locate(l.state_dir),
            &claude_isolated::public_env(&env, &l.endpoint.key),
            aws_auth_refresh,
        )?;
        super::set(&mut p.env, "CLAUDE_CONFIG_DIR", dir.display().to_string());
    } else if let Some(warning) = claude_isolated::override_warning(
        &claude_isolated::settings_read_by_claude(),
        &env,
        l.profile_name,
    ) {
        eprintln!("agent-shim: {warning}");
    }
    let path = super::private_dir(l.state_dir)?.join("claude-settings.json");
    super::write_generated(&path, &serde_json::json!({ "env": env }).to_string())?;
    p.args.push("--settings".into());
    p.args.push(path.into_os_string());
    Ok(())
}
