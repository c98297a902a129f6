//! Model definitions and profiles: the built-in ones compiled into the binary, overridden by name
//! by the user's `models.yaml`, `profiles/<name>.yaml` and config.yaml `model_list` (in that
//! order). Every item remembers where it came from.

use super::Settings;
use super::builtin;
use super::filters::ApiFilters;
use super::yaml;
use crate::error::{CliError, Result};
use gateway::{ModelDefinition, Scenario, ScenarioRules, Tiers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The built-in profile files: (name, YAML).
pub fn builtin_profile_files() -> &'static [(&'static str, &'static str)] {
    builtin::PROFILES
}

/// Where an item was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    BuiltIn,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built-in"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub item: T,
    pub source: Source,
}

/// A profile file: `meta:` as in the seeds; `disabled: true`, or `model: null` as in seed 001,
/// makes it fall through to the built-in profile of the same name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub meta: Option<ProfileMeta>,
    #[serde(default)]
    pub disabled: bool,
    /// Only `model: null` (the seed's way to disable a profile); another value is an error.
    #[serde(default, deserialize_with = "present")]
    pub model: Option<serde_json::Value>,
}

/// `Some(value)` when the key is present, also for `null` (serde's `Option` reads null as absent).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

impl ProfileFile {
    /// Whether the file falls through to the next source (`disabled: true` or `model: null`).
    pub fn is_disabled(&self) -> bool {
        self.disabled || self.model.as_ref().is_some_and(serde_json::Value::is_null)
    }
}

/// A profile: a named choice of models for Claude Code's three tiers, plus optional keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    /// Display name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub opus_model: String,
    pub sonnet_model: String,
    pub haiku_model: String,
    /// Default agent for `agent-shim with` (e.g. `claude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Model for agents with one model slot (default: the sonnet tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Extra environment for launched agents, applied last; values may use `${env:NAME}` and
    /// `${context:provider|protocol|model|key|agent|base_url}`.
    #[serde(
        default,
        alias = "extra_env",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub env: BTreeMap<String, String>,
    /// Claude Code runs with its own `CLAUDE_CONFIG_DIR` (links to the user's, and a
    /// `settings.json` without the `env` keys that would override routing), as `with --isolated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolated: bool,
    /// In an isolated launch, the `awsAuthRefresh` command Claude Code gets in place of the
    /// user's `awsCredentialExport` (e.g. `aws sso login --profile X`); `${env:NAME}` expands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_auth_refresh: Option<String>,
    /// Which tiers Claude Code is given as `<model>[1m]` (turning on its 1M context window):
    /// `true` = opus and sonnet, `false` = none, or a list (`[opus, sonnet, haiku]`). Unset: the
    /// tiers whose model declares `model_info.context_window` of 1,000,000 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_1m: Option<Context1m>,
    /// Which of the profile's providers' remote models count for it (`models list --remote`,
    /// Codex's model catalogue): glob patterns on model ids; omitted = all, `[]` or `null` = no
    /// remote loading (see [`super::filters`]).
    #[serde(default, skip_serializing_if = "ApiFilters::is_catch_all")]
    pub model_api_filters: ApiFilters,
    /// Scenario rules (issue 11 §3, claude-code-router's `Router`): `background`,
    /// `long_context` (+ `long_context_threshold`), `think`, `image`, `web_search`, each naming
    /// a model that serves requests of that kind; the first that matches wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<ScenarioRules>,
}

/// One of Claude Code's three model tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Opus,
    Sonnet,
    Haiku,
}

/// A profile's `context_1m`: `true`, `false` or a list of tiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context1m {
    /// `true`: opus and sonnet (the tiers Claude Code offers as `opus[1m]` / `sonnet[1m]`);
    /// `false`: none.
    All(bool),
    /// Exactly these tiers.
    Tiers(Vec<Tier>),
}

impl Serialize for Context1m {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Context1m::All(b) => s.serialize_bool(*b),
            Context1m::Tiers(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Context1m {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Context1m;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, or a list of tiers (opus, sonnet, haiku)")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> std::result::Result<Context1m, E> {
                Ok(Context1m::All(b))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Context1m, A::Error> {
                let mut tiers = Vec::new();
                while let Some(t) = seq.next_element::<Tier>()? {
                    tiers.push(t);
                }
                Ok(Context1m::Tiers(tiers))
            }
        }
        d.deserialize_any(V)
    }
}

impl ProfileMeta {
    /// The model of one tier.
    pub fn tier_model(&self, tier: Tier) -> &str {
        match tier {
            Tier::Opus => &self.opus_model,
            Tier::Sonnet => &self.sonnet_model,
            Tier::Haiku => &self.haiku_model,
        }
    }

    /// Whether `tier` is given to Claude Code with the `[1m]` suffix; `window` is the context
    /// window declared for the tier's model.
    pub fn tier_is_1m(&self, tier: Tier, window: Option<u64>) -> bool {
        match &self.context_1m {
            Some(Context1m::All(all)) => *all && tier != Tier::Haiku,
            Some(Context1m::Tiers(t)) => t.contains(&tier),
            None => window.is_some_and(|w| w >= 1_000_000),
        }
    }

    pub fn tiers(&self) -> Tiers {
        Tiers {
            opus: self.opus_model.clone(),
            sonnet: self.sonnet_model.clone(),
            haiku: self.haiku_model.clone(),
            router: self.router.clone(),
        }
    }

    /// The profile's models, deduplicated: the tiers in opus/sonnet/haiku order, then the
    /// models its `router:` rules name (so they are checked, registered and leased alike).
    pub fn model_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::with_capacity(3);
        let rules = self.router.iter().flat_map(|r| {
            Scenario::ALL
                .into_iter()
                .filter_map(move |s| r.model_for(s))
        });
        for m in [&self.opus_model, &self.sonnet_model, &self.haiku_model]
            .into_iter()
            .map(String::as_str)
            .chain(rules)
        {
            if !v.contains(&m) {
                v.push(m);
            }
        }
        v
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelListFile {
    #[serde(default)]
    model_list: Vec<ModelDefinition>,
}

/// Profiles by name.
pub type Profiles = BTreeMap<String, Sourced<ProfileMeta>>;

/// Loads every profile: the built-in ones, overridden by name by `<config>/profiles/*.yaml`
/// (and `*.yml`, which wins over a `.yaml` of the same name).
pub fn load_profiles(settings: &Settings) -> Result<Profiles> {
    let mut out = Profiles::new();
    for (name, text) in builtin::PROFILES {
        out.insert((*name).to_owned(), builtin_profile(name, text)?);
    }
    let dir = settings.config_dir.join("profiles");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read {}: {e}",
                dir.display()
            )));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if let Some(meta) = user_profile(&path)? {
            out.insert(
                name,
                Sourced {
                    item: meta,
                    source: Source::File(path),
                },
            );
        }
    }
    Ok(out)
}

/// The profile `name` as [`load_profiles`] followed by [`profile`] would give it, reading only
/// what that profile needs: its own user files and, when they are absent or disabled, its
/// built-in YAML (the shell-hook path, which runs on every `cd`). Other profiles' files are not
/// read, so a broken one does not stop this one. An unknown name gets [`profile`]'s error,
/// listing every profile.
pub fn find_profile(settings: &Settings, name: &str) -> Result<Sourced<ProfileMeta>> {
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
    if plain {
        let dir = settings.config_dir.join("profiles");
        // Sorted as load_profiles reads them: the later `.yml` wins.
        let mut found = None;
        for ext in ["yaml", "yml"] {
            let path = dir.join(format!("{name}.{ext}"));
            if let Some(meta) = user_profile(&path)? {
                found = Some(Sourced {
                    item: meta,
                    source: Source::File(path),
                });
            }
        }
        if let Some(p) = found {
            return Ok(p);
        }
        if let Some(text) = builtin::profile_text(name) {
            return builtin_profile(name, text);
        }
    }
    let profiles = load_profiles(settings)?;
    profile(&profiles, name).cloned()
}

/// A built-in profile.
fn builtin_profile(name: &str, text: &str) -> Result<Sourced<ProfileMeta>> {
    let f: ProfileFile = yaml::parse(text, &format!("built-in profile {name}"))?;
    Ok(Sourced {
        item: f.meta.expect("built-in profiles have meta"),
        source: Source::BuiltIn,
    })
}

/// A user profile file's profile: `None` when the file does not exist or is disabled (it falls
/// through). Errors name the file and the fix.
fn user_profile(path: &std::path::Path) -> Result<Option<ProfileMeta>> {
    let Some(f) = yaml::read_optional::<ProfileFile>(path)? else {
        return Ok(None);
    };
    if f.model.as_ref().is_some_and(|m| !m.is_null()) {
        return Err(CliError::usage(format!(
            "{}: a profile's top-level `model:` only takes null (the profile is disabled and \
             falls through to the built-in one); put the models in `meta:` \
             (opus_model, sonnet_model, haiku_model, model)",
            path.display()
        )));
    }
    match (f.is_disabled(), f.meta) {
        (true, _) => Ok(None),
        (false, Some(meta)) => Ok(Some(meta)),
        (false, None) => Err(CliError::usage(format!(
            "{}: a profile needs `meta: {{name, opus_model, sonnet_model, haiku_model}}` (or `disabled: true` / `model: null`)",
            path.display()
        ))),
    }
}

/// The profile `name`, or an error listing the profiles that exist.
pub fn profile<'a>(profiles: &'a Profiles, name: &str) -> Result<&'a Sourced<ProfileMeta>> {
    profiles.get(name).ok_or_else(|| {
        let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
        CliError::usage(format!(
            "unknown profile '{name}'; profiles: {}",
            names.join(", ")
        ))
    })
}

/// Loads every model definition: built-in, then `models.yaml`, then config.yaml `model_list`;
/// each later file replaces whole model groups of the same `model_name`.
pub fn load_models(settings: &Settings) -> Result<Vec<Sourced<ModelDefinition>>> {
    let builtin: ModelListFile = yaml::parse(builtin::MODELS, "built-in models.yaml")?;
    with_user_models(settings, builtin.model_list, |_| true)
}

/// The definitions of the model names `names`, as [`load_models`] would give them (same order,
/// same overlays), parsing only the built-in entries of those names: the shell-hook path's
/// `env --export`, which needs its profile's models only. The user's `models.yaml` is read
/// whole (an override can come from anywhere in it).
pub fn load_models_named(
    settings: &Settings,
    names: &[&str],
) -> Result<Vec<Sourced<ModelDefinition>>> {
    with_user_models(settings, builtin::models_named(names)?, |m| {
        names.contains(&m.model_name.as_str())
    })
}

/// `builtin` overlaid with the user's `models.yaml` and config.yaml's `model_list` (the
/// definitions `wanted` keeps), with LiteLLM's settings applied.
fn with_user_models(
    settings: &Settings,
    builtin: Vec<ModelDefinition>,
    wanted: impl Fn(&ModelDefinition) -> bool,
) -> Result<Vec<Sourced<ModelDefinition>>> {
    let mut models: Vec<Sourced<ModelDefinition>> = builtin
        .into_iter()
        .map(|m| Sourced {
            item: m,
            source: Source::BuiltIn,
        })
        .collect();
    let user_path = settings.config_dir.join("models.yaml");
    if let Some(user) = yaml::read_optional::<ModelListFile>(&user_path)? {
        let mine = user.model_list.into_iter().filter(|m| wanted(m)).collect();
        overlay(&mut models, mine, &user_path);
    }
    let from_config = settings
        .config
        .model_list
        .iter()
        .filter(|m| wanted(m))
        .cloned()
        .collect();
    overlay(&mut models, from_config, &settings.config_path);
    super::litellm::apply(
        models.iter_mut().map(|m| &mut m.item),
        &settings.config,
        &settings.config_path.display().to_string(),
    )?;
    Ok(models)
}

fn overlay(
    models: &mut Vec<Sourced<ModelDefinition>>,
    new: Vec<ModelDefinition>,
    path: &std::path::Path,
) {
    let names: Vec<String> = new.iter().map(|m| m.model_name.clone()).collect();
    models.retain(|m| !names.contains(&m.item.model_name));
    models.extend(new.into_iter().map(|m| Sourced {
        item: m,
        source: Source::File(path.to_path_buf()),
    }));
}

/// The definitions of a profile's models. Errors name the profile, its file and the missing model.
pub fn profile_models(
    models: &[Sourced<ModelDefinition>],
    name: &str,
    p: &Sourced<ProfileMeta>,
) -> Result<Vec<ModelDefinition>> {
    let mut out = Vec::new();
    for m in p.item.model_names() {
        let group: Vec<ModelDefinition> = models
            .iter()
            .filter(|d| d.item.model_name == m)
            .map(|d| d.item.clone())
            .collect();
        if group.is_empty() {
            return Err(CliError::usage(format!(
                "profile '{name}' ({}) uses model '{m}', which no model definition provides; \
                 add it to {} or fix the profile (`agent-shim models list` shows what exists)",
                p.source, "models.yaml"
            )));
        }
        out.extend(group);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "catalog_builtin_tests.rs"]
mod builtin_tests;

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
