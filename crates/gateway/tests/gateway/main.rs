//! Gateway integration tests: the real server on a loopback port, its upstream the project's
//! scripted fake provider, its client a plain HTTP client.

// The gateway's clippy.toml refuses blocking calls because its handlers run on worker runtimes;
// the tests run on their own threads and may read files (e.g. /proc for RSS) directly.
#![allow(clippy::disallowed_methods)]

mod admin;
mod azure;
mod bedrock;
mod bedrock_child;
mod bedrock_credentials;
mod bedrock_errors;
mod bedrock_history;
mod bedrock_images;
mod body_capture;
mod claude_code;
mod claude_code_sessions;
mod common;
mod credentials;
mod errors;
mod faults;
mod ledger_record;
mod limits;
mod litellm_routing;
mod messages_to_anthropic;
mod messages_to_chat;
mod metrics;
mod metrics_ledger;
mod misc_endpoints;
mod openai_clients;
mod provider_rows;
mod reload;
mod router;
mod router_balance;
mod router_limits;
mod scenario;
mod shapes;
mod shared_pg;
mod stream_batching;
mod ui_api;
mod ui_browser;
mod ui_login;
mod upstream_pool;
mod upstream_reuse;
mod vertex;
mod vertex_credentials;
mod workers;
