//! Every command-line type, in one place (clap derive).

use crate::complete;
use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;
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

/// The subcommands. Each one's arguments are built only when it is the one parsed (`defer`):
/// building every subcommand's arguments was a tenth of the shell hook's start-up.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    /// Run the gateway as a service: a systemd user unit (Linux) or a launchd agent (macOS).
    Service {
        #[command(subcommand)]
        action: ServiceAction,
        #[command(flatten)]
        args: ServiceArgs,
    },
    /// Model definitions: list, show, test.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Profiles: list, show, install the built-in ones into your config dir.
    Profiles {
        #[command(subcommand)]
        action: ProfilesAction,
    },
    /// Gateway config files: check one (agent-shim's config.yaml or a LiteLLM proxy config).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The .secrets file: init, set, list, export-env.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// The price table that prices usage: update it from LiteLLM's, show a model's price.
    Prices {
        #[command(subcommand)]
        action: PricesAction,
    },
    /// Configure a directory for a profile (.envrc and .envrc.user, for direnv).
    SetFolder(SetFolderArgs),
    /// A shell entered a configured directory (called by the shell hook).
    Enter(EnterArgs),
    /// A shell left a configured directory (called by the shell hook).
    Leave(LeaveArgs),
    /// Release models whose lease expired (runs at most once a minute unless --force).
    Janitor(JanitorArgs),
    /// Gateway, entered directories, model refcounts and leases.
    Status(StatusArgs),
    /// The usage ledger: requests, errors, tokens, cache hits, cost and latency, grouped.
    Usage(UsageArgs),
    /// Launch Claude Code with the current directory's profile (as `run-claude` does).
    Claude(ClaudeArgs),
    /// Print the shell hook to `eval` from your rc file.
    Hook(HookArgs),
    /// Install the shell hook, completions and the run-claude / with-agent-shim / openClaude links.
    Install(InstallArgs),
    /// Remove what `install` added: the hook lines, the completion files and the links.
    Uninstall(UninstallArgs),
    /// Print shell completions.
    Completion(HookArgs),
}

/// A shell agent-shim has a hook for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Shell(s) to install the hook for [default: the shell in $SHELL]
    #[arg(long = "shell", value_name = "SHELL")]
    pub shells: Vec<Shell>,
    /// Show what would change without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Directory for the run-claude, with-agent-shim and openClaude links [default: ~/.local/bin]
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Show what would be removed without removing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Directory install put the links in [default: ~/.local/bin]
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SetFolderArgs {
    /// Profile for the directory.
    #[arg(add = ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// The directory [default: the current one]
    pub dir: Option<PathBuf>,
    /// Also run `direnv allow`.
    #[arg(long)]
    pub allow: bool,
}

#[derive(Debug, Args)]
pub struct EnterArgs {
    /// The directory token (AGENT_SHIM_TOKEN).
    pub token: String,
    /// The directory's profile (AGENT_SHIM_PROFILE).
    #[arg(add = ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// The directory [default: direnv's DIRENV_DIR, else the current directory]
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// The directory token.
    pub token: String,
}

#[derive(Debug, Args)]
pub struct JanitorArgs {
    /// Run even if the janitor ran less than a minute ago.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UsageArgs {
    #[command(subcommand)]
    pub action: Option<UsageAction>,
    /// Since when: an age (`30m`, `24h`, `7d`, `4w`), a UTC date (`2026-12-01`) or time
    /// (`2026-12-01T08:00:00Z`), or `all` [default: 7d]
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Group by model, profile, directory, provider, agent, session or day [default: model]
    #[arg(long, value_name = "DIMENSION")]
    pub by: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsageAction {
    /// Delete the records older than a date or an age (the daily rollups stay, so totals
    /// over those days remain).
    Prune {
        /// A UTC date (`2026-12-01`) or time, or an age (`90d`, `12w`).
        #[arg(long, value_name = "WHEN")]
        before: String,
    },
}

#[derive(Debug, Args)]
pub struct ClaudeArgs {
    /// Arguments for Claude Code.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// List profiles and where each comes from.
    List,
    /// Show a profile and its models (keys redacted).
    Show {
        #[arg(add = ArgValueCandidates::new(complete::profiles))]
        name: String,
    },
    /// Copy the built-in profiles into ~/.config/agent-shim/profiles (edited files are kept).
    Install,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Load FILE as `serve --config FILE` would and name everything it does not serve: each key
    /// agent-shim does not implement, keys given twice, deployments that cannot be served.
    /// Exit 0: loads and serves every deployment (warnings may remain); 1: some deployment is
    /// not served; 2: the file does not load.
    Check {
        /// The config file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Create the .secrets file (mode 0600) with a commented template.
    Init,
    /// Set a secret; the value is read from stdin (prompted without echo on a terminal).
    Set { name: String },
    /// List the names of the secrets (never their values) and the provider keys set in the environment.
    List,
    /// Print the secrets as .env lines.
    ExportEnv,
}

#[derive(Debug, Subcommand)]
pub enum PricesAction {
    /// Fetch LiteLLM's price table, prune it to chat models and write it to the state dir, where
    /// the gateway reads it at start in place of the built-in snapshot.
    Update {
        /// A local file or an http(s) URL of LiteLLM's model_prices_and_context_window.json
        /// [default: LiteLLM's file on GitHub, main branch]
        #[arg(long, value_name = "FILE|URL")]
        from: Option<String>,
    },
    /// Print the price a model is billed at and where it comes from: a model name from your
    /// config (its model_info prices over the table's), or a table id (`claude-sonnet-4-5`,
    /// `azure/gpt-4o`).
    Show {
        #[arg(add = ArgValueCandidates::new(complete::models))]
        model: String,
    },
}

/// Whether `arg` names a subcommand (or asks for help or the version).
pub fn is_subcommand(arg: Option<&OsString>) -> bool {
    use clap::CommandFactory;
    let Some(arg) = arg.and_then(|a| a.to_str()) else {
        return false;
    };
    matches!(arg, "help" | "-h" | "--help" | "-V" | "--version")
        || Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == arg)
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
    /// Worker threads serving requests, each with its own runtime and upstream connections
    /// [default: one per CPU]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: Option<u16>,
    /// Leave the caller's session and terminal first (`setsid`). Set by `agent-shim proxy start`,
    /// which runs the gateway in the background; hidden from help.
    #[arg(long, hide = true)]
    pub new_session: bool,
    /// The gateway is the service's (set in the command line `agent-shim service install`
    /// writes): it marks itself so in the state dir, and `proxy stop` leaves it to the service
    /// manager. Hidden from help.
    #[arg(long, hide = true, value_name = "MANAGER")]
    pub managed_by: Option<ServiceManager>,
    #[command(flatten)]
    pub net: NetArgs,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Profile name (see the built-in profiles with `agent-shim models list`).
    #[arg(add = ArgValueCandidates::new(complete::profiles))]
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
    #[arg(add = ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Configure the command as this agent (claude, codex, opencode, crush, hermes, generic)
    /// instead of guessing from its name.
    #[arg(long, value_name = "AGENT", add = ArgValueCandidates::new(complete::agents))]
    pub agent: Option<String>,
    /// The model for agents with one model slot [default: the profile's `model`, else its sonnet tier]
    #[arg(long, value_name = "MODEL", add = ArgValueCandidates::new(complete::models))]
    pub model: Option<String>,
    /// Point the agent straight at the provider, without the gateway (only when the provider
    /// speaks the agent's protocol).
    #[arg(long)]
    pub direct: bool,
    /// Give Claude Code its own config dir (CLAUDE_CONFIG_DIR under the state dir): links to
    /// yours, and a settings.json without the `env` keys that would override the routing
    /// (CLAUDE_CODE_USE_BEDROCK, ANTHROPIC_MODEL, …). Also `isolated: true` in a profile.
    #[arg(long)]
    pub isolated: bool,
    /// The command to run, after `--` [default: the profile's `agent`].
    #[arg(
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
    /// Make the running gateway read its configuration files now (it also does when they
    /// change); reports what changed, or the error located in the file.
    Reload,
    /// Stop the gateway and start it again from this shell (with its environment), keeping the
    /// registered models.
    Restart {
        /// Restart even when requests are in flight (they are cut after 5 s).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List model definitions and where each comes from; with --remote, the models a provider
    /// serves, from its own model list.
    List(ModelsListArgs),
    /// Show one model definition (keys redacted).
    Show {
        #[arg(add = ArgValueCandidates::new(complete::models))]
        name: String,
    },
    /// Send a short prompt through the gateway to each model of a profile (or to one model).
    Test {
        /// A profile or a model name.
        #[arg(add = ArgValueCandidates::new(complete::test_targets))]
        target: String,
        #[command(flatten)]
        net: NetArgs,
    },
}

#[derive(Debug, Args)]
pub struct ModelsListArgs {
    /// List what a provider serves, from its own model list (`GET /v1/models`; Anthropic's with
    /// `x-api-key`), instead of your model definitions: for a profile, the lists of its models'
    /// providers and endpoints, with the profile's key lookup and `model_api_filters` (glob
    /// patterns on model ids; `[]` or `null` turns remote loading off); for a provider, its
    /// default endpoint, unfiltered. A name that is both is the profile: write
    /// `provider:NAME` or `profile:NAME` to choose. Lists are cached for 12 hours in the cache
    /// dir (AGENT_SHIM_CACHE_DIR, default ~/.cache/agent-shim).
    #[arg(long, value_name = "PROVIDER|PROFILE", add = ArgValueCandidates::new(complete::remote_targets))]
    pub remote: Option<String>,
    /// Fetch the list now, even when the cached copy is younger than 12 hours.
    #[arg(long, requires = "remote")]
    pub refresh: bool,
    /// Also show the models the profile's `model_api_filters` exclude, marked `excluded` (the
    /// cache holds the provider's whole list; filters only choose what is shown). It does not
    /// turn on a profile whose filters are `[]`/`null`, and a provider has no filters.
    #[arg(long, requires = "remote")]
    pub all: bool,
    /// Machine-readable output (JSON).
    #[arg(long)]
    pub json: bool,
}

/// A service manager `agent-shim service` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceManager {
    /// A systemd user unit (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
}

/// What `service install` puts in the service's command line; the other actions act on the
/// installed service, at the address install wrote into it.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Gateway config file the service serves (agent-shim config.yaml or a LiteLLM proxy config)
    /// instead of ~/.config/agent-shim/config.yaml; its absolute path goes into the service.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Which service manager to write for [default: systemd on Linux, launchd on macOS]. Hidden:
    /// for the tests, which check the launchd agent on Linux too.
    #[arg(long, global = true, hide = true, value_name = "MANAGER")]
    pub manager: Option<ServiceManager>,
    #[command(flatten)]
    pub net: NetArgs,
}

#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Write the service (a systemd user unit or a launchd agent) running the gateway and a
    /// mode-0600 env file with the provider keys set here, then enable and start it (or print
    /// the commands that do). Run it again to rewrite both, e.g. after an upgrade.
    Install,
    /// Stop and disable the service and remove every file install wrote.
    Uninstall,
    /// The service's files and state, and its gateway as `proxy status` shows it.
    Status,
    /// The service's log: the user journal (journalctl) on Linux, the log file on macOS.
    Logs(ServiceLogsArgs),
    /// Start the service.
    Start,
    /// Stop the service (its gateway finishes the requests in flight first).
    Stop,
    /// Restart the service (e.g. after editing a setting the gateway cannot reload).
    Restart,
}

#[derive(Debug, Args)]
pub struct ServiceLogsArgs {
    /// Keep printing new lines as they are written.
    #[arg(short, long)]
    pub follow: bool,
    /// Show the last N lines.
    #[arg(short = 'n', long, value_name = "N")]
    pub lines: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The whole tree, deferred arguments built, passes clap's own consistency checks, and a
    /// deferred subcommand still parses and shows its arguments in its help.
    #[test]
    fn the_deferred_command_tree_is_complete() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["agent-shim", "env", "demo", "--export"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Env(EnvArgs { export: true, .. })
        ));
        let help = Cli::try_parse_from(["agent-shim", "enter", "--help"])
            .unwrap_err()
            .to_string();
        assert!(help.contains("<TOKEN>") && help.contains("--dir"), "{help}");
        let mut cmd = Cli::command();
        cmd.build();
        let env = cmd.find_subcommand("env").unwrap();
        assert!(env.get_arguments().any(|a| a.get_id() == "export"));
    }
}
