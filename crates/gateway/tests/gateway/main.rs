//! Gateway integration tests: the real server on a loopback port, its upstream the project's
//! scripted fake provider, its client a plain HTTP client.

mod admin;
mod common;
mod credentials;
mod errors;
mod messages_to_anthropic;
mod messages_to_chat;
mod misc_endpoints;
mod openai_clients;
mod workers;
