//! A deployment: one model definition resolved against the provider table into everything a
//! request needs (endpoint URL, key, quirks), once, when the definition is registered.

use super::params::Params;
use super::table::{ANTHROPIC, MOCK, OPENAI, PROVIDERS, ProviderInfo, provider, provider_names};
use crate::model::{ApiMode, ModelDefinition, SecretString};
use crate::router::{RouteParams, Slot};
use crate::secrets::SecretSource;
use crate::transport::{Transport, Unbuilt};
use crate::upstream::Timeouts;
use protocol::ir::Dropped;
use protocol::passthrough::Fields;
use protocol::target::{AnthropicTarget, ChatTarget, ConverseTarget, ResponsesTarget};
use protocol::{Protocol, Target};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Where the upstream key comes from, resolved at registration.
#[derive(Clone)]
pub enum ApiKey {
    /// No key is sent.
    None,
    Value(SecretString),
    /// The key is read from this variable (environment, then `.secrets`) and was not found.
    Missing {
        var: String,
    },
    /// `key_command` failed; the error says how (never its output).
    CommandFailed {
        error: String,
    },
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiKey::None => f.write_str("None"),
            ApiKey::Value(_) => f.write_str("Value([redacted])"),
            ApiKey::Missing { var } => write!(f, "Missing({var})"),
            ApiKey::CommandFailed { .. } => f.write_str("CommandFailed"),
        }
    }
}

/// A definition that cannot be served, with the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model '{model_name}': {reason}")]
pub struct DefinitionError {
    pub model_name: String,
    pub reason: String,
}

/// Where a deployment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Configuration files (built-in, models.yaml, config.yaml): stays defined when unregistered.
    Config,
    /// The admin API (`/model/new`): removed when unregistered.
    Admin,
}

/// A model definition ready to serve. Its `Debug` output redacts credentials (the URL's, the
/// key, header values) as [`crate::redact`] does.
pub struct Deployment {
    /// `model_info.id`, else derived from the model name, provider model and endpoint, so that
    /// re-registering the same deployment (say, with a key) replaces it.
    pub id: String,
    pub origin: Origin,
    pub definition: ModelDefinition,
    pub provider: &'static ProviderInfo,
    /// The id the upstream expects (after the provider prefix).
    pub upstream_model: String,
    /// Base URL without a trailing `/`. It may carry credentials (`user:password@`): show it
    /// through [`crate::redact::url`].
    pub api_base: String,
    pub key: ApiKey,
    /// Variable named in errors about the key.
    pub key_var: Option<String>,
    /// What the upstream accepts, per protocol (the codec of [`Deployment::protocol`] reads its
    /// part).
    pub target: Target,
    /// The wire API used upstream: the provider's (or the one its transport picks for the model
    /// id), or `litellm_params.api_mode`.
    protocol: Protocol,
    /// How requests reach the upstream (the provider row's [`crate::transport::TransportKind`]).
    pub transport: Box<dyn Transport>,
    pub extra_headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Request parameters set in `litellm_params` that replace the client's (see [`OVERRIDABLE`]).
    pub overrides: Vec<(String, serde_json::Value)>,
    /// What the router reads of the definition (`order`, `weight`, limits, timeouts, window).
    pub route: RouteParams,
    /// This deployment's counters, found by id in [`crate::router::RouterState`] on first use.
    pub(crate) slot: OnceLock<Arc<Slot>>,
    /// The prices its definition sets ([`crate::model::ModelDefinition::price`]), which win over the
    /// price table's when its requests are priced ([`Deployment::price_record`]).
    pub price: Option<Arc<ledger::prices::ModelPrice>>,
}

/// Request parameters a model definition may fix for every request, as LiteLLM passes
/// `litellm_params` entries on to the provider: they replace what the client sent.
pub const OVERRIDABLE: &[&str] = &[
    "reasoning_effort",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "parallel_tool_calls",
];

impl Deployment {
    /// Resolves `def`: its `os.environ/NAME` references ([`super::env_refs`]), its provider and
    /// key. Errors name the model and say what to change: an unknown provider prefix without
    /// `api_base`, a provider that needs `api_base`, an invalid header, a variable not set.
    pub fn new(
        def: ModelDefinition,
        origin: Origin,
        secrets: &dyn SecretSource,
    ) -> Result<Deployment, DefinitionError> {
        let mut def = def;
        let err = |model_name: &str, reason: String| DefinitionError {
            model_name: model_name.to_owned(),
            reason,
        };
        super::env_refs::resolve(&mut def, secrets).map_err(|r| err(&def.model_name, r))?;
        let (provider, upstream_model) =
            provider_of(&def.litellm_params).map_err(|r| err(&def.model_name, r))?;
        let params = &def.litellm_params;
        let key_ref = super::endpoint::key_reference(provider, params, secrets);
        let key_var = key_ref
            .as_ref()
            .and_then(|k| k.env_reference().map(str::to_owned));
        let key = match (&params.key_command, key_ref) {
            (Some(argv), _) => match crate::secrets::run_key_command(argv, false) {
                Ok(k) => ApiKey::Value(k),
                Err(error) => ApiKey::CommandFailed { error },
            },
            (None, None) => ApiKey::None,
            (None, Some(k)) => match k.env_reference() {
                None => ApiKey::Value(k),
                Some(var) => match secrets.get(var) {
                    Some(v) => ApiKey::Value(v),
                    None if provider.key_required => ApiKey::Missing {
                        var: var.to_owned(),
                    },
                    None => ApiKey::None,
                },
            },
        };
        Self::build(def, origin, provider, upstream_model, key, key_var, secrets)
    }

    /// This deployment (of a wildcard group such as `openai/*`) for one requested model:
    /// `model_name` is `requested` and `litellm_params.model` is `model` (the wildcard filled
    /// in). Nothing is looked up again: the references were resolved when this deployment was
    /// built, and its key is reused (or, when the filled-in model names another provider whose
    /// key is not given, read from that provider's variable at request time). Cheap enough for
    /// the request path: no I/O.
    pub fn specialize(
        &self,
        requested: &str,
        model: String,
    ) -> Result<Deployment, DefinitionError> {
        let mut def = self.definition.clone();
        def.model_name = requested.to_owned();
        def.litellm_params.model = model;
        def.model_info.id = None;
        let (provider, upstream_model) =
            provider_of(&def.litellm_params).map_err(|reason| DefinitionError {
                model_name: requested.to_owned(),
                reason,
            })?;
        let params = &def.litellm_params;
        let (key, key_var) = if std::ptr::eq(provider, self.provider)
            || params.api_key.is_some()
            || params.key_command.is_some()
        {
            (self.key.clone(), self.key_var.clone())
        } else {
            match provider.key_env {
                Some(v) if provider.key_required => {
                    (ApiKey::Missing { var: v.to_owned() }, Some(v.to_owned()))
                }
                _ => (ApiKey::None, None),
            }
        };
        let no_lookups: std::collections::HashMap<String, String> = Default::default();
        Self::build(
            def,
            self.origin,
            provider,
            upstream_model,
            key,
            key_var,
            &no_lookups,
        )
    }

    /// Everything after the key: endpoint, headers, what the upstream accepts, the transport.
    fn build(
        def: ModelDefinition,
        origin: Origin,
        provider: &'static ProviderInfo,
        upstream_model: String,
        key: ApiKey,
        key_var: Option<String>,
        secrets: &dyn SecretSource,
    ) -> Result<Deployment, DefinitionError> {
        let err = |reason: String| DefinitionError {
            model_name: def.model_name.clone(),
            reason,
        };
        let params = &def.litellm_params;
        let (routed, upstream_model) = provider.transport.route(provider.protocol, &upstream_model);
        let upstream_model = match provider.model_prefix {
            Some(prefix) if !upstream_model.contains('/') => format!("{prefix}{upstream_model}"),
            _ => upstream_model,
        };
        let protocol = match params.api_mode {
            _ if !provider.transport.api_mode_applies() => routed,
            None => routed,
            Some(ApiMode::Chat) => Protocol::OpenAiChat,
            Some(ApiMode::Responses) => Protocol::OpenAiResponses,
            Some(ApiMode::Anthropic) => Protocol::Anthropic,
        };
        let api_base = super::endpoint::api_base(provider, params, secrets).map_err(err)?;
        let mut extra_headers = Vec::new();
        for (k, v) in params.extra_headers.iter().flatten() {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| err(format!("extra_headers: '{k}' is not a valid header name")))?;
            let mut value = http::HeaderValue::from_str(v).map_err(|_| {
                err(format!(
                    "extra_headers: the value of '{k}' is not a valid header value"
                ))
            })?;
            // Not printed by `Debug`, and not indexed by HTTP/2 header compression.
            value.set_sensitive(true);
            extra_headers.push((name, value));
        }
        let cap = params
            .max_tokens
            .or(def.model_info.max_output_tokens)
            .or(provider.max_output_tokens);
        let drop_known = params.drop_params.unwrap_or(true);
        let mut drop: Vec<String> = if drop_known {
            provider.rejects.iter().map(|s| (*s).to_owned()).collect()
        } else {
            Vec::new()
        };
        drop.extend(params.additional_drop_params.iter().cloned());
        // Non-OpenAI extensions are only sent to providers that accept them.
        if !provider.accepts.contains(&"top_k") {
            drop.push("top_k".into());
        }
        let supports_reasoning = def.model_info.supports_reasoning.unwrap_or(false);
        let chat = ChatTarget {
            model: upstream_model.clone(),
            max_tokens_field: provider
                .transport
                .max_tokens_field(provider.max_tokens_field, &Params { params, secrets }),
            max_output_tokens: cap,
            drop,
            reasoning: if supports_reasoning {
                provider.reasoning
            } else {
                Default::default()
            },
            developer_role: false,
            tool_ids: provider.tool_ids,
            echo_reasoning_content: provider.echo_reasoning_content,
            stream_usage: provider.stream_usage,
            schema: provider.schema,
        };
        let anthropic = AnthropicTarget {
            model: upstream_model.clone(),
            max_output_tokens: cap,
            supports_thinking: supports_reasoning,
        };
        let responses = ResponsesTarget {
            model: upstream_model.clone(),
            max_output_tokens: cap,
            drop: chat.drop.clone(),
        };
        let overrides = OVERRIDABLE
            .iter()
            .filter_map(|k| params.other.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let id = def.model_info.id.clone().unwrap_or_else(|| {
            use sha2::{Digest, Sha256};
            let key = format!("{}\0{}\0{api_base}", def.model_name, params.model);
            Sha256::digest(key.as_bytes())[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        let route = RouteParams::of(&def);
        let price = def.price().map_err(err)?.map(Arc::new);
        let mut d = Deployment {
            price,
            id,
            origin,
            overrides,
            route,
            slot: OnceLock::new(),
            definition: def,
            provider,
            upstream_model,
            api_base,
            key,
            key_var,
            target: Target {
                converse: ConverseTarget {
                    model: chat.model.clone(),
                    max_output_tokens: cap,
                    supports_thinking: supports_reasoning,
                },
                chat,
                anthropic,
                responses,
            },
            protocol,
            transport: Box::new(Unbuilt),
            extra_headers,
        };
        d.transport = provider
            .transport
            .build(&d, secrets)
            .map_err(|reason| DefinitionError {
                model_name: d.definition.model_name.clone(),
                reason,
            })?;
        Ok(d)
    }

    /// A same-protocol body (`fields`, in this deployment's protocol) as this upstream takes
    /// it: the provider's quirks applied as the protocol's encoder applies them
    /// ([`Target::pass_through`]: `model`, dropped parameters, the output-token limit's cap and
    /// field), then the definition's [`OVERRIDABLE`] parameters. Returns the body and what was
    /// dropped.
    pub fn pass_through_body(&self, fields: &Fields<'_>) -> (Vec<u8>, Dropped) {
        let mut f = fields.clone();
        let dropped = self.target.pass_through(self.protocol, &mut f);
        for (k, v) in &self.overrides {
            f.set(k, v);
        }
        (f.to_vec(), dropped)
    }

    /// `body` with this deployment's [`OVERRIDABLE`] parameters applied.
    pub fn apply_overrides(&self, body: Vec<u8>) -> Vec<u8> {
        if self.overrides.is_empty() {
            return body;
        }
        match protocol::passthrough::Fields::parse(&body) {
            Ok(mut f) => {
                for (k, v) in &self.overrides {
                    f.set(k, v);
                }
                f.to_vec()
            }
            Err(_) => body,
        }
    }

    /// How long to wait for the answer's headers: `litellm_params.timeout`, else `global`'s.
    pub fn first_byte_timeout(&self, global: &Timeouts) -> Duration {
        self.route.timeout.unwrap_or(global.first_byte)
    }

    /// The silence tolerated inside an answer: `litellm_params.stream_timeout`, else `global`'s.
    pub fn idle_timeout(&self, global: &Timeouts) -> Duration {
        self.route.stream_timeout.unwrap_or(global.idle)
    }

    pub fn model_name(&self) -> &str {
        &self.definition.model_name
    }

    /// An upstream endpoint's URL as it may be shown (in errors and logs): credentials redacted.
    pub fn shown_url(&self, e: Endpoint) -> String {
        self.transport.shown_url(e, false)
    }

    /// The base URL an agent could call itself with this deployment's protocol and key
    /// (`agent-shim with --direct`); `None` when requests need the gateway (the mock, Bedrock's
    /// SigV4 signing).
    pub fn direct_base(&self) -> Option<&str> {
        self.transport.direct_base()
    }

    /// `api_base` as it may be shown.
    pub fn shown_api_base(&self) -> String {
        crate::redact::url(&self.api_base).into_owned()
    }

    /// The secret values this deployment sends (its key, header values, the URL's password),
    /// for [`crate::redact::known`] to remove from what an upstream answers.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let ApiKey::Value(k) = &self.key {
            out.push(k.expose());
        }
        out.extend(
            self.extra_headers
                .iter()
                .filter_map(|(_, v)| v.to_str().ok()),
        );
        out.extend(self.transport.secret_values());
        out
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
}

impl fmt::Debug for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployment")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .field("definition", &self.definition)
            .field("provider", &self.provider.name)
            .field("upstream_model", &self.upstream_model)
            .field("api_base", &self.shown_api_base())
            .field("key", &self.key)
            .field("key_var", &self.key_var)
            .field("protocol", &self.protocol)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .field("overrides", &self.overrides)
            .field("price", &self.price)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// Prices `record` (served by this deployment) with `book`, this deployment's `model_info`
    /// prices winning over the table's ([`ledger::prices::PriceBook::price`]).
    pub fn price_record(&self, book: &ledger::prices::PriceBook, record: &mut ledger::UsageRecord) {
        book.price(record, self.price.as_deref());
    }
}

/// The provider of `params.model` and the model id after its prefix (the mock when
/// `mock_response` is set). LiteLLM's `custom_llm_provider` names the provider when given, and
/// the model is then taken as written (without that provider's prefix). The error says what to
/// change.
fn provider_of(
    params: &crate::model::LitellmParams,
) -> Result<(&'static ProviderInfo, String), String> {
    if params.model.trim().is_empty() {
        return Err("litellm_params.model is empty; write it as <provider>/<model id>".into());
    }
    if params.mock_response.is_some() {
        return Ok((&MOCK, params.model.clone()));
    }
    let unknown = |prefix: &str| {
        format!(
            "unknown provider '{prefix}' in litellm_params.model '{}'; known providers: {}; \
             or set litellm_params.api_base to use it as an OpenAI-compatible endpoint",
            params.model,
            provider_names().join(", ")
        )
    };
    if let Some(custom) = params
        .other
        .get("custom_llm_provider")
        .and_then(|v| v.as_str())
    {
        let model = params
            .model
            .strip_prefix(custom)
            .and_then(|m| m.strip_prefix('/'))
            .unwrap_or(&params.model)
            .to_owned();
        return match provider(custom) {
            Some(p) => Ok((p, model)),
            None if params.api_base.is_some() => Ok((&OPENAI, model)),
            None => Err(unknown(custom)),
        };
    }
    Ok(match params.model.split_once('/') {
        Some((prefix, rest)) => match provider(prefix) {
            Some(p) => (p, rest.to_owned()),
            // An unknown prefix with an explicit endpoint is an OpenAI-compatible server.
            None if params.api_base.is_some() => (&OPENAI, rest.to_owned()),
            None => return Err(unknown(prefix)),
        },
        None if params.model.starts_with("claude") => (&ANTHROPIC, params.model.clone()),
        None => (&OPENAI, params.model.clone()),
    })
}

/// Which upstream endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Generate,
    CountTokens,
}

/// Every known provider's key variable, for `secrets` templates and `env` hints.
pub fn key_variables() -> Vec<&'static str> {
    PROVIDERS.iter().filter_map(|p| p.key_env).collect()
}

#[cfg(test)]
#[path = "deployment_tests.rs"]
mod tests;
