//! Registering models with the gateway — the embedded one, or an external LiteLLM proxy named by
//! config.yaml `proxy: {url, master_key}` — through LiteLLM's admin API (`/model/new`,
//! `/model/delete`). Keys referenced as `os.environ/NAME` are resolved from this process's
//! environment (then `.secrets`) before they are sent, so a gateway started from another shell
//! still gets them, as the seed's "expanded at runtime before registering" says.

use crate::error::{CliError, Result};
use crate::settings::catalog::Sourced;
use crate::settings::{Settings, secrets};
use crate::state::ModelRow;
use gateway::ModelDefinition;
use serde_json::{Value, json};
use std::time::Duration;

/// Where models are registered and agents are pointed.
pub struct Target {
    pub url: String,
    pub master_key: gateway::SecretString,
    /// An external LiteLLM proxy rather than the embedded gateway.
    pub external: bool,
}

impl Target {
    /// The URL as it may be shown (credentials redacted).
    pub fn shown_url(&self) -> String {
        gateway::redact::url(&self.url).into_owned()
    }

    pub fn of(settings: &Settings) -> Result<Target> {
        match &settings.config.proxy {
            Some(p) => {
                let master_key = p.master_key.as_ref().ok_or_else(|| {
                    CliError::usage(format!(
                        "{}: proxy.master_key is missing or empty; set it to the LiteLLM proxy's master key \
                         (a literal or os.environ/NAME)",
                        settings.config_path.display()
                    ))
                })?;
                let key = match master_key.env_reference() {
                    None => master_key.clone(),
                    Some(var) => {
                        secrets::lookup(&settings.secrets_path(), var)?.ok_or_else(|| {
                            CliError::usage(format!(
                                "{}: proxy.master_key is os.environ/{var}, but {var} is not set",
                                settings.config_path.display()
                            ))
                        })?
                    }
                };
                Ok(Target {
                    url: p.url.trim_end_matches('/').to_owned(),
                    master_key: key,
                    external: true,
                })
            }
            None => Ok(Target {
                url: settings.base_url(),
                master_key: settings.master_key()?,
                external: false,
            }),
        }
    }
}

/// The definition as JSON for `/model/new` (in full: [`ModelDefinition::to_wire`]), with its
/// key resolved when this process has it.
fn registration_body(settings: &Settings, def: &ModelDefinition) -> Result<Value> {
    let mut body = def.to_wire();
    let params = &def.litellm_params;
    if let Some(argv) = &params.key_command {
        // Run here, where a password manager can prompt on the user's terminal.
        let key = gateway::run_key_command(argv, true)
            .map_err(|e| CliError::failed(format!("model '{}': {e}", def.model_name)))?;
        body["litellm_params"]["api_key"] = json!(key.expose());
        if let Some(p) = body["litellm_params"].as_object_mut() {
            p.remove("key_command");
        }
        return Ok(body);
    }
    let var = match &params.api_key {
        // A literal key is in the wire form already.
        Some(k) => k.env_reference().map(str::to_owned),
        None => def
            .provider_prefix()
            .and_then(gateway::provider)
            .and_then(|p| p.key_env)
            .map(str::to_owned),
    };
    if let Some(var) = var
        && let Some(v) = secrets::lookup(&settings.secrets_path(), &var)?
    {
        body["litellm_params"]["api_key"] = json!(v.expose());
    }
    Ok(body)
}

fn http() -> reqwest::Client {
    crate::daemon::cli_client(Duration::from_secs(30), None)
}

/// Registers the definitions of `names`; returns `(name, id the target gave)` for each.
pub async fn register(
    settings: &Settings,
    target: &Target,
    catalog: &[Sourced<ModelDefinition>],
    names: &[String],
) -> Result<Vec<(String, Option<String>)>> {
    let client = http();
    let mut out = Vec::new();
    // An external proxy may already serve a model from its own config; LiteLLM can only add
    // models at runtime with a database, so those are not added again.
    let served = if target.external {
        served_models(&client, target).await?
    } else {
        Vec::new()
    };
    for name in names {
        if served.contains(name) {
            out.push((name.clone(), None));
            continue;
        }
        let defs: Vec<&ModelDefinition> = catalog
            .iter()
            .filter(|d| &d.item.model_name == name)
            .map(|d| &d.item)
            .collect();
        if defs.is_empty() {
            return Err(CliError::usage(format!(
                "model '{name}' has no definition (`agent-shim models list`)"
            )));
        }
        for def in defs {
            let body = registration_body(settings, def)?;
            let resp = client
                .post(format!("{}/model/new", target.url))
                .bearer_auth(target.master_key.expose())
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    CliError::failed(format!(
                        "cannot register '{name}' at {}: {}",
                        target.shown_url(),
                        gateway::redact::urls_in(&e.to_string())
                    ))
                })?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                let msg = v["error"]["message"]
                    .as_str()
                    .or(v["detail"].as_str())
                    .map_or_else(|| v.to_string(), str::to_owned);
                let hint = if msg.contains("No DB Connected") || msg.contains("store_model_in_db") {
                    "; LiteLLM adds models at runtime only with a database (DATABASE_URL and \
                     store_model_in_db: true): connect one, or list the model in the proxy's own config.yaml"
                } else {
                    ""
                };
                return Err(CliError::failed(format!(
                    "{} refused to register '{name}' ({status}): {msg}{hint}",
                    target.shown_url()
                )));
            }
            let id = v["model_id"]
                .as_str()
                .or(v["model_info"]["id"].as_str())
                .map(str::to_owned);
            out.push((name.clone(), id));
        }
    }
    Ok(out)
}

/// The model names an external proxy already serves (`GET /model/info`).
async fn served_models(client: &reqwest::Client, target: &Target) -> Result<Vec<String>> {
    let url = format!("{}/model/info", target.url);
    let shown = gateway::redact::url(&url);
    let resp = client
        .get(&url)
        .bearer_auth(target.master_key.expose())
        .send()
        .await
        .map_err(|e| {
            CliError::failed(format!(
                "cannot reach the proxy at {shown}: {}; is it running?",
                gateway::redact::urls_in(&e.to_string())
            ))
        })?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(CliError::failed(format!(
            "{shown} answered {status}: {}; check proxy.master_key in config.yaml",
            v["error"]["message"].as_str().unwrap_or("no message")
        )));
    }
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["model_name"].as_str().map(str::to_owned))
        .collect())
}

/// Unregisters expired models: by the ids an external proxy gave, else by name.
pub async fn unregister(target: &Target, rows: &[ModelRow]) -> Result<()> {
    let client = http();
    for row in rows {
        let bodies: Vec<Value> = if row.external_ids.is_empty() {
            vec![json!({"model_name": row.model_name})]
        } else {
            row.external_ids
                .iter()
                .map(|id| json!({"id": id}))
                .collect()
        };
        for body in bodies {
            let r = client
                .post(format!("{}/model/delete", target.url))
                .bearer_auth(target.master_key.expose())
                .json(&body)
                .send()
                .await;
            if let Err(e) = r {
                tracing::warn!(
                    "cannot unregister '{}' at {}: {}",
                    row.model_name,
                    target.shown_url(),
                    gateway::redact::urls_in(&e.to_string())
                );
            }
        }
    }
    Ok(())
}
