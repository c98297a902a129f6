//! `agent-shim proxy start|stop|status|health|reload|restart`: the background gateway ("the
//! proxy" in the seeds). Every action first asks whose gateway answers on the port
//! ([`daemon::probe`]), so they agree about another installation's or another program there;
//! `stop` and `restart` leave a gateway the service runs to `agent-shim service`.

use crate::cli::ServiceManager;
use crate::cli::{NetArgs, ProxyAction};
use crate::daemon::{self, Probe};
use crate::error::{CliError, Result};
use crate::service;
use crate::settings::Settings;
use std::process::ExitCode;

pub fn run(action: ProxyAction, net: NetArgs) -> Result<ExitCode> {
    let settings = Settings::load(&net, None)?;
    // The service's gateway is stopped and restarted by its service manager.
    let verb = match action {
        ProxyAction::Stop => Some("stop"),
        ProxyAction::Restart { .. } => Some("restart"),
        _ => None,
    };
    if let Some(verb) = verb
        && let Some(m) = daemon::service_of(&settings)
    {
        return Err(daemon::run_by_service(&settings, m, verb));
    }
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
            Probe::Ours(h) | Probe::OursOtherVersion(h) => print_running(&settings, &h),
            Probe::Other(h) => return Err(daemon::other_instance(&settings, &h)),
            Probe::Foreign(what) => return Err(daemon::foreign(&settings, &what)),
            Probe::Nothing => {
                println!(
                    "gateway: not running (port {}); start it with `agent-shim proxy start`",
                    settings.port
                );
                service_elsewhere(&settings);
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

/// Notes an installed service that listens on another address than this command's.
fn service_elsewhere(settings: &Settings) {
    let Ok(Some(inst)) = service::Installed::read(service::default_manager()) else {
        return;
    };
    let (Some(host), Some(port)) = (inst.host(), inst.port()) else {
        return;
    };
    if (host, port) != (settings.host, settings.port) {
        println!(
            "note:    the agent-shim service is installed for {host} port {port}; reach it with \
             --host {host} --port {port} (or set host and port in {})",
            settings.config_path.display()
        );
    }
}

/// What `proxy status` and `service status` say about a running gateway of this installation
/// (its `/health` body `h`).
pub fn print_running(settings: &Settings, h: &serde_json::Value) {
    println!("gateway: running");
    println!("url:     {}", settings.base_url());
    println!("health:  {}", h["status"].as_str().unwrap_or("?"));
    println!("pid:     {}", h["pid"]);
    println!("version: {}", h["version"].as_str().unwrap_or("?"));
    println!("uptime:  {} s", h["uptime_seconds"]);
    println!("models:  {}", h["models"]);
    if let Some(n) = daemon::open_requests(h) {
        println!("open:    {n} requests in flight");
    }
    let service = daemon::service_of(settings);
    match service {
        Some(m) => {
            println!("service: {}", service::describe(m));
            if m == ServiceManager::Systemd {
                println!("log:     journalctl --user -u {}", service::UNIT);
            } else {
                println!("log:     {}", settings.log_path().display());
            }
        }
        None => println!("log:     {}", settings.log_path().display()),
    }
    if let Some(e) = h["config"]["last_error"].as_str() {
        println!("config:  the last edit was not applied: {e}");
    }
    if h["version"] != env!("CARGO_PKG_VERSION") {
        let how = if service.is_some() {
            "service"
        } else {
            "proxy"
        };
        println!(
            "note:    this agent-shim is {}; run `agent-shim {how} restart` to serve with it",
            env!("CARGO_PKG_VERSION")
        );
    }
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
