//! Model definitions in LiteLLM's `model_list` schema (docs.litellm.ai "Proxy Config.yaml"), so a
//! user's existing LiteLLM `config.yaml` loads as is, and the secret string type that keeps keys
//! out of logs and output.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One `model_list` entry: what clients ask for (`model_name`) and where it goes (`litellm_params`).
/// Several entries with one `model_name` are deployments of one model group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelDefinition {
    pub model_name: String,
    pub litellm_params: LitellmParams,
    #[serde(default)]
    pub model_info: ModelInfo,
}

/// `litellm_params`. Unknown LiteLLM keys are kept in `other` (and ignored) so configs written
/// for LiteLLM load without edits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LitellmParams {
    /// `<provider>/<provider model id>`, e.g. `cerebras/gpt-oss-120b`.
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// A literal key or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretString>,
    /// A command (argv, no shell) whose trimmed stdout is the key, e.g. a password manager's;
    /// it wins over `api_key` (agent-run's `key_command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_command: Option<Vec<String>>,
    /// Drop the provider's known-rejected parameters (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_params: Option<bool>,
    /// More parameters never to send to this deployment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_drop_params: Vec<String>,
    /// Answer with this text without any network, as LiteLLM does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_response: Option<String>,
    /// Output-token cap of this deployment; clients' `max_tokens` is clamped to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Headers added to every upstream request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<BTreeMap<String, String>>,
    /// The wire API to use when the provider offers more than one (`chat`, `responses`,
    /// `anthropic`); default: the provider table's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_mode: Option<ApiMode>,
    /// Position among the deployments of its group (lower first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A provider's alternative wire API (OpenAI and xAI also serve Responses; DeepSeek and others
/// also serve an Anthropic-compatible endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiMode {
    #[serde(alias = "chat_completions")]
    Chat,
    #[serde(alias = "codex_responses")]
    Responses,
    #[serde(alias = "messages", alias = "anthropic_messages")]
    Anthropic,
}

/// `model_info`: facts about the model. Both our per-million cost names and LiteLLM's per-token
/// names are read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Deployment id (LiteLLM's `model_info.id`); derived when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        alias = "max_input_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub context_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_million: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_million: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// The model accepts a reasoning control (`reasoning_effort`, Anthropic `thinking`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_reasoning: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl ModelDefinition {
    /// The provider prefix of `litellm_params.model` (`cerebras/x` → `cerebras`), or `None` when
    /// the model has no prefix.
    pub fn provider_prefix(&self) -> Option<&str> {
        self.litellm_params.model.split_once('/').map(|(p, _)| p)
    }
}

/// A string that may be a secret: `Debug` and `Display` never show it, and it serialises as
/// `os.environ/NAME` when it is a reference, else as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Arc<str>);

impl SecretString {
    pub fn new(s: impl Into<Arc<str>>) -> SecretString {
        SecretString(s.into())
    }

    /// The secret itself, for the one place that needs it (an upstream request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `Some(NAME)` when the value is a reference `os.environ/NAME`.
    pub fn env_reference(&self) -> Option<&str> {
        self.0.strip_prefix("os.environ/")
    }

    /// What may be shown: the reference, or `[redacted]`.
    pub fn display_safe(&self) -> String {
        match self.env_reference() {
            Some(name) => format!("os.environ/{name}"),
            None => "[redacted]".into(),
        }
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_safe())
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display_safe())
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SecretString::new(String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretString::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        let r = SecretString::new("os.environ/GROQ_API_KEY");
        assert_eq!(r.env_reference(), Some("GROQ_API_KEY"));
        assert_eq!(format!("{r:?}"), "os.environ/GROQ_API_KEY");
    }

    #[test]
    fn litellm_entries_load_with_unknown_keys() {
        let d: ModelDefinition = serde_json::from_value(serde_json::json!({
            "model_name": "m", "litellm_params": {"model": "groq/x", "rpm": 10, "api_key": "k"},
            "model_info": {"max_input_tokens": 1000, "id": "abc"}
        }))
        .unwrap();
        assert_eq!(d.provider_prefix(), Some("groq"));
        assert_eq!(d.model_info.context_window, Some(1000));
        assert!(d.litellm_params.other.contains_key("rpm"));
        let shown = serde_json::to_string(&d).unwrap();
        assert!(!shown.contains("\"k\""), "{shown}");
    }
}
