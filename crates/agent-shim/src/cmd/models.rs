//! `agent-shim models list|show|test` (`list --remote` is in [`super::models_remote`]).

use crate::cli::{ModelsAction, NetArgs};
use crate::daemon;
use crate::error::{CliError, Result};
use crate::registration::Target;
use crate::settings::Settings;
use crate::settings::catalog::{self, Sourced};
use gateway::ModelDefinition;
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The prompt `models test` sends.
const TEST_PROMPT: &str = "Reply with one short sentence that names the model you are.";

pub fn run(action: ModelsAction) -> Result<ExitCode> {
    match action {
        ModelsAction::List(a) if a.remote.is_some() => super::models_remote::run(a),
        ModelsAction::List(a) => list(a.json),
        ModelsAction::Show { name } => show(&name),
        ModelsAction::Test { target, net } => test(&target, net),
    }
}

fn list(json: bool) -> Result<ExitCode> {
    let settings = Settings::load(&NetArgs::default(), None)?;
    let models = catalog::load_models(&settings)?;
    if json {
        let rows: Vec<Value> = models
            .iter()
            .map(|m| {
                json!({"model_name": m.item.model_name, "model": m.item.litellm_params.model,
                       "context_window": m.item.model_info.context_window,
                       "source": m.source.to_string()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let width = models
        .iter()
        .map(|m| m.item.model_name.len())
        .max()
        .unwrap_or(10);
    let mwidth = models
        .iter()
        .map(|m| m.item.litellm_params.model.len())
        .max()
        .unwrap_or(10);
    println!(
        "{:width$}  {:mwidth$}  SOURCE",
        "MODEL NAME", "LITELLM MODEL"
    );
    for m in &models {
        println!(
            "{:width$}  {:mwidth$}  {}",
            m.item.model_name, m.item.litellm_params.model, m.source
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(name: &str) -> Result<ExitCode> {
    let settings = Settings::load(&NetArgs::default(), None)?;
    let models = catalog::load_models(&settings)?;
    let group: Vec<&Sourced<ModelDefinition>> = models
        .iter()
        .filter(|m| m.item.model_name == name)
        .collect();
    if group.is_empty() {
        return Err(unknown_model(name, &models));
    }
    for m in group {
        // Serialising a definition redacts its credentials (`gateway::redact`).
        let mut v = serde_json::to_value(&m.item).unwrap_or(Value::Null);
        v["source"] = json!(m.source.to_string());
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

fn unknown_model(name: &str, models: &[Sourced<ModelDefinition>]) -> CliError {
    let mut names: Vec<&str> = models.iter().map(|m| m.item.model_name.as_str()).collect();
    names.dedup();
    CliError::usage(format!(
        "unknown model '{name}'; models: {}",
        names.join(", ")
    ))
}

/// Sends a short prompt through the gateway to each model of a profile (or to one model) and
/// prints, per model, the answer's first line, latency and tokens, or the error and its fix.
/// The embedded gateway is first made to reload its files, so what is tested is what they say.
fn test(target: &str, net: NetArgs) -> Result<ExitCode> {
    let settings = Settings::load(&net, None)?;
    let profiles = catalog::load_profiles(&settings)?;
    let models = catalog::load_models(&settings)?;
    let names: Vec<String> = if let Some(p) = profiles.get(target) {
        catalog::profile_models(&models, target, p)?;
        p.item
            .model_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else if models.iter().any(|m| m.item.model_name == target) {
        vec![target.to_owned()]
    } else {
        let pnames: Vec<&str> = profiles.keys().map(String::as_str).collect();
        return Err(CliError::usage(format!(
            "'{target}' is neither a profile nor a model; profiles: {} (models: `agent-shim models list`)",
            pnames.join(", ")
        )));
    };
    let target = Target::of(&settings)?;
    let failures = daemon::block_on(async {
        if !target.external {
            daemon::ensure_running(&settings).await?;
            // A test of what the files say, not of what the gateway last read: the watcher may
            // not have seen an edit made a moment ago, and an invalid edit must not pass as ok.
            daemon::reload(&settings).await.map_err(|e| {
                CliError::with_code(
                    format!(
                        "{e}; the gateway still serves the configuration it had, so nothing was tested"
                    ),
                    e.exit_code(),
                )
            })?;
        }
        let http = crate::daemon::cli_client(Duration::from_secs(120), None);
        let width = names.iter().map(String::len).max().unwrap_or(8);
        let mut failures = 0;
        for name in &names {
            let started = Instant::now();
            let resp = http
                .post(format!("{}/v1/messages", target.url))
                .bearer_auth(target.master_key.expose())
                .header("anthropic-version", "2023-06-01")
                .json(&json!({"model": name, "max_tokens": 200,
                              "messages": [{"role": "user", "content": TEST_PROMPT}]}))
                .send()
                .await;
            let ms = started.elapsed().as_millis();
            match outcome(resp).await {
                Ok((text, input, output)) => {
                    let first = text
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("(empty answer)");
                    println!(
                        "ok    {name:width$}  {ms:>6} ms  {input:>5} in {output:>5} out  {first}"
                    );
                }
                Err(msg) => {
                    failures += 1;
                    println!("FAIL  {name:width$}  {ms:>6} ms  {msg}");
                }
            }
        }
        Ok::<usize, CliError>(failures)
    })?;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The answer's text and token counts, or the error to show.
async fn outcome(
    resp: reqwest::Result<reqwest::Response>,
) -> std::result::Result<(String, u64, u64), String> {
    let resp = resp.map_err(|e| {
        format!(
            "the gateway did not answer: {}",
            gateway::redact::urls_in(&e.to_string())
        )
    })?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("unreadable answer ({status}): {e}"))?;
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("no message");
        return Err(format!("{status}: {msg}"));
    }
    let text: String = body["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let u = &body["usage"];
    let input = u["input_tokens"].as_u64().unwrap_or(0)
        + u["cache_read_input_tokens"].as_u64().unwrap_or(0)
        + u["cache_creation_input_tokens"].as_u64().unwrap_or(0);
    Ok((text, input, u["output_tokens"].as_u64().unwrap_or(0)))
}
