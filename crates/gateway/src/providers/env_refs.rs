//! `os.environ/NAME` in `litellm_params`, LiteLLM's reference to a variable, resolved once when a
//! deployment is built: every string value — `model`, `api_base`, `api_version`, the values of
//! `extra_headers`, `aws_*`, `vertex_*`, and strings inside nested maps and lists — is replaced by
//! the variable's value from the [`SecretSource`] (the environment, then `.secrets`).
//!
//! Left as written: `api_key`, which [`super::deployment::Deployment`] resolves itself (and looks
//! up again at request time when it was missing), and `key_command`, an argv.
//!
//! A variable that is not set (or is blank) in `model`, `api_base`, `mock_response` or a header
//! value means the definition cannot be served (an `api_base` left out would send the key to the
//! provider's default endpoint); the error names the parameter, the variable and the fix. In any
//! other parameter it leaves that parameter (or that entry of a map or list) unset, as LiteLLM's
//! `get_secret` gives `None`: an `aws_*` parameter is then supplied by the AWS chain (profiles,
//! SSO, instance roles), a `claude-code` `extra_env` entry is not set. Each such parameter is
//! named in a warning in the gateway log.

use crate::model::{LitellmParams, ModelDefinition};
use crate::secrets::SecretSource;
use serde_json::Value;

/// The prefix of a reference.
pub const PREFIX: &str = "os.environ/";

/// Replaces the references in `def.litellm_params` by their values. The error is the reason,
/// worded for the user (the caller names the model).
pub fn resolve(def: &mut ModelDefinition, secrets: &dyn SecretSource) -> Result<(), String> {
    let p: &mut LitellmParams = &mut def.litellm_params;
    let lookup = |path: &str, s: &str| -> Result<Option<String>, String> {
        match s.strip_prefix(PREFIX) {
            None => Ok(Some(s.to_owned())),
            Some(var) => match secrets.get(var) {
                Some(v) => Ok(Some(v.expose().to_owned())),
                None => Err(missing(path, var)),
            },
        }
    };
    if let Some(v) = lookup("model", &p.model)? {
        p.model = v;
    }
    if let Some(b) = &p.api_base {
        p.api_base = lookup("api_base", b)?;
    }
    if let Some(m) = &p.mock_response {
        p.mock_response = lookup("mock_response", m)?;
    }
    if let Some(headers) = &mut p.extra_headers {
        for (k, v) in headers.iter_mut() {
            if let Some(x) = lookup(&format!("extra_headers.{k}"), v)? {
                *v = x;
            }
        }
    }
    let mut unset = Vec::new();
    p.other
        .retain(|k, v| resolve_value(k, v, secrets, &mut unset));
    for u in unset {
        tracing::warn!(
            "model '{}': litellm_params.{u}, which is not set in the environment or in .secrets; \
             the parameter is left unset",
            def.model_name
        );
    }
    Ok(())
}

/// Resolves the strings in `v` (at `path` under `litellm_params`), recursively; `false` when `v`
/// is a reference to a variable that is not set (the caller drops it, and `unset` says so).
fn resolve_value(
    path: &str,
    v: &mut Value,
    secrets: &dyn SecretSource,
    unset: &mut Vec<String>,
) -> bool {
    match v {
        Value::String(s) => match s.strip_prefix(PREFIX) {
            None => true,
            Some(var) => match secrets.get(var) {
                Some(value) => {
                    *s = value.expose().to_owned();
                    true
                }
                None => {
                    unset.push(format!("{path} is {PREFIX}{var}"));
                    false
                }
            },
        },
        Value::Array(items) => {
            let mut i = 0;
            items.retain_mut(|x| {
                let keep = resolve_value(&format!("{path}[{i}]"), x, secrets, unset);
                i += 1;
                keep
            });
            true
        }
        Value::Object(m) => {
            m.retain(|k, x| resolve_value(&format!("{path}.{k}"), x, secrets, unset));
            true
        }
        _ => true,
    }
}

fn missing(path: &str, var: &str) -> String {
    format!(
        "litellm_params.{path} is {PREFIX}{var}, but {var} is not set in the environment or in \
         .secrets; run `agent-shim secrets set {var}` (or export it), or remove the parameter"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn def(params: Value) -> ModelDefinition {
        serde_json::from_value(json!({"model_name": "m", "litellm_params": params})).unwrap()
    }

    #[test]
    fn every_string_value_is_resolved_but_the_key() {
        let secrets: HashMap<String, String> = [
            ("BASE", "http://h:1/v1"),
            ("VER", "2024-10-21"),
            ("HDR", "h-value"),
            ("PROJ", "my-project"),
            ("MODEL", "openai/gpt-x"),
            ("DEEP", "deep-value"),
            ("KEY", "sk-key"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        let mut d = def(json!({
            "model": "os.environ/MODEL",
            "api_base": "os.environ/BASE",
            "api_key": "os.environ/KEY",
            "api_version": "os.environ/VER",
            "extra_headers": {"X-A": "os.environ/HDR", "X-B": "literal"},
            "vertex_project": "os.environ/PROJ",
            "extra_body": {"a": ["x", "os.environ/DEEP"], "n": 3},
        }));
        resolve(&mut d, &secrets).unwrap();
        let p = &d.litellm_params;
        assert_eq!(p.model, "openai/gpt-x");
        assert_eq!(p.api_base.as_deref(), Some("http://h:1/v1"));
        assert_eq!(p.other["api_version"], "2024-10-21");
        assert_eq!(p.other["vertex_project"], "my-project");
        assert_eq!(
            p.other["extra_body"],
            json!({"a": ["x", "deep-value"], "n": 3})
        );
        let h = p.extra_headers.as_ref().unwrap();
        assert_eq!(
            (h["X-A"].as_str(), h["X-B"].as_str()),
            ("h-value", "literal")
        );
        assert_eq!(
            p.api_key.as_ref().unwrap().env_reference(),
            Some("KEY"),
            "the key stays a reference: the deployment looks it up itself"
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_where_it_matters_and_unset_elsewhere() {
        let none: HashMap<String, String> = HashMap::new();
        let mut d = def(json!({"model": "openai/x", "api_base": "os.environ/B"}));
        assert_eq!(
            resolve(&mut d, &none).unwrap_err(),
            "litellm_params.api_base is os.environ/B, but B is not set in the environment or in \
             .secrets; run `agent-shim secrets set B` (or export it), or remove the parameter"
        );
        let mut d = def(json!({"model": "openai/x", "extra_headers": {"X": "os.environ/H"}}));
        assert!(
            resolve(&mut d, &none)
                .unwrap_err()
                .starts_with("litellm_params.extra_headers.X is os.environ/H,")
        );
        let mut d = def(json!({"model": "os.environ/M"}));
        assert!(
            resolve(&mut d, &none)
                .unwrap_err()
                .contains("secrets set M")
        );
        // Elsewhere the parameter, or the entry, is left unset: the AWS chain supplies the
        // region, the CLI runs without the variable.
        let set: HashMap<String, String> = [("SET".to_owned(), "v".to_owned())].into();
        let mut d = def(
            json!({"model": "bedrock/x", "aws_region_name": "os.environ/AWS_REGION",
                               "aws_profile_name": "os.environ/AWS_PROFILE",
                               "extra_env": {"A": "os.environ/UNSET", "B": "os.environ/SET"},
                               "list": ["os.environ/UNSET", "os.environ/SET", "x"]}),
        );
        resolve(&mut d, &set).unwrap();
        let other = &d.litellm_params.other;
        assert_eq!(
            serde_json::to_value(other).unwrap(),
            json!({"extra_env": {"B": "v"}, "list": ["v", "x"]})
        );
    }
}
