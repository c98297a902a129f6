//! `agent-shim with <profile> [--agent A] [--model M] [--direct] [--isolated] -- <command> [args…]` (also
//! `with-agent-shim`): makes sure the gateway runs, configures the command for its agent (see
//! `adapters`), then replaces this process with it. The command's exit code and signals are its
//! own. Without a command, the profile's `agent` runs.

use crate::adapters::{self, Agent, Endpoint, Launch};
use crate::cli::WithArgs;
use crate::daemon;
use crate::error::{CliError, Result};
use crate::registration::Target;
use crate::settings::Settings;
use crate::settings::catalog::{self, ProfileMeta, Sourced};
use crate::settings::secrets::FileSecrets;
use gateway::ModelDefinition;
use gateway::{ApiKey, Deployment, Origin};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

/// How to launch, beyond the profile and command.
#[derive(Debug, Default)]
pub struct Options {
    pub agent: Option<String>,
    pub model: Option<String>,
    pub direct: bool,
    /// Claude Code gets its own config dir (`--isolated`; profile `isolated: true` also does).
    pub isolated: bool,
}

pub fn run(args: WithArgs) -> Result<ExitCode> {
    let settings = Settings::load(&args.net, None)?;
    let opts = Options {
        agent: args.agent,
        model: args.model,
        direct: args.direct,
        isolated: args.isolated,
    };
    launch(&settings, &args.profile, &args.command, &opts)
}

/// Configures `command` for `profile` and replaces this process with it. Returns only on failure.
pub fn launch(
    settings: &Settings,
    profile_name: &str,
    command: &[OsString],
    opts: &Options,
) -> Result<ExitCode> {
    let profiles = catalog::load_profiles(settings)?;
    let profile = catalog::profile(&profiles, profile_name)?;
    let models = catalog::load_models(settings)?;
    let command: Vec<OsString> = if command.is_empty() {
        let agent = profile.item.agent.clone().ok_or_else(|| {
            CliError::usage(format!(
                "give the command after `--`, or set `agent` in profile '{profile_name}'"
            ))
        })?;
        vec![agent.into()]
    } else {
        command.to_vec()
    };
    let (program, rest) = command.split_first().expect("not empty");
    let agent = match &opts.agent {
        Some(name) => Agent::from_name(name).ok_or_else(|| {
            CliError::usage(format!(
                "unknown agent '{name}'; agents: claude, codex, opencode, crush, hermes, generic"
            ))
        })?,
        None => Agent::from_command(Path::new(program)),
    };
    if opts.isolated && agent != Agent::Claude {
        return Err(CliError::usage(format!(
            "--isolated gives Claude Code its own config dir, and `{}` is not Claude Code \
             (add `--agent claude` if it is)",
            program.to_string_lossy()
        )));
    }
    let model = opts
        .model
        .clone()
        .or_else(|| profile.item.model.clone())
        .unwrap_or_else(|| profile.item.sonnet_model.clone());
    if !models.iter().any(|m| m.item.model_name == model) && opts.model.is_some() {
        return Err(CliError::usage(format!(
            "--model {model}: no such model (`agent-shim models list`)"
        )));
    }
    let endpoint = if opts.direct {
        let e = direct_endpoint(settings, agent, profile_name, &profile.item, &models)?;
        eprintln!(
            "agent-shim: {} talks to {} directly ({}), without the gateway",
            agent.name(),
            e.provider,
            gateway::redact::url(&e.root)
        );
        e
    } else {
        let target = Target::of(settings)?;
        if !target.external {
            catalog::profile_models(&models, profile_name, profile)?;
            let mut names: Vec<String> = profile
                .item
                .model_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            if !names.contains(&model) {
                names.push(model.clone());
            }
            daemon::block_on(async {
                daemon::ensure_running(settings).await?;
                check_keys(settings, program, &names, &models).await
            })?;
        }
        through(&target, agent)
    };
    let launch = Launch {
        agent,
        profile_name,
        profile: &profile.item,
        endpoint: &endpoint,
        models: &models,
        model,
        state_dir: &settings.state_dir,
        cache_dir: &settings.cache_dir,
        program: Some(Path::new(program)),
        launching: true,
        isolated: opts.isolated || profile.item.isolated,
        directory: adapters::directory_token(),
    };
    // Files holding keys for this launch (if the adapter wrote any); removed if it fails.
    let private = adapters::private_dir_path(&settings.state_dir);
    let prepared = match adapters::prepare(&launch) {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&private);
            return Err(e);
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(&prepared.args).args(rest);
    for name in &prepared.env_remove {
        cmd.env_remove(name);
    }
    cmd.envs(prepared.env.iter().map(|(k, v)| (k, v)));
    let err = cmd.exec();
    let _ = std::fs::remove_dir_all(&private);
    let shown = program.to_string_lossy();
    Err(match err.kind() {
        std::io::ErrorKind::NotFound => CliError::with_code(
            format!("cannot run `{shown}`: not found; is it installed and on PATH?"),
            127,
        ),
        _ => CliError::with_code(format!("cannot run `{shown}`: {err}"), 126),
    })
}

/// Refuses to launch when the gateway cannot authenticate to the upstream of one of `models`:
/// the agent would otherwise wait through its retries (Claude Code: minutes) before showing a
/// 401. Asks the gateway itself, whose environment may differ from this shell's; names each
/// missing variable once, with the fix. Keyless providers (mock, local servers) pass. A model
/// the gateway does not serve is explained from its definition (`defs`) when that cannot be
/// served here either (an endpoint variable such as AZURE_API_BASE not set).
async fn check_keys(
    settings: &Settings,
    program: &OsString,
    models: &[String],
    defs: &[Sourced<ModelDefinition>],
) -> Result<()> {
    let groups = daemon::keys(settings, models).await?;
    let mut problems: Vec<String> = Vec::new();
    let mut vars: Vec<String> = Vec::new();
    for g in groups.iter().filter(|g| g["usable"] != true) {
        let name = g["model_name"].as_str().unwrap_or("?");
        if g["defined"] != true {
            problems.push(match why_not_served(settings, name, defs) {
                Some(e) => format!("{e}"),
                None => format!(
                    "model '{name}' is not served by the running gateway, which has not taken \
                     the files' latest version (`agent-shim proxy reload` says why)"
                ),
            });
        }
        for d in g["deployments"].as_array().into_iter().flatten() {
            let provider = d["provider"].as_str().unwrap_or("?");
            match (d["key"].as_str(), d["var"].as_str()) {
                (Some("missing"), Some(var)) if !vars.iter().any(|v| v == var) => {
                    vars.push(var.to_owned());
                    let mut msg =
                        gateway::missing_key_message(name, provider, var);
                    if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
                        msg.push_str(&format!(
                            " ({var} is set in this shell, but the gateway keeps the environment it was started with)"
                        ));
                    }
                    problems.push(msg);
                }
                (Some("command_failed"), _) => problems.push(format!(
                    "no API key for model '{name}' (provider {provider}): {}; fix litellm_params.key_command",
                    d["error"].as_str().unwrap_or("key_command failed")
                )),
                _ => {}
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "not launching `{}`: {}",
        program.to_string_lossy(),
        problems.join("\nagent-shim: ")
    )))
}

/// Why a definition of `name` cannot be served with this shell's environment and `.secrets`,
/// if one of them cannot.
fn why_not_served(
    settings: &Settings,
    name: &str,
    defs: &[Sourced<ModelDefinition>],
) -> Option<gateway::DefinitionError> {
    let secrets = FileSecrets::new(settings.secrets_path());
    defs.iter()
        .filter(|d| d.item.model_name == name)
        .find_map(|d| Deployment::new(d.item.clone(), Origin::Config, &secrets).err())
}

/// The gateway (or external proxy): it speaks every protocol, under the profile's model names.
pub fn through(target: &Target, agent: Agent) -> Endpoint {
    Endpoint {
        root: target.url.clone(),
        openai_base: format!("{}/v1", target.url),
        key: target.master_key.expose().to_owned(),
        protocol: agent.protocols()[0],
        provider: "gateway".into(),
        model_ids: BTreeMap::new(),
    }
}

/// The provider itself, when every model of the profile is on one endpoint that speaks one of
/// the agent's protocols. Errors name both sides' protocols.
fn direct_endpoint(
    settings: &Settings,
    agent: Agent,
    profile_name: &str,
    profile: &ProfileMeta,
    models: &[Sourced<ModelDefinition>],
) -> Result<Endpoint> {
    let secrets = FileSecrets::new(settings.secrets_path());
    let mut deployments = Vec::new();
    for name in profile.model_names() {
        let def = models
            .iter()
            .find(|m| m.item.model_name == name)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "profile '{profile_name}' uses model '{name}', which is not defined"
                ))
            })?;
        let d = Deployment::new(def.item.clone(), Origin::Config, &secrets)
            .map_err(|e| CliError::usage(e.to_string()))?;
        deployments.push((name, d));
    }
    let (_, first) = &deployments[0];
    if let Some((name, d)) = deployments.iter().find(|(_, d)| d.direct_base().is_none()) {
        return Err(CliError::usage(format!(
            "--direct: model '{name}' ({}) is reached only through the gateway (it needs request \
             signing or has no network endpoint); drop --direct",
            d.provider.name
        )));
    }
    let wanted: Vec<&str> = agent.protocols().iter().map(|p| p.as_str()).collect();
    if !agent.protocols().contains(&first.protocol()) {
        return Err(CliError::usage(format!(
            "--direct: {} speaks {}, but {} ({}) speaks {}; drop --direct to translate through the gateway",
            agent.name(),
            wanted.join(" or "),
            first.model_name(),
            first.provider.name,
            first.protocol().as_str()
        )));
    }
    if let Some((name, d)) = deployments
        .iter()
        .find(|(_, d)| d.api_base != first.api_base || d.protocol() != first.protocol())
    {
        return Err(CliError::usage(format!(
            "--direct: profile '{profile_name}' mixes endpoints ({} for {}, {} for {name}); one agent can reach only one",
            first.shown_api_base(),
            first.model_name(),
            d.shown_api_base()
        )));
    }
    let key = match &first.key {
        ApiKey::Value(k) => k.expose().to_owned(),
        ApiKey::None => String::new(),
        ApiKey::Missing { var } => {
            return Err(CliError::usage(format!(
                "--direct: no key for {}: set {var} or run `agent-shim secrets set {var}`",
                first.provider.name
            )));
        }
        ApiKey::CommandFailed { error } => {
            return Err(CliError::failed(format!(
                "--direct: no key for {}: {error}",
                first.provider.name
            )));
        }
    };
    let root = first.api_base.trim_end_matches("/v1").to_owned();
    let openai_base =
        if first.api_base.ends_with("/v1") || first.protocol() != gateway::Protocol::Anthropic {
            first.api_base.clone()
        } else {
            format!("{}/v1", first.api_base)
        };
    Ok(Endpoint {
        root,
        openai_base,
        key,
        protocol: first.protocol(),
        provider: first.provider.name.to_owned(),
        model_ids: deployments
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.upstream_model.clone()))
            .collect(),
    })
}
