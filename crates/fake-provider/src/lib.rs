//! A scripted fake upstream LLM provider for tests and benchmarks.
//!
//! It speaks OpenAI Chat Completions, Anthropic Messages and OpenAI Responses
//! (streaming and not) with the real wire framing, answers from a [`Script`],
//! and records every request it receives.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_provider::{FakeProvider, Script};
//! let script = Script::from_json(r#"{"default": {"text": "hi"}}"#).expect("script");
//! let fake = FakeProvider::start(script).await?;
//! println!("{}", fake.base_url());
//! # Ok(()) }
//! ```

mod bedrock;
mod builder;
mod errors;
mod inspect;
mod listener;
mod matching;
mod plan;
mod provider;
mod render_anthropic;
mod render_chat;
mod render_responses;
mod script;
mod server;
mod sse;

pub use bedrock::AwsCall;
pub use bedrock::config::{AwsConfig, AwsCredentials, BedrockOperation, SsoConfig, StsConfig};
pub use bedrock::eventstream::STREAM_EXCEPTIONS as BEDROCK_STREAM_EXCEPTIONS;
pub use bedrock::invoke::ANTHROPIC_VERSION as BEDROCK_ANTHROPIC_VERSION;
pub use bedrock::sigv4::SigV4Info;
pub use bedrock::validate::TOOL_CONFIG_REQUIRED;
pub use builder::FakeProviderBuilder;
pub use provider::{FakeProvider, FakeProviderThread};
pub use script::{
    ErrorSpec, Fault, Protocol, Reply, Script, Step, StreamOpts, ToolCallSpec, UsageSpec, When,
};
pub use server::RecordedRequest;
