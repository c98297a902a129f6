//! `agent-shim janitor [--force]`: releases models whose lease expired, at most once per
//! `janitor_interval_seconds` (60 by default) unless forced. `enter`, `leave` and the gateway's
//! timer run it too.

use crate::cli::JanitorArgs;
use crate::daemon;
use crate::error::Result;
use crate::registration::{self, Target};
use crate::settings::Settings;
use crate::state::{ModelRow, StateDb, now_ms};
use std::process::ExitCode;

pub fn run(args: JanitorArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let mut db = StateDb::open(&settings.state_dir)?;
    match run_if_due(&settings, &mut db, args.force)? {
        None => println!(
            "janitor ran less than {} s ago; use --force to run it now",
            settings.janitor_interval().as_secs()
        ),
        Some(removed) if removed.is_empty() => println!("no expired leases"),
        Some(removed) => {
            for m in removed {
                println!("released {}", m.model_name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the janitor when due and unregisters what it released from the gateway (when one runs)
/// or the external proxy. `None` when it was not due.
pub fn run_if_due(
    settings: &Settings,
    db: &mut StateDb,
    force: bool,
) -> Result<Option<Vec<ModelRow>>> {
    let Some(removed) = db.janitor(now_ms(), settings.janitor_interval(), force)? else {
        return Ok(None);
    };
    if !removed.is_empty() {
        let target = Target::of(settings)?;
        if target.external || daemon::running_pid(settings).is_some() {
            daemon::block_on(registration::unregister(&target, &removed))?;
        }
    }
    Ok(Some(removed))
}
