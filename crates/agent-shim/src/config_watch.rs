//! Keeping the running gateway in step with its files: the [`FilesSource`] a reload reads
//! (config.yaml, models.yaml, profiles/*.yaml, `.secrets`, with the same rules as at start), and
//! a debounced watcher (the `notify` crate) that asks the gateway to reload when one of them
//! changes. `agent-shim proxy reload` and SIGHUP ask the same gateway method.

use crate::cli::NetArgs;
use crate::error::CliError;
use crate::settings::catalog::{self, Source};
use crate::settings::config_file::RouterKeys;
use crate::settings::{Settings, env_vars, secrets};
use gateway::Handle;
use gateway::{ConfigSource, Loaded};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a file event may have changed a file: not an open or a read, which inotify reports
/// too — the reload itself opens every file it reads, so counting those made the gateway reload
/// every 200 ms forever (regression test `reload::reading_the_files_does_not_reload`).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// How long the watcher waits for a burst of file events (an editor's save is several) to end.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The settings a running gateway cannot change: they are named in a warning when edited.
#[derive(Debug, PartialEq)]
struct RestartOnly {
    host: IpAddr,
    port: u16,
    master_key: Option<gateway::SecretString>,
    lease_minutes: Option<f64>,
    janitor_interval_seconds: Option<f64>,
    log_level: Option<String>,
    /// `router_settings`, and the router keys of `litellm_settings`.
    router_settings: (Option<RouterKeys>, Option<RouterKeys>),
    proxy: Option<String>,
    /// The usage ledger's database (resolved) and retention, chosen at start.
    database_url: Option<gateway::SecretString>,
    usage_retention_days: Option<u32>,
    /// Body capture (`store_prompts_in_spend_logs`, its cap and retention), chosen at start.
    body_capture: (Option<usize>, u32),
    /// The gateway's variable lookups are set up at start.
    environment_variables: crate::settings::config_file::Variables,
}

impl RestartOnly {
    fn of(s: &Settings) -> RestartOnly {
        // The key as the gateway would find it, without creating one (reading has no effect).
        let master_key = match s.config.master_key() {
            Some(k) => match k.env_reference() {
                None => Some(k.clone()),
                Some(var) => secrets::lookup(&s.secrets_path(), var).ok().flatten(),
            },
            None => secrets::lookup(&s.secrets_path(), env_vars::MASTER_KEY)
                .ok()
                .flatten(),
        };
        let ledger = s.ledger().ok();
        RestartOnly {
            host: s.host,
            port: s.port,
            master_key,
            lease_minutes: s.config.lease_minutes,
            janitor_interval_seconds: s.config.janitor_interval_seconds,
            log_level: s.config.log_level.clone(),
            router_settings: (
                s.config.router_settings.clone(),
                s.config.litellm_settings.as_ref().map(|l| RouterKeys {
                    // litellm_settings' other keys are not the router's.
                    other: Default::default(),
                    ..l.router.clone()
                }),
            ),
            proxy: s.config.proxy.as_ref().map(|p| p.url.clone()),
            database_url: ledger.as_ref().and_then(|l| l.database_url.clone()),
            usage_retention_days: s.config.usage_retention_days,
            body_capture: ledger
                .as_ref()
                .map(|l| (l.body_capture, l.body_retention_days))
                .unwrap_or_default(),
            environment_variables: s.config.environment_variables.clone(),
        }
    }

    /// The names of the settings that differ.
    fn changed(&self, now: &RestartOnly) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |name: &str, differs: bool| {
            if differs {
                out.push(name.to_owned());
            }
        };
        check("host", self.host != now.host);
        check("port", self.port != now.port);
        check("master_key", self.master_key != now.master_key);
        check("lease_minutes", self.lease_minutes != now.lease_minutes);
        check(
            "janitor_interval_seconds",
            self.janitor_interval_seconds != now.janitor_interval_seconds,
        );
        check("log_level", self.log_level != now.log_level);
        check(
            "router_settings",
            self.router_settings != now.router_settings,
        );
        check("proxy", self.proxy != now.proxy);
        check("database_url", self.database_url != now.database_url);
        check(
            "usage_retention_days",
            self.usage_retention_days != now.usage_retention_days,
        );
        check(
            "general_settings.store_prompts_in_spend_logs",
            self.body_capture != now.body_capture,
        );
        check(
            "environment_variables",
            self.environment_variables != now.environment_variables,
        );
        out
    }
}

/// The gateway's configuration files, read again on every reload.
pub struct FilesSource {
    net: NetArgs,
    config_override: Option<PathBuf>,
    config_dir: PathBuf,
    started: RestartOnly,
}

impl FilesSource {
    /// The files `settings` was loaded from (`serve --config` when given); `settings` as they
    /// were when the gateway started.
    pub fn new(settings: &Settings, net: &NetArgs, config_override: Option<&Path>) -> FilesSource {
        FilesSource {
            net: net.clone(),
            config_override: config_override.map(Path::to_path_buf),
            config_dir: settings.config_dir.clone(),
            started: RestartOnly::of(settings),
        }
    }
}

impl ConfigSource for FilesSource {
    fn load(&self) -> std::result::Result<Loaded, String> {
        let err = |e: CliError| e.to_string();
        let settings = Settings::load(&self.net, self.config_override.as_deref()).map_err(err)?;
        for w in &settings.config.warnings {
            tracing::warn!("{w}");
        }
        // A broken or readable-by-others .secrets file is an error here, not a missing key later.
        secrets::read(&settings.secrets_path()).map_err(err)?;
        let models = catalog::load_models(&settings).map_err(err)?;
        let profiles = catalog::load_profiles(&settings).map_err(err)?;
        let mut texts: HashMap<PathBuf, String> = HashMap::new();
        let mut locations = HashMap::new();
        for m in &models {
            let name = &m.item.model_name;
            if locations.contains_key(name) {
                continue;
            }
            let at = match &m.source {
                Source::BuiltIn => "built-in models.yaml".to_owned(),
                Source::File(path) => {
                    let text = texts
                        .entry(path.clone())
                        .or_insert_with(|| std::fs::read_to_string(path).unwrap_or_default());
                    match locate_model(text, name) {
                        Some((line, col)) => format!("{}:{line}:{col}", path.display()),
                        None => path.display().to_string(),
                    }
                }
            };
            locations.insert(name.clone(), at);
        }
        Ok(Loaded {
            models: models.into_iter().map(|m| m.item).collect(),
            profiles: profiles
                .into_iter()
                .map(|(name, p)| (name, p.item.tiers()))
                .collect(),
            default_profile: settings.config.default_profile.clone(),
            model_group_alias: settings
                .config
                .model_group_alias
                .clone()
                .into_iter()
                .collect(),
            register: settings
                .config
                .model_list
                .iter()
                .map(|m| m.model_name.clone())
                .collect(),
            locations,
            restart_needed: self.started.changed(&RestartOnly::of(&settings)),
        })
    }

    fn describe(&self) -> String {
        match &self.config_override {
            Some(p) => p.display().to_string(),
            None => self.config_dir.join("config.yaml").display().to_string(),
        }
    }
}

/// Line and column (1-based) of the `model_name: <name>` entry in a `model_list` file.
fn locate_model(text: &str, name: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let at = line.find("model_name:")?;
        let value = line[at + "model_name:".len()..].trim();
        let value = value.split(" #").next().unwrap_or(value).trim();
        (value.trim_matches(['"', '\'']) == name).then_some((i + 1, at + 1))
    })
}

/// Whether a changed path is one of the gateway's configuration files.
fn is_config_file(path: &Path, config_dir: &Path, config_file: &Path) -> bool {
    if path == config_file || path == config_dir.join("models.yaml") {
        return true;
    }
    if path == config_dir.join(".secrets") || path == config_dir.join("profiles") {
        return true;
    }
    path.parent() == Some(&config_dir.join("profiles"))
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        )
}

/// Watches the configuration files of `settings` (the config dir, created 0700 when missing,
/// and the `--config` file's directory) and reloads `state` after each burst of changes, on a
/// thread of its own. A watcher that cannot start is logged; `agent-shim proxy reload` still
/// works.
pub fn watch(settings: &Settings, state: Handle) {
    if let Err(e) = try_watch(settings, state) {
        tracing::warn!(
            "not watching the configuration files ({e}); after editing them run `agent-shim proxy reload`"
        );
    }
}

fn try_watch(settings: &Settings, state: Handle) -> std::result::Result<(), String> {
    let config_dir = settings.config_dir.clone();
    if !config_dir.exists() {
        std::fs::create_dir_all(&config_dir)
            .map_err(|e| format!("cannot create {}: {e}", config_dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o700));
    }
    let config_file = settings.config_path.clone();
    let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |e| {
        let _ = tx.send(e);
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(&config_dir, RecursiveMode::Recursive)
        .map_err(|e| format!("{}: {e}", config_dir.display()))?;
    if let Some(dir) = config_file.parent()
        && !dir.starts_with(&config_dir)
    {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let relevant = move |e: notify::Result<notify::Event>| match e {
        Ok(e) => {
            is_change(&e.kind)
                && e.paths
                    .iter()
                    .any(|p| is_config_file(p, &config_dir, &config_file))
        }
        Err(e) => {
            tracing::warn!("watching the configuration files: {e}");
            false
        }
    };
    std::thread::Builder::new()
        .name("config-watcher".into())
        .spawn(move || {
            let _keep = watcher;
            while let Ok(e) = rx.recv() {
                if !relevant(e) {
                    continue;
                }
                // The burst's other events, until it has been quiet for DEBOUNCE.
                loop {
                    match rx.recv_timeout(DEBOUNCE) {
                        Ok(_) => continue,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                // Logs the outcome itself (what changed, or the located error).
                let _ = state.reload();
            }
        })
        .map_err(|e| format!("cannot start the watcher thread: {e}"))?;
    tracing::info!(dir = %settings.config_dir.display(), "watching the configuration files");
    Ok(())
}

/// Reloads on SIGHUP (`systemctl reload`, `kill -HUP`), off the runtime's thread.
pub async fn reload_on_sighup(state: Handle) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || state.reload()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_entries_are_located_by_name() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {}\n  - model_name: \"b\"  # two\n";
        assert_eq!(locate_model(text, "a"), Some((2, 5)));
        assert_eq!(locate_model(text, "b"), Some((4, 5)));
        assert_eq!(locate_model(text, "c"), None);
    }

    #[test]
    fn only_configuration_files_trigger_a_reload() {
        let dir = Path::new("/c");
        let cfg = Path::new("/c/config.yaml");
        for yes in [
            "/c/config.yaml",
            "/c/models.yaml",
            "/c/.secrets",
            "/c/profiles/x.yaml",
            "/c/profiles/y.yml",
        ] {
            assert!(is_config_file(Path::new(yes), dir, cfg), "{yes}");
        }
        for no in [
            "/c/.secrets.lock",
            "/c/.secrets.tmp123",
            "/c/.models.yaml.swp",
            "/c/profiles/x.yaml~",
            "/c/other.yaml",
        ] {
            assert!(!is_config_file(Path::new(no), dir, cfg), "{no}");
        }
    }
}
