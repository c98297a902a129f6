//! Which [`ErrorKind`] an upstream error is, from its HTTP status and the `type`/`code` labels of
//! its error object, in OpenAI's, Anthropic's and other providers' spellings.
//!
//! The kind stands for what the client must do about the error, and each client protocol's
//! encoder then writes the status and type its clients act on (`anthropic::error_type` and
//! `error_status`, `openai_chat::error_type_code` and `error_status`,
//! `openai_responses::failure_code`):
//!
//! | what the client must do        | kinds                                             |
//! |--------------------------------|---------------------------------------------------|
//! | wait and retry                 | `RateLimit`, `Overloaded`, `Timeout`, `Unreachable`, `Api` |
//! | fix the account's billing; a retry cannot help | `Billing`                         |
//! | fix the key or its rights      | `Authentication`, `Permission`                    |
//! | fix the request or the model   | `InvalidRequest`, `NotFound`, `RequestTooLarge`, `ContextLengthExceeded` |
//!
//! Labels win over the status: OpenAI answers a used-up quota with HTTP 429 like a rate limit, and
//! only `insufficient_quota` tells them apart (protocols.md §3.3). Messages are not read for the
//! kind (except the context-window wordings): Gemini words its per-minute rate limits "You exceeded
//! your current quota, please check your plan and billing details", as OpenAI words a used-up quota.

use crate::ir::{ApiError, ErrorKind};
use serde_json::Value;

/// The labels (`type`, `code`, Anthropic's `details.error_code`) and the message of an error body:
/// OpenAI's `{"error":{"message","type","code"}}`, Anthropic's
/// `{"type":"error","error":{"type","message"}}`, Gemini's one-element array of the OpenAI shape,
/// or `{"error":"message"}`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    pub labels: Vec<String>,
    pub message: Option<String>,
}

impl ErrorFields {
    /// The fields of an error body, or `None` when `body` is not JSON with an `error`.
    pub fn parse(body: &[u8]) -> Option<ErrorFields> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let v = match v {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            v => v,
        };
        match v.get("error")? {
            Value::String(s) => Some(ErrorFields {
                labels: Vec::new(),
                message: Some(s.clone()),
            }),
            e @ Value::Object(_) => Some(ErrorFields::of_object(e)),
            _ => None,
        }
    }

    /// The fields of an error object (the value of `error`).
    pub fn of_object(e: &Value) -> ErrorFields {
        let label = |v: Option<&Value>| match v? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let labels = [
            e.get("type"),
            e.get("code"),
            e.get("status"),
            e.pointer("/details/error_code"),
        ]
        .into_iter()
        .filter_map(label)
        .collect();
        ErrorFields {
            labels,
            message: e.get("message").and_then(Value::as_str).map(str::to_owned),
        }
    }

    /// The kind of this error, given the HTTP status it came with (if any).
    pub fn kind(&self, status: Option<u16>) -> ErrorKind {
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        classify(status, &labels, self.message.as_deref().unwrap_or(""))
    }
}

/// The internal error for an upstream's non-2xx answer: the kind its status and labels say; the
/// upstream's status when it agrees with that kind, else the kind's own (OpenAI's 429
/// `insufficient_quota` is 402 here, not a rate limit); the upstream's message, else the start of
/// the body.
pub fn upstream_error(status: u16, body: &[u8]) -> ApiError {
    let fields = ErrorFields::parse(body).unwrap_or_default();
    let kind = fields.kind(Some(status));
    let message = fields.message.unwrap_or_else(|| {
        String::from_utf8_lossy(&body[..body.len().min(500)])
            .trim()
            .to_owned()
    });
    ApiError {
        kind,
        status: if ErrorKind::from_status(status) == kind {
            status
        } else {
            kind.status()
        },
        message,
    }
}

/// The kind for an error's HTTP `status` (if any), its `type`/`code` labels and its message.
///
/// Specific labels decide first (see the module docs), then the status, then the generic
/// `invalid…` labels; anything else is [`ErrorKind::Api`].
pub fn classify(status: Option<u16>, labels: &[&str], message: &str) -> ErrorKind {
    let l = labels.join(" ").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if has(&["context_length"]) || crate::openai_chat::response::is_context_length_message(message)
    {
        return ErrorKind::ContextLengthExceeded;
    }
    let by_label = if has(&[
        "insufficient_quota",
        "billing",
        "payment_required",
        "spend_limit",
    ]) {
        Some(ErrorKind::Billing)
    } else if has(&["rate_limit", "resource_exhausted"]) {
        Some(ErrorKind::RateLimit)
    } else if has(&["overloaded", "unavailable"]) {
        Some(ErrorKind::Overloaded)
    } else if has(&["authentication", "invalid_api_key", "unauthenticated"]) {
        Some(ErrorKind::Authentication)
    } else if has(&["permission"]) {
        Some(ErrorKind::Permission)
    } else if has(&["not_found"]) {
        Some(ErrorKind::NotFound)
    } else if has(&["too_large"]) {
        Some(ErrorKind::RequestTooLarge)
    } else if has(&["timeout", "deadline_exceeded"]) {
        Some(ErrorKind::Timeout)
    } else {
        // A numeric code (providers that put the HTTP status in `code`).
        labels
            .iter()
            .filter_map(|s| s.trim().parse::<u16>().ok())
            .map(ErrorKind::from_status)
            .find(|k| *k != ErrorKind::Api)
    };
    if let Some(k) = by_label {
        return k;
    }
    match status.map(ErrorKind::from_status) {
        Some(k) if k != ErrorKind::Api => k,
        _ if has(&["invalid"]) => ErrorKind::InvalidRequest,
        _ => ErrorKind::Api,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_each_body_shape() {
        let openai = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let f = ErrorFields::parse(openai).unwrap();
        assert_eq!(f.labels, ["insufficient_quota", "insufficient_quota"]);
        assert_eq!(f.kind(Some(429)), ErrorKind::Billing);

        let anthropic = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow","details":{"error_code":"enforced_spend_limit_reached"}}}"#;
        let f = ErrorFields::parse(anthropic).unwrap();
        assert_eq!(f.kind(Some(429)), ErrorKind::Billing);

        let gemini = br#"[{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED"}}]"#;
        assert_eq!(
            ErrorFields::parse(gemini).unwrap().kind(Some(429)),
            ErrorKind::RateLimit
        );

        let bare = br#"{"error":"no such model"}"#;
        let f = ErrorFields::parse(bare).unwrap();
        assert_eq!(f.message.as_deref(), Some("no such model"));
        assert_eq!(f.kind(Some(404)), ErrorKind::NotFound);

        assert_eq!(ErrorFields::parse(b"<html>"), None);
        assert_eq!(ErrorFields::parse(br#"{"detail":"x"}"#), None);
    }

    #[test]
    fn a_specific_status_beats_a_generic_label() {
        // OpenAI answers a wrong key with 401 and type invalid_request_error.
        assert_eq!(
            classify(Some(401), &["invalid_request_error"], "Incorrect API key"),
            ErrorKind::Authentication
        );
        assert_eq!(
            classify(None, &["invalid_request_error"], "bad"),
            ErrorKind::InvalidRequest
        );
        assert_eq!(classify(None, &["503"], ""), ErrorKind::Overloaded);
        assert_eq!(classify(Some(418), &["server_error"], ""), ErrorKind::Api);
    }
}
