//! `agent-shim proxy start|stop|status|health|reload|restart`: the background gateway ("the
//! proxy" in the seeds). Every action first asks whose gateway answers on the port
//! ([`daemon::probe`]), so they agree about another installation's or another program there.

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
            None => {
                match daemon::block_on(daemon::probe(&settings)) {
                    Probe::Other(h) => return Err(daemon::other_instance(&settings, &h)),
                    Probe::Foreign(what) => return Err(daemon::foreign(&settings, &what)),
                    _ => {}
                }
                println!("no gateway is running on port {}", settings.port);
            }
        },
        ProxyAction::Status => match daemon::block_on(daemon::probe(&settings)) {
            Probe::Ours(h) | Probe::OursOtherVersion(h) => {
                println!("gateway: running");
                println!("url:     {}", settings.base_url());
                println!("pid:     {}", h["pid"]);
                println!("version: {}", h["version"].as_str().unwrap_or("?"));
                println!("uptime:  {} s", h["uptime_seconds"]);
                println!("models:  {}", h["models"]);
                if let Some(n) = daemon::open_requests(&h) {
                    println!("open:    {n} requests in flight");
                }
                println!("log:     {}", settings.log_path().display());
                if let Some(e) = h["config"]["last_error"].as_str() {
                    println!("config:  the last edit was not applied: {e}");
                }
                if h["version"] != env!("CARGO_PKG_VERSION") {
                    println!(
                        "note:    this agent-shim is {}; run `agent-shim proxy restart` to serve with it",
                        env!("CARGO_PKG_VERSION")
                    );
                }
            }
            Probe::Other(h) => return Err(daemon::other_instance(&settings, &h)),
            Probe::Foreign(what) => return Err(daemon::foreign(&settings, &what)),
            Probe::Nothing => {
                println!(
                    "gateway: not running (port {}); start it with `agent-shim proxy start`",
                    settings.port
                );
                return Ok(ExitCode::from(3));
            }
        },
        ProxyAction::Health => match daemon::block_on(daemon::probe(&settings)) {
            Probe::Ours(h) | Probe::OursOtherVersion(h) => {
                println!("{}", serde_json::to_string_pretty(&h).unwrap_or_default())
            }
            Probe::Other(h) => return Err(daemon::other_instance(&settings, &h)),
            Probe::Foreign(what) => return Err(daemon::foreign(&settings, &what)),
            Probe::Nothing => {
                return Err(CliError::failed(format!(
                    "no gateway answers at {}/health",
                    settings.base_url()
                )));
            }
        },
        ProxyAction::Reload => return reload(&settings),
        ProxyAction::Restart { force } => return restart(&settings, force),
    }
    Ok(ExitCode::SUCCESS)
}

/// `proxy reload`: the running gateway reads its files now; prints what changed and the
/// settings that need a restart, or fails with the error located in the file (exit 2).
fn reload(settings: &Settings) -> Result<ExitCode> {
    match daemon::block_on(daemon::probe(settings)) {
        Probe::Ours(_) | Probe::OursOtherVersion(_) => {}
        Probe::Other(h) => return Err(daemon::other_instance(settings, &h)),
        Probe::Foreign(what) => return Err(daemon::foreign(settings, &what)),
        Probe::Nothing => {
            return Err(CliError::failed(format!(
                "no gateway is running on port {}; nothing to reload (a gateway reads the files when it starts)",
                settings.port
            )));
        }
    }
    let report = daemon::block_on(daemon::reload(settings))?;
    let changed: Vec<&str> = report["changed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    if changed.is_empty() {
        println!("configuration reloaded; no model definition changed");
    } else {
        println!(
            "configuration reloaded; models changed: {}",
            changed.join(", ")
        );
    }
    for w in report["warnings"].as_array().into_iter().flatten() {
        eprintln!("agent-shim: warning: {}", w.as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

/// `proxy restart`: stop and start again from this process (so the gateway gets this shell's
/// environment). Refuses while requests are in flight unless `force`.
fn restart(settings: &Settings, force: bool) -> Result<ExitCode> {
    match daemon::block_on(daemon::probe(settings)) {
        Probe::Ours(h) | Probe::OursOtherVersion(h) => {
            let open = daemon::open_requests(&h).unwrap_or(0);
            if open > 0 && !force {
                return Err(CliError::failed(format!(
                    "{open} requests are in flight on the gateway (pid {}); run this again when they have finished, \
                     or `agent-shim proxy restart --force` to cut them",
                    h["pid"]
                )));
            }
        }
        Probe::Other(h) => return Err(daemon::other_instance(settings, &h)),
        Probe::Foreign(what) => return Err(daemon::foreign(settings, &what)),
        Probe::Nothing => {}
    }
    let old = daemon::stop(settings)?;
    let health = daemon::block_on(daemon::start(settings))?;
    match old {
        Some(pid) => println!(
            "gateway restarted on {} (pid {pid} → pid {})",
            settings.base_url(),
            health["pid"]
        ),
        None => println!(
            "gateway started on {} (pid {}); none was running",
            settings.base_url(),
            health["pid"]
        ),
    }
    Ok(ExitCode::SUCCESS)
}
