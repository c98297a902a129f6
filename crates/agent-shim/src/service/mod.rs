//! The gateway as a service (`agent-shim service …`): what the service runs ([`Spec`]: this
//! binary's `serve` in the foreground, marked as the service's), the files that say so to the
//! service manager (a systemd user unit, [`systemd`]; a launchd agent, [`launchd`]) and to the
//! gateway (the env file with the provider keys, [`env_file`]), where they live, reading back the
//! address an installed service listens on, and the manager's commands for each action.

pub mod env_file;
pub mod launchd;
pub mod systemd;

use crate::cli::ServiceManager;
use crate::error::{CliError, Result};
use crate::settings::{Settings, env_vars};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The systemd unit's name.
pub const UNIT: &str = "agent-shim.service";
/// The launchd agent's label.
pub const LABEL: &str = "dev.agent-shim.gateway";

/// The service manager of this OS.
pub fn default_manager() -> ServiceManager {
    if cfg!(target_os = "macos") {
        ServiceManager::Launchd
    } else {
        ServiceManager::Systemd
    }
}

/// The service in words, e.g. in `proxy stop`'s refusal.
pub fn describe(manager: ServiceManager) -> String {
    match manager {
        ServiceManager::Systemd => format!("systemd user unit {UNIT}"),
        ServiceManager::Launchd => format!("launchd agent {LABEL}"),
    }
}

/// What the service runs and with which environment. Holds no secret: the keys are in the env
/// file, which the unit names (systemd) or a `/bin/sh` wrapper reads (launchd).
#[derive(Debug, Clone)]
pub struct Spec {
    /// This binary, absolute and canonical.
    pub exe: PathBuf,
    /// Its arguments: `serve --host H --port P [--config FILE] --managed-by M`.
    pub args: Vec<String>,
    /// Variables set in the service (PATH and agent-shim's two directories), in order.
    pub env: Vec<(String, String)>,
    /// The env file with the provider keys.
    pub env_file: PathBuf,
    /// Where launchd appends the gateway's output (systemd uses the journal).
    pub log: PathBuf,
}

impl Spec {
    /// The service for `settings` (flags, environment and the `--config` file resolved), with
    /// this process's PATH. `config` is the `--config` file, made absolute.
    pub fn new(
        settings: &Settings,
        config: Option<&Path>,
        manager: ServiceManager,
    ) -> Result<Spec> {
        let exe = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| CliError::failed(format!("cannot find agent-shim's own path: {e}")))?;
        let mut args = vec![
            "serve".to_owned(),
            "--host".to_owned(),
            settings.host.to_string(),
            "--port".to_owned(),
            settings.port.to_string(),
        ];
        if let Some(c) = config {
            args.push("--config".into());
            args.push(utf8(&absolute(c)?, "--config")?.to_owned());
        }
        args.push("--managed-by".into());
        args.push(
            match manager {
                ServiceManager::Systemd => "systemd",
                ServiceManager::Launchd => "launchd",
            }
            .into(),
        );
        let path = std::env::var("PATH").map_err(|_| {
            CliError::usage("PATH is not set (or not UTF-8); the service needs it to find `claude` and key_command programs")
        })?;
        let config_dir = absolute(&settings.config_dir)?;
        let state_dir = absolute(&settings.state_dir)?;
        let env = vec![
            ("PATH".to_owned(), path),
            (
                env_vars::CONFIG_DIR.to_owned(),
                utf8(&config_dir, env_vars::CONFIG_DIR)?.to_owned(),
            ),
            (
                env_vars::STATE_DIR.to_owned(),
                utf8(&state_dir, env_vars::STATE_DIR)?.to_owned(),
            ),
        ];
        Ok(Spec {
            exe,
            args,
            env,
            env_file: env_file::path(&config_dir),
            log: state_dir.join(format!("gateway-{}.log", settings.port)),
        })
    }
}

/// `p` made absolute against the current directory (it need not exist).
fn absolute(p: &Path) -> Result<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Ok(c);
    }
    std::path::absolute(p)
        .map_err(|e| CliError::failed(format!("cannot make {} absolute: {e}", p.display())))
}

fn utf8<'a>(p: &'a Path, what: &str) -> Result<&'a str> {
    p.to_str().ok_or_else(|| {
        CliError::usage(format!(
            "{what} {} is not UTF-8; a service file cannot name it",
            p.display()
        ))
    })
}

/// The file telling the manager about the service: the unit or the agent's plist.
pub fn definition_path(manager: ServiceManager) -> Result<PathBuf> {
    use etcetera::BaseStrategy;
    let xdg = etcetera::choose_base_strategy()
        .map_err(|e| CliError::usage(format!("cannot find the home directory: {e}")))?;
    Ok(match manager {
        ServiceManager::Systemd => xdg.config_dir().join("systemd/user").join(UNIT),
        ServiceManager::Launchd => xdg
            .home_dir()
            .join("Library/LaunchAgents")
            .join(format!("{LABEL}.plist")),
    })
}

/// What a service file says, read back.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The whole command line (for launchd, the `/bin/sh` wrapper's).
    pub argv: Vec<String>,
    /// The variables it sets.
    pub env: Vec<(String, String)>,
    /// The env file it reads.
    pub env_file: Option<PathBuf>,
}

/// An installed service, read back from its file.
#[derive(Debug)]
pub struct Installed {
    /// The unit or plist.
    pub path: PathBuf,
    /// agent-shim's arguments (after the binary).
    pub args: Vec<String>,
    /// The variables it sets (PATH, agent-shim's directories).
    pub env: Vec<(String, String)>,
    /// The env file it reads.
    pub env_file: Option<PathBuf>,
}

impl Installed {
    /// The service of `manager`, when its file exists. Errors: a file agent-shim cannot read
    /// back (edited by hand).
    pub fn read(manager: ServiceManager) -> Result<Option<Installed>> {
        let path = definition_path(manager)?;
        if !path.exists() {
            return Ok(None);
        }
        let parsed = match manager {
            ServiceManager::Systemd => systemd::read(&path)?,
            ServiceManager::Launchd => launchd::read(&path)?,
        };
        let start = parsed.argv.iter().position(|a| a == "serve").ok_or_else(|| {
            CliError::failed(format!(
                "{} does not run `agent-shim serve`; run `agent-shim service install` to rewrite it",
                path.display()
            ))
        })?;
        Ok(Some(Installed {
            path,
            args: parsed.argv[start..].to_vec(),
            env: parsed.env,
            env_file: parsed.env_file,
        }))
    }

    /// The settings of the service's gateway: its address, and its directories from the
    /// variables the service sets (else this environment's).
    pub fn settings(&self) -> Result<Settings> {
        let net = crate::cli::NetArgs {
            host: self.host(),
            port: self.port(),
        };
        let env: std::collections::HashMap<&str, &str> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Settings::resolve(&net, None, &|k| {
            env.get(k)
                .map(|v| (*v).to_owned())
                .or_else(|| std::env::var(k).ok())
        })
    }

    fn flag(&self, name: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == name)?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// The address the service's gateway listens on.
    pub fn host(&self) -> Option<IpAddr> {
        self.flag("--host")?.parse().ok()
    }

    /// The port the service's gateway listens on.
    pub fn port(&self) -> Option<u16> {
        self.flag("--port")?.parse().ok()
    }

    /// The `--config` file it serves, if any.
    pub fn config(&self) -> Option<&str> {
        self.flag("--config")
    }
}

/// Whether the service manager runs here: `systemctl --user is-system-running` answers that
/// the user's systemd runs (`running`, `degraded`, `starting`, `initializing`); `launchctl
/// print gui/<uid>` finds the login session's domain. `Err` says what was found instead.
pub fn manager_available(manager: ServiceManager) -> std::result::Result<(), String> {
    match manager {
        ServiceManager::Systemd => {
            let out = Command::new("systemctl")
                .args(["--user", "is-system-running"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("systemctl: {e}"))?;
            let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            match state.as_str() {
                "running" | "degraded" | "starting" | "initializing" => Ok(()),
                "" => Err(format!(
                    "`systemctl --user is-system-running`: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                other => Err(format!("`systemctl --user is-system-running`: {other}")),
            }
        }
        ServiceManager::Launchd => {
            let domain = launchd::domain();
            let out = Command::new("launchctl")
                .args(["print", &domain])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("launchctl: {e}"))?;
            if out.success() {
                Ok(())
            } else {
                Err(format!("`launchctl print {domain}` failed ({out})"))
            }
        }
    }
}

/// Whether the manager has the service loaded and running now (asked quietly).
pub fn is_active(manager: ServiceManager) -> bool {
    let mut cmd = match manager {
        ServiceManager::Systemd => {
            let mut c = Command::new("systemctl");
            c.args(["--user", "is-active", "--quiet", UNIT]);
            c
        }
        ServiceManager::Launchd => {
            let mut c = Command::new("launchctl");
            c.args(["print", &launchd::target()]);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command line, as printed and as run.
pub type Argv = Vec<String>;

fn argv(words: &[&str]) -> Argv {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// What enables and starts the installed service; `was_active`: it ran before this install, so
/// it is restarted onto the new files.
pub fn install_commands(manager: ServiceManager, definition: &Path, was_active: bool) -> Vec<Argv> {
    match manager {
        ServiceManager::Systemd => {
            let mut c = vec![
                argv(&["systemctl", "--user", "daemon-reload"]),
                argv(&["systemctl", "--user", "enable", "--now", UNIT]),
            ];
            if was_active {
                c.push(argv(&["systemctl", "--user", "restart", UNIT]));
            }
            c
        }
        ServiceManager::Launchd => {
            let mut c = Vec::new();
            if was_active {
                c.push(argv(&["launchctl", "bootout", &launchd::target()]));
            }
            c.push(vec![
                "launchctl".into(),
                "bootstrap".into(),
                launchd::domain(),
                definition.display().to_string(),
            ]);
            c
        }
    }
}

/// What stops and disables the service before its files are removed.
pub fn uninstall_commands(manager: ServiceManager) -> Vec<Argv> {
    match manager {
        ServiceManager::Systemd => vec![argv(&["systemctl", "--user", "disable", "--now", UNIT])],
        ServiceManager::Launchd => vec![argv(&["launchctl", "bootout", &launchd::target()])],
    }
}

/// What `service start|stop|restart` runs.
pub fn action_command(manager: ServiceManager, action: &str, definition: &Path) -> Argv {
    match (manager, action) {
        (ServiceManager::Systemd, _) => argv(&["systemctl", "--user", action, UNIT]),
        (ServiceManager::Launchd, "start") => vec![
            "launchctl".into(),
            "bootstrap".into(),
            launchd::domain(),
            definition.display().to_string(),
        ],
        (ServiceManager::Launchd, "stop") => argv(&["launchctl", "bootout", &launchd::target()]),
        (ServiceManager::Launchd, _) => argv(&["launchctl", "kickstart", "-k", &launchd::target()]),
    }
}

/// What `service logs` runs: the user journal for the unit, or `tail` of the agent's log file.
pub fn logs_command(manager: ServiceManager, follow: bool, lines: Option<u32>, log: &Path) -> Argv {
    let mut c = match manager {
        ServiceManager::Systemd => argv(&["journalctl", "--user", "-u", UNIT]),
        ServiceManager::Launchd => argv(&["tail"]),
    };
    if let Some(n) = lines {
        c.extend(["-n".to_owned(), n.to_string()]);
    }
    if follow {
        c.push("-f".into());
    }
    if manager == ServiceManager::Launchd {
        c.push(log.display().to_string());
    }
    c
}

/// `argv` as a shell would take it (words with spaces or quotes single-quoted).
pub fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
            {
                w.clone()
            } else {
                crate::cmd::shell_quote(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
