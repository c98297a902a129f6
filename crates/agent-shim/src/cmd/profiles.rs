//! `agent-shim profiles list|show <name>|install`.

use crate::cli::ProfilesAction;
use crate::error::{CliError, Result};
use crate::settings::Settings;
use crate::settings::catalog;
use std::process::ExitCode;

pub fn run(action: ProfilesAction) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    match action {
        ProfilesAction::List => {
            let profiles = catalog::load_profiles(&settings)?;
            let w = profiles.keys().map(String::len).max().unwrap_or(7);
            println!("{:w$}  {:44}  SOURCE", "PROFILE", "DESCRIPTION");
            for (name, p) in &profiles {
                let d = p
                    .item
                    .description
                    .clone()
                    .unwrap_or_else(|| p.item.name.clone());
                println!("{name:w$}  {d:44}  {}", p.source);
            }
        }
        ProfilesAction::Show { name } => {
            let profiles = catalog::load_profiles(&settings)?;
            let p = catalog::profile(&profiles, &name)?;
            let models = catalog::load_models(&settings)?;
            println!("profile  {name} ({})", p.source);
            if let Some(d) = &p.item.description {
                println!("         {d}");
            }
            for (tier, m) in [
                ("opus", &p.item.opus_model),
                ("sonnet", &p.item.sonnet_model),
                ("haiku", &p.item.haiku_model),
            ] {
                let defs: Vec<_> = models.iter().filter(|d| &d.item.model_name == m).collect();
                if defs.is_empty() {
                    println!("{tier:8} {m}  (no definition: requests for it will fail)");
                }
                for d in defs {
                    let params = &d.item.litellm_params;
                    let (endpoint, key) = if d.item.provider_prefix() == Some("claude-code") {
                        // No endpoint and no key: the user's `claude` CLI and its own login.
                        let path = params.other.get("claude_path").and_then(|v| v.as_str());
                        let cli = path.map_or("`claude` on PATH".into(), gateway::redact::urls_in);
                        (format!("CLI {cli}"), "the CLI's login".to_owned())
                    } else {
                        let key = match &params.api_key {
                            Some(k) => k.display_safe(),
                            None => d
                                .item
                                .provider_prefix()
                                .and_then(gateway::provider)
                                .and_then(|p| p.key_env)
                                .map_or_else(|| "no key".into(), |v| format!("os.environ/{v}")),
                        };
                        let endpoint = params
                            .api_base
                            .as_deref()
                            .map_or("default endpoint".into(), gateway::redact::url);
                        (endpoint.into_owned(), key)
                    };
                    println!(
                        "{tier:8} {m}  →  {}  {endpoint}  key {key}  ({})",
                        params.model, d.source
                    );
                }
            }
            for (k, v) in &p.item.env {
                // A value named like a secret is one; a URL may carry credentials.
                let shown = if gateway::redact::is_secret_name(k) {
                    gateway::redact::REDACTED.into()
                } else {
                    gateway::redact::urls_in(v)
                };
                println!("env      {k}={shown}");
            }
            if p.item.isolated {
                println!("isolated: true (Claude Code gets its own config dir)");
            }
            if let Some(c) = &p.item.aws_auth_refresh {
                println!("aws_auth_refresh: {}", gateway::redact::urls_in(c));
            }
            if let Some(c) = &p.item.context_1m {
                let shown = serde_json::to_string(c).unwrap_or_default();
                println!("context_1m: {shown}");
            }
        }
        ProfilesAction::Install => install(&settings)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies each built-in profile to `<config>/profiles/<name>.yaml` unless a file is there.
fn install(settings: &Settings) -> Result<()> {
    let dir = settings.config_dir.join("profiles");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    for (name, text) in catalog::builtin_profile_files() {
        let path = dir.join(format!("{name}.yaml"));
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == *text => {
                println!("  ok      {} (same as built-in)", path.display())
            }
            Ok(_) => println!("  kept    {} (edited; not overwritten)", path.display()),
            Err(_) => {
                std::fs::write(&path, text).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", path.display()))
                })?;
                println!("  wrote   {}", path.display());
            }
        }
    }
    Ok(())
}
