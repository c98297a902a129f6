//! `agent-shim service install|uninstall|status|logs|start|stop|restart`: the gateway as a
//! service of the user's service manager — a systemd user unit on Linux, a launchd agent on
//! macOS ([`crate::service`]). The service runs `agent-shim serve` with the address (and
//! `--config` file) install was given, marked as the service's, so `proxy status`, `with` and
//! `env` find and use it as they do the background gateway, and `proxy stop` leaves it to
//! `service stop`.

use crate::cli::{ServiceAction, ServiceArgs, ServiceLogsArgs, ServiceManager};
use crate::daemon::{self, Probe};
use crate::error::{CliError, Result};
use crate::service::{self, Argv, Installed, Spec, env_file, launchd, systemd};
use crate::settings::{Settings, catalog};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

pub fn run(action: ServiceAction, args: ServiceArgs) -> Result<ExitCode> {
    let manager = args.manager.unwrap_or_else(service::default_manager);
    match action {
        ServiceAction::Install => install(manager, &args),
        ServiceAction::Uninstall => uninstall(manager),
        ServiceAction::Status => status(manager, &args),
        ServiceAction::Logs(l) => logs(manager, &l),
        ServiceAction::Start => act(manager, "start"),
        ServiceAction::Stop => act(manager, "stop"),
        ServiceAction::Restart => act(manager, "restart"),
    }
}

/// Writes the env file and the service file, then enables and starts the service when the
/// manager runs here, else prints the commands that do.
fn install(manager: ServiceManager, args: &ServiceArgs) -> Result<ExitCode> {
    if args.net.port == Some(0) {
        return Err(CliError::usage(
            "--port 0: the service needs a fixed port (1-65535) its clients can be given",
        ));
    }
    let settings = Settings::load(&args.net, args.config.as_deref())?;
    if settings.port == 0 {
        return Err(CliError::usage(format!(
            "port 0 (from AGENT_SHIM_PORT or {}): the service needs a fixed port; pass --port",
            settings.config_path.display()
        )));
    }
    let models = catalog::load_models(&settings)?;
    let spec = Spec::new(&settings, args.config.as_deref(), manager)?;
    let definition = service::definition_path(manager)?;
    let text = match manager {
        ServiceManager::Systemd => systemd::render(&spec)?.into_bytes(),
        ServiceManager::Launchd => launchd::render(&spec)?,
    };
    let keys = env_file::keys(&settings, &models, &|k| std::env::var(k).ok())?;
    let available = service::manager_available(manager);
    let was_active = available.is_ok() && service::is_active(manager);

    env_file::write(
        &spec.env_file,
        &env_file::render(&keys, &settings.secrets_path()),
    )?;
    if let Some(dir) = definition.parent() {
        create_dir(dir)?;
    }
    if manager == ServiceManager::Launchd {
        // launchd opens the log file but does not create its directory.
        create_dir(&settings.state_dir)?;
    }
    std::fs::write(&definition, text)
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", definition.display())))?;
    println!("wrote {}", definition.display());
    let names = |v: &[String]| v.join(", ");
    let set: Vec<String> = keys.set.iter().map(|(n, _)| n.clone()).collect();
    println!(
        "wrote {} (mode 600): {}",
        spec.env_file.display(),
        if set.is_empty() {
            "no key from this environment".to_owned()
        } else {
            format!("{} from this environment", names(&set))
        }
    );
    if !keys.in_secrets.is_empty() {
        println!(
            "the gateway reads {} from {}",
            names(&keys.in_secrets),
            settings.secrets_path().display()
        );
    }
    if !keys.missing.is_empty() {
        eprintln!(
            "agent-shim: warning: {} not set in this environment nor in {}; models using them \
             fail until you `agent-shim secrets set NAME` (read at once) or set them here and \
             install again",
            names(&keys.missing),
            settings.secrets_path().display()
        );
    }
    if !keys.multiline.is_empty() {
        eprintln!(
            "agent-shim: warning: {} not written to {} (a line break in the value); keep them \
             in {} (`agent-shim secrets set NAME`)",
            names(&keys.multiline),
            spec.env_file.display(),
            settings.secrets_path().display()
        );
    }
    let commands = service::install_commands(manager, &definition, was_active);
    match available {
        Ok(()) => {
            for c in &commands {
                run_quiet(c)?;
            }
            println!(
                "the service's gateway listens on {}; `agent-shim service status` shows its health",
                settings.base_url()
            );
            if manager == ServiceManager::Systemd && !lingering() {
                println!(
                    "note: a user service stops when your last session ends; to keep it running \
                     (a server): loginctl enable-linger"
                );
            }
        }
        Err(why) => {
            println!("not started: {why}. Start it where the service manager runs with:");
            for c in &commands {
                println!("  {}", service::shown(c));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))
}

/// Whether systemd keeps this user's services running without a session (`loginctl
/// enable-linger` makes a file named after the user).
fn lingering() -> bool {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    !user.is_empty() && Path::new("/var/lib/systemd/linger").join(user).exists()
}

/// Runs a manager command, echoing it; its output goes to the terminal.
fn run_quiet(argv: &Argv) -> Result<()> {
    println!("$ {}", service::shown(argv));
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| CliError::failed(format!("cannot run {}: {e}", argv[0])))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "`{}` failed ({status})",
            service::shown(argv)
        )))
    }
}

/// Stops and disables the service, then removes the files install wrote.
fn uninstall(manager: ServiceManager) -> Result<ExitCode> {
    let definition = service::definition_path(manager)?;
    let installed = Installed::read(manager).ok().flatten();
    // The env file the service names, and the one install would write now.
    let mut files = vec![definition.clone()];
    files.extend(installed.as_ref().and_then(|i| i.env_file.clone()));
    if let Ok(s) = Settings::load(&Default::default(), None) {
        files.push(env_file::path(&s.config_dir));
    }
    files.dedup();
    let available = service::manager_available(manager).is_ok();
    if installed.is_some() && available {
        for c in service::uninstall_commands(manager) {
            // Not loaded (stopped, never started) is fine: the files go all the same.
            if let Err(e) = run_quiet(&c) {
                eprintln!("agent-shim: {e}; removing the files anyway");
            }
        }
    }
    let mut removed = 0;
    for f in &files {
        match std::fs::remove_file(f) {
            Ok(()) => {
                println!("removed {}", f.display());
                removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::failed(format!(
                    "cannot remove {}: {e}",
                    f.display()
                )));
            }
        }
    }
    if removed == 0 {
        println!(
            "the service is not installed (no {}); nothing to remove",
            definition.display()
        );
    } else if available && manager == ServiceManager::Systemd {
        run_quiet(&vec![
            "systemctl".into(),
            "--user".into(),
            "daemon-reload".into(),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The installed service, or the error saying to install it.
fn installed(manager: ServiceManager) -> Result<Installed> {
    Installed::read(manager)?.ok_or_else(|| {
        CliError::failed(format!(
            "the service is not installed (no {}); run `agent-shim service install`",
            service::definition_path(manager)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))
    })
}

/// The service's files and state, then its gateway as `proxy status` shows it. Exit code 3
/// when it is not installed or its gateway does not answer.
fn status(manager: ServiceManager, args: &ServiceArgs) -> Result<ExitCode> {
    let Some(inst) = Installed::read(manager)? else {
        let settings = Settings::load(&args.net, None)?;
        println!(
            "service: not installed (no {}); `agent-shim service install` installs it",
            service::definition_path(manager)?.display()
        );
        if let Some(m) = daemon::service_of(&settings) {
            println!(
                "note:    a gateway marked as the {}'s runs on port {}",
                service::describe(m),
                settings.port
            );
        }
        return Ok(ExitCode::from(3));
    };
    let settings = inst.settings()?;
    println!(
        "file:    {} ({})",
        inst.path.display(),
        service::describe(manager)
    );
    if let Some(c) = inst.config() {
        println!("config:  {c}");
    }
    if let Some(f) = &inst.env_file {
        let keys = match std::fs::read_to_string(f) {
            Ok(t) => match t
                .lines()
                .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
                .count()
            {
                1 => "1 variable".to_owned(),
                n => format!("{n} variables"),
            },
            Err(e) => format!("cannot read it: {e}; `agent-shim service install` rewrites it"),
        };
        println!("env:     {} ({keys})", f.display());
    }
    println!("manager: {}", manager_state(manager));
    match daemon::block_on(daemon::probe(&settings)) {
        Probe::Ours(h) | Probe::OursOtherVersion(h) => {
            super::proxy::print_running(&settings, &h);
            if daemon::service_of(&settings).is_none() {
                println!(
                    "note:    this gateway was not started by the service (`agent-shim proxy \
                     stop`, then `agent-shim service start`)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Probe::Other(h) => Err(daemon::other_instance(&settings, &h)),
        Probe::Foreign(what) => Err(daemon::foreign(&settings, &what)),
        Probe::Nothing => {
            println!(
                "gateway: not running ({}); `agent-shim service logs` tells why",
                settings.base_url()
            );
            Ok(ExitCode::from(3))
        }
    }
}

/// The manager's word on the service, e.g. `active, enabled`.
fn manager_state(manager: ServiceManager) -> String {
    if let Err(why) = service::manager_available(manager) {
        return format!("not reachable here ({why})");
    }
    let ask = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    match manager {
        ServiceManager::Systemd => {
            let active = ask(&["systemctl", "--user", "is-active", service::UNIT]);
            let enabled = ask(&["systemctl", "--user", "is-enabled", service::UNIT]);
            format!("systemd: {active}, {enabled}")
        }
        ServiceManager::Launchd if service::is_active(manager) => {
            format!("launchd: loaded ({})", launchd::target())
        }
        ServiceManager::Launchd => format!("launchd: not loaded ({})", launchd::target()),
    }
}

/// The journal (systemd) or the log file (launchd), through journalctl or tail.
fn logs(manager: ServiceManager, args: &ServiceLogsArgs) -> Result<ExitCode> {
    let inst = installed(manager)?;
    let log = inst.settings()?.log_path();
    let argv = service::logs_command(manager, args.follow, args.lines, &log);
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| {
            CliError::with_code(
                format!("cannot run {} to show the service's log: {e}", argv[0]),
                127,
            )
        })?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

/// `service start|stop|restart` through the manager.
fn act(manager: ServiceManager, action: &str) -> Result<ExitCode> {
    let inst = installed(manager)?;
    let argv =
        if manager == ServiceManager::Launchd && action == "start" && service::is_active(manager) {
            // Loaded already: start it now rather than load it again.
            vec!["launchctl".into(), "kickstart".into(), launchd::target()]
        } else {
            service::action_command(manager, action, &inst.path)
        };
    run_quiet(&argv)?;
    if action != "stop" {
        println!(
            "`agent-shim service status` shows the gateway's health ({})",
            inst.settings()?.base_url()
        );
    }
    Ok(ExitCode::SUCCESS)
}
