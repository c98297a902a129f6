//! The HTTP clients to upstream providers (the gateway's own HTTP/1.1 client for plain-http
//! upstreams, reqwest for the rest): connection pools for the gateway's life, timeouts that suit
//! long streams, and the mapping of transport and HTTP failures to API errors that say
//! which upstream failed and what to do.

use crate::model::SecretString;
use crate::providers::deployment::{ApiKey, Deployment, Endpoint};
use crate::secrets::SecretSource;
use crate::transport::h1::pool::Pools;
use crate::transport::{Answer, Outgoing};
use crate::upstream_proxy::UpstreamProxy;
use http::{HeaderMap, HeaderValue};
use protocol::ir::{ApiError, ErrorKind};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Timeouts of upstream requests (DESIGN.md §4.2).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request to the response headers.
    pub first_byte: Duration,
    /// Longest silence between two chunks of a stream.
    pub idle: Duration,
    /// Silence after which a keep-alive ping is sent to the client.
    pub ping: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(600),
            idle: Duration::from_secs(300),
            ping: Duration::from_secs(10),
        }
    }
}

/// A failed upstream attempt, and whether another attempt may succeed.
#[derive(Debug)]
pub struct UpstreamError {
    pub error: ApiError,
    /// A transient failure: the same deployment may succeed on another attempt.
    pub retryable: bool,
    /// The deployment answered something unusable (the wrong kind of body, an encoding it cannot
    /// read): retrying it is pointless, but another deployment may serve.
    pub unusable_answer: bool,
    pub retry_after: Option<HeaderValue>,
    /// The upstream's headers that go on to the client with the error (`retry-after`,
    /// `anthropic-ratelimit-*`, `x-ratelimit-*`: [`crate::dispatch::respond::copy_passed_headers`]);
    /// boxed, and only when there are any, so that errors stay small.
    pub headers: Option<Box<HeaderMap>>,
    /// The upstream refused the content (OpenAI `content_policy_violation`, Azure
    /// `content_filter`): `content_policy_fallbacks` apply.
    pub content_policy: bool,
}

impl UpstreamError {
    /// A transient failure (connection, timeout, broken body): worth another attempt.
    pub fn transient(error: ApiError) -> UpstreamError {
        UpstreamError {
            error,
            retryable: true,
            unusable_answer: false,
            retry_after: None,
            headers: None,
            content_policy: false,
        }
    }

    /// An answer that is not what was asked for: the next deployment is tried, not this one.
    pub fn unusable(error: ApiError) -> UpstreamError {
        UpstreamError {
            error,
            retryable: false,
            unusable_answer: true,
            retry_after: None,
            headers: None,
            content_policy: false,
        }
    }

    /// The failure for a non-2xx answer with HTTP `status`: retried on 408, 429 and 5xx
    /// overloads, except a used-up quota (a 429 from OpenAI that waiting does not help).
    pub fn from_status(error: ApiError, status: u16, retry_after: Option<HeaderValue>) -> Self {
        UpstreamError {
            retryable: matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 529)
                && error.kind != ErrorKind::Billing,
            unusable_answer: false,
            error,
            retry_after,
            headers: None,
            content_policy: false,
        }
    }

    /// A failure no attempt will change.
    pub fn fatal(error: ApiError) -> UpstreamError {
        UpstreamError {
            error,
            retryable: false,
            unusable_answer: false,
            retry_after: None,
            headers: None,
            content_policy: false,
        }
    }

    /// Keeps the headers of `from` that go on to the client with this error.
    pub fn pass_headers(&mut self, from: &HeaderMap) {
        let mut passed = HeaderMap::new();
        crate::dispatch::respond::copy_passed_headers(from, &mut passed);
        self.headers = (!passed.is_empty()).then(|| Box::new(passed));
    }

    /// Whether another deployment of the group may succeed: yes after transient failures and
    /// after ones specific to this deployment (its key, its account's quota, its model id, its
    /// endpoint, an unusable answer); no when the request itself was refused (400, 413, 422,
    /// context length), which any deployment would do.
    pub fn another_deployment_may_serve(&self) -> bool {
        self.retryable
            || self.unusable_answer
            || matches!(
                self.error.kind,
                ErrorKind::Authentication
                    | ErrorKind::Billing
                    | ErrorKind::Permission
                    | ErrorKind::NotFound
            )
    }
}

/// Whether an upstream's error body says it refused the content: the labels OpenAI
/// (`content_policy_violation`), Azure (`content_filter`, `ResponsibleAIPolicyViolation`) and
/// Gemini (`SAFETY`) use, or a message about a content (management) policy.
pub fn is_content_policy(body: &[u8]) -> bool {
    let Some(f) = protocol::classify::ErrorFields::parse(body) else {
        return false;
    };
    let labelled = f.labels.iter().any(|l| {
        let l = l.to_ascii_lowercase();
        [
            "content_policy",
            "content_filter",
            "responsibleaipolicy",
            "safety",
        ]
        .iter()
        .any(|w| l.contains(w))
    });
    labelled
        || f.message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("content management policy") || m.contains("content policy")
        })
}

/// The upstream clients: one connection pool per worker thread ([`crate::workers`]), so a
/// request's upstream connection is driven by the thread that serves it. Plain `http://`
/// upstreams reached directly go through the gateway's own HTTP/1.1 client
/// ([`crate::transport::h1`], [`Upstream::pools`]); the rest through reqwest
/// ([`Upstream::client`]).
pub struct Upstream {
    /// Indexed by [`crate::workers::current`]; each built on first use on its thread.
    clients: Box<[OnceLock<reqwest::Client>]>,
    /// The HTTP/1.1 client's idle connections, per worker.
    pub(crate) pools: Arc<Pools>,
    /// The proxies requests use, given at start ([`UpstreamProxy::from_env`]).
    proxy: UpstreamProxy,
    /// Decides per URL; `None` when no proxy is configured.
    matcher: Option<hyper_util::client::proxy::matcher::Matcher>,
    pub timeouts: Timeouts,
    secrets: Arc<dyn SecretSource>,
}

impl Upstream {
    /// The clients for `timeouts`, with `proxy`'s proxies, looking keys up in `secrets`.
    pub fn new(
        timeouts: Timeouts,
        secrets: Arc<dyn SecretSource>,
        proxy: UpstreamProxy,
    ) -> Upstream {
        Upstream {
            clients: (0..=crate::workers::MAX_WORKERS)
                .map(|_| OnceLock::new())
                .collect(),
            pools: Pools::new(),
            matcher: proxy.matcher(),
            proxy,
            timeouts,
            secrets,
        }
    }

    /// Whether a request to `url` goes through a proxy ([`UpstreamProxy`]).
    pub(crate) fn proxied(&self, url: &http::Uri) -> bool {
        self.matcher
            .as_ref()
            .is_some_and(|m| m.intercept(url).is_some())
    }

    /// This thread's client, built on first use. Building fails only when the TLS backend cannot
    /// start (e.g. no usable root certificates): that request is answered with the reason.
    pub(crate) fn client(&self) -> Result<&reqwest::Client, UpstreamError> {
        let cell = &self.clients[crate::workers::current() % self.clients.len()];
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let client = self
            .proxy
            .apply(reqwest::Client::builder())
            // No read timeout: it would bound the wait for the headers too (which
            // `first_byte` governs); silences inside bodies are timed by their readers
            // (`answer::read_body`, the stream loop) with `idle`.
            .connect_timeout(self.timeouts.connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .user_agent(crate::transport::h1::USER_AGENT)
            .build()
            .map_err(|e| {
                UpstreamError::fatal(ApiError::new(
                    ErrorKind::Api,
                    format!("agent-shim cannot set up its HTTP client: {e}"),
                ))
            })?;
        // Another request on this thread cannot have won the race (one runtime per thread), but
        // if it did, its client is as good as this one.
        Ok(cell.get_or_init(|| client))
    }

    /// The key for `d`, looking again (environment, then `.secrets`) if it was missing at
    /// registration. Errors name the variable to set.
    pub(crate) async fn key(&self, d: &Deployment) -> Result<Option<SecretString>, ApiError> {
        match &d.key {
            ApiKey::None => Ok(None),
            ApiKey::Value(v) => Ok(Some(v.clone())),
            ApiKey::CommandFailed { error } => Err(ApiError::new(
                ErrorKind::Authentication,
                format!(
                    "no API key for model '{}' (provider {}): {error}; fix litellm_params.key_command",
                    d.model_name(),
                    d.provider.name
                ),
            )),
            ApiKey::Missing { var } => {
                let secrets = self.secrets.clone();
                let name = var.clone();
                let found = tokio::task::spawn_blocking(move || secrets.get(&name))
                    .await
                    .ok()
                    .flatten();
                found.map(Some).ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::Authentication,
                        crate::secrets::missing_key_message(d.model_name(), d.provider.name, var),
                    )
                })
            }
        }
    }

    /// The value of variable `var` (environment, then `.secrets`), read off the request's thread
    /// (`.secrets` is a file): for credentials read at use, such as an Entra ID token.
    pub(crate) async fn secret(&self, var: &str) -> Option<SecretString> {
        let secrets = self.secrets.clone();
        let name = var.to_owned();
        tokio::task::spawn_blocking(move || secrets.get(&name))
            .await
            .ok()
            .flatten()
    }

    /// Sends a request to `d`'s upstream through its transport and returns the answer once its
    /// headers arrived with a 2xx status. Errors carry the upstream's own message.
    pub async fn send(
        &self,
        d: &Deployment,
        endpoint: Endpoint,
        body: Vec<u8>,
        stream: bool,
        client_headers: &HeaderMap,
    ) -> Result<Answer, UpstreamError> {
        let out = Outgoing {
            endpoint,
            body,
            stream,
            client_headers,
        };
        d.transport.send(self, d, out).await
    }
}

/// The innermost error's text (e.g. "Connection reset by peer" rather than reqwest's "error
/// sending request"), which says what actually went wrong.
pub fn deepest_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    cause
}

/// What kind of failure a request on the wire met, which decides how [`transport_error`] words
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection could be made.
    Connect,
    /// The upstream did not answer in time.
    Timeout,
    /// Connected, then the connection closed or was reset before any answer.
    Broken,
    /// An answer came that could not be read as HTTP/1.1 (not HTTP, or a head longer than
    /// [`crate::transport::h1::READ_BUFFER`]).
    Unreadable,
}

/// An HTTP client's error, classed ([`Failure`]); its deepest cause says what went wrong.
pub(crate) trait TransportFailure: std::error::Error {
    fn failure(&self) -> Failure;
}

impl TransportFailure for reqwest::Error {
    fn failure(&self) -> Failure {
        if self.is_connect() {
            Failure::Connect
        } else if self.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Broken
        }
    }
}

// The `Failure::Unreadable` hint below names the h1 client's read buffer as 16 KiB.
const _: () = assert!(crate::transport::h1::READ_BUFFER == 16 * 1024);

/// `url` is the URL as it may be shown ([`Deployment::shown_url`]).
pub(crate) fn transport_error(
    d: &Deployment,
    url: &str,
    e: &dyn TransportFailure,
) -> UpstreamError {
    let cause = crate::redact::known(&deepest_cause(e), &d.secret_values()).into_owned();
    let (kind, what, hint) = match e.failure() {
        Failure::Connect => (
            ErrorKind::Unreachable,
            "cannot reach upstream",
            "check that it is running and that litellm_params.api_base is right",
        ),
        Failure::Timeout => (
            ErrorKind::Timeout,
            "cannot reach upstream",
            "the upstream is slow or unreachable",
        ),
        Failure::Broken => (
            ErrorKind::Unreachable,
            "no answer: the connection broke at upstream",
            "it may be restarting or overloaded, or something between closes connections",
        ),
        Failure::Unreadable => (
            ErrorKind::Unreachable,
            "unreadable answer from upstream",
            "agent-shim reads HTTP/1.1 answers with at most 16 KiB of headers from plain-http \
             upstreams; check that litellm_params.api_base points at the model server's API",
        ),
    };
    UpstreamError::transient(ApiError::new(
        kind,
        format!(
            "{what} {} at {url} for model '{}': {cause}; {hint}",
            d.provider.name,
            d.model_name()
        ),
    ))
}

/// The error for a non-2xx upstream answer: its kind and status as
/// [`protocol::classify::upstream_error`] reads them, and the upstream's message, named. What the
/// upstream echoes of the deployment's credentials (its key, say) is redacted.
pub fn status_error(d: &Deployment, status: u16, body: &[u8]) -> ApiError {
    let ApiError {
        kind,
        status: client_status,
        message,
    } = protocol::classify::upstream_error(status, body);
    let message = crate::redact::known(&message, &d.secret_values()).into_owned();
    if kind == ErrorKind::ContextLengthExceeded {
        // Claude Code compacts the conversation when the message says the prompt is too long.
        return ApiError {
            kind,
            status: client_status,
            message: format!(
                "prompt is too long for model '{}': {message}",
                d.model_name()
            ),
        };
    }
    let hint = match kind {
        ErrorKind::Billing => format!(
            "; the provider account of the key{} has no quota or credit left: add credit there or \
             use another key (retrying does not help)",
            d.key_var
                .as_deref()
                .map(|v| format!(" in {v}"))
                .unwrap_or_default()
        ),
        ErrorKind::Authentication | ErrorKind::Permission => format!(
            "; check the key{}",
            d.key_var
                .as_deref()
                .map(|v| format!(" in {v}"))
                .unwrap_or_default()
        ),
        ErrorKind::NotFound => format!(
            "; check the model id '{}' and api_base {}",
            d.upstream_model,
            d.shown_api_base()
        ),
        _ => String::new(),
    };
    ApiError {
        kind,
        status: client_status,
        message: format!(
            "upstream {} answered {status} for model '{}': {message}{hint}",
            d.provider.name,
            d.model_name()
        ),
    }
}
