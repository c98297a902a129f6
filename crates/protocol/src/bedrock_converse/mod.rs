//! The AWS Bedrock Converse API (`/model/{modelId}/converse` and `/converse-stream`): wire types
//! and conversions to and from the internal model, for requests, responses, stream events and
//! errors (protocols.md §7; API reference "Converse" and "ConverseStream").
//!
//! The event-stream framing of ConverseStream is the gateway's: [`StreamDecoder`] reads one
//! decoded frame at a time (see [`stream`]).

pub mod formats;
pub mod request;
pub mod request_decode;
pub mod response;
pub mod stream;
mod tools;
pub mod types;

pub use formats::tool_use_id;
pub use request::{EMPTY_TOOL_RESULT, PLACEHOLDER_TEXT, STUB_TOOL_NAME, encode_request};
pub use request_decode::decode_request;
pub use response::{
    decode_error_message, decode_response, encode_error, encode_response, error_status,
    exception_error, exception_kind, exception_type, stream_exception_type, upstream_error,
};
pub use stream::{StreamDecoder, StreamEncoder};
