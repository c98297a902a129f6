//! `agent-shim proxy start|stop|status|health`: the background gateway ("the proxy" in the seeds).

use crate::cli::{NetArgs, ProxyAction};
use crate::daemon::{self, Probe};
use crate::error::{CliError, Result};
use crate::settings::Settings;
use std::process::ExitCode;

pub fn run(action: ProxyAction, net: NetArgs) -> Result<ExitCode> {
    let settings = Settings::load(&net, None)?;
    match action {
        ProxyAction::Start => {
            let health = daemon::block_on(daemon::ensure_running(&settings))?;
            println!(
                "gateway running on {} (pid {})",
                settings.base_url(),
                health["pid"]
            );
        }
        ProxyAction::Stop => match daemon::stop(&settings)? {
            Some(pid) => println!("gateway on port {} stopped (pid {pid})", settings.port),
            None => println!("no gateway is running on port {}", settings.port),
        },
        ProxyAction::Status => match daemon::block_on(daemon::probe(&settings)) {
            Probe::Gateway(h) => {
                println!("gateway: running");
                println!("url:     {}", settings.base_url());
                println!("pid:     {}", h["pid"]);
                println!("uptime:  {} s", h["uptime_seconds"]);
                println!("models:  {}", h["models"]);
                println!("log:     {}", settings.log_path().display());
            }
            Probe::Foreign(url) => {
                return Err(CliError::failed(format!(
                    "{url} answers, but it is not agent-shim's gateway"
                )));
            }
            Probe::Nothing => {
                println!(
                    "gateway: not running (port {}); start it with `agent-shim proxy start`",
                    settings.port
                );
                return Ok(ExitCode::from(3));
            }
        },
        ProxyAction::Health => match daemon::block_on(daemon::probe(&settings)) {
            Probe::Gateway(h) => {
                println!("{}", serde_json::to_string_pretty(&h).unwrap_or_default())
            }
            Probe::Foreign(url) => {
                return Err(CliError::failed(format!(
                    "{url} is not agent-shim's gateway"
                )));
            }
            Probe::Nothing => {
                return Err(CliError::failed(format!(
                    "no gateway answers at {}/health",
                    settings.base_url()
                )));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
