//! Model definitions in LiteLLM's `model_list` schema (docs.litellm.ai "Proxy Config.yaml"), so a
//! user's existing LiteLLM `config.yaml` loads as is, and the secret string type that keeps keys
//! out of logs and output.
//!
//! Serialising a definition gives what may be *shown* (`/model/info`, `models show`): its
//! credentials are redacted by [`crate::redact`], and so is its `Debug` output.
//! [`ModelDefinition::to_wire`] gives the definition in full, for registering it elsewhere.

use crate::redact;
use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// One `model_list` entry: what clients ask for (`model_name`) and where it goes (`litellm_params`).
/// Several entries with one `model_name` are deployments of one model group.
#[derive(Clone, Serialize, Deserialize)]
pub struct ModelDefinition {
    pub model_name: String,
    pub litellm_params: LitellmParams,
    #[serde(default)]
    pub model_info: ModelInfo,
}

/// `litellm_params`. Unknown LiteLLM keys are kept in `other` (and ignored) so configs written
/// for LiteLLM load without edits. Serialised and `Debug`-printed redacted (module docs).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct LitellmParams {
    /// `<provider>/<provider model id>`, e.g. `cerebras/gpt-oss-120b`.
    pub model: String,
    /// May carry credentials (`http://user:password@host`); shown redacted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "shown_url"
    )]
    pub api_base: Option<String>,
    /// A literal key or `os.environ/NAME`; an empty value is no key (as if absent).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "SecretString::deserialize_optional"
    )]
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
    /// Headers added to every upstream request; their values are shown redacted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "shown_headers"
    )]
    pub extra_headers: Option<BTreeMap<String, String>>,
    /// The wire API to use when the provider offers more than one (`chat`, `responses`,
    /// `anthropic`); default: the provider table's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_mode: Option<ApiMode>,
    /// Position among the deployments of its group: a lower `order` is tried first, and a higher
    /// one only when the lower ones fail or cannot take the request (LiteLLM's order fallbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// Share of the group's traffic under `simple-shuffle` (relative to the other deployments'
    /// weights).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub weight: Option<f64>,
    /// Requests per minute this deployment takes; over it, the deployment is skipped (and the
    /// client gets 429 with `retry-after` when no other can serve).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::whole"
    )]
    pub rpm: Option<u64>,
    /// Tokens per minute (input and output) this deployment takes, as `rpm`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::whole"
    )]
    pub tpm: Option<u64>,
    /// Requests in flight at once on this deployment, as `rpm`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::whole_u32"
    )]
    pub max_parallel_requests: Option<u32>,
    /// Seconds to wait for the upstream's answer to begin (its response headers); the
    /// gateway's `router_settings.timeout` when unset.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub timeout: Option<f64>,
    /// Seconds of silence tolerated inside a stream (and inside a whole answer's body); the
    /// gateway's `router_settings.stream_timeout` when unset.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub stream_timeout: Option<f64>,
    /// Other LiteLLM parameters (`aws_secret_access_key`, …); shown through
    /// [`redact::param`].
    #[serde(flatten, serialize_with = "shown_params")]
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
/// names are read; the prices ([`ModelInfo::price`]) override the embedded price table's for
/// this deployment, and the tiered `*_above_<N>k_tokens` prices are read from `other`.
#[derive(Clone, Default, Serialize, Deserialize)]
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
    /// USD per million prompt tokens (agent-shim's name; `input_cost_per_token` wins).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub input_cost_per_million: Option<f64>,
    /// USD per million output tokens (agent-shim's name; `output_cost_per_token` wins).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub output_cost_per_million: Option<f64>,
    /// USD per uncached prompt token (LiteLLM's name), over the price table's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub input_cost_per_token: Option<f64>,
    /// USD per output token, over the price table's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub output_cost_per_token: Option<f64>,
    /// USD per prompt token read from the cache, over the price table's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub cache_read_input_token_cost: Option<f64>,
    /// USD per prompt token written to the cache (5-minute lifetime), over the price table's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub cache_creation_input_token_cost: Option<f64>,
    /// USD per prompt token written to the cache with the 1-hour lifetime, over the price table's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    /// USD per reasoning token, over the price table's (default: the output price).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub output_cost_per_reasoning_token: Option<f64>,
    /// The model accepts a reasoning control (`reasoning_effort`, Anthropic `thinking`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_reasoning: Option<bool>,
    /// Other facts; shown through [`redact::param`] like unknown `litellm_params`.
    #[serde(flatten, serialize_with = "shown_params")]
    pub other: BTreeMap<String, Value>,
}

impl ModelInfo {
    /// The prices this `model_info` sets (its price keys and the `*_above_<N>k_tokens` tiers in
    /// `other`), `None` when it sets none. An error names the key and what was expected.
    pub fn price(&self) -> Result<Option<ledger::prices::ModelPrice>, String> {
        let typed = [
            ("input_cost_per_million", self.input_cost_per_million),
            ("output_cost_per_million", self.output_cost_per_million),
            ("input_cost_per_token", self.input_cost_per_token),
            ("output_cost_per_token", self.output_cost_per_token),
            (
                "cache_read_input_token_cost",
                self.cache_read_input_token_cost,
            ),
            (
                "cache_creation_input_token_cost",
                self.cache_creation_input_token_cost,
            ),
            (
                "cache_creation_input_token_cost_above_1hr",
                self.cache_creation_input_token_cost_above_1hr,
            ),
            (
                "output_cost_per_reasoning_token",
                self.output_cost_per_reasoning_token,
            ),
        ];
        let typed: Vec<(&str, Value)> = typed
            .into_iter()
            .filter_map(|(k, v)| Some((k, Value::from(v?))))
            .collect();
        let fields = typed.iter().map(|(k, v)| (*k, v)).chain(
            self.other
                .iter()
                .filter(|(k, _)| ledger::prices::table::is_price_key(k))
                .map(|(k, v)| (k.as_str(), v)),
        );
        ledger::prices::ModelPrice::from_fields(fields).map_err(|e| format!("model_info.{e}"))
    }
}

impl ModelDefinition {
    /// The prices this definition sets: its `model_info` price keys, under the same keys in
    /// `litellm_params` (LiteLLM's custom pricing, which wins there too). `None` when neither
    /// sets one; an error names the key (`litellm_params.…` or `model_info.…`).
    pub fn price(&self) -> Result<Option<ledger::prices::ModelPrice>, String> {
        let info = self.model_info.price()?;
        let params = ledger::prices::ModelPrice::from_fields(
            self.litellm_params
                .other
                .iter()
                .filter(|(k, _)| ledger::prices::table::is_price_key(k))
                .map(|(k, v)| (k.as_str(), v)),
        )
        .map_err(|e| format!("litellm_params.{e}"))?;
        Ok(match (params, info) {
            (Some(p), Some(i)) => Some(p.over(&i)),
            (p, i) => p.or(i),
        })
    }

    /// The provider prefix of `litellm_params.model` (`cerebras/x` → `cerebras`), or `None` when
    /// the model has no prefix.
    pub fn provider_prefix(&self) -> Option<&str> {
        self.litellm_params.model.split_once('/').map(|(p, _)| p)
    }

    /// The definition as LiteLLM's `/model/new` takes it, credentials in clear: a literal
    /// `api_key`, `api_base`, `extra_headers`, and the other parameters as written (an
    /// `os.environ/NAME` key stays a reference). For sending to a gateway, never for display.
    pub fn to_wire(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        let p = &self.litellm_params;
        let wire = &mut v["litellm_params"];
        if let Some(b) = &p.api_base {
            wire["api_base"] = json!(b);
        }
        if let Some(k) = &p.api_key {
            wire["api_key"] = json!(k.expose());
        }
        if let Some(h) = &p.extra_headers {
            wire["extra_headers"] = json!(h);
        }
        for (k, x) in &p.other {
            wire[k] = x.clone();
        }
        for (k, x) in &self.model_info.other {
            v["model_info"][k] = x.clone();
        }
        v
    }
}

/// Numbers as LiteLLM (Python, pydantic) reads them: a number, or a string holding one
/// (`rpm: "100"`); anything else is an error naming what was expected.
mod lenient {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn read<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected {what}, got the string {s:?}"))),
            Some(other) => Err(D::Error::custom(format!("expected {what}, got {other}"))),
        }
    }

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match read(d, "a number")? {
            Some(v) if !v.is_finite() || v < 0.0 => Err(D::Error::custom(format!(
                "expected a number of at least 0, got {v}"
            ))),
            v => Ok(v),
        }
    }

    pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match read(d, "a whole number")? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= 9.0e15 => Ok(Some(v as u64)),
            Some(v) => Err(D::Error::custom(format!(
                "expected a whole number of at least 0, got {v}"
            ))),
        }
    }

    pub fn whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match whole(d)? {
            None => Ok(None),
            Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                D::Error::custom(format!(
                    "expected a whole number up to {}, got {v}",
                    u32::MAX
                ))
            }),
        }
    }
}

/// `Debug` shows what serialising shows: credentials redacted.
macro_rules! debug_as_shown {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match serde_json::to_string(self) {
                    Ok(s) => write!(f, "{}{s}", stringify!($t)),
                    Err(_) => f.write_str(stringify!($t)),
                }
            }
        }
    )*};
}
debug_as_shown!(ModelDefinition, LitellmParams, ModelInfo);

fn shown_url<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(u) => s.serialize_str(&redact::url(u)),
        None => s.serialize_none(),
    }
}

fn shown_headers<S: Serializer>(
    v: &Option<BTreeMap<String, String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(h) => s.collect_map(h.keys().map(|k| (k, redact::REDACTED))),
        None => s.serialize_none(),
    }
}

fn shown_params<S: Serializer>(v: &BTreeMap<String, Value>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, x)| (k, redact::param(k, x))))
}

/// A string that may be a secret: `Debug` and `Display` never show it, and it serialises as
/// `os.environ/NAME` when it is a reference, else as `[redacted]`. Never empty: an empty or
/// all-blank value is no key, so no code path can hold (or accept) an empty key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Arc<str>);

impl SecretString {
    /// The value without surrounding whitespace (HTTP trims it from header values anyway), or
    /// `None` when nothing is left: an empty key is no key.
    pub fn new(s: impl AsRef<str>) -> Option<SecretString> {
        let s = s.as_ref().trim();
        (!s.is_empty()).then(|| SecretString(Arc::from(s)))
    }

    /// The secret itself, for the one place that needs it (an upstream request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret, compared in constant time (`subtle`): the time taken
    /// does not tell how much of it matched. An empty `presented` never matches.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// For `Option<SecretString>` fields (`#[serde(deserialize_with = …)]`): an empty or blank
    /// value reads as absent, as LiteLLM (Python) treats an empty string.
    pub fn deserialize_optional<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(SecretString::new))
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

/// An empty or blank value is an error: a required key cannot be empty (optional keys use
/// [`SecretString::deserialize_optional`]).
impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SecretString::new(&s).ok_or_else(|| {
            D::Error::invalid_value(Unexpected::Str(&s), &"a key (a literal or os.environ/NAME)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretString::new("sk-live-123").unwrap();
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        let r = SecretString::new("os.environ/GROQ_API_KEY").unwrap();
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
        assert_eq!(d.litellm_params.rpm, Some(10));
        let p: LitellmParams =
            serde_json::from_str(r#"{"model": "x", "tpm": "5000", "weight": 2, "timeout": 1.5}"#)
                .unwrap();
        assert_eq!(
            (p.tpm, p.weight, p.timeout),
            (Some(5000), Some(2.0), Some(1.5))
        );
        let e = serde_json::from_str::<LitellmParams>(r#"{"model": "x", "rpm": "many"}"#);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("expected a whole number")
        );
        let shown = serde_json::to_string(&d).unwrap();
        assert!(!shown.contains("\"k\""), "{shown}");
    }

    #[test]
    fn empty_master_key_is_no_key() {
        for blank in ["", " ", "\t\n"] {
            assert!(SecretString::new(blank).is_none(), "{blank:?}");
        }
        let k = SecretString::new(" sk-1 \n").unwrap();
        assert_eq!(k.expose(), "sk-1");
        assert!(k.matches("sk-1") && !k.matches("") && !k.matches("sk-") && !k.matches("sk-2"));
        // Required keys refuse an empty value; optional ones read it as absent.
        let e = serde_json::from_str::<SecretString>("\" \"").unwrap_err();
        assert!(e.to_string().contains("expected a key"), "{e}");
        let p: LitellmParams =
            serde_json::from_str(r#"{"model": "groq/x", "api_key": "  "}"#).unwrap();
        assert!(p.api_key.is_none());
    }

    #[test]
    fn definitions_show_and_debug_without_credentials() {
        let d: ModelDefinition = serde_json::from_value(json!({
            "model_name": "m",
            "litellm_params": {
                "model": "bedrock/x", "api_base": "http://u:PASS-1@h/v1", "api_key": "KEY-2",
                "extra_headers": {"X-Auth": "HDR-3"}, "aws_secret_access_key": "AWS-4",
                "aws_region_name": "eu-west-1", "rpm": 5
            },
            "model_info": {"custom_token": "INFO-5"}
        }))
        .unwrap();
        let planted = ["PASS-1", "KEY-2", "HDR-3", "AWS-4", "INFO-5"];
        for shown in [serde_json::to_string(&d).unwrap(), format!("{d:?}")] {
            for p in planted {
                assert!(!shown.contains(p), "{p} in {shown}");
            }
            assert!(
                shown.contains("eu-west-1") && shown.contains("X-Auth"),
                "{shown}"
            );
        }
        let wire = d.to_wire().to_string();
        for p in planted {
            assert!(wire.contains(p), "{p} missing from {wire}");
        }
        let back: ModelDefinition = serde_json::from_value(d.to_wire()).unwrap();
        assert_eq!(
            back.litellm_params.api_base.as_deref(),
            Some("http://u:PASS-1@h/v1")
        );
    }

    #[test]
    fn model_info_prices_are_read_with_their_tiers_and_errors_name_the_key() {
        let info: ModelInfo = serde_json::from_value(json!({
            "input_cost_per_token": "3e-6", "output_cost_per_token": 1.5e-5,
            "cache_read_input_token_cost": 3e-7,
            "input_cost_per_token_above_200k_tokens": 6e-6, "supports_vision": true
        }))
        .unwrap();
        let p = info.price().unwrap().unwrap();
        assert_eq!(p.input, Some("0.000003".parse().unwrap()));
        assert_eq!(p.cache_read, Some("0.0000003".parse().unwrap()));
        assert_eq!(p.tiers[&200_000].input, Some("0.000006".parse().unwrap()));
        assert!(ModelInfo::default().price().unwrap().is_none());
        let bad: ModelInfo =
            serde_json::from_value(json!({"output_cost_per_token_above_200k_tokens": "lots"}))
                .unwrap();
        let e = bad.price().unwrap_err();
        assert!(
            e.starts_with("model_info.output_cost_per_token_above_200k_tokens: expected a price"),
            "{e}"
        );
        let e = serde_json::from_value::<ModelInfo>(json!({"cache_read_input_token_cost": -1}))
            .unwrap_err();
        assert!(e.to_string().contains("at least 0"), "{e}");
    }
}
