//! The OpenAI Chat Completions API (what most upstreams speak): wire types and conversions to and
//! from the internal model, for requests, responses, stream chunks and errors.

pub mod request;
pub mod request_decode;
pub mod response;
pub mod schema;
pub mod stream;
pub mod types;

pub use request::encode_request;
pub use request_decode::decode_request;
pub use response::{
    decode_error_message, decode_response, encode_error, encode_response, error_status,
};
pub use stream::{StreamDecoder, StreamEncoder};
