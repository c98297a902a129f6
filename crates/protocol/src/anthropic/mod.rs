//! The Anthropic Messages API (what Claude Code speaks): wire types and conversions to and from
//! the internal model, for requests, responses, stream events and errors.

pub mod request;
pub mod response;
pub mod stream;
pub mod types;

pub use request::{FOREIGN_SIGNATURE, decode_request, encode_request};
pub use response::{
    decode_error_message, decode_response, encode_error, encode_response, error_status,
};
pub use stream::{StreamDecoder, StreamEncoder};
