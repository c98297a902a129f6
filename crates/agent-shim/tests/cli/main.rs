//! CLI integration tests: the real `agent-shim` binary in a throwaway HOME, its gateway on a free
//! loopback port, upstreams played by the project's fake provider, and real agent programs.

mod agent_configs;
mod agents_e2e;
mod bedrock_e2e;
mod claude_code_harness;
mod claude_code_sdk;
mod claude_e2e;
mod claude_isolated;
mod claude_subscription;
mod cmdline_secrets;
mod common;
mod concurrency;
mod config_errors;
mod credentials;
mod env_cmd;
mod external_proxy;
mod handshake;
mod hook_scripts;
mod hooks;
mod install_cmd;
mod keys;
mod leases;
mod models_cmd;
mod profiles_secrets;
mod proxy_cmd;
mod reload;
mod router_config;
mod sdk_clients;
mod sdk_faults;
mod serve_cmd;
mod service_cmd;
mod set_folder_cmd;
mod terminal;
mod with_adapters;
mod with_cmd;
