//! The HTTP client to upstream providers: one connection pool for the gateway's life, timeouts
//! that suit long streams, and the mapping of transport and HTTP failures to API errors that say
//! which upstream failed and what to do.

use crate::model::SecretString;
use crate::providers::deployment::{ApiKey, Deployment, Endpoint};
use crate::providers::table::Protocol;
use crate::secrets::SecretSource;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
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
    pub retryable: bool,
    pub retry_after: Option<HeaderValue>,
}

impl UpstreamError {
    /// Whether another deployment of the group may succeed: yes after transient failures and
    /// after ones specific to this deployment (its key, its model id, its endpoint); no when the
    /// request itself was refused (400, 413, 422, context length), which any deployment would do.
    pub fn another_deployment_may_serve(&self) -> bool {
        self.retryable
            || matches!(
                self.error.kind,
                ErrorKind::Authentication | ErrorKind::Permission | ErrorKind::NotFound
            )
    }
}

/// The upstream client: one connection pool per worker thread ([`crate::workers`]), so a
/// request's upstream connection is driven by the thread that serves it.
pub struct Upstream {
    /// Indexed by [`crate::workers::current`]; each built on first use on its thread.
    clients: Box<[OnceLock<reqwest::Client>]>,
    pub timeouts: Timeouts,
    secrets: Arc<dyn SecretSource>,
}

/// Headers a client sent that go on to an Anthropic upstream (Claude Code's gateway docs: forward
/// `anthropic-beta` and `anthropic-version` verbatim).
pub const FORWARDED_ANTHROPIC_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta"];

impl Upstream {
    pub fn new(timeouts: Timeouts, secrets: Arc<dyn SecretSource>) -> Upstream {
        Upstream {
            clients: (0..=crate::workers::MAX_WORKERS)
                .map(|_| OnceLock::new())
                .collect(),
            timeouts,
            secrets,
        }
    }

    /// This thread's client.
    fn client(&self) -> &reqwest::Client {
        self.clients[crate::workers::current() % self.clients.len()].get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(self.timeouts.connect)
                .read_timeout(self.timeouts.idle)
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(256)
                .user_agent(concat!("agent-shim/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client configuration is valid")
        })
    }

    /// The key for `d`, looking again (environment, then `.secrets`) if it was missing at
    /// registration. Errors name the variable to set.
    async fn key(&self, d: &Deployment) -> Result<Option<SecretString>, ApiError> {
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
                        format!(
                            "no API key for model '{}' (provider {}): set {var} in the gateway's environment, \
                             or run `agent-shim secrets set {var}` and retry",
                            d.model_name(),
                            d.provider.name
                        ),
                    )
                })
            }
        }
    }

    /// Sends `body` to `d`'s endpoint and returns the response once its headers arrived with a
    /// 2xx status. Errors carry the upstream's own message.
    pub async fn send(
        &self,
        d: &Deployment,
        endpoint: Endpoint,
        body: Vec<u8>,
        stream: bool,
        client_headers: &HeaderMap,
    ) -> Result<reqwest::Response, UpstreamError> {
        let key = self.key(d).await.map_err(|error| UpstreamError {
            error,
            retryable: false,
            retry_after: None,
        })?;
        let url = d.url(endpoint);
        let mut req = self
            .client()
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        match d.protocol() {
            Protocol::Anthropic => {
                if let Some(k) = &key {
                    req = req.header("x-api-key", k.expose());
                }
                for name in FORWARDED_ANTHROPIC_HEADERS {
                    if let Some(v) = client_headers.get(*name) {
                        req = req.header(*name, v);
                    }
                }
                if !client_headers.contains_key("anthropic-version") {
                    req = req.header("anthropic-version", "2023-06-01");
                }
            }
            _ => {
                if let Some(k) = &key {
                    req = req.bearer_auth(k.expose());
                }
            }
        }
        for (k, v) in &d.extra_headers {
            req = req.header(k, v);
        }
        let sent = tokio::time::timeout(self.timeouts.first_byte, req.body(body).send()).await;
        let resp = match sent {
            Err(_) => {
                return Err(UpstreamError {
                    error: ApiError::new(
                        ErrorKind::Timeout,
                        format!(
                            "upstream {} ({}) did not answer within {} s",
                            d.provider.name,
                            d.shown_url(endpoint),
                            self.timeouts.first_byte.as_secs()
                        ),
                    ),
                    retryable: true,
                    retry_after: None,
                });
            }
            Ok(Err(e)) => return Err(transport_error(d, &d.shown_url(endpoint), &e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
        let body: Bytes = resp.bytes().await.unwrap_or_default();
        Err(UpstreamError {
            error: status_error(d, status.as_u16(), &body),
            retryable: matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504 | 529),
            retry_after,
        })
    }
}

/// `url` is the URL as it may be shown ([`Deployment::shown_url`]).
fn transport_error(d: &Deployment, url: &str, e: &reqwest::Error) -> UpstreamError {
    let mut cause = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    let cause = crate::redact::known(&cause, &d.secret_values()).into_owned();
    let (kind, hint) = if e.is_connect() {
        (
            ErrorKind::Unreachable,
            "check that it is running and that litellm_params.api_base is right",
        )
    } else if e.is_timeout() {
        (ErrorKind::Timeout, "the upstream is slow or unreachable")
    } else {
        (ErrorKind::Unreachable, "the connection failed")
    };
    UpstreamError {
        error: ApiError::new(
            kind,
            format!(
                "cannot reach upstream {} at {url} for model '{}': {cause}; {hint}",
                d.provider.name,
                d.model_name()
            ),
        ),
        retryable: true,
        retry_after: None,
    }
}

/// The error for a non-2xx upstream answer: the upstream's status and message, named. What the
/// upstream echoes of the deployment's credentials (its key, say) is redacted.
pub fn status_error(d: &Deployment, status: u16, body: &[u8]) -> ApiError {
    let message = protocol::openai_chat::decode_error_message(body)
        .or_else(|| protocol::anthropic::decode_error_message(body))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(500)])
                .trim()
                .to_owned()
        });
    let message = crate::redact::known(&message, &d.secret_values()).into_owned();
    if protocol::openai_chat::response::is_context_length_message(&message) {
        // Claude Code compacts the conversation when the message says the prompt is too long.
        return ApiError {
            kind: ErrorKind::ContextLengthExceeded,
            status: 400,
            message: format!(
                "prompt is too long for model '{}': {message}",
                d.model_name()
            ),
        };
    }
    let hint = match status {
        401 | 403 => format!(
            "; check the key{}",
            d.key_var
                .as_deref()
                .map(|v| format!(" in {v}"))
                .unwrap_or_default()
        ),
        404 => format!(
            "; check the model id '{}' and api_base {}",
            d.upstream_model,
            d.shown_api_base()
        ),
        _ => String::new(),
    };
    ApiError {
        kind: ErrorKind::from_status(status),
        status,
        message: format!(
            "upstream {} answered {status} for model '{}': {message}{hint}",
            d.provider.name,
            d.model_name()
        ),
    }
}
