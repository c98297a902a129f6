//! `agent-shim enter <token> <profile>`: a shell entered a configured directory (called by the
//! shell hook). One transaction adds the shell to the token and one to each of the profile's
//! models. When nothing else changes — the models are registered and the gateway holds its pid
//! file — no network is touched; otherwise the gateway is started or the new models registered.

use super::janitor;
use crate::cli::EnterArgs;
use crate::daemon;
use crate::error::Result;
use crate::registration::{self, Target};
use crate::settings::{Settings, catalog};
use crate::state::{StateDb, now_ms};
use std::process::ExitCode;

pub fn run(args: EnterArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    // Only this profile is read (the hook runs this on every `cd`).
    let profile = catalog::find_profile(&settings, &args.profile)?;
    let names: Vec<String> = profile
        .item
        .model_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let dir = args
        .dir
        .or_else(|| {
            std::env::var("DIRENV_DIR")
                .ok()
                .map(|d| d.trim_start_matches('-').into())
        })
        .or_else(|| std::env::current_dir().ok())
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut db = StateDb::open(&settings.state_dir)?;
    let entered = db.enter(&args.token, &args.profile, &dir, &names, now_ms())?;
    let target = Target::of(&settings)?;
    if !target.external && daemon::running_pid(&settings).is_none() {
        // The gateway registers every leased model (these included) when it starts.
        daemon::block_on(daemon::ensure_running(&settings))?;
    } else if !entered.unregistered.is_empty() {
        let models = catalog::load_models(&settings)?;
        if !target.external {
            // An external proxy may serve models defined only in its own config.
            catalog::profile_models(&models, &args.profile, &profile)?;
        }
        let done = daemon::block_on(async {
            if !target.external {
                daemon::ensure_running(&settings).await?;
            }
            registration::register(&settings, &target, &models, &entered.unregistered).await
        })?;
        db.mark_registered(&done)?;
    }
    janitor::run_if_due(&settings, &mut db, false)?;
    Ok(ExitCode::SUCCESS)
}
