//! Model definitions and profiles: the built-in ones compiled into the binary, overridden by name
//! by the user's `models.yaml`, `profiles/<name>.yaml` and config.yaml `model_list` (in that
//! order). Every item remembers where it came from.

use super::Settings;
use super::filters::ApiFilters;
use super::yaml;
use crate::error::{CliError, Result};
use gateway::{ModelDefinition, Tiers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

const BUILTIN_MODELS: &str = include_str!("../../assets/models.yaml");

macro_rules! builtin_profiles {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../assets/profiles/", $name, ".yaml")))),*]
    };
}

/// Built-in profiles: (name, YAML).
const BUILTIN_PROFILES: &[(&str, &str)] = builtin_profiles!(
    "anthropic",
    "azure",
    "bedrock",
    "cerebras",
    "cerebras2",
    "claude-subscription",
    "deepseek",
    "demo",
    "gemini",
    "grok",
    "groq",
    "groq2",
    "local",
    "mistral",
    "multi",
    "openai",
    "openrouter",
);

/// The built-in profile files: (name, YAML).
pub fn builtin_profile_files() -> &'static [(&'static str, &'static str)] {
    BUILTIN_PROFILES
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
        }
    }

    /// The tier models, deduplicated, in opus/sonnet/haiku order.
    pub fn model_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::with_capacity(3);
        for m in [&self.opus_model, &self.sonnet_model, &self.haiku_model] {
            if !v.contains(&m.as_str()) {
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

/// Loads the profiles only (the hook path needs nothing else).
pub fn load_profiles(settings: &Settings) -> Result<Profiles> {
    let mut out = Profiles::new();
    for (name, text) in BUILTIN_PROFILES {
        let f: ProfileFile = yaml::parse(text, &format!("built-in profile {name}"))?;
        let meta = f.meta.expect("built-in profiles have meta");
        out.insert(
            (*name).to_owned(),
            Sourced {
                item: meta,
                source: Source::BuiltIn,
            },
        );
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
        let Some(f) = yaml::read_optional::<ProfileFile>(&path)? else {
            continue;
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
            (true, _) => {}
            (false, Some(meta)) => {
                out.insert(
                    name,
                    Sourced {
                        item: meta,
                        source: Source::File(path),
                    },
                );
            }
            (false, None) => {
                return Err(CliError::usage(format!(
                    "{}: a profile needs `meta: {{name, opus_model, sonnet_model, haiku_model}}` (or `disabled: true` / `model: null`)",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
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
    let builtin: ModelListFile = yaml::parse(BUILTIN_MODELS, "built-in models.yaml")?;
    let mut models: Vec<Sourced<ModelDefinition>> = builtin
        .model_list
        .into_iter()
        .map(|m| Sourced {
            item: m,
            source: Source::BuiltIn,
        })
        .collect();
    let user_path = settings.config_dir.join("models.yaml");
    if let Some(user) = yaml::read_optional::<ModelListFile>(&user_path)? {
        overlay(&mut models, user.model_list, &user_path);
    }
    let from_config = settings.config.model_list.clone();
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
mod tests {
    use super::*;
    use crate::cli::NetArgs;

    /// Settings with the config and state dirs under `dir`, nothing else set.
    pub(super) fn settings(dir: &std::path::Path) -> Settings {
        let cfg = dir.join("cfg").display().to_string();
        let state = dir.join("state").display().to_string();
        Settings::resolve(&NetArgs::default(), None, &|k| match k {
            "AGENT_SHIM_CONFIG_DIR" => Some(cfg.clone()),
            "AGENT_SHIM_STATE_DIR" => Some(state.clone()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn every_builtin_profile_resolves_to_builtin_models() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let profiles = load_profiles(&s).unwrap();
        let models = load_models(&s).unwrap();
        // Azure's endpoint is the user's resource: the one variable a definition needs.
        let env: std::collections::HashMap<String, String> = [(
            "AZURE_API_BASE".to_owned(),
            "https://res.openai.azure.com".to_owned(),
        )]
        .into();
        for required in [
            "anthropic",
            "openai",
            "azure",
            "cerebras",
            "cerebras2",
            "groq",
            "groq2",
            "deepseek",
            "mistral",
            "gemini",
            "grok",
            "openrouter",
            "local",
            "multi",
            "demo",
        ] {
            let p = profile(&profiles, required).unwrap();
            let defs = profile_models(&models, required, p).unwrap();
            assert!(!defs.is_empty());
            for d in defs {
                gateway::Deployment::new(d, gateway::Origin::Config, &env)
                    .unwrap_or_else(|e| panic!("built-in profile {required}: {e}"));
            }
        }
        let e = profile(&profiles, "nope").unwrap_err().to_string();
        assert!(
            e.contains("unknown profile 'nope'") && e.contains("cerebras"),
            "{e}"
        );
    }

    #[test]
    fn user_files_override_by_name_and_disabled_falls_through() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        std::fs::create_dir_all(s.config_dir.join("profiles")).unwrap();
        std::fs::write(
            s.config_dir.join("models.yaml"),
            "model_list:\n  - model_name: demo/opus\n    litellm_params:\n      model: mock/x\n      mock_response: mine\n",
        )
        .unwrap();
        std::fs::write(
            s.config_dir.join("profiles/groq.yaml"),
            "meta:\n  name: My Groq\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n",
        )
        .unwrap();
        std::fs::write(
            s.config_dir.join("profiles/cerebras.yaml"),
            "disabled: true\n",
        )
        .unwrap();
        // Seed 001's way: `model: null`.
        std::fs::write(
            s.config_dir.join("profiles/mistral.yaml"),
            "model: null\nmeta:\n  name: Old\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n",
        )
        .unwrap();
        let models = load_models(&s).unwrap();
        let opus: Vec<_> = models
            .iter()
            .filter(|m| m.item.model_name == "demo/opus")
            .collect();
        assert_eq!(opus.len(), 1);
        assert_eq!(
            opus[0].item.litellm_params.mock_response.as_deref(),
            Some("mine")
        );
        assert_eq!(
            opus[0].source,
            Source::File(s.config_dir.join("models.yaml"))
        );
        let profiles = load_profiles(&s).unwrap();
        assert_eq!(profiles["groq"].item.name, "My Groq");
        assert_eq!(profiles["cerebras"].source, Source::BuiltIn);
        assert_eq!(profiles["mistral"].source, Source::BuiltIn);
        assert_ne!(profiles["mistral"].item.name, "Old");
        std::fs::write(s.config_dir.join("profiles/mistral.yaml"), "model: x\n").unwrap();
        let e = load_profiles(&s).unwrap_err().to_string();
        assert!(
            e.contains("mistral.yaml: a profile's top-level `model:` only takes null"),
            "{e}"
        );
        let e = profile_models(&models, "groq", &profiles["groq"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("uses model 'a'") && e.contains("profiles/groq.yaml"),
            "{e}"
        );
    }

    /// The seed's openClaude routing (seeds/003) as the built-in `bedrock` profile. Serving it
    /// needs the gateway's `bedrock` provider; until that is in the provider table the
    /// definitions fail only as an unknown provider.
    #[test]
    fn builtin_bedrock_profile_mirrors_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let profiles = load_profiles(&s).unwrap();
        let p = &profile(&profiles, "bedrock").unwrap().item;
        assert_eq!(
            (
                p.opus_model.as_str(),
                p.sonnet_model.as_str(),
                p.haiku_model.as_str()
            ),
            ("claude-opus-4-6", "claude-sonnet-4-5", "qwen3-coder")
        );
        assert!(p.isolated);
        assert_eq!(
            p.context_1m,
            Some(Context1m::Tiers(vec![Tier::Opus, Tier::Sonnet]))
        );
        assert_eq!(p.aws_auth_refresh.as_deref(), Some("aws sso login"));
        assert_eq!(p.agent.as_deref(), Some("claude"));
        let models = load_models(&s).unwrap();
        let defs = profile_models(&models, "bedrock", &profiles["bedrock"]).unwrap();
        let upstream: Vec<&str> = defs
            .iter()
            .map(|d| d.litellm_params.model.as_str())
            .collect();
        assert_eq!(
            upstream,
            [
                "bedrock/us.anthropic.claude-opus-4-6-v1",
                "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "bedrock/converse/qwen.qwen3-coder-480b-a35b-v1:0"
            ]
        );
        for d in &defs {
            let other = &d.litellm_params.other;
            assert_eq!(other["aws_region_name"], "os.environ/AWS_REGION", "{d:?}");
            assert_eq!(other["aws_profile_name"], "os.environ/AWS_PROFILE", "{d:?}");
            match gateway::Deployment::new(
                d.clone(),
                gateway::Origin::Config,
                &std::collections::HashMap::new(),
            ) {
                Ok(dep) => assert_eq!(dep.provider.name, "bedrock"),
                Err(e) => assert!(
                    e.to_string().contains("unknown provider 'bedrock'"),
                    "{}: {e}",
                    d.model_name
                ),
            }
        }
        let window = |n: &str| {
            defs.iter()
                .find(|d| d.model_name == n)
                .and_then(|d| d.model_info.context_window)
        };
        assert_eq!(window("claude-opus-4-6"), Some(1_000_000));
        assert_eq!(window("claude-sonnet-4-5"), Some(1_000_000));
        assert!(!p.tier_is_1m(Tier::Haiku, window("qwen3-coder")));
    }

    /// The user's own subscription through the `claude` CLI (DESIGN.md §4.6): the CLI's tier
    /// aliases on the `claude-code` provider, which reads no key.
    #[test]
    fn builtin_claude_subscription_profile_runs_the_cli_with_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let profiles = load_profiles(&s).unwrap();
        let p = profile(&profiles, "claude-subscription").unwrap();
        let defs = profile_models(&load_models(&s).unwrap(), "claude-subscription", p).unwrap();
        assert_eq!(defs.len(), 3, "{defs:?}");
        for (d, tier) in defs.into_iter().zip(["opus", "sonnet", "haiku"]) {
            let m = format!("claude-code/{tier}");
            assert_eq!((&d.model_name, &d.litellm_params.model), (&m, &m));
            assert!(d.litellm_params.api_key.is_none(), "{d:?}");
            let dep = gateway::Deployment::new(
                d,
                gateway::Origin::Config,
                &std::collections::HashMap::new(),
            )
            .unwrap();
            assert_eq!(dep.provider.name, "claude-code");
            assert!(dep.provider.key_env.is_none() && matches!(dep.key, gateway::ApiKey::None));
        }
        assert!(p.item.agent.is_none() && !p.item.isolated, "{:?}", p.item);
    }

    #[test]
    fn context_1m_is_true_false_or_a_list_of_tiers() {
        let parse = |v: &str| {
            yaml::parse::<ProfileFile>(
                &format!("meta:\n  name: x\n  opus_model: a\n  sonnet_model: b\n  haiku_model: c\n  context_1m: {v}\n"),
                "p.yaml",
            )
            .map(|f| f.meta.unwrap())
        };
        let p = parse("true").unwrap();
        assert!(p.tier_is_1m(Tier::Opus, None) && p.tier_is_1m(Tier::Sonnet, Some(1)));
        assert!(!p.tier_is_1m(Tier::Haiku, Some(2_000_000)));
        let p = parse("false").unwrap();
        assert!(!p.tier_is_1m(Tier::Opus, Some(2_000_000)));
        let p = parse("[haiku]").unwrap();
        assert!(p.tier_is_1m(Tier::Haiku, None) && !p.tier_is_1m(Tier::Opus, Some(1_000_000)));
        // Unset: by the model's declared window.
        let p = parse("null").unwrap();
        assert!(p.tier_is_1m(Tier::Opus, Some(1_000_000)));
        assert!(!p.tier_is_1m(Tier::Opus, Some(999_999)) && !p.tier_is_1m(Tier::Opus, None));
        let e = parse("[opus, big]").unwrap_err().to_string();
        assert!(
            e.starts_with("p.yaml:6:") && e.contains("context_1m"),
            "{e}"
        );
        let e = parse("yes please").unwrap_err().to_string();
        assert!(
            e.contains("true, false, or a list of tiers (opus, sonnet, haiku)"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_user_file_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        std::fs::create_dir_all(&s.config_dir).unwrap();
        std::fs::write(
            s.config_dir.join("models.yaml"),
            "model_list:\n  - model_name: x\n    litellm_param:\n      model: y\n",
        )
        .unwrap();
        let e = load_models(&s).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}:3:5:",
                s.config_dir.join("models.yaml").display()
            )),
            "{e}"
        );
    }
}
