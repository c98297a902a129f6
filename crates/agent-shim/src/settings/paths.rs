//! The config, state and cache directories: XDG paths on every OS (macOS too, via etcetera's XDG
//! strategy), relocatable with `AGENT_SHIM_CONFIG_DIR` / `AGENT_SHIM_STATE_DIR` /
//! `AGENT_SHIM_CACHE_DIR`.

use super::env_vars;
use crate::error::{CliError, Result};
use etcetera::BaseStrategy;
use std::path::PathBuf;

/// `(config dir, state dir)`, from the variables `get` returns, else XDG defaults.
pub fn dirs(get: &dyn Fn(&str) -> Option<String>) -> Result<(PathBuf, PathBuf)> {
    let xdg = || {
        etcetera::choose_base_strategy().map_err(|e| {
            CliError::usage(format!(
                "cannot find the home directory ({e}); set {} and {}",
                env_vars::CONFIG_DIR,
                env_vars::STATE_DIR
            ))
        })
    };
    let config = match get(env_vars::CONFIG_DIR).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => xdg()?.config_dir().join("agent-shim"),
    };
    let state = match get(env_vars::STATE_DIR).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let s = xdg()?;
            s.state_dir()
                .unwrap_or_else(|| s.home_dir().join(".local/state"))
                .join("agent-shim")
        }
    };
    Ok((config, state))
}

/// The cache directory: `AGENT_SHIM_CACHE_DIR`, else `$XDG_CACHE_HOME/agent-shim` (default
/// `~/.cache/agent-shim`), else, with no home directory, `cache` under the state dir. Only what
/// can be fetched again lives there.
pub fn cache_dir(get: &dyn Fn(&str) -> Option<String>, state_dir: &std::path::Path) -> PathBuf {
    if let Some(d) = get(env_vars::CACHE_DIR).filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    match etcetera::choose_base_strategy() {
        Ok(s) => s.cache_dir().join("agent-shim"),
        Err(_) => state_dir.join("cache"),
    }
}
