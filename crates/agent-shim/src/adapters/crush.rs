//! Crush: a generated `CRUSH_GLOBAL_CONFIG` directory whose `crush.json` is the user's global
//! config with an `agent-shim` provider and the large/small model choice merged in, and an
//! isolated `CRUSH_GLOBAL_DATA` directory so the launch's model selections do not persist into the
//! user's (agents.md §3: both variables name directories; `crush.json` is joined onto them).

use super::opencode::merge;
use super::{KEY_VAR, Launch, Prepared, read_user_json, write_generated};
use crate::error::Result;
use gateway::Protocol;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The user's global `crush.json`: `$CRUSH_GLOBAL_CONFIG/crush.json`, else
/// `$XDG_CONFIG_HOME/crush/crush.json`, else `~/.config/crush/crush.json`.
fn user_config() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CRUSH_GLOBAL_CONFIG") {
        return Some(PathBuf::from(d).join("crush.json"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("crush/crush.json"))
}

pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let e = l.endpoint;
    // Crush prefers Chat Completions, then Messages; the gateway serves both.
    let (kind, base) = match e.protocol {
        Protocol::Anthropic if e.provider != "gateway" => ("anthropic", e.root.clone()),
        _ => ("openai-compat", e.openai_base.clone()),
    };
    let models: Vec<Value> = l
        .profile_models()
        .into_iter()
        .map(|name| {
            let mut m = json!({"id": e.model_id(name), "name": format!("{name} (agent-shim {})", l.profile_name)});
            if let Some(c) = l.context_window(name) {
                m["context_window"] = json!(c);
            }
            if let Some(o) = l.max_output(name) {
                m["default_max_tokens"] = json!(o.min(32_000));
            }
            m
        })
        .collect();
    let ours = json!({
        "$schema": "https://charm.land/crush.json",
        "providers": {"agent-shim": {
            "name": format!("agent-shim ({})", l.profile_name),
            "type": kind,
            "base_url": base,
            "api_key": format!("${KEY_VAR}"),
            "models": models,
        }},
        "models": {
            "large": {"model": e.model_id(&l.model), "provider": "agent-shim"},
            "small": {"model": e.model_id(&l.profile.haiku_model), "provider": "agent-shim"},
        },
    });
    let mut config = match user_config() {
        Some(path) => read_user_json(&path)?,
        None => Value::Null,
    };
    if !config.is_object() {
        config = json!({});
    }
    // The large/small choices are replaced whole: the user's per-model settings (max_tokens,
    // think, temperature…) were chosen for another model, and Crush applies them to whichever
    // model is selected.
    let choices = ours["models"].clone();
    merge(&mut config, ours);
    config["models"]["large"] = choices["large"].clone();
    config["models"]["small"] = choices["small"].clone();
    let config_dir = l.generated_dir("config")?;
    let data_dir = l.generated_dir("data")?;
    write_generated(
        &config_dir.join("crush.json"),
        &serde_json::to_string_pretty(&config).expect("JSON serialises"),
    )?;
    super::set(
        &mut p.env,
        "CRUSH_GLOBAL_CONFIG",
        config_dir.display().to_string(),
    );
    super::set(
        &mut p.env,
        "CRUSH_GLOBAL_DATA",
        data_dir.display().to_string(),
    );
    super::set(&mut p.env, KEY_VAR, e.key.clone());
    Ok(())
}
