//! HTTP error bodies in each protocol's shape (OpenAI `{"error":{...}}`,
//! Anthropic `{"type":"error","error":{...}}`, Bedrock `{"message":…}` with the type in
//! `x-amzn-ErrorType`) and default error types per status code.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::plan::gen_id;
use crate::script::{ErrorSpec, Protocol};

/// A protocol-neutral error to render.
#[derive(Debug, Default)]
pub(crate) struct ApiError<'a> {
    pub status: u16,
    pub kind: Option<&'a str>,
    pub message: &'a str,
    pub code: Option<&'a str>,
}

impl<'a> ApiError<'a> {
    /// An error with default type for `status`.
    pub fn new(status: u16, message: &'a str) -> Self {
        ApiError {
            status,
            message,
            ..ApiError::default()
        }
    }

    /// An error from a script's `status` + `error`.
    pub fn from_spec(status: u16, spec: Option<&'a ErrorSpec>) -> Self {
        ApiError {
            status,
            kind: spec.and_then(|s| s.kind.as_deref()),
            message: spec
                .and_then(|s| s.message.as_deref())
                .unwrap_or("fake-provider scripted error"),
            code: spec.and_then(|s| s.code.as_deref()),
        }
    }
}

/// Default OpenAI error type for a status.
pub(crate) fn openai_default_type(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Default Anthropic error type for a status (per the API's status table).
pub(crate) fn anthropic_default_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The OpenAI-shaped error object (inner `error` value).
pub(crate) fn openai_error_object(e: &ApiError<'_>) -> Value {
    json!({
        "message": e.message,
        "type": e.kind.unwrap_or_else(|| openai_default_type(e.status)),
        "param": null,
        "code": e.code,
    })
}

/// The full JSON error body for `protocol`.
pub(crate) fn error_body(protocol: Protocol, e: &ApiError<'_>) -> Value {
    match protocol {
        Protocol::Anthropic => json!({
            "type": "error",
            "error": {
                "type": e.kind.unwrap_or_else(|| anthropic_default_type(e.status)),
                "message": e.message,
            },
            "request_id": gen_id("req_"),
        }),
        Protocol::OpenaiChat | Protocol::OpenaiResponses => {
            json!({ "error": openai_error_object(e) })
        }
        Protocol::BedrockInvoke | Protocol::BedrockConverse => json!({ "message": e.message }),
    }
}

/// A complete HTTP error response in `protocol`'s shape.
pub(crate) fn error_response(
    protocol: Protocol,
    e: &ApiError<'_>,
    extra_headers: &BTreeMap<String, String>,
) -> Response {
    if protocol.is_bedrock() {
        return crate::bedrock::errors::bedrock_error(
            e.status,
            e.kind,
            Some(e.message),
            extra_headers,
        );
    }
    let body = error_body(protocol, e).to_string();
    json_response(e.status, body, extra_headers)
}

/// A JSON response with status and extra headers (invalid ones skipped).
pub(crate) fn json_response(
    status: u16,
    body: impl Into<Body>,
    extra_headers: &BTreeMap<String, String>,
) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_headers(&mut resp, extra_headers);
    resp
}

/// Adds script headers to a response, skipping invalid names/values.
pub(crate) fn add_headers(resp: &mut Response, extra: &BTreeMap<String, String>) {
    for (k, v) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let spec = ErrorSpec {
            kind: Some("rate_limit_error".into()),
            message: Some("slow down".into()),
            code: None,
        };
        let e = ApiError::from_spec(429, Some(&spec));
        let a = error_body(Protocol::Anthropic, &e);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
        assert_eq!(a["error"]["message"], "slow down");
        let o = error_body(Protocol::OpenaiChat, &e);
        assert_eq!(
            o,
            json!({"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}})
        );
        let d = error_body(Protocol::Anthropic, &ApiError::new(529, "busy"));
        assert_eq!(d["error"]["type"], "overloaded_error");
        let d = error_body(Protocol::OpenaiResponses, &ApiError::new(503, "busy"));
        assert_eq!(d["error"]["type"], "server_error");
    }
}
