//! The `azure` and `azure_ai` providers: Azure OpenAI and Azure AI Foundry's OpenAI-compatible
//! endpoints, in LiteLLM's parameters.
//!
//! `azure/<deployment>` (<https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference>):
//! - `api_base` is the resource, `https://<resource>.openai.azure.com` (or its
//!   `cognitiveservices.azure.com` name), from the definition or AZURE_API_BASE.
//! - Chat Completions go to `/openai/deployments/<deployment>/chat/completions?api-version=<v>`;
//!   the Responses API (`api_mode: responses`) to `/openai/responses?api-version=<v>`.
//!   `api_version` (litellm_params, else AZURE_API_VERSION) defaults as in LiteLLM:
//!   [`DEFAULT_API_VERSION`] for Chat, [`DEFAULT_RESPONSES_API_VERSION`] for Responses. `v1`,
//!   `latest` and `preview` select the v1 API (`/openai/v1/chat/completions`,
//!   `/openai/v1/responses`, the deployment in the body's `model`), as an `api_base` ending in
//!   `/openai/v1` does; `latest` and `preview` are also sent as the `api-version`.
//! - The key (`api_key`, AZURE_OPENAI_API_KEY or AZURE_API_KEY) travels in the `api-key`
//!   header. Without one, a Microsoft Entra ID token (`azure_ad_token`, which may be
//!   `os.environ/NAME`; else AZURE_AD_TOKEN) is sent as a bearer token, read at each request so
//!   a refreshed token is used without a restart. LiteLLM's client-credential and OIDC logins
//!   are refused with what to use instead.
//! - A dated `api_version` before 2024-09-01 takes `max_tokens`, later ones
//!   `max_completion_tokens` (which reasoning models require).
//!
//! `azure_ai/<model>` (<https://docs.litellm.ai/docs/providers/azure_ai>): a Foundry resource
//! (`https://<resource>.services.ai.azure.com`, from the definition or AZURE_AI_API_BASE) is
//! called at `/models/chat/completions?api-version=2024-05-01-preview` (the model inference
//! API's version, unless `api_version` says otherwise); any other base (`…/openai/v1`, a
//! serverless `*.models.ai.azure.com` endpoint) gets `/chat/completions` or `/responses`. The
//! key (`api_key` or AZURE_AI_API_KEY) goes in `api-key` on Azure's own hosts, as a bearer token
//! elsewhere, as LiteLLM does.

use super::deployment::{ApiKey, Deployment};
use super::params::{Params, resolve};
use super::table::{OPENAI_LIKE, ProviderInfo};
use crate::model::SecretString;
use crate::secrets::SecretSource;
use crate::transport::http::{Auth, Credential, HttpTransport, checked_url};
use crate::transport::{Transport, TransportKind};
use crate::upstream::Upstream;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use protocol::target::MaxTokensField;

/// LiteLLM's `AZURE_DEFAULT_API_VERSION` (litellm/__init__.py), the Chat default.
pub const DEFAULT_API_VERSION: &str = "2025-02-01-preview";
/// LiteLLM's `AZURE_DEFAULT_RESPONSES_API_VERSION` (litellm/constants.py): the v1 preview.
pub const DEFAULT_RESPONSES_API_VERSION: &str = "preview";
/// The Azure AI model inference API's version (`/models/chat/completions`).
pub const FOUNDRY_MODELS_API_VERSION: &str = "2024-05-01-preview";
/// The first dated version that takes `max_completion_tokens`.
const MAX_COMPLETION_TOKENS_SINCE: &str = "2024-09-01";

/// The `azure` row.
pub const AZURE_ROW: ProviderInfo = ProviderInfo {
    name: "azure",
    transport: &AZURE,
    api_base: None,
    base_env: Some("AZURE_API_BASE"),
    // In the order LiteLLM's completion() reads them.
    key_env: Some("AZURE_OPENAI_API_KEY"),
    key_env_also: &["AZURE_API_KEY"],
    // Azure's Responses API has no compaction (LiteLLM's AzureOpenAIResponsesAPIConfig).
    rejects: &["context_management"],
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    docs: "https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference",
    ..OPENAI_LIKE
};

/// The `azure_ai` row.
pub const AZURE_AI_ROW: ProviderInfo = ProviderInfo {
    name: "azure_ai",
    transport: &AZURE_AI,
    api_base: None,
    base_env: Some("AZURE_AI_API_BASE"),
    key_env: Some("AZURE_AI_API_KEY"),
    rejects: &["metadata", "service_tier", "store"],
    max_tokens_field: MaxTokensField::MaxTokens,
    docs: "https://docs.litellm.ai/docs/providers/azure_ai",
    ..OPENAI_LIKE
};

/// The table row's value for `azure`.
pub static AZURE: AzureKind = AzureKind { foundry: false };
/// The table row's value for `azure_ai`.
pub static AZURE_AI: AzureKind = AzureKind { foundry: true };

/// [`TransportKind`] of Azure OpenAI (`foundry: false`) and Azure AI Foundry.
#[derive(Debug)]
pub struct AzureKind {
    foundry: bool,
}

impl AzureKind {
    /// `api_version` from the definition, else (Azure OpenAI) AZURE_API_VERSION.
    fn api_version(&self, p: &Params<'_>) -> Result<Option<String>, String> {
        let given = p.get("api_version")?;
        Ok(match given {
            None if !self.foundry => resolve("os.environ/AZURE_API_VERSION", p.secrets),
            v => v,
        })
    }
}

impl TransportKind for AzureKind {
    fn api_base_example(&self) -> &'static str {
        if self.foundry {
            "https://<resource>.services.ai.azure.com"
        } else {
            "https://<resource>.openai.azure.com"
        }
    }

    fn max_tokens_field(&self, row: MaxTokensField, p: &Params<'_>) -> MaxTokensField {
        match self.api_version(p) {
            Ok(Some(v)) if is_dated(&v) && v.as_str() < MAX_COMPLETION_TOKENS_SINCE => {
                MaxTokensField::MaxTokens
            }
            _ => row,
        }
    }

    fn build(
        &self,
        d: &Deployment,
        secrets: &dyn SecretSource,
    ) -> Result<Box<dyn Transport>, String> {
        let p = Params {
            params: &d.definition.litellm_params,
            secrets,
        };
        let protocol = d.protocol();
        if !matches!(protocol, Protocol::OpenAiChat | Protocol::OpenAiResponses) {
            return Err(format!(
                "{} speaks Chat Completions or Responses (api_mode: chat or responses), not {protocol}; \
                 for Claude on Foundry use anthropic/<model> with api_base \
                 https://<resource>.services.ai.azure.com/anthropic",
                d.provider.name
            ));
        }
        let version = self.api_version(&p)?;
        let (url, key_header) = if self.foundry {
            let url = foundry_url(&d.api_base, protocol, version.as_deref());
            (url, azure_host(&d.api_base))
        } else {
            let url = azure_url(&d.api_base, &d.upstream_model, protocol, version.as_deref());
            (url, true)
        };
        let token = token_source(&p, !self.foundry)?;
        if token.is_none() && !matches!(d.key, ApiKey::Value(_)) {
            refuse_logins(&p)?;
        }
        let url = checked_url(&url)?;
        let credential = AzureCredential {
            key_header: key_header.then(|| HeaderName::from_static("api-key")),
            token,
        };
        Ok(Box::new(HttpTransport::new(
            protocol,
            &d.api_base,
            [url.clone(), url],
            Auth::Custom(Box::new(credential)),
        )))
    }
}

/// Whether `v` starts with a `YYYY-MM-DD` date.
fn is_dated(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..10]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Whether `version` selects Azure's v1 API.
fn is_v1(version: &str) -> bool {
    matches!(version, "v1" | "latest" | "preview")
}

/// `base` split into the part before an `/openai…` path and that path (`""` when none).
fn split_openai(base: &str) -> (&str, &str) {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find("/openai") {
        Some(i) => base.split_at(after_scheme + i),
        None => (base, ""),
    }
}

/// `segment` percent-encoded for a URL path (deployment names are usually already safe).
fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Azure OpenAI URL for `deployment` in `protocol` under `base` (no trailing `/`).
pub fn azure_url(
    base: &str,
    deployment: &str,
    protocol: Protocol,
    version: Option<&str>,
) -> String {
    let (root, path) = split_openai(base);
    let v1 = version.map_or(path.starts_with("/openai/v1"), is_v1);
    let with_version = |url: String, v: &str| format!("{url}?api-version={v}");
    let v1_query = |url: String| match version {
        Some(v @ ("latest" | "preview")) => with_version(url, v),
        _ => url,
    };
    if protocol == Protocol::OpenAiResponses {
        return match version {
            Some(v) if !v1 => with_version(format!("{root}/openai/responses"), v),
            None if !v1 => with_version(
                format!("{root}/openai/v1/responses"),
                DEFAULT_RESPONSES_API_VERSION,
            ),
            _ => v1_query(format!("{root}/openai/v1/responses")),
        };
    }
    if path.starts_with("/openai/deployments/") {
        // A deployment's own URL, as the OpenAI SDK takes it.
        let url = match base.ends_with("/chat/completions") {
            true => base.to_owned(),
            false => format!("{base}/chat/completions"),
        };
        return with_version(url, version.unwrap_or(DEFAULT_API_VERSION));
    }
    if v1 {
        return v1_query(format!("{root}/openai/v1/chat/completions"));
    }
    with_version(
        format!(
            "{root}/openai/deployments/{}/chat/completions",
            path_segment(deployment)
        ),
        version.unwrap_or(DEFAULT_API_VERSION),
    )
}

/// The host of `base`, lowercased.
fn host(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether `base` is on one of Azure's own AI hosts, which take the key in `api-key`.
fn azure_host(base: &str) -> bool {
    let h = host(base);
    [
        ".services.ai.azure.com",
        ".openai.azure.com",
        ".cognitiveservices.azure.com",
    ]
    .iter()
    .any(|suffix| h.ends_with(suffix))
}

/// The Azure AI Foundry URL for `protocol` under `base`.
pub fn foundry_url(base: &str, protocol: Protocol, version: Option<&str>) -> String {
    let query = |url: String, v: Option<&str>| match v {
        Some(v) => format!("{url}?api-version={v}"),
        None => url,
    };
    if protocol == Protocol::OpenAiResponses {
        return query(format!("{base}/responses"), version);
    }
    if base.ends_with("/chat/completions") {
        return query(base.to_owned(), version);
    }
    let (root, path) = split_openai(base);
    let models_api = host(base).ends_with(".services.ai.azure.com")
        && path.is_empty()
        && (root == base || base.ends_with("/models"));
    if models_api {
        let root = base.strip_suffix("/models").unwrap_or(base);
        return query(
            format!("{root}/models/chat/completions"),
            Some(version.unwrap_or(FOUNDRY_MODELS_API_VERSION)),
        );
    }
    query(format!("{base}/chat/completions"), version)
}

/// An Entra ID token as configured: a value, or a variable read at each request.
enum Token {
    Value(SecretString),
    Var(String),
}

/// `azure_ad_token`, else (Azure OpenAI) the AZURE_AD_TOKEN variable.
fn token_source(p: &Params<'_>, env_default: bool) -> Result<Option<Token>, String> {
    match p.raw("azure_ad_token")? {
        Some(t) if t.starts_with("oidc/") => Err(
            "litellm_params.azure_ad_token: LiteLLM's oidc/ token exchange is not supported; \
             give the Entra ID access token itself (azure_ad_token: os.environ/AZURE_AD_TOKEN, \
             from `az account get-access-token --resource https://cognitiveservices.azure.com`)"
                .into(),
        ),
        Some(t) => Ok(Some(match t.strip_prefix("os.environ/") {
            Some(var) => Token::Var(var.trim().to_owned()),
            None => Token::Value(SecretString::new(t).ok_or("azure_ad_token is blank")?),
        })),
        None if env_default => Ok(Some(Token::Var("AZURE_AD_TOKEN".into()))),
        None => Ok(None),
    }
}

/// Refuses LiteLLM's Entra ID logins that agent-shim does not perform, when nothing else
/// authenticates the deployment.
fn refuse_logins(p: &Params<'_>) -> Result<(), String> {
    let has = |k: &str| p.params.other.get(k).is_some_and(|v| !v.is_null());
    if has("tenant_id") || has("client_secret") || has("azure_username") {
        return Err(
            "Entra ID client-credential and password logins (tenant_id, client_id, client_secret, \
             azure_username) are not supported; give an API key (api_key) or an Entra ID access \
             token (azure_ad_token: os.environ/AZURE_AD_TOKEN, from `az account get-access-token \
             --resource https://cognitiveservices.azure.com`)"
                .into(),
        );
    }
    Ok(())
}

/// Azure's authentication: the key in `api-key` (or as a bearer token off Azure's hosts), else
/// the Entra ID token as a bearer token.
struct AzureCredential {
    /// `api-key` on Azure's hosts; `None`: the key is a bearer token.
    key_header: Option<HeaderName>,
    token: Option<Token>,
}

impl AzureCredential {
    async fn resolve(
        &self,
        up: &Upstream,
        d: &Deployment,
    ) -> Result<(HeaderName, String), ApiError> {
        let key = match &d.key {
            ApiKey::Value(k) => Some(k.clone()),
            ApiKey::Missing { var } => up.secret(var).await,
            ApiKey::CommandFailed { .. } => up.key(d).await?,
            ApiKey::None => None,
        };
        if let Some(k) = key {
            return Ok(match &self.key_header {
                Some(h) => (h.clone(), k.expose().to_owned()),
                None => (
                    http::header::AUTHORIZATION,
                    format!("Bearer {}", k.expose()),
                ),
            });
        }
        let token = match &self.token {
            Some(Token::Value(t)) => Some(t.clone()),
            Some(Token::Var(var)) => up.secret(var).await,
            None => None,
        };
        match token {
            Some(t) => Ok((
                http::header::AUTHORIZATION,
                format!("Bearer {}", t.expose()),
            )),
            None => Err(ApiError::new(ErrorKind::Authentication, self.missing(d))),
        }
    }

    /// What to say when neither a key nor a token is there.
    fn missing(&self, d: &Deployment) -> String {
        let var = d.key_var.as_deref().unwrap_or("api_key");
        let base = crate::secrets::missing_key_message(d.model_name(), d.provider.name, var);
        match &self.token {
            Some(Token::Var(t)) => format!(
                "{base}; or give a Microsoft Entra ID access token in {t} (`az account \
                 get-access-token --resource https://cognitiveservices.azure.com`), sent as a \
                 bearer token"
            ),
            _ => base,
        }
    }
}

impl Credential for AzureCredential {
    fn header<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
    ) -> BoxFuture<'a, Result<(HeaderName, HeaderValue), ApiError>> {
        Box::pin(async move {
            let (name, value) = self.resolve(up, d).await?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                ApiError::new(
                    ErrorKind::Authentication,
                    format!(
                        "the credential for model '{}' (provider {}) is not a valid header value; \
                         check its key or azure_ad_token",
                        d.model_name(),
                        d.provider.name
                    ),
                )
            })?;
            value.set_sensitive(true);
            Ok((name, value))
        })
    }

    fn secret_values(&self) -> Vec<&str> {
        match &self.token {
            Some(Token::Value(t)) => vec![t.expose()],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "azure_tests.rs"]
mod tests;
