//! `application/vnd.amazon.eventstream` frames, written by `aws-smithy-eventstream` (real
//! prelude and message CRC-32s): event frames (`:message-type event`, `:event-type`,
//! `:content-type application/json`), exception frames (`:message-type exception`,
//! `:exception-type`) and, for the garbage fault, a frame whose message CRC is wrong.
//!
//! Bedrock pads event payloads with a `"p"` member of varying length (letters and digits) so
//! that frame sizes do not give away token lengths; the fake does the same, so clients must
//! ignore members they do not know.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::script::ErrorSpec;

/// Content type of an event-stream answer.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The alphabet Bedrock's `p` padding is cut from.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The exception types the Bedrock stream unions model (`ResponseStream`,
/// `ConverseStreamOutput` in the runtime API reference), in their event-stream spelling (the
/// `:exception-type` header).
pub const STREAM_EXCEPTIONS: [&str; 5] = [
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "serviceUnavailableException",
];

fn string_header(name: &'static str, value: impl Into<String>) -> Header {
    Header::new(name, HeaderValue::String(value.into().into()))
}

/// Encodes one message (prelude, headers, payload, CRCs).
fn encode(headers: Vec<Header>, payload: Vec<u8>) -> Bytes {
    let message = Message::new_from_parts(headers, payload);
    let mut out: Vec<u8> = Vec::new();
    // Writing to a Vec only fails for headers or payloads over the format's limits
    // (16 MiB payload, 128 KiB headers), which the fake never builds.
    if write_message_to(&message, &mut out).is_err() {
        return Bytes::new();
    }
    Bytes::from(out)
}

/// `payload` (a JSON object) with Bedrock's `"p"` padding member added.
pub(crate) fn padded(mut payload: Value) -> Value {
    if let Some(obj) = payload.as_object_mut() {
        let len = 1 + obj.len() * 7 % PADDING.len() + payload_len_hint(obj) % 23;
        let len = len.min(PADDING.len());
        obj.insert("p".into(), Value::String(PADDING[..len].to_string()));
    }
    payload
}

fn payload_len_hint(obj: &serde_json::Map<String, Value>) -> usize {
    obj.values().map(|v| v.to_string().len()).sum()
}

/// An event frame of `event_type` (`chunk`, `messageStart`, `contentBlockDelta`, ...) whose
/// payload is `payload` padded.
pub(crate) fn event(event_type: &str, payload: Value) -> Bytes {
    let body = padded(payload).to_string().into_bytes();
    encode(
        vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        body,
    )
}

/// The lowerCamel event-stream spelling of an exception type (`ThrottlingException` →
/// `throttlingException`).
pub(crate) fn stream_exception_name(kind: &str) -> String {
    let mut chars = kind.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// An exception frame: `:exception-type` from the spec's `type` (either spelling; default
/// `modelStreamErrorException`), payload `{"message": …}` (plus `originalStatusCode` and
/// `originalMessage` for `modelStreamErrorException`, as the service model has them).
pub(crate) fn exception(spec: Option<&ErrorSpec>) -> Bytes {
    let kind = stream_exception_name(
        spec.and_then(|s| s.kind.as_deref())
            .unwrap_or("modelStreamErrorException"),
    );
    let message = spec
        .and_then(|s| s.message.as_deref())
        .unwrap_or_else(|| default_stream_message(&kind));
    let mut payload = json!({ "message": message });
    if kind == "modelStreamErrorException" {
        payload["originalStatusCode"] = json!(529);
        payload["originalMessage"] = json!("Overloaded");
    }
    encode(
        vec![
            string_header(":exception-type", kind),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        payload.to_string().into_bytes(),
    )
}

fn default_stream_message(kind: &str) -> &'static str {
    match kind {
        "throttlingException" => "Too many requests, please wait before trying again.",
        "validationException" => "Input validation failed.",
        "serviceUnavailableException" => "Bedrock is unable to process your request.",
        "internalServerException" => {
            "The system encountered an unexpected error during processing. Try your request again."
        }
        _ => "The model stream was interrupted by an error. Retry your request.",
    }
}

/// A well-framed `chunk` event whose message CRC is wrong (a corrupted frame).
pub(crate) fn corrupt() -> Bytes {
    let good = event("chunk", json!({"bytes": ""}));
    let mut bad = good.to_vec();
    if let Some(last) = bad.last_mut() {
        *last ^= 0xff;
    }
    Bytes::from(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
        m.headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str())
    }

    #[test]
    fn event_frame_round_trips() {
        let f = event("chunk", json!({"bytes": "eyJ9"}));
        let total = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(total, f.len());
        let m = read_message_from(f).expect("valid frame");
        assert_eq!(header(&m, ":event-type"), Some("chunk"));
        assert_eq!(header(&m, ":message-type"), Some("event"));
        assert_eq!(header(&m, ":content-type"), Some("application/json"));
        let v: Value = serde_json::from_slice(m.payload()).expect("json");
        assert_eq!(v["bytes"], "eyJ9");
        assert!(v["p"].as_str().is_some_and(|p| PADDING.starts_with(p)));
    }

    #[test]
    fn exception_frames() {
        let spec = ErrorSpec {
            kind: Some("ThrottlingException".into()),
            message: Some("slow down".into()),
            code: None,
        };
        let m = read_message_from(exception(Some(&spec))).expect("valid frame");
        assert_eq!(header(&m, ":message-type"), Some("exception"));
        assert_eq!(header(&m, ":exception-type"), Some("throttlingException"));
        let v: Value = serde_json::from_slice(m.payload()).expect("json");
        assert_eq!(v, json!({"message": "slow down"}));
        let m = read_message_from(exception(None)).expect("valid frame");
        assert_eq!(
            header(&m, ":exception-type"),
            Some("modelStreamErrorException")
        );
        assert!(STREAM_EXCEPTIONS.contains(&"modelStreamErrorException"));
    }

    #[test]
    fn corrupt_frames_fail_the_crc() {
        assert!(read_message_from(corrupt()).is_err());
    }
}
