//! AWS error answers as Bedrock sends them (restJson1): the status, a JSON body
//! `{"message": "…"}`, the error type in the `x-amzn-ErrorType` header
//! (`ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`), and an
//! `x-amzn-RequestId`. Error types and statuses follow the Bedrock runtime API reference's
//! error lists (and its service model); default messages are Bedrock's own wording.

use std::collections::BTreeMap;

use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::{Value, json};

use crate::errors::json_response;
use crate::plan::gen_id;
use crate::script::ErrorSpec;

/// Namespace suffix of the errors Bedrock models (validation, throttling, access, ...).
pub(crate) const BEDROCK_NS: &str = "http://internal.amazon.com/coral/com.amazon.bedrock/";
/// Namespace suffix of the errors of AWS's request front end (signature, unknown operation).
pub(crate) const CORAL_NS: &str = "http://internal.amazon.com/coral/com.amazon.coral.service/";

/// The message of an `InvalidSignatureException` (AWS's wording).
pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match \
the signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
service documentation for details.";

/// The message of an `UnrecognizedClientException` (unknown key, missing or wrong token).
pub(crate) const TOKEN_INVALID: &str = "The security token included in the request is invalid.";

/// Bedrock's error type for an HTTP status (API reference, "Errors").
pub(crate) fn default_type(status: u16) -> &'static str {
    match status {
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        500..=599 => "InternalServerException",
        _ => "ValidationException",
    }
}

/// Bedrock's message for an error type, when the script gives none.
pub(crate) fn default_message(kind: &str) -> &'static str {
    match kind {
        "AccessDeniedException" => {
            "You don't have access to the model with the specified model ID."
        }
        "ResourceNotFoundException" => "The specified resource could not be found.",
        "ModelTimeoutException" => {
            "Model has timed out in processing the request. Try your request again."
        }
        "ModelErrorException" => "The model returned an error while processing the request.",
        "ThrottlingException" => "Too many requests, please wait before trying again.",
        "ServiceUnavailableException" => "Bedrock is unable to process your request.",
        "ServiceQuotaExceededException" => {
            "Your request exceeds the service quota for your account."
        }
        "InternalServerException" => {
            "The system encountered an unexpected error during processing. Try your request again."
        }
        _ => "Malformed input request, please reformat your input and try again.",
    }
}

/// A fresh request id in AWS's UUID form.
pub(crate) fn request_id() -> String {
    let hex: String = format!("{}{}", gen_id(""), gen_id(""))
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An AWS JSON error answer: `status`, body `{"message": message}` (`null` when `None`),
/// `x-amzn-ErrorType: {kind}:{namespace}`, `x-amzn-RequestId`, plus `extra` headers.
pub(crate) fn aws_error(
    status: u16,
    kind: &str,
    namespace: &str,
    message: Option<&str>,
    extra: &BTreeMap<String, String>,
) -> Response {
    let body = json!({ "message": message.map_or(Value::Null, |m| Value::String(m.into())) });
    let mut resp = json_response(status, body.to_string(), extra);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{kind}:{namespace}")) {
        h.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// A Bedrock-modelled error: type from `kind` or [`default_type`], message from `message` or
/// [`default_message`].
pub(crate) fn bedrock_error(
    status: u16,
    kind: Option<&str>,
    message: Option<&str>,
    extra: &BTreeMap<String, String>,
) -> Response {
    let kind = kind.unwrap_or_else(|| default_type(status));
    let message = message.unwrap_or_else(|| default_message(kind));
    aws_error(status, kind, BEDROCK_NS, Some(message), extra)
}

/// Error type and message of a script's `status` + `error` reply (defaults by status).
pub(crate) fn scripted_parts(status: u16, spec: Option<&ErrorSpec>) -> (&str, &str) {
    let kind = spec
        .and_then(|s| s.kind.as_deref())
        .unwrap_or_else(|| default_type(status));
    let message = spec
        .and_then(|s| s.message.as_deref())
        .unwrap_or_else(|| default_message(kind));
    (kind, message)
}

/// The `x-amzn-ErrorType` value of a Bedrock-modelled error.
pub(crate) fn error_type_header(kind: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{kind}:{BEDROCK_NS}")).ok()
}

/// A script's `status` + `error` reply on a Bedrock route.
pub(crate) fn scripted(
    status: u16,
    spec: Option<&ErrorSpec>,
    extra: &BTreeMap<String, String>,
) -> Response {
    let (kind, message) = scripted_parts(status, spec);
    aws_error(status, kind, BEDROCK_NS, Some(message), extra)
}

/// 400 `ValidationException` with `message`.
pub(crate) fn validation(message: &str) -> Response {
    bedrock_error(
        400,
        Some("ValidationException"),
        Some(message),
        &BTreeMap::new(),
    )
}

/// An error of AWS's request front end (coral service namespace), e.g. 403
/// `InvalidSignatureException`.
pub(crate) fn front_end(status: u16, kind: &str, message: Option<&str>) -> Response {
    aws_error(status, kind, CORAL_NS, message, &BTreeMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_ne!(id, request_id());
    }

    #[test]
    fn defaults() {
        assert_eq!(default_type(429), "ThrottlingException");
        assert_eq!(default_type(400), "ValidationException");
        assert_eq!(default_type(502), "InternalServerException");
        assert_eq!(
            default_message("ThrottlingException"),
            "Too many requests, please wait before trying again."
        );
    }
}
