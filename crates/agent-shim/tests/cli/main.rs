//! CLI integration tests: the real `agent-shim` binary in a throwaway HOME, its gateway on a free
//! loopback port, upstreams played by the project's fake provider, and real agent programs.

mod agent_configs;
mod agents_e2e;
mod claude_e2e;
mod cmdline_secrets;
mod common;
mod concurrency;
mod config_errors;
mod credentials;
mod env_cmd;
mod external_proxy;
mod hooks;
mod install_cmd;
mod leases;
mod models_cmd;
mod profiles_secrets;
mod proxy_cmd;
mod pty;
mod sdk_clients;
mod serve_cmd;
mod set_folder_cmd;
mod with_adapters;
mod with_cmd;
