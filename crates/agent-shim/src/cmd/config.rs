//! `agent-shim config check FILE`: loads a gateway config file (agent-shim's `config.yaml` or a
//! LiteLLM proxy config) as `serve --config FILE` would, and prints, one line each, what it
//! does not serve: every warning of [`crate::settings::litellm`] (keys agent-shim does not
//! implement, keys given twice), every deployment that cannot be built with its reason, then a
//! summary with the share of the file's deployments served.
//!
//! Nothing is run or contacted: a `key_command` is not run, no upstream is called. Variables
//! (`os.environ/NAME`) are looked up as the gateway would (the environment, then `.secrets`).

use crate::cli::{ConfigAction, NetArgs};
use crate::error::Result;
use crate::settings::secrets::FileSecrets;
use crate::settings::{Settings, litellm, yaml};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub fn run(action: ConfigAction) -> Result<ExitCode> {
    match action {
        ConfigAction::Check { file } => check(&file),
    }
}

/// What a check found: the lines to print and how many deployments are served.
#[derive(Debug)]
pub struct Report {
    /// Warnings, deployments not served, and the summary, one line each.
    pub lines: Vec<String>,
    /// Deployments served (built, and named in no warning).
    pub served: usize,
    /// Deployments the file defines.
    pub total: usize,
}

fn check(file: &Path) -> Result<ExitCode> {
    let r = report(file)?;
    let mut out = String::new();
    for l in &r.lines {
        let _ = writeln!(out, "{l}");
    }
    print!("{out}");
    Ok(if r.served == r.total {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Checks `file` (module docs). Errors: the file does not load (exit 2).
pub fn report(file: &Path) -> Result<Report> {
    let settings = Settings::load(&NetArgs::default(), Some(file))?;
    let origin = file.display().to_string();
    let text = yaml::read_text_optional(file)?.unwrap_or_default();
    let checked = litellm::check(&text, &origin);
    // The usage ledger's database_url: one agent-shim cannot use is a warning (or an error).
    let ledger_warnings = settings.ledger()?.warnings;
    let mut lines: Vec<String> = settings
        .config
        .warnings
        .iter()
        .chain(&ledger_warnings)
        .map(|w| format!("warning: {w}"))
        .collect();
    let mut defs = settings.config.model_list.clone();
    litellm::apply(defs.iter_mut(), &settings.config, &origin)?;
    let secrets = litellm::ConfigVariables::new(
        &settings.config.environment_variables,
        FileSecrets::new(settings.secrets_path()),
    );
    let total = defs.len();
    let mut served: usize = 0;
    for (i, mut d) in defs.into_iter().enumerate() {
        let (line, named) = checked.deployments.get(i).copied().unwrap_or((0, false));
        // A check runs nothing: the key a command would print is not needed to build.
        d.litellm_params.key_command = None;
        match gateway::Deployment::new(d, gateway::Origin::Config, &secrets) {
            Ok(_) if !named => served += 1,
            // Its warning above says why.
            Ok(_) => {}
            Err(e) => lines.push(format!("not served: {origin}:{line}: {e}")),
        }
    }
    let share = (served * 100).checked_div(total).unwrap_or(100);
    lines.push(format!(
        "{origin}: {served} of {total} deployments served ({share}%), {} warnings",
        settings.config.warnings.len() + ledger_warnings.len()
    ));
    Ok(Report {
        lines,
        served,
        total,
    })
}
