//! Protocol translation for agent-shim: the wire types of the Anthropic Messages, OpenAI Chat
//! Completions, OpenAI Responses and AWS Bedrock Converse APIs, one internal model ([`ir`]) they all decode into and
//! encode from, the streaming state machines, an SSE parser, and byte-exact same-protocol
//! pass-through, and the user-worded errors for input of the wrong shape ([`shape`]).
//!
//! Pure: no I/O and no async runtime. The gateway drives these functions one event at a time.

// Product code answers bad input with an error in the caller's protocol, never a panic. Unit tests
// are exempt through clippy.toml (`allow-*-in-tests`); a true invariant keeps its `expect` under a
// narrowly scoped, commented `#[allow]`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod anthropic;
pub mod bedrock_converse;
#[cfg(feature = "test-support")]
pub mod check;
pub mod classify;
pub mod codec;
#[cfg(feature = "test-support")]
pub mod exercise;
pub mod ir;
mod json_writer;
pub mod openai_chat;
pub mod openai_responses;
pub mod passthrough;
pub mod quirks;
pub mod shape;
pub mod sse;
pub mod stream;
pub mod stream_watch;
pub mod target;
mod wire;

pub use codec::{Codec, Protocol, Target};
pub use ir::{ApiError, ErrorKind};
