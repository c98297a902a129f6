//! Settings, resolved once per command from flags, environment and files into one typed struct.
//!
//! Precedence, highest first (tested below):
//! - gateway port: `--port` > `AGENT_SHIM_PORT` > config.yaml `port` > 4444;
//! - gateway host: `--host` > `AGENT_SHIM_HOST` > config.yaml `host` > 127.0.0.1;
//! - config file: `serve --config FILE` > `<config dir>/config.yaml`;
//! - directories: `AGENT_SHIM_CONFIG_DIR` / `AGENT_SHIM_STATE_DIR` / `AGENT_SHIM_CACHE_DIR` > XDG
//!   defaults;
//! - master key: config.yaml `master_key` (or LiteLLM `general_settings.master_key`) >
//!   `AGENT_SHIM_MASTER_KEY` > `.secrets` > a new random key written to `.secrets` on first use.
//!   An empty or blank value anywhere is unset ([`SecretString`] cannot hold one), so the gateway
//!   never runs with an empty key.
//!
//! Loading has no side effects: reading settings never creates a file.

pub mod builtin;
pub mod catalog;
pub mod config_file;
pub mod env_vars;
pub mod filters;
pub mod ledger;
pub mod litellm;
pub mod paths;
pub mod router;
pub mod secrets;
pub mod yaml;

use crate::cli::NetArgs;
use crate::error::{CliError, Result};
use config_file::ConfigFile;
use gateway::SecretString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// The default gateway port.
pub const DEFAULT_PORT: u16 = 4444;

#[derive(Debug)]
pub struct Settings {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    /// What can be fetched again (the remote model catalogue), see [`paths::cache_dir`].
    pub cache_dir: PathBuf,
    /// The config file read (it may not exist).
    pub config_path: PathBuf,
    pub config: ConfigFile,
    pub host: IpAddr,
    pub port: u16,
}

impl Settings {
    /// Resolves settings from the process environment.
    pub fn load(net: &NetArgs, config_override: Option<&Path>) -> Result<Settings> {
        Settings::resolve(net, config_override, &|k| std::env::var(k).ok())
    }

    /// Resolves settings with `get` as the environment.
    pub fn resolve(
        net: &NetArgs,
        config_override: Option<&Path>,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let (config_dir, state_dir) = paths::dirs(get)?;
        let cache_dir = paths::cache_dir(get, &state_dir);
        let config_path =
            config_override.map_or_else(|| config_dir.join("config.yaml"), Path::to_path_buf);
        let config: ConfigFile = match litellm::read_config(&config_path)? {
            Some(c) => c,
            None if config_override.is_some() => {
                return Err(CliError::usage(format!(
                    "--config {}: no such file",
                    config_path.display()
                )));
            }
            None => ConfigFile::default(),
        };
        if config.max_request_body_mb == Some(0) {
            return Err(CliError::usage(format!(
                "{}: max_request_body_mb must be at least 1 (MiB; the default is 32)",
                config_path.display()
            )));
        }
        let env_port = match get(env_vars::PORT).filter(|v| !v.is_empty()) {
            Some(v) => Some(v.trim().parse::<u16>().map_err(|_| {
                CliError::usage(format!(
                    "{}={v:?} is not a port number (1-65535)",
                    env_vars::PORT
                ))
            })?),
            None => None,
        };
        let env_host = match get(env_vars::HOST).filter(|v| !v.is_empty()) {
            Some(v) => Some(v.trim().parse::<IpAddr>().map_err(|_| {
                CliError::usage(format!("{}={v:?} is not an IP address", env_vars::HOST))
            })?),
            None => None,
        };
        let port = net
            .port
            .or(env_port)
            .or(config.port)
            .unwrap_or(DEFAULT_PORT);
        let host = net
            .host
            .or(env_host)
            .or(config.host)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(Settings {
            config_dir,
            state_dir,
            cache_dir,
            config_path,
            config,
            host,
            port,
        })
    }

    /// The URL clients use (an unspecified listen address is reached on loopback).
    pub fn base_url(&self) -> String {
        let host = if self.host.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.host
        };
        match host {
            IpAddr::V6(h) => format!("http://[{h}]:{}", self.port),
            IpAddr::V4(h) => format!("http://{h}:{}", self.port),
        }
    }

    pub fn secrets_path(&self) -> PathBuf {
        self.config_dir.join(".secrets")
    }

    /// The gateway's master key, creating one in `.secrets` on first use (see module docs).
    pub fn master_key(&self) -> Result<SecretString> {
        if let Some(k) = self.config.master_key() {
            return match k.env_reference() {
                None => Ok(k.clone()),
                Some(var) => secrets::lookup(&self.secrets_path(), var)?.ok_or_else(|| {
                    CliError::usage(format!(
                        "{}: master_key is os.environ/{var}, but {var} is not set in the environment or in {}",
                        self.config_path.display(),
                        self.secrets_path().display()
                    ))
                }),
            };
        }
        secrets::master_key(&self.secrets_path())
    }

    /// How long a released model stays registered (`lease_minutes`, default 15).
    pub fn lease(&self) -> std::time::Duration {
        let m = self
            .config
            .lease_minutes
            .filter(|m| m.is_finite() && *m >= 0.0)
            .unwrap_or(15.0);
        std::time::Duration::from_secs_f64(m * 60.0)
    }

    /// The janitor's minimum interval (`janitor_interval_seconds`, default 60).
    pub fn janitor_interval(&self) -> std::time::Duration {
        let s = self
            .config
            .janitor_interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(60.0);
        std::time::Duration::from_secs_f64(s)
    }

    /// The gateway's request body limit in bytes (`max_request_body_mb`, default 32 MiB).
    pub fn max_request_body(&self) -> usize {
        self.config
            .max_request_body_mb
            .map_or(gateway::DEFAULT_MAX_REQUEST_BODY, |mb| {
                (mb as usize).saturating_mul(1024 * 1024)
            })
    }

    /// Pid file of the gateway on this port.
    pub fn pid_path(&self) -> PathBuf {
        self.state_dir.join(format!("gateway-{}.pid", self.port))
    }

    /// The mark of a gateway run by the service (`serve --managed-by`), next to its pid file.
    pub fn service_mark_path(&self) -> PathBuf {
        self.state_dir
            .join(format!("gateway-{}.service", self.port))
    }

    /// The id of this installation, reported by its gateway's `/health` so that a command can
    /// tell its own gateway from another state dir's or user's: the first 16 hex digits of the
    /// sha256 of the canonical state dir.
    pub fn instance_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let dir = std::fs::canonicalize(&self.state_dir).unwrap_or_else(|_| self.state_dir.clone());
        Sha256::digest(dir.as_os_str().as_encoded_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Log file of the background gateway on this port.
    pub fn log_path(&self) -> PathBuf {
        self.state_dir.join(format!("gateway-{}.log", self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(net: NetArgs, env: &[(&str, &str)], config: Option<&str>) -> Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        if let Some(text) = config {
            std::fs::write(cfg.join("config.yaml"), text).unwrap();
        }
        let mut map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        map.insert(env_vars::CONFIG_DIR.into(), cfg.display().to_string());
        map.insert(
            env_vars::STATE_DIR.into(),
            dir.path().join("state").display().to_string(),
        );
        let s = Settings::resolve(&net, None, &|k| map.get(k).cloned());
        drop(dir);
        s
    }

    #[test]
    fn port_precedence_flag_env_file_default() {
        let file = Some("port: 5555\n");
        assert_eq!(resolve(NetArgs::default(), &[], None).unwrap().port, 4444);
        assert_eq!(resolve(NetArgs::default(), &[], file).unwrap().port, 5555);
        assert_eq!(
            resolve(NetArgs::default(), &[(env_vars::PORT, "6666")], file)
                .unwrap()
                .port,
            6666
        );
        let flag = NetArgs {
            port: Some(7777),
            host: None,
        };
        assert_eq!(
            resolve(flag, &[(env_vars::PORT, "6666")], file)
                .unwrap()
                .port,
            7777
        );
    }

    #[test]
    fn host_precedence_and_default_loopback() {
        let s = resolve(NetArgs::default(), &[], None).unwrap();
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.base_url(), "http://127.0.0.1:4444");
        let s = resolve(
            NetArgs::default(),
            &[(env_vars::HOST, "0.0.0.0")],
            Some("host: 10.0.0.1\n"),
        )
        .unwrap();
        assert_eq!(s.host.to_string(), "0.0.0.0");
        assert_eq!(
            s.base_url(),
            "http://127.0.0.1:4444",
            "clients reach an unspecified address on loopback"
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_source() {
        let e = resolve(NetArgs::default(), &[(env_vars::PORT, "http")], None).unwrap_err();
        assert!(e.to_string().contains("AGENT_SHIM_PORT=\"http\""), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = resolve(NetArgs::default(), &[], Some("port: high\n")).unwrap_err();
        assert!(e.to_string().contains("config.yaml:1:7"), "{e}");
    }

    #[test]
    fn max_request_body_mb_sets_the_gateway_limit() {
        let s = resolve(NetArgs::default(), &[], None).unwrap();
        assert_eq!(s.max_request_body(), 32 * 1024 * 1024);
        let s = resolve(NetArgs::default(), &[], Some("max_request_body_mb: 64\n")).unwrap();
        assert_eq!(s.max_request_body(), 64 * 1024 * 1024);
        let e = resolve(NetArgs::default(), &[], Some("max_request_body_mb: 0\n")).unwrap_err();
        assert!(
            e.to_string()
                .contains("max_request_body_mb must be at least 1"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn reading_settings_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        let map: HashMap<String, String> = [
            (env_vars::CONFIG_DIR.to_owned(), cfg.display().to_string()),
            (
                env_vars::STATE_DIR.to_owned(),
                dir.path().join("state").display().to_string(),
            ),
        ]
        .into();
        Settings::resolve(&NetArgs::default(), None, &|k| map.get(k).cloned()).unwrap();
        assert!(!cfg.exists() && !dir.path().join("state").exists());
    }
}
