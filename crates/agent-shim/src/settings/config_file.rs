//! `config.yaml`: gateway settings (DESIGN.md §3). Every key is optional. A LiteLLM proxy config
//! also loads: its `model_list`, `general_settings.master_key`, `router_settings` and the router
//! keys of `litellm_settings` are used, its other sections accepted and ignored. Unknown top-level keys are errors (typos).

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
    // Read by the usage log (not used yet: usage is logged to the gateway log). A database URL
    // carries a password, so it is held as a secret (not shown by `Debug`).
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub database_url: Option<SecretString>,
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
    /// LiteLLM's `litellm_settings`: its router keys (`num_retries`, `request_timeout`, the
    /// fallback lists, …) are read as under `router_settings`, which wins.
    pub litellm_settings: Option<LitellmSettings>,
    /// LiteLLM sections accepted and ignored.
    #[serde(rename = "environment_variables")]
    pub _environment_variables: Option<IgnoredAny>,
    #[serde(rename = "callback_settings")]
    pub _callback_settings: Option<IgnoredAny>,
    #[serde(rename = "guardrails")]
    pub _guardrails: Option<IgnoredAny>,
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

/// LiteLLM's `litellm_settings`: the router keys, and the rest kept for the warnings.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct LitellmSettings {
    #[serde(flatten)]
    pub router: RouterKeys,
}

#[derive(Debug, Default, Deserialize)]
pub struct GeneralSettings {
    /// As `master_key` at the top level: empty or blank is no key.
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub master_key: Option<SecretString>,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "SecretString::deserialize_optional")]
    pub database_url: Option<SecretString>,
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
        let c: ConfigFile = crate::settings::yaml::parse(text, "litellm.yaml").unwrap();
        assert_eq!(c.model_list.len(), 1);
        assert_eq!(c.master_key().unwrap().expose(), "sk-1234");
        assert_eq!(c.router_settings.unwrap().num_retries, Some(3));
        let other = &c.litellm_settings.unwrap().router.other;
        assert_eq!(other.get("drop_params"), Some(&Value::Bool(true)));
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
