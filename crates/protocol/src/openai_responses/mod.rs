//! The OpenAI Responses API (what Codex speaks; API reference "Responses" and "Streaming events",
//! platform.openai.com; protocols.md §3, §4.4–4.5): wire types and conversions to and from the
//! internal model, for requests (client side and upstream side), responses, stream events and
//! errors.
//!
//! Custom (raw-string) tools such as Codex's `apply_patch` are offered to other upstreams as a
//! function with one string parameter `input`; the request's [`ToolNames`] remember which tools
//! are custom, so their calls reach the client as `custom_tool_call`s with the raw input.
//!
//! [`ToolNames`]: crate::target::ToolNames

pub mod request;
pub mod response;
pub mod stream;
pub mod stream_decode;
pub mod types;
pub mod upstream;

pub use request::{Decoded, decode, decode_request};
pub use response::{
    decode_error_message, decode_response, encode_error, encode_response, error_status,
};
pub use stream::StreamEncoder;
pub use stream_decode::StreamDecoder;
pub use upstream::encode_request;

/// Prefix of `encrypted_content` that carries an Anthropic thinking signature. Codex replays
/// reasoning items verbatim, so a signature given out this way comes back and is restored, and
/// an Anthropic upstream sees its own signed thinking again.
pub const ANTHROPIC_SIGNATURE_PREFIX: &str = "agent-shim:anthropic-signature:";

/// Prefix of `encrypted_content` that carries Anthropic `redacted_thinking` data.
pub const ANTHROPIC_REDACTED_PREFIX: &str = "agent-shim:anthropic-redacted:";

/// The id of output item `n` of answer `answer_id`: `<prefix>_<answer id without resp_>_<n>`.
pub fn item_id(answer_id: &str, prefix: &str, n: usize) -> String {
    let base = answer_id.strip_prefix("resp_").unwrap_or(answer_id);
    format!("{prefix}_{base}_{n}")
}
