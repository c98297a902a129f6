//! The remote model catalogue (issue 11 §4, seed 002): what a provider's own model list says
//! (`GET /v1/models` on OpenAI-compatible endpoints, Anthropic's `GET /v1/models`), normalised to
//! id, display name, context window and price per million tokens, cached for [`MAX_AGE`] in
//! `<cache dir>/models/`.
//!
//! An *endpoint* is a provider at one `api_base` (the row's default, or a definition's own): the
//! cache holds one file per endpoint, with the whole list; a profile's `model_api_filters`
//! ([`crate::settings::filters`]) chooses what is shown. Shell completion and Codex's generated
//! catalogue read the cache only ([`cached_model`]); only `models list --remote` fetches.
//!
//! Endpoints are resolved by the gateway's own rules ([`gateway::Deployment`]): the provider
//! table's default `api_base`, and the key through the same lookup the gateway uses (the
//! environment, then `.secrets`, or `key_command`), resolved only when a fetch is needed.

pub mod fetch;

use crate::error::{CliError, Result};
use crate::settings::Settings;
use crate::settings::secrets::FileSecrets;
use gateway::{ApiKey, Deployment, ModelDefinition, Origin, Protocol};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a fetched list is used before it is fetched again (seed 002: 12 hours).
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// One model as a provider lists it, normalised. Prices are US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteModel {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub context_window: Option<u64>,
    #[serde(default)]
    pub input_per_million: Option<f64>,
    #[serde(default)]
    pub output_per_million: Option<f64>,
}

/// One endpoint's list as cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedList {
    pub provider: String,
    /// The list's URL, credentials redacted.
    pub url: String,
    /// When it was fetched (seconds since the Unix epoch).
    pub fetched_at: u64,
    pub models: Vec<RemoteModel>,
}

impl CachedList {
    /// Whether it is younger than [`MAX_AGE`] at `now` (a time in the future is not fresh).
    pub fn fresh(&self, now: u64) -> bool {
        now >= self.fetched_at && now - self.fetched_at < MAX_AGE.as_secs()
    }

    pub fn model(&self, id: &str) -> Option<&RemoteModel> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A provider endpoint with a model list.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub provider: String,
    /// Anthropic's list (`x-api-key`, `anthropic-version`) or the OpenAI one (Bearer).
    pub protocol: Protocol,
    /// May carry credentials: show it through [`Endpoint::shown_url`].
    pub api_base: String,
    /// The definition the key and headers come from.
    pub definition: ModelDefinition,
}

/// Why a definition's provider has no list to fetch.
#[derive(Debug, Clone)]
pub struct NoList {
    pub provider: String,
    pub reason: String,
}

impl Endpoint {
    /// The list's URL: `<api_base>/models` for OpenAI-compatible bases (which include `/v1`),
    /// `<root>/v1/models` for Anthropic's (as the gateway builds `/v1/messages`).
    pub fn list_url(&self) -> String {
        let base = self.api_base.trim_end_matches('/');
        if self.protocol == Protocol::Anthropic {
            let root = base
                .strip_suffix("/v1/messages")
                .or_else(|| base.strip_suffix("/v1"))
                .unwrap_or(base);
            format!("{root}/v1/models")
        } else {
            format!("{base}/models")
        }
    }

    pub fn shown_url(&self) -> String {
        gateway::redact::url(&self.list_url()).into_owned()
    }

    /// The cache file: `<cache dir>/models/<provider>-<12 hex digits of sha256(provider, api_base)>.json`.
    pub fn cache_path(&self, cache_dir: &Path) -> PathBuf {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}\0{}", self.provider, self.api_base).as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let safe: String = self
            .provider
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        cache_dir.join("models").join(format!("{safe}-{hex}.json"))
    }
}

/// The endpoint `def`'s requests go to, if it has a model list. Resolved without any key (no
/// `key_command` runs): the key is looked up only when a list is fetched.
pub fn endpoint_of(def: &ModelDefinition) -> std::result::Result<Endpoint, NoList> {
    let mut probe = def.clone();
    probe.litellm_params.key_command = None;
    probe.litellm_params.api_key = None;
    let none = std::collections::HashMap::<String, String>::new();
    let d = Deployment::new(probe, Origin::Config, &none).map_err(|e| NoList {
        provider: def.provider_prefix().unwrap_or("openai").to_owned(),
        reason: e.reason,
    })?;
    if d.direct_base().is_none() {
        return Err(NoList {
            provider: d.provider.name.to_owned(),
            reason: no_list_reason(d.provider.name).to_owned(),
        });
    }
    let protocol = if d.protocol() == Protocol::Anthropic {
        Protocol::Anthropic
    } else {
        Protocol::OpenAiChat
    };
    Ok(Endpoint {
        provider: d.provider.name.to_owned(),
        protocol,
        api_base: d.api_base.clone(),
        definition: def.clone(),
    })
}

/// Why a provider that is not an HTTP endpoint has no list.
fn no_list_reason(provider: &str) -> &'static str {
    match provider {
        "bedrock" => {
            "AWS Bedrock lists models through its control-plane API (ListFoundationModels), \
             which agent-shim does not call; its models are the ones your definitions name"
        }
        "claude-code" => {
            "the claude CLI has no model list; its models are the tier aliases opus, sonnet and \
             haiku (or a full Claude model id)"
        }
        "mock" => "a mock model answers from its definition and has no upstream",
        _ => "it is not reached over HTTP, so there is no model list to fetch",
    }
}

/// The endpoint of provider `name` at its default `api_base`.
pub fn provider_endpoint(name: &str) -> Result<Endpoint> {
    let Some(row) = gateway::provider(name) else {
        return Err(CliError::usage(format!(
            "unknown provider '{name}'; providers: {}",
            provider_names().join(", ")
        )));
    };
    let def: ModelDefinition = serde_json::from_value(serde_json::json!({
        "model_name": name,
        "litellm_params": {"model": format!("{}/models", row.name)},
    }))
    .expect("a minimal definition parses");
    endpoint_of(&def).map_err(|e| {
        let hint = if row.api_base.is_none() && e.reason.contains("api_base") {
            "it has no default endpoint: list a profile whose models set litellm_params.api_base"
                .to_owned()
        } else {
            e.reason
        };
        CliError::usage(format!(
            "provider '{name}' has no model list to fetch: {hint}"
        ))
    })
}

/// The provider names of the gateway's table (for messages and completion).
pub fn provider_names() -> Vec<&'static str> {
    gateway::provider_names()
}

/// Reads a cache file; a missing, unreadable or foreign file is no cache.
pub fn read_cache(path: &Path) -> Option<CachedList> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes a cache file atomically (a temporary file renamed over it).
pub fn write_cache(path: &Path, list: &CachedList) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(list).expect("a list serialises");
    crate::atomic_file::write(path, text.as_bytes())
}

/// A list and whether it came from the cache.
#[derive(Debug)]
pub struct Loaded {
    pub list: CachedList,
    pub from_cache: bool,
}

/// The endpoint's list: the cache when it is fresh (unless `refresh`), else fetched and cached.
/// A cache that cannot be written is reported on stderr; the list is still returned.
pub fn load(settings: &Settings, e: &Endpoint, refresh: bool) -> Result<Loaded> {
    let path = e.cache_path(&settings.cache_dir);
    if !refresh && let Some(list) = read_cache(&path).filter(|l| l.fresh(now())) {
        return Ok(Loaded {
            list,
            from_cache: true,
        });
    }
    let secrets = FileSecrets::new(settings.secrets_path());
    let d = Deployment::new(e.definition.clone(), Origin::Config, &secrets)
        .map_err(|err| CliError::usage(err.to_string()))?;
    let key = match &d.key {
        ApiKey::Value(k) => Some(k.expose().to_owned()),
        // Some lists are public (OpenRouter's): try without; a 401 names the variable.
        ApiKey::None | ApiKey::Missing { .. } => None,
        ApiKey::CommandFailed { error } => {
            return Err(CliError::failed(format!(
                "no key for {}'s model list (model '{}'): {error}; fix litellm_params.key_command",
                e.provider, e.definition.model_name
            )));
        }
    };
    let request = fetch::Request {
        endpoint: e,
        key: key.as_deref(),
        key_source: key_source(&d),
        headers: &d.extra_headers,
    };
    let models = crate::daemon::block_on(fetch::fetch(&request))?;
    let list = CachedList {
        provider: e.provider.clone(),
        url: e.shown_url(),
        fetched_at: now(),
        models,
    };
    if let Err(err) = write_cache(&path, &list) {
        eprintln!(
            "agent-shim: cannot cache {}'s model list in {}: {err}",
            e.provider,
            path.display()
        );
    }
    Ok(Loaded {
        list,
        from_cache: false,
    })
}

/// Where the key of `d` comes from, in words for errors (never the key).
fn key_source(d: &Deployment) -> String {
    let params = &d.definition.litellm_params;
    if params.key_command.is_some() {
        return format!(
            "the key comes from litellm_params.key_command of model '{}'",
            d.model_name()
        );
    }
    match (&d.key, &d.key_var) {
        (ApiKey::Missing { var }, _) => format!(
            "no key was sent: {var} is not set in the environment or in .secrets; \
             run `agent-shim secrets set {var}` or export {var}"
        ),
        (_, Some(var)) => format!(
            "the key comes from {var} (the environment, then .secrets); check it, or \
             `agent-shim secrets set {var}`"
        ),
        (ApiKey::Value(_), None) => format!(
            "the key is litellm_params.api_key of model '{}'",
            d.model_name()
        ),
        _ => "no key was sent (the provider reads none)".to_owned(),
    }
}

/// The cached facts about `def`'s upstream model (any age; never the network), for completion
/// and Codex's catalogue.
pub fn cached_model(cache_dir: &Path, def: &ModelDefinition) -> Option<RemoteModel> {
    let e = endpoint_of(def).ok()?;
    let list = read_cache(&e.cache_path(cache_dir))?;
    let id = def
        .litellm_params
        .model
        .split_once('/')
        .map_or(def.litellm_params.model.as_str(), |(_, id)| id);
    list.model(id).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(model: &str, api_base: Option<&str>) -> ModelDefinition {
        let mut p = serde_json::json!({"model": model});
        if let Some(b) = api_base {
            p["api_base"] = b.into();
        }
        serde_json::from_value(serde_json::json!({"model_name": "m", "litellm_params": p})).unwrap()
    }

    #[test]
    fn list_urls_follow_the_gateway_rules() {
        let e = endpoint_of(&def("openai/x", Some("http://h:1/v1/"))).unwrap();
        assert_eq!(e.list_url(), "http://h:1/v1/models");
        let e = endpoint_of(&def("anthropic/claude-x", None)).unwrap();
        assert_eq!(e.list_url(), "https://api.anthropic.com/v1/models");
        let e = endpoint_of(&def("anthropic/claude-x", Some("http://h:1/v1"))).unwrap();
        assert_eq!(e.list_url(), "http://h:1/v1/models");
        let e = endpoint_of(&def("groq/llama", None)).unwrap();
        assert_eq!(e.list_url(), "https://api.groq.com/openai/v1/models");
        let e = endpoint_of(&def("openai/x", Some("http://u:PASS-9@h:1/v1"))).unwrap();
        assert!(!e.shown_url().contains("PASS-9"), "{}", e.shown_url());
    }

    #[test]
    fn providers_without_a_list_say_why() {
        let e = endpoint_of(&def("bedrock/us.anthropic.claude-x", None)).unwrap_err();
        assert_eq!(e.provider, "bedrock");
        assert!(e.reason.contains("ListFoundationModels"), "{}", e.reason);
        let e = endpoint_of(&def("claude-code/opus", None)).unwrap_err();
        assert_eq!(e.provider, "claude-code");
        let mut m = def("openai/x", None);
        m.litellm_params.mock_response = Some("hi".into());
        assert_eq!(endpoint_of(&m).unwrap_err().provider, "mock");
        let err = provider_endpoint("hosted_vllm").unwrap_err().to_string();
        assert!(err.contains("api_base"), "{err}");
        let err = provider_endpoint("nope").unwrap_err().to_string();
        assert!(
            err.contains("unknown provider 'nope'") && err.contains("groq"),
            "{err}"
        );
    }

    #[test]
    fn one_cache_file_per_provider_and_base() {
        let dir = Path::new("/c");
        let a = endpoint_of(&def("openai/x", Some("http://h:1/v1"))).unwrap();
        let b = endpoint_of(&def("openai/y", Some("http://h:1/v1"))).unwrap();
        let c = endpoint_of(&def("openai/x", Some("http://h:2/v1"))).unwrap();
        assert_eq!(a.cache_path(dir), b.cache_path(dir));
        assert_ne!(a.cache_path(dir), c.cache_path(dir));
        let p = a.cache_path(dir);
        assert_eq!(p.parent(), Some(Path::new("/c/models")));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("openai-") && name.ends_with(".json"),
            "{name}"
        );
    }

    #[test]
    fn freshness_is_twelve_hours() {
        let list = CachedList {
            provider: "p".into(),
            url: "u".into(),
            fetched_at: 1_000_000,
            models: vec![],
        };
        assert!(list.fresh(1_000_000 + 12 * 3600 - 1));
        assert!(!list.fresh(1_000_000 + 12 * 3600));
        assert!(!list.fresh(999_999), "a time in the future is not trusted");
    }
}
