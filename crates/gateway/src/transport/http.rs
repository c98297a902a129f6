//! The HTTP transport: JSON request bodies POSTed to the protocol's endpoint under `api_base`,
//! answers as JSON or SSE. Authentication follows the protocol (Anthropic's `x-api-key` and
//! `anthropic-version`, a bearer token otherwise). Endpoint URLs are built and parsed once, at
//! registration (parsing a URL on every request was 2% of the gateway's CPU). A provider module
//! with its own URLs or authentication (Azure) builds an [`HttpTransport`] with them and an
//! [`Auth::Custom`] credential.

use super::{Answer, BodyError, BodyStream, Outgoing, Transport, TransportKind};
use crate::answer;
use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::upstream::{Upstream, UpstreamError, status_error, transport_error};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{HeaderMap, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};

/// Headers a client sent that go on to an Anthropic upstream (Claude Code's gateway docs: forward
/// `anthropic-beta` and `anthropic-version` verbatim).
pub const FORWARDED_ANTHROPIC_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta"];

/// The table rows' value for providers reached over plain HTTP.
pub static HTTP: HttpKind = HttpKind;

#[derive(Debug)]
/// [`TransportKind`] of the HTTP providers.
pub struct HttpKind;

impl TransportKind for HttpKind {
    fn build(&self, d: &Deployment, _: &dyn SecretSource) -> Result<Box<dyn Transport>, String> {
        build_at(d, &d.api_base)
    }
}

/// The HTTP transport of `d` at `base` (its `api_base`, or one a provider module derived), with
/// the protocol's own authentication.
pub fn build_at(d: &Deployment, base: &str) -> Result<Box<dyn Transport>, String> {
    let url = |e: Endpoint| checked_url(&endpoint(d.protocol(), base, e));
    Ok(Box::new(HttpTransport::new(
        d.protocol(),
        base,
        [url(Endpoint::Generate)?, url(Endpoint::CountTokens)?],
        Auth::Protocol,
    )))
}

/// `text` parsed as an upstream URL. Errors say what is wrong with `litellm_params.api_base`,
/// credentials redacted.
pub fn checked_url(text: &str) -> Result<reqwest::Url, String> {
    let shown = crate::redact::url(text);
    let bad = |why: String| {
        format!(
            "litellm_params.api_base gives the upstream URL '{shown}', {why}; \
             write it in full, e.g. http://localhost:8000/v1"
        )
    };
    let url =
        reqwest::Url::parse(text).map_err(|why| bad(format!("which is not a URL ({why})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad(
            "which is not an http:// or https:// URL with a host".into()
        ));
    }
    Ok(url)
}

/// How a request proves who sends it.
pub enum Auth {
    /// The protocol's rule: Anthropic's `x-api-key` and `anthropic-version`, a bearer token
    /// otherwise.
    Protocol,
    /// A provider's own rule (Azure's `api-key` header or Entra ID token).
    Custom(Box<dyn Credential>),
}

/// A provider's own authentication header.
pub trait Credential: Send + Sync {
    /// The header to send for `d`, or an error that names the model, the variables to set and
    /// the fix (never a secret).
    fn header<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
    ) -> BoxFuture<'a, Result<(header::HeaderName, header::HeaderValue), ApiError>>;
    /// Secret values this credential holds itself (a literal token), for
    /// [`crate::redact::known`] to remove from what an upstream answers.
    fn secret_values(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// A deployment's HTTP endpoints.
pub struct HttpTransport {
    protocol: Protocol,
    api_base: String,
    /// [`Endpoint::Generate`] and [`Endpoint::CountTokens`].
    urls: [reqwest::Url; 2],
    auth: Auth,
}

impl HttpTransport {
    /// A transport POSTing `protocol` bodies to `urls` ([`Endpoint::Generate`],
    /// [`Endpoint::CountTokens`]); `api_base` is what `agent-shim with --direct` offers agents.
    pub fn new(protocol: Protocol, api_base: &str, urls: [reqwest::Url; 2], auth: Auth) -> Self {
        HttpTransport {
            protocol,
            api_base: api_base.to_owned(),
            urls,
            auth,
        }
    }

    fn url(&self, e: Endpoint) -> &reqwest::Url {
        &self.urls[match e {
            Endpoint::Generate => 0,
            Endpoint::CountTokens => 1,
        }]
    }
}

/// The endpoint URL for `protocol` under `base`: `…/chat/completions`, `…/responses` or
/// `…/v1/messages`, following LiteLLM's rule that OpenAI bases include `/v1` and Anthropic bases
/// do not.
pub fn endpoint(protocol: Protocol, base: &str, path: Endpoint) -> String {
    match (protocol, path) {
        (Protocol::Anthropic, Endpoint::Generate) => anthropic_url(base, "/v1/messages"),
        (Protocol::Anthropic, Endpoint::CountTokens) => {
            anthropic_url(base, "/v1/messages/count_tokens")
        }
        (Protocol::OpenAiResponses, _) if base.ends_with("/responses") => base.to_owned(),
        (Protocol::OpenAiResponses, _) => format!("{base}/responses"),
        _ if base.ends_with("/chat/completions") => base.to_owned(),
        _ => format!("{base}/chat/completions"),
    }
}

fn anthropic_url(base: &str, path: &str) -> String {
    if let Some(root) = base.strip_suffix("/v1/messages") {
        return format!("{root}{path}");
    }
    match base.strip_suffix("/v1") {
        Some(root) => format!("{root}{path}"),
        None => format!("{base}{path}"),
    }
}

impl Transport for HttpTransport {
    fn send<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        Box::pin(self.post(up, d, out))
    }

    fn shown_url(&self, e: Endpoint, _: bool) -> String {
        crate::redact::url(self.url(e).as_str()).into_owned()
    }

    fn secret_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for u in &self.urls {
            out.extend(u.password());
            if u.password().is_none() && !u.username().is_empty() {
                out.push(u.username());
            }
        }
        if let Auth::Custom(c) = &self.auth {
            out.extend(c.secret_values());
        }
        out
    }

    fn direct_base(&self) -> Option<&str> {
        // A provider's own authentication is one an agent cannot be configured with.
        matches!(self.auth, Auth::Protocol).then_some(self.api_base.as_str())
    }
}

impl HttpTransport {
    async fn post(
        &self,
        up: &Upstream,
        d: &Deployment,
        out: Outgoing<'_>,
    ) -> Result<Answer, UpstreamError> {
        let url = self.url(out.endpoint);
        let mut req = up
            .client()?
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, answer::expected(out.stream))
            // Compressed answers are not asked for: a stream must not wait on a compressor's
            // buffer. A server that compresses anyway with gzip is decoded as it streams
            // (reqwest's `gzip`); any other encoding is refused in `answer::check`.
            .header(header::ACCEPT_ENCODING, "identity");
        if let Auth::Custom(c) = &self.auth {
            let (name, value) = c.header(up, d).await.map_err(UpstreamError::fatal)?;
            req = req.header(name, value);
        } else if self.protocol == Protocol::Anthropic {
            if let Some(k) = up.key(d).await.map_err(UpstreamError::fatal)? {
                req = req.header("x-api-key", k.expose());
            }
            for name in FORWARDED_ANTHROPIC_HEADERS {
                if let Some(v) = out.client_headers.get(*name) {
                    req = req.header(*name, v);
                }
            }
            if !out.client_headers.contains_key("anthropic-version") {
                req = req.header("anthropic-version", "2023-06-01");
            }
        } else if let Some(k) = up.key(d).await.map_err(UpstreamError::fatal)? {
            req = req.bearer_auth(k.expose());
        }
        for (k, v) in &d.extra_headers {
            req = req.header(k, v);
        }
        let shown = self.shown_url(out.endpoint, out.stream);
        let resp = send_timed(d, up, req.body(out.body), &shown).await?;
        let status = resp.status();
        if status.is_success() {
            let resp = answer::check(d, &shown, out.stream, resp).await?;
            let headers = resp.headers().clone();
            return Ok(Answer::new(headers, body_stream(resp)));
        }
        let (passed, body) = error_body(d, up, resp).await;
        let retry_after = passed.get(header::RETRY_AFTER).cloned();
        let mut e = UpstreamError::from_status(
            status_error(d, status.as_u16(), &body),
            status.as_u16(),
            retry_after,
        );
        e.pass_headers(&passed);
        e.content_policy = crate::upstream::is_content_policy(&body);
        Err(e)
    }
}

/// The setting that gave `d`'s first-byte timeout, as errors name it.
/// Sends `req` to `d`, waiting for the answer's headers at most the deployment's first-byte
/// timeout; errors are worded for the client (`shown`: the URL as it may be shown), naming the
/// setting that set the timeout. Every HTTP transport sends through this (Chat/Messages/
/// Responses, Bedrock, Vertex).
pub async fn send_timed(
    d: &Deployment,
    up: &Upstream,
    req: reqwest::RequestBuilder,
    shown: &str,
) -> Result<reqwest::Response, UpstreamError> {
    let first_byte = d.first_byte_timeout(&up.timeouts);
    match tokio::time::timeout(first_byte, req.send()).await {
        Err(_) => Err(UpstreamError::transient(ApiError::new(
            ErrorKind::Timeout,
            format!(
                "upstream {} ({shown}) did not answer within {} s ({})",
                d.provider.name,
                first_byte.as_secs_f64(),
                timeout_setting(d)
            ),
        ))),
        Ok(Err(e)) => Err(transport_error(d, shown, &e)),
        Ok(Ok(r)) => Ok(r),
    }
}

/// An error answer's headers and body; a body that stalls must not hold the request, so it is
/// read for the deployment's idle timeout at most (empty when it does not come).
pub async fn error_body(
    d: &Deployment,
    up: &Upstream,
    resp: reqwest::Response,
) -> (HeaderMap, Bytes) {
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(d.idle_timeout(&up.timeouts), resp.bytes())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    (headers, body)
}

pub fn timeout_setting(d: &Deployment) -> &'static str {
    if d.route.timeout.is_some() {
        "litellm_params.timeout"
    } else {
        "router_settings.timeout"
    }
}

/// A reqwest body as a [`BodyStream`], its errors worded by their deepest cause.
pub fn body_stream(resp: reqwest::Response) -> BodyStream {
    Box::pin(resp.bytes_stream().map(|r| {
        r.map_err(|e| BodyError {
            timeout: e.is_timeout(),
            cause: crate::upstream::deepest_cause(&e),
        })
    }))
}
