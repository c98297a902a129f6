//! The error a passed stream ends with, when the upstream sent its own error event (Anthropic's
//! `event: error`, a Chat chunk with `error`, Responses' `error` or `response.failed`): the
//! event goes to the client untouched, and the request's record gets its class. Only an event
//! named `error` or holding `"error"` is parsed, into borrowed fields.

use protocol::classify::classify;
use protocol::ir::{ApiError, ErrorKind};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Wire<'a>>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    error: Option<Wire<'a>>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

const UNNAMED: &str = "the upstream ended the stream with an error event";

/// The error an event (`name`: its `event:` field; `data`) reports, if it is an error event.
pub fn passed_error(name: Option<&str>, data: &[u8]) -> Option<ApiError> {
    let named = name == Some("error");
    if !named && memchr::memmem::find(data, b"\"error\"").is_none() {
        return None;
    }
    let Ok(e) = serde_json::from_slice::<Event<'_>>(data) else {
        return named.then(|| ApiError::new(ErrorKind::Api, UNNAMED));
    };
    let wire = e.error.or(e.response.and_then(|r| r.error));
    if !named && e.kind.as_deref() != Some("error") && wire.is_none() {
        return None;
    }
    let code =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(|c| c.as_str()).map(str::to_owned);
    let mut labels: Vec<String> = Vec::new();
    labels.extend(
        wire.as_ref()
            .and_then(|w| w.kind.as_deref())
            .map(str::to_owned),
    );
    labels.extend(wire.as_ref().and_then(|w| code(&w.code)));
    labels.extend(code(&e.code));
    let message = wire
        .as_ref()
        .and_then(|w| w.message.as_deref())
        .or(e.message.as_deref())
        .unwrap_or(UNNAMED)
        .to_owned();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    Some(ApiError::new(classify(None, &labels, &message), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_events_of_each_protocol_and_not_the_others() {
        let kind =
            |name: Option<&str>, data: &str| passed_error(name, data.as_bytes()).map(|e| e.kind);
        assert_eq!(
            kind(
                Some("error"),
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            Some(ErrorKind::Overloaded)
        );
        assert_eq!(
            kind(
                None,
                r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#
            ),
            Some(ErrorKind::RateLimit)
        );
        assert_eq!(
            kind(
                None,
                r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}"#
            ),
            Some(ErrorKind::Api)
        );
        assert_eq!(kind(Some("error"), "not json"), Some(ErrorKind::Api));
        assert_eq!(
            kind(
                None,
                r#"{"type":"response.completed","response":{"id":"r","status":"completed","error":null}}"#
            ),
            None
        );
        assert_eq!(
            kind(
                Some("content_block_delta"),
                r#"{"type":"content_block_delta","delta":{"text":"\"error\": 1"}}"#
            ),
            None
        );
        let e = passed_error(
            Some("error"),
            br#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
        )
        .unwrap();
        assert_eq!(e.message, "Internal server error");
    }
}
