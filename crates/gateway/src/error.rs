//! Errors answered in the caller's own protocol (DESIGN.md §4.3): Anthropic error JSON for
//! `/v1/messages`, OpenAI's for `/v1/chat/completions` and the admin API.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};

/// An error on its way to a client.
#[derive(Debug)]
pub struct ClientError {
    pub protocol: Protocol,
    pub error: ApiError,
    /// `retry-after` from the upstream (or the gateway's own limits), passed on.
    pub retry_after: Option<HeaderValue>,
    /// The upstream's rate-limit headers (`anthropic-ratelimit-*`, `x-ratelimit-*`), passed on.
    pub headers: Option<Box<HeaderMap>>,
}

impl ClientError {
    pub fn new(protocol: Protocol, error: ApiError) -> ClientError {
        ClientError {
            protocol,
            error,
            retry_after: None,
            headers: None,
        }
    }

    /// The body the client gets: the error in its protocol, with any URL credentials in the
    /// message redacted ([`crate::redact::urls_in`]).
    pub fn body(&self) -> Vec<u8> {
        let codec = self.protocol.codec();
        match crate::redact::urls_in(&self.error.message) {
            std::borrow::Cow::Owned(message) => codec.encode_error(&ApiError {
                message,
                ..self.error.clone()
            }),
            std::borrow::Cow::Borrowed(_) => codec.encode_error(&self.error),
        }
    }
}

/// The body carries the message with any URL credentials redacted ([`crate::redact::urls_in`]):
/// the last guard for messages that quote an upstream URL.
impl IntoResponse for ClientError {
    fn into_response(self) -> Response {
        let codec = self.protocol.codec();
        let status = StatusCode::from_u16(codec.error_status(&self.error))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, self.body()).into_response();
        if let Some(h) = self.headers {
            r.headers_mut().extend(*h);
        }
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.error.kind == ErrorKind::Billing {
            // The Anthropic and OpenAI SDKs obey this header over their status rules (they retry
            // every 429); a used-up quota does not come back by retrying.
            r.headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let Some(v) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// 404 for a model nobody defined, listing what exists.
pub fn unknown_model(requested: &str, available: &[String]) -> ApiError {
    let list = if available.is_empty() {
        "none are registered (run `agent-shim models list`)".to_owned()
    } else {
        available.join(", ")
    };
    ApiError::new(
        ErrorKind::NotFound,
        format!("model '{requested}' is not served by this gateway; available models: {list}"),
    )
}
