//! Hermes Agent: a generated `HERMES_HOME` whose `config.yaml` is the user's with a `model` block
//! for the endpoint (`provider: custom`, `base_url`, `api_key: ${AGENT_SHIM_API_KEY}`: for a
//! loopback host Hermes ignores `OPENAI_API_KEY`, so the key must be in `model.api_key`,
//! agents.md §4). Everything else in the user's Hermes home (memories, skills, sessions, .env)
//! is linked in, so the launch keeps them.

use super::{KEY_VAR, Launch, Prepared, write_generated};
use crate::error::{CliError, Result};
use serde_json::{Value, json};
use std::path::PathBuf;

fn user_home() -> Option<PathBuf> {
    std::env::var_os("HERMES_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hermes")))
}

pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let e = l.endpoint;
    let home = l.generated_dir("home")?;
    let user = user_home().filter(|h| h.is_dir() && *h != home);
    let mut config: Value = match user.as_ref().map(|h| h.join("config.yaml")) {
        Some(path) if path.is_file() => {
            let text = std::fs::read_to_string(&path).map_err(|err| {
                CliError::failed(format!("cannot read {}: {err}", path.display()))
            })?;
            crate::settings::yaml::parse::<Option<Value>>(&text, &path.display().to_string())?
                .unwrap_or(json!({}))
        }
        _ => json!({}),
    };
    if !config.is_object() {
        config = json!({});
    }
    let mut model = json!({
        "default": e.model_id(&l.model),
        "provider": "custom",
        "base_url": e.openai_base,
        "api_key": format!("${{{KEY_VAR}}}"),
        "api_mode": "chat_completions",
    });
    if let Some(c) = l.context_window(&l.model) {
        model["context_length"] = json!(c);
    }
    config["model"] = model;
    let yaml = serde_saphyr::to_string(&config)
        .map_err(|err| CliError::failed(format!("cannot write the Hermes config: {err}")))?;
    write_generated(&home.join("config.yaml"), &yaml)?;
    if let Some(user) = user {
        link_entries(&user, &home)?;
    }
    super::set(&mut p.env, "HERMES_HOME", home.display().to_string());
    super::set(&mut p.env, KEY_VAR, e.key.clone());
    Ok(())
}

/// Links every entry of `from` but `config.yaml` into `to` (replacing stale links).
fn link_entries(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    let entries = std::fs::read_dir(from)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", from.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == "config.yaml" {
            continue;
        }
        let link = to.join(&name);
        if link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            let _ = std::fs::remove_file(&link);
        }
        if !link.exists() {
            std::os::unix::fs::symlink(entry.path(), &link)
                .map_err(|e| CliError::failed(format!("cannot link {}: {e}", link.display())))?;
        }
    }
    Ok(())
}
