//! Claude Code: the environment, plus `--settings <file>` carrying the same `env`, because a user
//! `settings.json` `env` block otherwise beats the shell (agents.md §1 "Precedence"). The file
//! holds the key, so it is written 0600 in the launch's private directory, never passed inline
//! (an inline `--settings '{…}'` shows the key to every local user in `ps`).

use super::{Launch, Prepared};
use crate::error::Result;
use crate::settings::env_vars;

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

pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let p_ = l.profile;
    let window = [&p_.opus_model, &p_.sonnet_model]
        .into_iter()
        .filter_map(|m| l.context_window(m))
        .min();
    if let Some(w) = window.filter(|w| *w < 1_000_000) {
        super::set(
            &mut p.env,
            env_vars::CLAUDE_CODE_MAX_CONTEXT_TOKENS,
            w.to_string(),
        );
        super::set(
            &mut p.env,
            env_vars::CLAUDE_CODE_DISABLE_1M_CONTEXT,
            "1".into(),
        );
    }
    let mut env = serde_json::Map::new();
    for (k, v) in &p.env {
        if CLAUDE_VARS.contains(&k.as_str()) {
            env.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
    }
    // An empty value neutralises a stale shell export of a personal key (observed, agents.md §1).
    env.insert(
        env_vars::ANTHROPIC_API_KEY.into(),
        serde_json::Value::String(String::new()),
    );
    if l.launching {
        let path = super::private_dir(l.state_dir)?.join("claude-settings.json");
        super::write_generated(&path, &serde_json::json!({ "env": env }).to_string())?;
        p.args.push("--settings".into());
        p.args.push(path.into_os_string());
    }
    Ok(())
}
