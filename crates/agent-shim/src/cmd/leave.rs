//! `agent-shim leave <token>`: a shell left a configured directory. One transaction takes the
//! shell off the token and one off each of its models; models at refcount 0 start their lease.
//! No network unless the janitor is due and finds an expired lease.

use super::janitor;
use crate::cli::LeaveArgs;
use crate::error::Result;
use crate::settings::Settings;
use crate::state::{StateDb, now_ms};
use std::process::ExitCode;

pub fn run(args: LeaveArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let mut db = StateDb::open(&settings.state_dir)?;
    db.leave(&args.token, now_ms(), settings.lease())?;
    janitor::run_if_due(&settings, &mut db, false)?;
    Ok(ExitCode::SUCCESS)
}
