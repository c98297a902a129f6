//! opencode: `OPENCODE_CONFIG_CONTENT` (its highest-precedence config layer short of managed
//! config, agents.md §5) with providers for the endpoint — through the gateway, one per wire API
//! opencode has: `agent-shim` (`@ai-sdk/openai-compatible`, Chat Completions, the default),
//! `agent-shim-responses` (`@ai-sdk/openai`, Responses) and `agent-shim-anthropic`
//! (`@ai-sdk/anthropic`, Messages) — each listing the profile's models. A config the user already
//! passes in the variable is kept, ours merged on top.

use super::{KEY_VAR, Launch, Prepared};
use crate::error::{CliError, Result};
use gateway::Protocol;
use serde_json::{Value, json};

/// (provider id, npm package, protocol) of the providers agent-shim defines.
const KINDS: &[(&str, &str, Protocol)] = &[
    (
        "agent-shim",
        "@ai-sdk/openai-compatible",
        Protocol::OpenAiChat,
    ),
    (
        "agent-shim-responses",
        "@ai-sdk/openai",
        Protocol::OpenAiResponses,
    ),
    (
        "agent-shim-anthropic",
        "@ai-sdk/anthropic",
        Protocol::Anthropic,
    ),
];

pub fn prepare(l: &Launch, p: &mut Prepared) -> Result<()> {
    let e = l.endpoint;
    let mut models = serde_json::Map::new();
    for name in l.profile_models() {
        let mut m = json!({"name": format!("{name} (agent-shim {})", l.profile_name)});
        if let (Some(c), Some(o)) = (l.context_window(name), l.max_output(name)) {
            m["limit"] = json!({"context": c, "output": o});
        }
        models.insert(e.model_id(name).to_owned(), m);
    }
    let direct = e.provider != "gateway";
    let mut providers = serde_json::Map::new();
    let mut default = None;
    for (id, npm, protocol) in KINDS {
        if direct && *protocol != e.protocol {
            continue;
        }
        let base = match protocol {
            Protocol::Anthropic => format!("{}/v1", e.root),
            _ => e.openai_base.clone(),
        };
        let mut options = json!({"baseURL": base, "apiKey": format!("{{env:{KEY_VAR}}}")});
        if !direct {
            // Headers the AI SDK provider sends with every request.
            let headers: serde_json::Map<String, Value> = super::gateway_headers(l)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect();
            options["headers"] = Value::Object(headers);
        }
        providers.insert(
            (*id).to_owned(),
            json!({
                "npm": npm,
                "name": format!("agent-shim {} ({})", l.profile_name, protocol.as_str()),
                "options": options,
                "models": models,
            }),
        );
        default.get_or_insert(*id);
    }
    let default = default
        .ok_or_else(|| CliError::usage("opencode has no provider kind for this endpoint"))?;
    let ours = json!({
        "$schema": "https://opencode.ai/config.json",
        "provider": providers,
        "model": format!("{default}/{}", e.model_id(&l.model)),
        "small_model": format!("{default}/{}", e.model_id(&l.profile.haiku_model)),
    });
    let merged = match std::env::var("OPENCODE_CONFIG_CONTENT")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(user) => {
            let mut user: Value = serde_json::from_str(&user).map_err(|err| {
                CliError::usage(format!(
                    "OPENCODE_CONFIG_CONTENT is not JSON ({err}); unset it or fix it"
                ))
            })?;
            merge(&mut user, ours);
            user
        }
        None => ours,
    };
    super::set(&mut p.env, "OPENCODE_CONFIG_CONTENT", merged.to_string());
    super::set(&mut p.env, KEY_VAR, e.key.clone());
    Ok(())
}

/// Deep-merges `over` into `base` (objects merge; anything else is replaced).
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}
