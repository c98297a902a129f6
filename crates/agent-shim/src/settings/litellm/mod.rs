//! A LiteLLM proxy config, whole (issue 11 §1): every key either honoured or named. Loading the
//! gateway's config file goes through [`load_config`], which
//! - names each key agent-shim does not implement in one warning (`file:line: key: what is
//!   ignored`), against the table in [`keys`];
//! - accepts a key given twice, warning, with the last one used as LiteLLM's YAML loader does;
//! - in a LiteLLM config (one with `model_list` or a LiteLLM section), takes a top-level key
//!   neither LiteLLM nor agent-shim knows as a warning rather than an error (LiteLLM ignores
//!   it); in an agent-shim config it stays an error (a typo);
//! - reads `router_settings.model_group_alias`.
//!
//! [`apply`] then gives the model definitions what the config's other sections say:
//! `credential_list` entries referenced by `litellm_params.litellm_credential_name`, and
//! `litellm_settings.drop_params` as every deployment's default; and [`ConfigVariables`] gives the
//! gateway's `os.environ/NAME` lookups the config's `environment_variables`.

pub mod keys;
pub mod tree;

use super::config_file::ConfigFile;
use super::yaml;
use crate::error::{CliError, Result};
use crate::settings::router::ROUTER_KEYS;
use gateway::{ModelDefinition, SecretString};
use std::collections::BTreeMap;
use tree::{Entry, Node};

/// What [`check`] found in a config's text.
#[derive(Debug, Default)]
pub struct Checked {
    /// One line each: `file:line: key: what is ignored`.
    pub warnings: Vec<String>,
    /// The text to load: unknown top-level keys of a LiteLLM config blanked out (lines kept,
    /// so locations stay right).
    pub text: String,
    /// `router_settings.model_group_alias`: alias → group.
    pub model_group_alias: BTreeMap<String, String>,
    /// Each `model_list` entry in order: its line, and whether a warning says it is not served.
    pub deployments: Vec<(usize, bool)>,
}

/// Reads the config file at `path`: `Ok(None)` when it does not exist.
pub fn read_config(path: &std::path::Path) -> Result<Option<ConfigFile>> {
    let Some(text) = yaml::read_text_optional(path)? else {
        return Ok(None);
    };
    load_config(&text, &path.display().to_string()).map(Some)
}

/// Loads a config's text (module docs); `origin` names it in messages.
pub fn load_config(text: &str, origin: &str) -> Result<ConfigFile> {
    let checked = check(text, origin);
    let mut config: ConfigFile = yaml::parse_last_wins(&checked.text, origin)?;
    config.warnings = checked.warnings;
    config.model_group_alias = checked.model_group_alias;
    Ok(config)
}

/// Names what `text` holds that agent-shim does not implement (module docs).
pub fn check(text: &str, origin: &str) -> Checked {
    let mut c = Checked {
        text: text.to_owned(),
        ..Checked::default()
    };
    let Some(root) = tree::parse(text) else {
        return c;
    };
    let mut w = Warnings {
        origin,
        out: Vec::new(),
    };
    w.duplicates(&root, "");
    let entries = root.entries();
    let litellm = entries.iter().any(|e| keys::TOP.contains(&e.key.as_str()));
    let mut blank: Vec<(usize, usize)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let k = e.key.as_str();
        // A section given again replaces this one (its warning says so): only the last counts.
        let replaced = entries[i + 1..].iter().any(|later| later.key == e.key);
        match k {
            _ if replaced && (keys::TOP.contains(&k) || keys::AGENT_SHIM.contains(&k)) => {}
            "general_settings" => w.section(e, &[keys::GENERAL]),
            "litellm_settings" => w.section(e, &[keys::LITELLM_SETTINGS, ROUTER_KEYS]),
            "router_settings" => {
                w.section(e, &[keys::ROUTER, ROUTER_KEYS]);
                if let Some(aliases) = e.value.get("model_group_alias") {
                    c.model_group_alias = model_group_alias(aliases);
                }
            }
            "model_list" => {
                c.deployments = e
                    .value
                    .items()
                    .iter()
                    .enumerate()
                    .map(|(n, item)| (item.line, w.deployment(n, item)))
                    .collect();
            }
            "credential_list" => {
                for (n, item) in e.value.items().iter().enumerate() {
                    w.unknown_keys(
                        &item.node,
                        &format!("credential_list[{n}]"),
                        keys::CREDENTIAL,
                    );
                }
            }
            _ if keys::AGENT_SHIM.contains(&k) || keys::TOP.contains(&k) => {}
            _ => match keys::TOP_IGNORED.iter().find(|(name, _)| *name == k) {
                Some(_) if replaced => {}
                Some((_, why)) => w.at(e.line, k, &format!("{why}; ignored")),
                None if litellm && matches!(root, Node::Map { block: true, .. }) => {
                    if !replaced {
                        w.at(
                            e.line,
                            k,
                            "not a key of LiteLLM or agent-shim; ignored (LiteLLM ignores it too)",
                        );
                    }
                    // Every occurrence goes: the typed load refuses keys it does not know.
                    let end = entries.get(i + 1).map_or(usize::MAX, |n| n.line);
                    blank.push((e.line, end));
                }
                // An agent-shim config: the typed load names it as an error (a typo).
                None => {}
            },
        }
    }
    if !blank.is_empty() {
        c.text = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let n = i + 1;
                if blank.iter().any(|(from, to)| n >= *from && n < *to) {
                    ""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        c.text.push('\n');
    }
    c.warnings = w.out;
    c
}

fn model_group_alias(node: &Node) -> BTreeMap<String, String> {
    node.entries()
        .iter()
        .filter_map(|e| {
            // `alias: group`, or `alias: {model: group, hidden: true}`.
            let group = e
                .value
                .as_str()
                .or_else(|| e.value.get("model").and_then(Node::as_str))?;
            Some((e.key.clone(), group.to_owned()))
        })
        .collect()
}

struct Warnings<'a> {
    origin: &'a str,
    out: Vec<String>,
}

impl Warnings<'_> {
    fn at(&mut self, line: usize, path: &str, what: &str) {
        self.out
            .push(format!("{}:{line}: {path}: {what}", self.origin));
    }

    /// Every key given twice in a mapping, anywhere.
    fn duplicates(&mut self, node: &Node, path: &str) {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_owned()
            } else {
                format!("{path}.{k}")
            }
        };
        match node {
            Node::Map { entries, .. } => {
                for (i, e) in entries.iter().enumerate() {
                    // A key merged from `<<: *anchor` and overridden here is how merges are
                    // meant to be used: only keys written twice are named.
                    if let Some(first) = entries[..i]
                        .iter()
                        .find(|p| p.key == e.key && !p.merged && !e.merged)
                    {
                        self.at(
                            e.line,
                            &join(&e.key),
                            &format!(
                                "given again (first at line {}); the last one is used, as LiteLLM's loader does",
                                first.line
                            ),
                        );
                    }
                    self.duplicates(&e.value, &join(&e.key));
                }
            }
            Node::Seq(items) => {
                for (n, item) in items.iter().enumerate() {
                    self.duplicates(&item.node, &format!("{path}[{n}]"));
                }
            }
            Node::Scalar { .. } => {}
        }
    }

    /// A section whose keys are listed in `known`: one warning per other key.
    fn section(&mut self, e: &Entry, known: &[&[&str]]) {
        for k in e.value.entries() {
            if !known.iter().any(|l| l.contains(&k.key.as_str())) {
                let why = keys::why(&e.key, &k.key);
                self.at(
                    k.line,
                    &format!("{}.{}", e.key, k.key),
                    &format!("{why}; ignored"),
                );
            }
        }
    }

    fn unknown_keys(&mut self, node: &Node, path: &str, known: &[&str]) {
        for k in node.entries() {
            if !known.contains(&k.key.as_str()) {
                self.at(
                    k.line,
                    &format!("{path}.{}", k.key),
                    "not implemented; ignored",
                );
            }
        }
    }

    /// One `model_list` entry; returns whether a warning says it is not served.
    fn deployment(&mut self, n: usize, item: &tree::Item) -> bool {
        let node = &item.node;
        let name = node.get("model_name").and_then(Node::as_str).unwrap_or("?");
        let path = format!("model_list[{n}] ({name})");
        self.unknown_keys(node, &path, keys::MODEL_ENTRY);
        let mut not_served = false;
        if let Some(params) = node.get("litellm_params") {
            for k in params.entries() {
                if !keys::is_param(&k.key) {
                    let why = keys::why("litellm_params", &k.key);
                    self.at(
                        k.line,
                        &format!("{path}.litellm_params.{}", k.key),
                        &format!("{why}; ignored"),
                    );
                }
            }
            let model = params.get("model").and_then(Node::as_str).unwrap_or("");
            let has_base = params.get("api_base").is_some_and(|b| !b.is_null());
            let prefix = params
                .get("custom_llm_provider")
                .and_then(Node::as_str)
                .or_else(|| model.split_once('/').map(|(p, _)| p));
            if let Some(p) = prefix
                && !model.starts_with("os.environ/")
                && params.get("mock_response").is_none()
                && gateway::provider(p).is_none()
                && has_base
            {
                let line = params
                    .entries()
                    .iter()
                    .find(|e| e.key == "model")
                    .map_or(item.line, |e| e.line);
                self.at(
                    line,
                    &format!("{path}.litellm_params.model"),
                    &format!(
                        "provider '{p}' is not in agent-shim's provider table; its requests go to api_base as to an OpenAI-compatible server, which may not be what '{p}' speaks"
                    ),
                );
                not_served = true;
            }
        }
        if let Some(mode) = node
            .get("model_info")
            .and_then(|i| i.get("mode"))
            .and_then(Node::as_str)
            && !keys::SERVED_MODES.contains(&mode)
        {
            let line = node
                .get("model_info")
                .and_then(|i| i.entries().iter().rev().find(|e| e.key == "mode"))
                .map_or(item.line, |e| e.line);
            self.at(
                line,
                &format!("{path}.model_info.mode"),
                &format!("'{mode}' is not served (agent-shim serves chat, Messages and Responses requests); not served"),
            );
            not_served = true;
        }
        not_served
    }
}

/// Gives `models` what the config says beyond `model_list` (module docs). Errors name the
/// config file, the model and the fix.
pub fn apply<'a>(
    models: impl Iterator<Item = &'a mut ModelDefinition>,
    config: &ConfigFile,
    origin: &str,
) -> Result<()> {
    let drop_params = config.litellm_settings.as_ref().and_then(|s| s.drop_params);
    for m in models {
        let p = &mut m.litellm_params;
        if p.drop_params.is_none() {
            p.drop_params = drop_params;
        }
        let Some(name) = p.other.get("litellm_credential_name") else {
            continue;
        };
        let Some(name) = name.as_str() else {
            return Err(CliError::usage(format!(
                "{origin}: model '{}': litellm_params.litellm_credential_name must be the name of a credential_list entry",
                m.model_name
            )));
        };
        let Some(cred) = config
            .credential_list
            .iter()
            .find(|c| c.credential_name == name)
        else {
            let names: Vec<&str> = config
                .credential_list
                .iter()
                .map(|c| c.credential_name.as_str())
                .collect();
            return Err(CliError::usage(format!(
                "{origin}: model '{}': litellm_credential_name '{name}' is not in credential_list ({}); \
                 add a credential_list entry with credential_name: {name}, or fix the name",
                m.model_name,
                if names.is_empty() {
                    "which is empty".to_owned()
                } else {
                    format!("credentials: {}", names.join(", "))
                }
            )));
        };
        // As LiteLLM: the credential fills in what the deployment does not give itself.
        for (k, v) in &cred.credential_values {
            match (k.as_str(), v.as_str()) {
                ("api_key", Some(s)) if p.api_key.is_none() => p.api_key = SecretString::new(s),
                ("api_base", Some(s)) if p.api_base.is_none() => p.api_base = Some(s.to_owned()),
                ("api_key" | "api_base", _) => {}
                _ => {
                    p.other.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Ok(())
}

/// The gateway's variable lookups with the config's `environment_variables` first, as LiteLLM
/// sets them in its environment at start (a value may itself be `os.environ/NAME`, looked up in
/// `inner`), then `inner` (the environment, then `.secrets`).
pub struct ConfigVariables<S> {
    vars: BTreeMap<String, String>,
    inner: S,
}

impl<S: gateway::SecretSource> ConfigVariables<S> {
    /// `vars` from the config, before `inner`.
    pub fn new(vars: &super::config_file::Variables, inner: S) -> ConfigVariables<S> {
        ConfigVariables {
            vars: vars.0.clone(),
            inner,
        }
    }
}

impl<S: gateway::SecretSource> gateway::SecretSource for ConfigVariables<S> {
    fn get(&self, name: &str) -> Option<SecretString> {
        match self.vars.get(name) {
            Some(v) => match v.strip_prefix("os.environ/") {
                Some(var) if var != name => self.inner.get(var),
                Some(_) => self.inner.get(name),
                None => SecretString::new(v),
            },
            None => self.inner.get(name),
        }
    }
}

#[cfg(test)]
mod tests;
