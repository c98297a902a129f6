//! Agent adapters (DESIGN.md §4.5): each turns (endpoint, key, profile, model) into one agent's own
//! configuration for one launch — environment, leading arguments, generated files under the state
//! dir — without changing the user's files. Chosen by the command's name, or `--agent`.
//!
//! No key ever goes on the agent's command line (any local user can read it in `ps` or
//! `/proc/<pid>/cmdline`): keys go in the environment (readable only by the user), or in a 0600
//! file in the launch's private directory ([`private_dir`]) whose path is passed instead.

mod claude;
pub use claude::CLAUDE_VARS;
mod claude_isolated;
mod codex;
mod codex_catalog;
mod crush;
mod hermes;
mod opencode;
mod template;

use crate::error::{CliError, Result};
use crate::settings::catalog::{ProfileMeta, Sourced, Tier};
use crate::settings::env_vars;
use gateway::ModelDefinition;
use gateway::Protocol;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A client program agent-shim knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Claude,
    Codex,
    Opencode,
    Crush,
    Hermes,
    /// Any other command: environment variables only.
    Generic,
}

impl Agent {
    /// The agent a command is, by its file name; anything unknown is [`Agent::Generic`].
    pub fn from_command(program: &Path) -> Agent {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Agent::from_name(&name).unwrap_or(Agent::Generic)
    }

    /// The agent named `name` (`--agent`, profile `agent`).
    pub fn from_name(name: &str) -> Option<Agent> {
        Some(match name {
            "claude" => Agent::Claude,
            "codex" => Agent::Codex,
            "opencode" => Agent::Opencode,
            "crush" => Agent::Crush,
            "hermes" => Agent::Hermes,
            "generic" | "env" => Agent::Generic,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Opencode => "opencode",
            Agent::Crush => "crush",
            Agent::Hermes => "hermes",
            Agent::Generic => "generic",
        }
    }

    /// The wire APIs the agent can speak, preferred first (agents.md: Claude Code speaks only
    /// Messages, Codex only Responses, Hermes Chat Completions, Crush Chat then Messages).
    pub fn protocols(self) -> &'static [Protocol] {
        match self {
            Agent::Claude => &[Protocol::Anthropic],
            Agent::Codex => &[Protocol::OpenAiResponses],
            Agent::Hermes => &[Protocol::OpenAiChat],
            Agent::Crush => &[Protocol::OpenAiChat, Protocol::Anthropic],
            Agent::Opencode | Agent::Generic => &[
                Protocol::OpenAiChat,
                Protocol::OpenAiResponses,
                Protocol::Anthropic,
            ],
        }
    }
}

/// Where the agent sends its requests: the gateway (which speaks every protocol) or, with
/// `--direct`, the provider itself. `Debug` shows neither the key nor URL credentials.
#[derive(Clone)]
pub struct Endpoint {
    /// Root URL, without `/v1` (Anthropic clients append `/v1/messages`).
    pub root: String,
    /// URL for OpenAI clients (with `/v1`).
    pub openai_base: String,
    pub key: String,
    /// The protocol the agent will speak to it.
    pub protocol: Protocol,
    /// Provider name (`gateway` for the gateway).
    pub provider: String,
    /// Model ids to give the agent, by the profile's model names (the provider's own ids when
    /// direct; the gateway's model names otherwise).
    pub model_ids: BTreeMap<String, String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.key.is_empty() {
            ""
        } else {
            gateway::redact::REDACTED
        };
        f.debug_struct("Endpoint")
            .field("root", &gateway::redact::url(&self.root))
            .field("openai_base", &gateway::redact::url(&self.openai_base))
            .field("key", &key)
            .field("protocol", &self.protocol)
            .field("provider", &self.provider)
            .field("model_ids", &self.model_ids)
            .finish()
    }
}

impl Endpoint {
    /// The id the agent should send for one of the profile's model names.
    pub fn model_id<'a>(&'a self, name: &'a str) -> &'a str {
        self.model_ids.get(name).map_or(name, String::as_str)
    }
}

/// Everything an adapter needs for one launch.
pub struct Launch<'a> {
    pub agent: Agent,
    pub profile_name: &'a str,
    pub profile: &'a ProfileMeta,
    pub endpoint: &'a Endpoint,
    /// Every model definition (for context windows and output caps).
    pub models: &'a [Sourced<ModelDefinition>],
    /// The model for agents with one model slot (`--model`, profile `model`, else sonnet tier).
    pub model: String,
    /// Where generated configuration goes.
    pub state_dir: &'a Path,
    /// The cache dir: the remote model catalogue (context windows) and Codex's catalogue
    /// template.
    pub cache_dir: &'a Path,
    /// The program launched (`with`), when there is one.
    pub program: Option<&'a Path>,
    /// Whether a process is launched (`with`), rather than only its environment printed
    /// (`env`): only then are files that hold keys written ([`private_dir`]).
    pub launching: bool,
    /// Whether Claude Code gets its own `CLAUDE_CONFIG_DIR` (`with --isolated`, profile
    /// `isolated: true`); other agents ignore it.
    pub isolated: bool,
    /// The entered directory's token ([`directory_token`]), sent to the gateway with the
    /// profile as `x-agent-shim-directory` so the usage ledger can tell directories apart.
    pub directory: Option<String>,
}

/// The headers an agent sends the gateway with every request, for routing (the profile's
/// tiers and rules) and the usage ledger: the profile, the entered directory's token when there
/// is one, and the agent's name (Claude Code's is read from its user agent).
pub fn gateway_headers(l: &Launch) -> Vec<(&'static str, String)> {
    let mut h = vec![(gateway::PROFILE_HEADER, l.profile_name.to_owned())];
    if let Some(token) = &l.directory {
        h.push((gateway::DIRECTORY_HEADER, token.clone()));
    }
    let agent = match l.agent {
        Agent::Codex => Some("codex"),
        Agent::Opencode => Some("opencode"),
        Agent::Crush => Some("crush"),
        Agent::Hermes => Some("hermes"),
        Agent::Claude | Agent::Generic => None,
    };
    if let Some(a) = agent {
        h.push((gateway::AGENT_HEADER, a.to_owned()));
    }
    h
}

/// The directory token of the directory the user entered: `AGENT_SHIM_TOKEN`, which the
/// directory's `.envrc` (`agent-shim set-folder`) exports before it runs `agent-shim env`;
/// `None` outside such a directory or when the value is not a token (16 hex digits).
pub fn directory_token() -> Option<String> {
    std::env::var(env_vars::TOKEN)
        .ok()
        .filter(|t| t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Launch<'_> {
    /// The context window declared for a model name.
    pub fn context_window(&self, name: &str) -> Option<u64> {
        self.models
            .iter()
            .filter(|m| m.item.model_name == name)
            .find_map(|m| m.item.model_info.context_window)
    }

    /// The context window of a model name: declared, else what the remote model cache
    /// (`models list --remote`) knows of its upstream model, unless the profile turned remote
    /// loading off (`model_api_filters: []`). Never the network.
    pub fn known_window(&self, name: &str) -> Option<u64> {
        self.context_window(name).or_else(|| {
            if !self.profile.model_api_filters.enabled() {
                return None;
            }
            self.models
                .iter()
                .filter(|m| m.item.model_name == name)
                .find_map(|m| crate::remote_models::cached_model(self.cache_dir, &m.item))
                .and_then(|m| m.context_window)
        })
    }

    /// The output-token cap declared for a model name.
    pub fn max_output(&self, name: &str) -> Option<u32> {
        self.models
            .iter()
            .filter(|m| m.item.model_name == name)
            .find_map(|m| {
                m.item
                    .litellm_params
                    .max_tokens
                    .or(m.item.model_info.max_output_tokens)
            })
    }

    /// The id Claude Code gets for a tier: the endpoint's id for the tier's model, with `[1m]`
    /// when the profile's `context_1m` (or the model's declared window) says so.
    pub fn tier_id(&self, tier: Tier) -> String {
        let model = self.profile.tier_model(tier);
        let id = self.endpoint.model_id(model);
        if self.tier_is_1m(tier) && !id.to_ascii_lowercase().ends_with(ONE_M) {
            format!("{id}{ONE_M}")
        } else {
            id.to_owned()
        }
    }

    /// Whether a tier is given to Claude Code as `<id>[1m]`.
    pub fn tier_is_1m(&self, tier: Tier) -> bool {
        self.profile
            .tier_is_1m(tier, self.context_window(self.profile.tier_model(tier)))
    }

    /// The profile's model names, deduplicated.
    pub fn profile_models(&self) -> Vec<&str> {
        self.profile.model_names()
    }

    /// A directory for this agent and profile's generated files, created empty of our files.
    pub fn generated_dir(&self, what: &str) -> Result<PathBuf> {
        let dir = self
            .state_dir
            .join("agents")
            .join(self.agent.name())
            .join(self.profile_name)
            .join(what);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        Ok(dir)
    }
}

/// The suffix that turns on Claude Code's 1M context window for a model id (Claude Code strips it
/// before sending; the gateway ignores it too).
pub const ONE_M: &str = "[1m]";

/// The subdirectory of the state dir holding each launch's private directory.
const LAUNCHES: &str = "launches";

/// The private directory of the launch this process is about to become (`with` execs the agent,
/// so the agent keeps this process's id): `<state dir>/launches/<pid>`.
pub fn private_dir_path(state_dir: &Path) -> PathBuf {
    state_dir
        .join(LAUNCHES)
        .join(std::process::id().to_string())
}

/// Creates [`private_dir_path`], mode 0700, emptied of an earlier launch's files. Directories of
/// launches whose process has ended are removed on the way. Errors name the directory.
pub fn private_dir(state_dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let root = state_dir.join(LAUNCHES);
    let fail = |p: &Path, e: std::io::Error| {
        CliError::failed(format!("cannot create {}: {e}", p.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)
        .map_err(|e| fail(&root, e))?;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let ended = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
                .is_some_and(process_ended);
            if ended {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = private_dir_path(state_dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail(&dir, e))?;
    // The mode given at creation is masked by the umask; make sure of it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| fail(&dir, e))?;
    Ok(dir)
}

/// Whether no process `pid` exists (any more).
fn process_ended(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH))
}

/// What to change about the agent's process.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Arguments placed before the user's.
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<&'static str>,
}

/// The variable agent-shim passes the key in for agents whose config names a variable.
pub const KEY_VAR: &str = "AGENT_SHIM_API_KEY";

/// Prepares the agent's launch: its adapter's changes, then the profile's `env` (templates
/// expanded, applied last so it can override anything).
pub fn prepare(l: &Launch) -> Result<Prepared> {
    let mut p = Prepared::default();
    generic_env(l, &mut p);
    match l.agent {
        Agent::Claude => claude::prepare(l, &mut p)?,
        Agent::Codex => codex::prepare(l, &mut p)?,
        Agent::Opencode => opencode::prepare(l, &mut p)?,
        Agent::Crush => crush::prepare(l, &mut p)?,
        Agent::Hermes => hermes::prepare(l, &mut p)?,
        Agent::Generic => {}
    }
    let ctx = template::Context {
        provider: &l.endpoint.provider,
        protocol: l.endpoint.protocol.as_str(),
        model: l.endpoint.model_id(&l.model),
        key: &l.endpoint.key,
        agent: l.agent.name(),
        base_url: match l.endpoint.protocol {
            Protocol::Anthropic => &l.endpoint.root,
            _ => &l.endpoint.openai_base,
        },
    };
    for (k, v) in &l.profile.env {
        let value = template::expand(v, &ctx)
            .map_err(|e| CliError::usage(format!("profile '{}', env {k}: {e}", l.profile_name)))?;
        set(&mut p.env, k, value);
    }
    if l.agent == Agent::Claude {
        let aws_auth_refresh = match &l.profile.aws_auth_refresh {
            Some(cmd) => Some(template::expand(cmd, &ctx).map_err(|e| {
                CliError::usage(format!(
                    "profile '{}', aws_auth_refresh: {e}",
                    l.profile_name
                ))
            })?),
            None => None,
        };
        claude::finish(l, &mut p, aws_auth_refresh.as_deref())?;
    }
    Ok(p)
}

/// Sets `k` in `env`, replacing an earlier value.
fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
    env.retain(|(name, _)| name != k);
    env.push((k.to_owned(), v));
}

/// The variables every agent gets: the Anthropic family (for Claude Code and tools that read it)
/// and the OpenAI family (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`).
fn generic_env(l: &Launch, p: &mut Prepared) {
    let e = l.endpoint;
    let tier = |m: &str| e.model_id(m).to_owned();
    for (k, v) in [
        (env_vars::ANTHROPIC_BASE_URL, e.root.clone()),
        (env_vars::ANTHROPIC_AUTH_TOKEN, e.key.clone()),
        (
            env_vars::API_TIMEOUT_MS,
            crate::cmd::API_TIMEOUT_MS.to_owned(),
        ),
        // Claude Code's tier variables, `[1m]` where the tier has a 1M window.
        (
            env_vars::ANTHROPIC_DEFAULT_OPUS_MODEL,
            l.tier_id(Tier::Opus),
        ),
        (
            env_vars::ANTHROPIC_DEFAULT_SONNET_MODEL,
            l.tier_id(Tier::Sonnet),
        ),
        (
            env_vars::ANTHROPIC_DEFAULT_HAIKU_MODEL,
            l.tier_id(Tier::Haiku),
        ),
        (env_vars::PROFILE, l.profile_name.to_owned()),
        (env_vars::OPENAI_BASE_URL, e.openai_base.clone()),
        (env_vars::OPENAI_API_KEY, e.key.clone()),
        (env_vars::OPENAI_MODEL, tier(&l.model)),
    ] {
        set(&mut p.env, k, v);
    }
    if l.agent == Agent::Generic {
        // Scripts using either SDK get the one model too (agent-run's shell adapter does this).
        set(&mut p.env, env_vars::ANTHROPIC_MODEL, tier(&l.model));
    }
    if e.provider == "gateway" {
        // One `Name: value` per line, as Claude Code reads the variable.
        let headers: Vec<String> = gateway_headers(l)
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        set(
            &mut p.env,
            env_vars::ANTHROPIC_CUSTOM_HEADERS,
            headers.join("\n"),
        );
    }
    p.env_remove.push(env_vars::ANTHROPIC_API_KEY);
}

/// Reads a user's JSON config file if it exists (`null` otherwise); a broken file is an error
/// naming it, never silently replaced.
fn read_user_json(path: &Path) -> Result<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            CliError::usage(format!(
                "{}:{}:{}: {e}; fix it or move it away",
                path.display(),
                e.line(),
                e.column()
            ))
        }),
        Err(_) => Ok(serde_json::Value::Null),
    }
}

/// Writes a generated file, mode 0600 (it may name key variables; only files in the launch's
/// private directory hold keys).
fn write_generated(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_debug_shows_no_key_or_url_credentials() {
        let e = Endpoint {
            root: "http://u:URL-PASS-1@h:1".into(),
            openai_base: "http://u:URL-PASS-1@h:1/v1".into(),
            key: "sk-ENDPOINT-KEY-2".into(),
            protocol: Protocol::Anthropic,
            provider: "anthropic".into(),
            model_ids: BTreeMap::new(),
        };
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("URL-PASS-1") && !shown.contains("ENDPOINT-KEY-2"),
            "{shown}"
        );
        assert!(shown.contains("u:[redacted]@h:1"), "{shown}");
    }

    #[test]
    fn private_dir_is_0700_and_stale_launches_are_removed() {
        use std::os::unix::fs::PermissionsExt;
        let state = tempfile::tempdir().unwrap();
        // A launch whose process has ended (no process has pid 2^22 + 1: above pid_max's limit).
        let stale = state.path().join(LAUNCHES).join("4194305");
        std::fs::create_dir_all(&stale).unwrap();
        let dir = private_dir(state.path()).unwrap();
        assert_eq!(dir, private_dir_path(state.path()));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(!stale.exists(), "the ended launch's directory is removed");
    }
}
