//! Every command-line type, in one place (clap derive).

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

/// Run any coding agent against any model provider, chosen per directory or per command.
#[derive(Debug, Parser)]
#[command(name = "agent-shim", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in the foreground.
    Serve(ServeArgs),
    /// Print the environment that routes agents through the gateway for a profile.
    Env(EnvArgs),
    /// Run one command with a profile's environment, starting the gateway if needed.
    With(WithArgs),
    /// Control the background gateway ("the proxy").
    Proxy {
        #[command(subcommand)]
        action: ProxyAction,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Model definitions: list, show, test.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

/// Where the gateway listens; each flag beats `AGENT_SHIM_HOST` / `AGENT_SHIM_PORT`, which beat
/// config.yaml.
#[derive(Debug, Clone, Default, Args)]
pub struct NetArgs {
    /// Address to listen on / connect to [default: 127.0.0.1]
    #[arg(long, global = true)]
    pub host: Option<IpAddr>,
    /// Port [default: 4444]
    #[arg(long, global = true)]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Gateway config file (agent-shim config.yaml or a LiteLLM proxy config) instead of
    /// ~/.config/agent-shim/config.yaml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Profile name (see the built-in profiles with `agent-shim models list`).
    pub profile: String,
    /// Print `export NAME='value'` lines for `eval`.
    #[arg(long)]
    pub export: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

#[derive(Debug, Args)]
pub struct WithArgs {
    /// Profile name.
    pub profile: String,
    /// The command to run, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
    #[command(flatten)]
    pub net: NetArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProxyAction {
    /// Start the gateway in the background (no-op if it is running).
    Start,
    /// Stop the background gateway.
    Stop,
    /// Show whether the gateway runs, its pid, port and uptime.
    Status,
    /// Check the gateway's /health endpoint.
    Health,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List model definitions and where each comes from.
    List,
    /// Show one model definition (keys redacted).
    Show { name: String },
    /// Send a short prompt through the gateway to each model of a profile (or to one model).
    Test {
        /// A profile or a model name.
        target: String,
        #[command(flatten)]
        net: NetArgs,
    },
}
