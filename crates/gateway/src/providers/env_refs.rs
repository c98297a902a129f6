//! `os.environ/NAME` in `litellm_params`, LiteLLM's reference to a variable, resolved once when a
//! deployment is built: every string value — `model`, `api_base`, `api_version`, the values of
//! `extra_headers`, `aws_*`, `vertex_*`, and strings inside nested maps and lists — is replaced by
//! the variable's value from the [`SecretSource`] (the environment, then `.secrets`).
//!
//! Left as written: `api_key`, which [`super::deployment::Deployment`] resolves itself (and looks
//! up again at request time when it was missing), and `key_command`, an argv.
//!
//! A variable that is not set (or is blank) leaves an `aws_*` parameter unset, as if absent: the
//! AWS chain (profiles, SSO, instance roles) supplies it, as boto3 does for LiteLLM. For any other
//! parameter the definition cannot be served, and the error names the parameter, the variable and
//! the fix.

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
    for (k, v) in p.other.iter_mut() {
        match resolve_value(k, v, secrets) {
            Ok(()) => {}
            // An `aws_*` parameter whose variable is not set is left to the AWS chain.
            Err(_) if k.starts_with("aws_") && v.is_string() => unset.push(k.clone()),
            Err(e) => return Err(e),
        }
    }
    for k in unset {
        p.other.remove(&k);
    }
    Ok(())
}

/// Resolves the strings in `v` (at `path` under `litellm_params`), recursively.
fn resolve_value(path: &str, v: &mut Value, secrets: &dyn SecretSource) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if let Some(var) = s.strip_prefix(PREFIX) {
                let value = secrets.get(var).ok_or_else(|| missing(path, var))?;
                *s = value.expose().to_owned();
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .try_for_each(|(i, x)| resolve_value(&format!("{path}[{i}]"), x, secrets)),
        Value::Object(m) => m
            .iter_mut()
            .try_for_each(|(k, x)| resolve_value(&format!("{path}.{k}"), x, secrets)),
        _ => Ok(()),
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
    fn a_missing_variable_names_the_parameter_and_the_fix_except_for_aws() {
        let none: HashMap<String, String> = HashMap::new();
        let mut d = def(json!({"model": "azure/x", "api_version": "os.environ/AZ_VER"}));
        let e = resolve(&mut d, &none).unwrap_err();
        assert_eq!(
            e,
            "litellm_params.api_version is os.environ/AZ_VER, but AZ_VER is not set in the \
             environment or in .secrets; run `agent-shim secrets set AZ_VER` (or export it), or \
             remove the parameter"
        );
        let mut d = def(json!({"model": "openai/x", "extra_headers": {"X": "os.environ/H"}}));
        assert!(
            resolve(&mut d, &none)
                .unwrap_err()
                .starts_with("litellm_params.extra_headers.X is os.environ/H,")
        );
        let mut d = def(json!({"model": "openai/x", "api_base": "os.environ/B"}));
        assert!(
            resolve(&mut d, &none)
                .unwrap_err()
                .contains("secrets set B")
        );
        // The AWS chain supplies what is not set.
        let mut d = def(
            json!({"model": "bedrock/x", "aws_region_name": "os.environ/AWS_REGION",
                               "aws_profile_name": "os.environ/AWS_PROFILE"}),
        );
        resolve(&mut d, &none).unwrap();
        assert!(d.litellm_params.other.is_empty(), "{d:?}");
    }
}
