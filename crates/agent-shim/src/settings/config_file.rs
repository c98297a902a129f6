//! `config.yaml`: gateway settings (DESIGN.md §3). Every key is optional. A LiteLLM proxy config
//! also loads, through [`super::litellm`]: its `model_list`, `credential_list`,
//! `general_settings.master_key`, `litellm_settings` and `router_settings` are used, and each key
//! agent-shim does not implement is named in a warning ([`super::litellm::keys`]). Unknown
//! top-level keys of an agent-shim config are errors (typos).

use gateway::{ModelDefinition, SecretString};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
    /// A literal key or `os.environ/NAME`; an empty or blank value is no key (one is generated).
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub master_key: Option<SecretString>,
    /// The usage ledger's PostgreSQL database (`postgres://…`, or `os.environ/NAME`); unset:
    /// `usage.db` in the state dir ([`super::ledger`]). A database URL carries a password, so
    /// it is held as a secret (not shown by `Debug`).
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub database_url: Option<SecretString>,
    /// Delete usage records older than this many days (daily rollups stay); unset: keep all.
    pub usage_retention_days: Option<u32>,
    /// With body capture on (`general_settings.store_prompts_in_spend_logs`): the most bytes
    /// kept of each request and each response body (default 65536).
    pub body_capture_max_bytes: Option<usize>,
    /// Captured bodies older than this many days are cleared, their records kept (default 7).
    pub body_capture_retention_days: Option<u32>,
    /// How long a model stays registered after its last directory was left (default 15).
    pub lease_minutes: Option<f64>,
    /// The janitor runs at most this often (default 60).
    pub janitor_interval_seconds: Option<f64>,
    /// An external LiteLLM proxy to register models with and point agents at, instead of the
    /// embedded gateway.
    pub proxy: Option<ExternalProxy>,
    pub log_level: Option<String>,
    /// Longest request body the gateway accepts, in MiB (default 32, Anthropic's limit); a
    /// longer one is answered 413.
    pub max_request_body_mb: Option<u32>,
    /// Profile whose tiers resolve Claude model ids when a request names no profile.
    pub default_profile: Option<String>,
    /// LiteLLM's router settings ([`crate::settings::router`] turns them into the gateway's).
    pub router_settings: Option<RouterKeys>,
    /// LiteLLM: models served in addition to (and overriding by name) models.yaml.
    #[serde(default)]
    pub model_list: Vec<ModelDefinition>,
    /// LiteLLM: `master_key`, `database_url`.
    pub general_settings: Option<GeneralSettings>,
    /// LiteLLM: `drop_params`, and the router keys (`num_retries`, `request_timeout`, the
    /// fallback lists, …) read as under `router_settings`, which wins.
    pub litellm_settings: Option<LitellmSettings>,
    /// LiteLLM: credentials that `litellm_params.litellm_credential_name` refers to.
    #[serde(default)]
    pub credential_list: Vec<Credential>,
    /// LiteLLM: variables the gateway's `os.environ/NAME` references see, before the process
    /// environment and `.secrets` (LiteLLM sets them in its environment at start).
    #[serde(default)]
    pub environment_variables: Variables,
    /// LiteLLM sections accepted and ignored, each named in a warning
    /// ([`super::litellm::keys::TOP_IGNORED`]).
    #[serde(rename = "callback_settings")]
    pub _callback_settings: Option<IgnoredAny>,
    #[serde(rename = "guardrails")]
    pub _guardrails: Option<IgnoredAny>,
    #[serde(rename = "mcp_servers")]
    pub _mcp_servers: Option<IgnoredAny>,
    #[serde(rename = "vector_store_registry")]
    pub _vector_store_registry: Option<IgnoredAny>,
    #[serde(rename = "files_settings")]
    pub _files_settings: Option<IgnoredAny>,
    #[serde(rename = "finetune_settings")]
    pub _finetune_settings: Option<IgnoredAny>,
    #[serde(rename = "assistant_settings")]
    pub _assistant_settings: Option<IgnoredAny>,
    #[serde(rename = "include")]
    pub _include: Option<IgnoredAny>,
    #[serde(rename = "prompts")]
    pub _prompts: Option<IgnoredAny>,
    #[serde(rename = "search_tools")]
    pub _search_tools: Option<IgnoredAny>,
    /// What the file holds that agent-shim does not implement, one line each
    /// (`file:line: key: …`), set by [`super::litellm::load_config`].
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// LiteLLM's `router_settings.model_group_alias` (alias → group), set by
    /// [`super::litellm::load_config`].
    #[serde(skip)]
    pub model_group_alias: BTreeMap<String, String>,
}

/// LiteLLM's `litellm_settings`: the keys agent-shim reads; the others are named in warnings.
#[derive(Debug, Default, Deserialize)]
pub struct LitellmSettings {
    /// The default `drop_params` of every deployment that does not set its own.
    pub drop_params: Option<bool>,
    /// The router keys (read by [`crate::settings::router`]), and the other keys in
    /// `router.other` (named in warnings by [`super::litellm`]).
    #[serde(flatten)]
    pub router: RouterKeys,
}

/// `environment_variables`: names and values (scalars as written; a value may be
/// `os.environ/NAME`). `Debug` shows the names only: values are often keys.
#[derive(Default, Clone, PartialEq)]
pub struct Variables(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Variables {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
        Ok(Variables(
            raw.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Null => None,
                    other => Some((k, other.to_string())),
                })
                .collect(),
        ))
    }
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// A `credential_list` entry: values a deployment gets with `litellm_credential_name: <name>`.
/// `Debug` shows the names of the values, never the values.
#[derive(Deserialize)]
pub struct Credential {
    /// The name `litellm_credential_name` gives.
    pub credential_name: String,
    /// `litellm_params` keys and values (`api_key`, `api_base`, `api_version`, …) a deployment
    /// gets when it does not give them itself.
    #[serde(default)]
    pub credential_values: BTreeMap<String, Value>,
    #[serde(default, rename = "credential_info")]
    pub _credential_info: Option<IgnoredAny>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("credential_name", &self.credential_name)
            .field(
                "credential_values",
                &self.credential_values.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `proxy:` — a LiteLLM proxy the user keeps running. `Debug` redacts the URL's credentials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalProxy {
    /// Its base URL, e.g. `http://127.0.0.1:4000`; show it through [`gateway::redact::url`].
    pub url: String,
    /// Its master key (a literal or `os.environ/NAME`); an empty or blank value is no key, which
    /// [`crate::registration::Target::of`] refuses.
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub master_key: Option<SecretString>,
}

impl std::fmt::Debug for ExternalProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalProxy")
            .field("url", &gateway::redact::url(&self.url))
            .field("master_key", &self.master_key)
            .finish()
    }
}

/// The router keys LiteLLM reads under `router_settings` (and most of them under
/// `litellm_settings` too), with LiteLLM's names; see [`crate::settings::router`] for what each
/// becomes. Keys not listed are kept in `other`, and named in a warning at start.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
pub struct RouterKeys {
    /// Extra attempts after a retryable failure.
    pub num_retries: Option<u32>,
    /// Seconds to wait for an upstream's answer to begin.
    pub timeout: Option<f64>,
    /// `litellm_settings`' name for `timeout`.
    pub request_timeout: Option<f64>,
    /// Seconds of silence tolerated inside a stream.
    pub stream_timeout: Option<f64>,
    pub fallbacks: Option<gateway::Fallbacks>,
    pub context_window_fallbacks: Option<gateway::Fallbacks>,
    pub content_policy_fallbacks: Option<gateway::Fallbacks>,
    pub default_fallbacks: Option<Vec<String>>,
    pub max_fallbacks: Option<u32>,
    pub allowed_fails: Option<u32>,
    /// Seconds a deployment that failed too often stays out of rotation.
    pub cooldown_time: Option<f64>,
    pub disable_cooldowns: Option<bool>,
    /// Read as text: a strategy not implemented is a warning, not an error.
    pub routing_strategy: Option<String>,
    pub enable_pre_call_checks: Option<bool>,
    pub default_max_parallel_requests: Option<u32>,
    /// Seconds a session stays on its deployment after its last request.
    pub deployment_affinity_ttl_seconds: Option<f64>,
    /// Other keys (`redis_host`, `routing_strategy_args`, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GeneralSettings {
    /// As `master_key` at the top level: empty or blank is no key.
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub master_key: Option<SecretString>,
    /// LiteLLM's database: the usage ledger's when agent-shim's own `database_url` is unset.
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub database_url: Option<SecretString>,
    /// LiteLLM's switch for its spend logs: `true` turns the usage ledger off (no record is
    /// stored; `/metrics` still counts).
    #[serde(default)]
    pub disable_spend_logs: Option<bool>,
    /// LiteLLM's switch for request and response content in its spend logs: `true` turns on
    /// body capture in the usage ledger (off by default; capped by `body_capture_max_bytes`,
    /// cleared after `body_capture_retention_days`).
    #[serde(default)]
    pub store_prompts_in_spend_logs: Option<bool>,
    /// Other LiteLLM settings (`alerting`, …), accepted and ignored.
    #[serde(flatten)]
    pub _other: BTreeMap<String, Value>,
}

impl ConfigFile {
    /// The master key setting: `master_key`, else LiteLLM's `general_settings.master_key`.
    pub fn master_key(&self) -> Option<&SecretString> {
        self.master_key.as_ref().or_else(|| {
            self.general_settings
                .as_ref()
                .and_then(|g| g.master_key.as_ref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_proxy_config_loads_as_is() {
        let text = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      rpm: 100
litellm_settings:
  drop_params: true
general_settings:
  master_key: sk-1234
  alerting: ["slack"]
router_settings:
  num_retries: 3
  routing_strategy: simple-shuffle
"#;
        let c = crate::settings::litellm::load_config(text, "litellm.yaml").unwrap();
        assert_eq!(c.model_list.len(), 1);
        assert_eq!(
            c.warnings,
            ["litellm.yaml:12: general_settings.alerting: not implemented; ignored"]
        );
        assert_eq!(c.master_key().unwrap().expose(), "sk-1234");
        assert_eq!(c.router_settings.unwrap().num_retries, Some(3));
        let l = c.litellm_settings.unwrap();
        assert_eq!(l.drop_params, Some(true));
        assert!(l.router.other.is_empty(), "{:?}", l.router.other);
    }

    #[test]
    fn empty_master_key_is_no_key() {
        for text in [
            "master_key: \"\"\n",
            "master_key: \"  \"\n",
            "master_key:\n",
            "general_settings:\n  master_key: \"\"\n",
            "master_key: \" \"\ngeneral_settings:\n  master_key: \"\"\n",
        ] {
            let c: ConfigFile = crate::settings::yaml::parse(text, "config.yaml").unwrap();
            assert!(c.master_key().is_none(), "{text:?}");
        }
        let c: ConfigFile = crate::settings::yaml::parse(
            "proxy:\n  url: http://u:PW@h:4000\n  master_key: \"\"\n",
            "config.yaml",
        )
        .unwrap();
        let p = c.proxy.unwrap();
        assert!(p.master_key.is_none());
        assert!(!format!("{p:?}").contains("PW"), "{p:?}");
    }
}
