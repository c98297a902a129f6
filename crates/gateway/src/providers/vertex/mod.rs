//! The `vertex_ai` provider: Google Vertex AI, in LiteLLM's parameters.
//!
//! - `vertex_ai/claude-…` (Anthropic's "Claude on Vertex AI",
//!   <https://docs.anthropic.com/en/api/claude-on-vertex-ai>): the Messages body, without
//!   `model` (it is in the URL) and with `anthropic_version: "vertex-2023-10-16"`, POSTed to
//!   `…/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`,
//!   or `:streamRawPredict` for a stream (which answers Anthropic SSE); token counting to
//!   `…/publishers/anthropic/models/count-tokens:rawPredict` (the body keeps `model`). The
//!   client's `anthropic-beta` header goes on, less the values Vertex refused: a 400 that names
//!   them ("Unexpected value(s) `…` for the `anthropic-beta` header", which Claude Code's betas
//!   for Anthropic's own API get) is learned per deployment and the request sent again once.
//! - Any other model (`vertex_ai/gemini-…`): Vertex's OpenAI-compatible Chat Completions
//!   endpoint (`…/v1/projects/{project}/locations/{location}/endpoints/openapi/chat/completions`,
//!   Google's "Using OpenAI libraries with Vertex AI"), with the model as `google/<id>` (an id with
//!   a `/`, such as `meta/llama-…-maas`, is sent as it is).
//! - The host is `https://{location}-aiplatform.googleapis.com`, or
//!   `https://aiplatform.googleapis.com` for the `global` location. An `api_base` replaces the
//!   host; one that already holds the resource path (`…/projects/…`) is used as LiteLLM does:
//!   `{api_base}:rawPredict`, `{api_base}/chat/completions`.
//! - `vertex_project` (or `vertex_ai_project`, VERTEXAI_PROJECT, the credentials' project,
//!   GOOGLE_CLOUD_PROJECT), `vertex_location` (or `vertex_ai_location`, VERTEXAI_LOCATION; default
//!   `us-central1` as in LiteLLM) and `vertex_credentials` ([`auth`]); each may be
//!   `os.environ/NAME`. Requests carry `Authorization: Bearer <token>` from [`auth`].

pub mod auth;

use super::deployment::{Deployment, Endpoint};
use super::params::{Params, resolve};
use super::table::{OPENAI_LIKE, ProviderInfo};
use crate::answer;
use crate::secrets::SecretSource;
use crate::transport::http::{body_stream, checked_url};
use crate::transport::{Answer, Outgoing, Transport, TransportKind};
use crate::upstream::{Upstream, UpstreamError, status_error};
use auth::{Credentials, TokenSource};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use protocol::passthrough::Fields;
use protocol::target::SchemaDialect;
use std::sync::{Arc, PoisonError, RwLock};

/// `anthropic_version` Claude on Vertex requires in the body.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// LiteLLM's default `vertex_location`.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The `vertex_ai` row.
pub const VERTEX_ROW: ProviderInfo = ProviderInfo {
    name: "vertex_ai",
    // Claude's; the transport picks Chat Completions for other model ids.
    protocol: Protocol::Anthropic,
    transport: &VERTEX,
    // The host follows vertex_location.
    api_base: None,
    // OAuth tokens from Google credentials, not a key.
    key_env: None,
    key_required: false,
    // Not in the OpenAI-compatible endpoint's supported parameters (and no Messages parameter).
    rejects: &["logit_bias", "parallel_tool_calls"],
    // A Messages parameter Claude on Vertex takes.
    accepts: &["top_k"],
    // Gemini's tool-schema subset on the OpenAI-compatible endpoint.
    schema: SchemaDialect::Gemini,
    docs: "https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude",
    ..OPENAI_LIKE
};

/// The table row's value for `vertex_ai`.
pub static VERTEX: VertexKind = VertexKind;

/// [`TransportKind`] of Vertex AI deployments.
#[derive(Debug)]
pub struct VertexKind;

impl TransportKind for VertexKind {
    fn route(&self, _: Protocol, model: &str) -> (Protocol, String) {
        if model.starts_with("claude") {
            (Protocol::Anthropic, model.to_owned())
        } else if model.contains('/') {
            (Protocol::OpenAiChat, model.to_owned())
        } else {
            (Protocol::OpenAiChat, format!("google/{model}"))
        }
    }

    fn api_mode_applies(&self) -> bool {
        false
    }

    fn needs_api_base(&self) -> bool {
        false
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
        let location = first(
            &p,
            &["vertex_location", "vertex_ai_location"],
            "VERTEXAI_LOCATION",
        )?
        .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
        check_segment("vertex_location", &location, "us-east5")?;
        let creds = Credentials::find(&p)?;
        let project = match first(
            &p,
            &["vertex_project", "vertex_ai_project"],
            "VERTEXAI_PROJECT",
        )? {
            Some(project) => project,
            None => creds
                .project_id
                .clone()
                .or_else(|| resolve("os.environ/GOOGLE_CLOUD_PROJECT", secrets))
                .ok_or_else(|| {
                    format!(
                        "no Google Cloud project: set litellm_params.vertex_project (or \
                         VERTEXAI_PROJECT) to the project that has Vertex AI enabled; the \
                         credentials from {} name none",
                        creds.origin
                    )
                })?,
        };
        check_segment("vertex_project", &project, "my-project-123")?;
        let urls = Urls::new(d, &project, &location)?;
        Ok(Box::new(VertexTransport {
            protocol: d.protocol(),
            urls,
            tokens: TokenSource::shared(creds),
            refused_betas: RwLock::new(Vec::new()),
        }))
    }
}

/// The first of `keys` set in `litellm_params`, else the variable `var`.
fn first(p: &Params<'_>, keys: &[&str], var: &str) -> Result<Option<String>, String> {
    for k in keys {
        if let Some(v) = p.get(k)? {
            return Ok(Some(v.trim().to_owned()));
        }
    }
    Ok(resolve(&format!("os.environ/{var}"), p.secrets).map(|v| v.trim().to_owned()))
}

/// Refuses a project or location that cannot be one URL path segment.
fn check_segment(key: &str, value: &str, example: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "litellm_params.{key} '{value}' is not a Google Cloud {}; write it like {example}",
            key.trim_start_matches("vertex_")
        ))
    }
}

/// The host of `location`'s Vertex AI endpoint.
pub fn host(location: &str) -> String {
    match location {
        "global" => "https://aiplatform.googleapis.com".to_owned(),
        l => format!("https://{l}-aiplatform.googleapis.com"),
    }
}

/// A deployment's endpoints.
struct Urls {
    generate: reqwest::Url,
    stream: reqwest::Url,
    count: reqwest::Url,
}

impl Urls {
    fn new(d: &Deployment, project: &str, location: &str) -> Result<Urls, String> {
        let root = if d.api_base.is_empty() {
            host(location)
        } else {
            d.api_base.clone()
        };
        // An api_base with the resource path in it is used as it is (LiteLLM's custom proxy).
        let resource = root.contains("/projects/");
        let prefix = format!("{root}/v1/projects/{project}/locations/{location}");
        let (generate, stream, count) = match d.protocol() {
            Protocol::Anthropic if resource => {
                let base = root
                    .rsplit_once("/publishers/")
                    .map_or(root.as_str(), |(b, _)| b);
                (
                    format!("{root}:rawPredict"),
                    format!("{root}:streamRawPredict"),
                    format!("{base}/publishers/anthropic/models/count-tokens:rawPredict"),
                )
            }
            Protocol::Anthropic => {
                let models = format!("{prefix}/publishers/anthropic/models");
                let model = &d.upstream_model;
                (
                    format!("{models}/{model}:rawPredict"),
                    format!("{models}/{model}:streamRawPredict"),
                    format!("{models}/count-tokens:rawPredict"),
                )
            }
            _ => {
                let url = if root.ends_with("/chat/completions") {
                    root.clone()
                } else if resource {
                    format!("{root}/chat/completions")
                } else {
                    format!("{prefix}/endpoints/openapi/chat/completions")
                };
                (url.clone(), url.clone(), url)
            }
        };
        Ok(Urls {
            generate: checked_url(&generate)?,
            stream: checked_url(&stream)?,
            count: checked_url(&count)?,
        })
    }
}

/// A Vertex AI deployment's way to its model.
pub struct VertexTransport {
    protocol: Protocol,
    urls: Urls,
    tokens: Arc<TokenSource>,
    /// `anthropic-beta` values Vertex refused for this deployment: no longer sent.
    refused_betas: RwLock<Vec<String>>,
}

impl VertexTransport {
    fn url(&self, e: Endpoint, stream: bool) -> &reqwest::Url {
        match (e, stream) {
            (Endpoint::CountTokens, _) => &self.urls.count,
            (Endpoint::Generate, false) => &self.urls.generate,
            (Endpoint::Generate, true) => &self.urls.stream,
        }
    }

    /// The Messages body as Vertex takes it: `anthropic_version` in it, and no `model` (except
    /// for token counting, whose URL names no model).
    fn anthropic_body(body: Vec<u8>, endpoint: Endpoint) -> Vec<u8> {
        let Ok(mut f) = Fields::parse(&body) else {
            return body;
        };
        if endpoint == Endpoint::Generate {
            f.remove("model");
        }
        if f.get("anthropic_version").is_none() {
            f.set("anthropic_version", &ANTHROPIC_VERSION.into());
        }
        f.to_vec()
    }

    /// The client's `anthropic-beta` values less those Vertex refused, as one header value.
    fn betas(&self, client: &HeaderMap) -> Option<HeaderValue> {
        let refused = self
            .refused_betas
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let kept: Vec<&str> = client
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|b| !b.is_empty() && !refused.iter().any(|r| r == b))
            .collect();
        if kept.is_empty() {
            return None;
        }
        HeaderValue::from_str(&kept.join(",")).ok()
    }

    /// Learns the betas Vertex named in a 400; whether there were any new ones.
    fn refuse_betas(&self, d: &Deployment, body: &[u8]) -> bool {
        let named = unexpected_betas(body);
        let mut refused = self
            .refused_betas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut learned = false;
        for b in named {
            if !refused.contains(&b) {
                tracing::warn!(
                    model = d.model_name(),
                    beta = %b,
                    "Vertex AI does not take this anthropic-beta value; it is no longer sent"
                );
                refused.push(b);
                learned = true;
            }
        }
        learned
    }

    async fn post(
        &self,
        up: &Upstream,
        d: &Deployment,
        out: Outgoing<'_>,
    ) -> Result<Answer, UpstreamError> {
        let token = self.tokens.token().await.map_err(|e| {
            let failed = UpstreamError::fatal(self.tokens.error(d.model_name(), &e));
            // A token endpoint that could not be reached may answer the next attempt.
            UpstreamError {
                retryable: !e.refused,
                ..failed
            }
        })?;
        let url = self.url(out.endpoint, out.stream);
        let shown = crate::redact::url(url.as_str()).into_owned();
        let body = bytes::Bytes::from(match self.protocol {
            Protocol::Anthropic => Self::anthropic_body(out.body, out.endpoint),
            _ => out.body,
        });
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                UpstreamError::fatal(ApiError::new(
                    ErrorKind::Permission,
                    format!(
                        "the Google access token for model '{}' is not a valid header value",
                        d.model_name()
                    ),
                ))
            })?;
        bearer.set_sensitive(true);
        // A second attempt only without the anthropic-beta values Vertex named in a 400
        // ("Unexpected value(s) `…` for the `anthropic-beta` header"): Claude Code sends betas
        // of Anthropic's own API that Vertex does not know.
        let mut attempt = 0;
        let (status, resp) = loop {
            attempt += 1;
            let mut req = up
                .client()?
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, answer::expected(out.stream))
                .header(header::ACCEPT_ENCODING, "identity")
                .header(header::AUTHORIZATION, bearer.clone());
            // anthropic-version travels in the body on Vertex; betas in their header.
            let betas = match self.protocol {
                Protocol::Anthropic => self.betas(out.client_headers),
                _ => None,
            };
            if let Some(b) = &betas {
                req = req.header("anthropic-beta", b.clone());
            }
            for (k, v) in &d.extra_headers {
                req = req.header(k, v);
            }
            let resp =
                crate::transport::http::send_timed(d, up, req.body(body.clone()), &shown).await?;
            let status = resp.status();
            if status.is_success() {
                let headers = resp.headers().clone();
                let body =
                    answer::check(d, &shown, out.stream, &headers, body_stream(resp)).await?;
                return Ok(Answer::new(headers, body));
            }
            let (headers, bytes) = crate::transport::http::error_body(d, up, resp).await;
            let learned = status.as_u16() == 400 && betas.is_some() && self.refuse_betas(d, &bytes);
            if !(learned && attempt == 1) {
                break (status.as_u16(), (headers, bytes));
            }
        };
        let (headers, bytes) = resp;
        let retry_after = headers.get(header::RETRY_AFTER).cloned();
        let mut e = status_error(d, status, &bytes);
        let mut failed = if status == 401 {
            // Google refused the token (revoked, or the clock is off): fetch another and let
            // the request be tried again; the client's own key is not at fault.
            self.tokens.forget();
            e.kind = ErrorKind::Permission;
            e.status = e.kind.status();
            e.message = format!(
                "{}; the Google access token from {} was refused",
                e.message,
                self.tokens.credentials().origin
            );
            let mut f = UpstreamError::fatal(e);
            f.retryable = true;
            f
        } else {
            UpstreamError::from_status(e, status, retry_after.clone())
        };
        failed.retry_after = retry_after;
        failed.pass_headers(&headers);
        failed.content_policy = crate::upstream::is_content_policy(&bytes);
        Err(failed)
    }
}

/// The values Vertex names in "Unexpected value(s) `a`, `b` for the `anthropic-beta` header".
fn unexpected_betas(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let Some(start) = text.find("Unexpected value(s)") else {
        return Vec::new();
    };
    let rest = &text[start..];
    let Some(end) = rest.find("for the `anthropic-beta` header") else {
        return Vec::new();
    };
    rest[..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

impl Transport for VertexTransport {
    fn send<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        Box::pin(self.post(up, d, out))
    }

    fn shown_url(&self, e: Endpoint, stream: bool) -> String {
        crate::redact::url(self.url(e, stream).as_str()).into_owned()
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
