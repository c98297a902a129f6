//! Codex CLI: `-c` overrides that define a `model_providers.agent-shim` entry (Responses wire API,
//! WebSockets off, the key read from [`KEY_VAR`](super::KEY_VAR)), select it and the model, and
//! give the model's context window, both as `model_context_window` and, when a program is
//! launched, in a generated model catalogue (`model_catalog_json`, see [`super::codex_catalog`])
//! so Codex has metadata for the profile's models. Nothing is written to `CODEX_HOME`
//! (agents.md §2: "No config files needed").

use super::{KEY_VAR, Launch, Prepared};
use crate::error::Result;

/// Codex's name for the provider agent-shim defines (not one of the reserved `openai`, `ollama`,
/// `lmstudio`).
pub const PROVIDER_ID: &str = "agent-shim";

fn toml_string(s: &str) -> String {
    // A TOML basic string is a JSON string for everything agent-shim writes.
    serde_json::Value::String(s.to_owned()).to_string()
}

pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let e = l.endpoint;
    let model = e.model_id(&l.model);
    let mut overrides = vec![
        format!("model_provider={}", toml_string(PROVIDER_ID)),
        format!("model={}", toml_string(model)),
        format!(
            "model_providers.{PROVIDER_ID}.name={}",
            toml_string(&format!("agent-shim ({})", l.profile_name))
        ),
        format!(
            "model_providers.{PROVIDER_ID}.base_url={}",
            toml_string(&e.openai_base)
        ),
        format!(
            "model_providers.{PROVIDER_ID}.env_key={}",
            toml_string(KEY_VAR)
        ),
        format!("model_providers.{PROVIDER_ID}.wire_api=\"responses\""),
        format!("model_providers.{PROVIDER_ID}.supports_websockets=false"),
    ];
    if e.provider == "gateway" {
        // A TOML inline table of the headers Codex sends with every request.
        let headers: Vec<String> = super::gateway_headers(l)
            .iter()
            .map(|(k, v)| format!("{}={}", toml_string(k), toml_string(v)))
            .collect();
        overrides.push(format!(
            "model_providers.{PROVIDER_ID}.http_headers={{{}}}",
            headers.join(",")
        ));
    }
    if let Some(w) = l.known_window(&l.model) {
        overrides.push(format!("model_context_window={w}"));
    }
    if let Some(program) = l.program.filter(|_| l.launching)
        && let Some(path) = super::codex_catalog::write(l, program)?
    {
        overrides.push(format!(
            "model_catalog_json={}",
            toml_string(&path.to_string_lossy())
        ));
    }
    for o in overrides {
        p.args.push("-c".into());
        p.args.push(o.into());
    }
    super::set(&mut p.env, KEY_VAR, e.key.clone());
    Ok(())
}
