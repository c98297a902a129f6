//! The HTTP transport: JSON request bodies POSTed to the protocol's endpoint under `api_base`,
//! answers as JSON or SSE. Plain `http://` upstreams reached directly are sent by the gateway's
//! own HTTP/1.1 client ([`super::h1`]); `https://` ones, proxied ones and URLs with credentials by
//! reqwest ([`Upstream::client`]), which negotiates HTTP/2 where the upstream offers it.
//! Authentication follows the protocol (Anthropic's `x-api-key` and `anthropic-version`, a bearer
//! token otherwise). Endpoint URLs are built and parsed once, at registration (parsing a URL on
//! every request was 2% of the gateway's CPU). A provider module with its own URLs or
//! authentication (Azure) builds an [`HttpTransport`] with them and an [`Auth::Custom`]
//! credential.

use super::{Answer, BodyError, BodyStream, Outgoing, Transport, TransportKind, h1};
use crate::answer;
use crate::providers::deployment::{Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::upstream::{Upstream, UpstreamError, status_error, transport_error};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, header};
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
    /// Where the gateway's own HTTP/1.1 client sends each of `urls` (plain `http://` ones).
    targets: [Option<h1::Target>; 2],
    /// Each of `urls` as errors and logs show it, credentials redacted (worked out once).
    shown: [String; 2],
    auth: Auth,
}

impl HttpTransport {
    /// A transport POSTing `protocol` bodies to `urls` ([`Endpoint::Generate`],
    /// [`Endpoint::CountTokens`]); `api_base` is what `agent-shim with --direct` offers agents.
    pub fn new(protocol: Protocol, api_base: &str, urls: [reqwest::Url; 2], auth: Auth) -> Self {
        HttpTransport {
            protocol,
            api_base: api_base.to_owned(),
            targets: [h1::Target::for_url(&urls[0]), h1::Target::for_url(&urls[1])],
            shown: [
                crate::redact::url(urls[0].as_str()).into_owned(),
                crate::redact::url(urls[1].as_str()).into_owned(),
            ],
            urls,
            auth,
        }
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
        self.shown[endpoint_index(e)].clone()
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
        let i = endpoint_index(out.endpoint);
        let url = &self.urls[i];
        let mut h = HeaderMap::with_capacity(8);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(answer::expected(out.stream)),
        );
        // Compressed answers are not asked for: a stream must not wait on a compressor's
        // buffer. A server that compresses anyway with gzip is decoded as it streams (reqwest's
        // `gzip`, `h1::body`); any other encoding is refused in `answer::check`.
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Auth::Custom(c) = &self.auth {
            let (name, value) = c.header(up, d).await.map_err(UpstreamError::fatal)?;
            h.append(name, value);
        } else if self.protocol == Protocol::Anthropic {
            if let Some(k) = up.key(d).await.map_err(UpstreamError::fatal)? {
                h.append("x-api-key", secret_value(d, k.expose(), "")?);
            }
            for name in FORWARDED_ANTHROPIC_HEADERS {
                if let Some(v) = out.client_headers.get(*name) {
                    h.append(*name, v.clone());
                }
            }
            if !out.client_headers.contains_key("anthropic-version") {
                h.append("anthropic-version", HeaderValue::from_static("2023-06-01"));
            }
        } else if let Some(k) = up.key(d).await.map_err(UpstreamError::fatal)? {
            h.append(
                header::AUTHORIZATION,
                secret_value(d, k.expose(), "Bearer ")?,
            );
        }
        for (k, v) in &d.extra_headers {
            h.append(k, v.clone());
        }
        let shown = &self.shown[i];
        let (status, headers, body) = match &self.targets[i] {
            Some(t) if !up.proxied(t.url()) => {
                let sent = h1::send(
                    &up.pools,
                    t,
                    up.timeouts.connect,
                    h1::Outbound {
                        headers: h,
                        body: Bytes::from(out.body),
                    },
                );
                let (parts, body) = timed(d, up, shown, sent).await?;
                (parts.status, parts.headers, Box::pin(body) as BodyStream)
            }
            _ => {
                let req = up.client()?.post(url.clone()).headers(h).body(out.body);
                let resp = send_timed(d, up, req, shown).await?;
                (resp.status(), resp.headers().clone(), body_stream(resp))
            }
        };
        if status.is_success() {
            let body = answer::check(d, shown, out.stream, &headers, body).await?;
            return Ok(Answer::new(headers, body));
        }
        if status.is_redirection() {
            return Err(redirected(d, shown, status, &headers));
        }
        let body = read_error_body(d, up, body).await;
        let retry_after = headers.get(header::RETRY_AFTER).cloned();
        let mut e = UpstreamError::from_status(
            status_error(d, status.as_u16(), &body),
            status.as_u16(),
            retry_after,
        );
        e.pass_headers(&headers);
        e.content_policy = crate::upstream::is_content_policy(&body);
        Err(e)
    }
}

/// The error for a redirect from a plain-http upstream, which the gateway does not follow (a
/// POST cannot be replayed safely, and an `http://` address that moved to `https://` is one to
/// correct in the configuration); reqwest's client, on the other paths, follows them.
fn redirected(
    d: &Deployment,
    shown: &str,
    status: http::StatusCode,
    headers: &HeaderMap,
) -> UpstreamError {
    let to = headers
        .get(header::LOCATION)
        .map(|l| crate::redact::url(&String::from_utf8_lossy(l.as_bytes())).into_owned())
        .unwrap_or_else(|| "an address it does not name".to_owned());
    UpstreamError::unusable(ApiError {
        kind: ErrorKind::Api,
        status: 502,
        message: format!(
            "{} answered {} redirecting to {to}; the gateway does not follow redirects: set \
             litellm_params.api_base to the address the upstream serves at",
            answer::name(d, shown),
            status.as_u16()
        ),
    })
}

/// A credential as a header value (`prefix` before it), marked sensitive so that it is never
/// shown in debug output. A key with characters a header cannot carry is refused with the reason.
fn secret_value(d: &Deployment, secret: &str, prefix: &str) -> Result<HeaderValue, UpstreamError> {
    let mut v = HeaderValue::try_from(format!("{prefix}{secret}")).map_err(|_| {
        UpstreamError::fatal(ApiError::new(
            ErrorKind::Authentication,
            format!(
                "the API key of model '{}'{} holds characters an HTTP header cannot carry (a \
                 line break, say); check its value",
                d.model_name(),
                d.key_var
                    .as_deref()
                    .map(|v| format!(" (in {v})"))
                    .unwrap_or_default()
            ),
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn endpoint_index(e: Endpoint) -> usize {
    match e {
        Endpoint::Generate => 0,
        Endpoint::CountTokens => 1,
    }
}

/// Waits for `sent` (a request on its way, until its answer's headers) at most `d`'s first-byte
/// timeout; errors are worded for the client (`shown`: the URL as it may be shown), naming the
/// setting that set the timeout.
async fn timed<T, E: crate::upstream::TransportFailure>(
    d: &Deployment,
    up: &Upstream,
    shown: &str,
    sent: impl Future<Output = Result<T, E>>,
) -> Result<T, UpstreamError> {
    let first_byte = d.first_byte_timeout(&up.timeouts);
    match tokio::time::timeout(first_byte, sent).await {
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

/// Sends `req` to `d` with reqwest, waiting for the answer's headers at most the deployment's
/// first-byte timeout ([`timed`]). The transports that stay on reqwest send through this
/// (Bedrock, Vertex, and Chat/Messages/Responses requests to `https://` or proxied upstreams).
pub async fn send_timed(
    d: &Deployment,
    up: &Upstream,
    req: reqwest::RequestBuilder,
    shown: &str,
) -> Result<reqwest::Response, UpstreamError> {
    timed(d, up, shown, req.send()).await
}

/// An error answer's headers and body ([`read_error_body`]), from reqwest.
pub async fn error_body(
    d: &Deployment,
    up: &Upstream,
    resp: reqwest::Response,
) -> (HeaderMap, Bytes) {
    let headers = resp.headers().clone();
    (headers, read_error_body(d, up, body_stream(resp)).await)
}

/// An error answer's body; a body that stalls must not hold the request, so it is read for the
/// deployment's idle timeout at most (empty when it does not come, or breaks off).
pub async fn read_error_body(d: &Deployment, up: &Upstream, mut body: BodyStream) -> Bytes {
    let read = async {
        let mut got = bytes::BytesMut::new();
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.ok()?);
        }
        Some(got.freeze())
    };
    tokio::time::timeout(d.idle_timeout(&up.timeouts), read)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The setting that gave `d`'s first-byte timeout, as errors name it.
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
