//! Conversion tests of the protocol crate: requests, responses and recorded streams, each checked
//! against what the receiving client or upstream accepts.

mod chat_client;
mod chat_stream;
mod claude_code_request;
mod codex_request;
mod converse;
mod error_mapping;
mod fuzz_seeds;
mod pipeline;
mod provider_streams;
mod responses;
mod responses_api;
mod responses_stream;
