//! Reloading the configuration into the running gateway (DESIGN.md §3: the files and the gateway
//! stay in step). The binary supplies a [`ConfigSource`] that reads its files again; a reload is
//! asked for by its file watcher, by SIGHUP, or by `POST /admin/reload` (`agent-shim proxy
//! reload`), and all three end in [`GatewayState::reload`].
//!
//! A reload is all or nothing: when the files cannot be read (a YAML error, located as
//! `file:line:col` by the source) or a definition cannot be served, the gateway keeps serving the
//! configuration it has and logs why. Definition errors that the current configuration already
//! had (say, a model that was never servable) do not block a reload, so an unrelated edit still
//! applies. Reloads run one at a time, on a blocking thread: building deployments reads
//! `.secrets` and runs `key_command`s.

use crate::model::ModelDefinition;
use crate::providers::deployment::{DefinitionError, Deployment, Origin};
use crate::registry::Tiers;
use crate::state::GatewayState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The configuration a [`ConfigSource`] read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub models: Vec<ModelDefinition>,
    /// Profile name → tier models.
    pub profiles: HashMap<String, Tiers>,
    pub default_profile: Option<String>,
    /// LiteLLM's `router_settings.model_group_alias`: alias → group.
    pub model_group_alias: HashMap<String, String>,
    /// Groups to register (as at start: a LiteLLM-style config file's `model_list`).
    pub register: Vec<String>,
    /// Where each model group is defined (`file:line:col`, or `built-in`), to locate errors.
    pub locations: HashMap<String, String>,
    /// Settings that changed in the files but apply only when the gateway restarts (host, port,
    /// master key, …), by their name in the file.
    pub restart_needed: Vec<String>,
}

/// Reads the gateway's configuration again. Called on a blocking thread: may read files and run
/// commands. Errors are one line for the user, located (`/path/models.yaml:6:19: …`).
pub trait ConfigSource: Send + Sync {
    fn load(&self) -> Result<Loaded, String>;

    /// The file to edit when a restart-only setting changed (for the warning).
    fn describe(&self) -> String {
        "the configuration".into()
    }
}

/// What a successful reload changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Counts reloads since start (1 is the first reload).
    pub generation: u64,
    /// Model groups whose definitions changed, were added or were removed.
    pub changed: Vec<String>,
    /// Model groups served.
    pub models: usize,
    /// Restart-only settings that changed and are not applied, each with what to do.
    pub warnings: Vec<String>,
}

/// The reload machinery in the gateway's state.
pub struct Reloader {
    source: Option<Arc<dyn ConfigSource>>,
    /// Held while a reload runs: reloads run one at a time.
    running: Mutex<()>,
    /// Definition errors of the configuration being served (messages).
    known_errors: Mutex<Vec<String>>,
    generation: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Reloader {
    /// `source` is `None` for a gateway without configuration files (tests, embedding).
    pub fn new(source: Option<Arc<dyn ConfigSource>>, start_errors: &[DefinitionError]) -> Self {
        Reloader {
            source,
            running: Mutex::new(()),
            known_errors: Mutex::new(start_errors.iter().map(ToString::to_string).collect()),
            generation: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// How many reloads succeeded since start.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Why the last reload failed, when it did (cleared by a successful one).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Why a reload was not applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    /// This gateway has no files to read again.
    #[error("this gateway was started without configuration files; there is nothing to reload")]
    NoSource,
    /// The files cannot be loaded; the previous configuration is still served.
    #[error("{0}")]
    Invalid(String),
}

impl GatewayState {
    /// Reads the configuration again and publishes it atomically, or keeps the current one and
    /// says why (also in the log). Blocking: call it from a blocking thread
    /// (`tokio::task::spawn_blocking`), never on a worker.
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let r = &self.reload;
        let source = r.source.as_ref().ok_or(ReloadError::NoSource)?;
        let _one = r.running.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.reload_from(source.as_ref());
        let mut last = r.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(report) => {
                *last = None;
                let changed = if report.changed.is_empty() {
                    "no model definition changed".to_owned()
                } else {
                    format!("models changed: {}", report.changed.join(", "))
                };
                tracing::info!(
                    generation = report.generation,
                    "configuration reloaded ({} model groups; {changed})",
                    report.models
                );
                for w in &report.warnings {
                    tracing::warn!("{w}");
                }
            }
            Err(e) => {
                *last = Some(e.to_string());
                tracing::error!(
                    "configuration not reloaded, the gateway keeps serving the previous one: {e}"
                );
            }
        }
        result
    }

    fn reload_from(&self, source: &dyn ConfigSource) -> Result<ReloadReport, ReloadError> {
        let loaded = source.load().map_err(ReloadError::Invalid)?;
        if let Some(p) = &loaded.default_profile
            && !loaded.profiles.contains_key(p)
        {
            return Err(ReloadError::Invalid(format!(
                "default_profile '{p}' is not a profile"
            )));
        }
        let mut deployments = Vec::with_capacity(loaded.models.len());
        let mut errors = Vec::new();
        for def in loaded.models {
            match Deployment::new(def, Origin::Config, self.secrets.as_ref()) {
                Ok(d) => deployments.push(d),
                Err(e) => errors.push(e),
            }
        }
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        {
            let known = self
                .reload
                .known_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(e) = errors.iter().find(|e| !known.contains(&e.to_string())) {
                let at = loaded
                    .locations
                    .get(&e.model_name)
                    .map_or_else(String::new, |l| format!("{l}: "));
                return Err(ReloadError::Invalid(format!("{at}{e}")));
            }
        }
        let changed =
            self.registry
                .replace_config(deployments, loaded.profiles, loaded.default_profile);
        self.registry.set_aliases(loaded.model_group_alias);
        self.registry.register(&loaded.register);
        *self
            .reload
            .known_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = messages;
        let generation = self.reload.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let warnings = if loaded.restart_needed.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{} changed in {}, which the running gateway cannot apply: run `agent-shim proxy restart`",
                loaded.restart_needed.join(", "),
                source.describe()
            )]
        };
        Ok(ReloadReport {
            generation,
            changed,
            models: self.registry.snapshot().names().len(),
            warnings,
        })
    }
}
