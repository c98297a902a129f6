//! Where the usage ledger lives and how long it keeps records (issue 12 §2): config.yaml
//! `database_url` (PostgreSQL; else `usage.db` in the state dir), or LiteLLM's
//! `general_settings.database_url`, and `usage_retention_days` (unset: keep everything).
//!
//! agent-shim's own `database_url` must be usable (an error names the file and the fix); a
//! LiteLLM config's `general_settings.database_url` that agent-shim cannot use (not
//! PostgreSQL, TLS, an unset variable) is a warning and the ledger stays in SQLite, so a
//! LiteLLM config that loaded before still does.

use super::{Settings, secrets};
use crate::error::{CliError, Result};
use gateway::SecretString;

/// The ledger's settings, resolved.
#[derive(Debug, Default)]
pub struct LedgerSettings {
    /// The PostgreSQL URL (`os.environ/NAME` resolved), `None` for SQLite in the state dir.
    pub database_url: Option<SecretString>,
    /// Delete records older than this many days (`usage_retention_days`).
    pub retention_days: Option<u32>,
    /// What was set and not used, one line each (for the gateway log).
    pub warnings: Vec<String>,
    /// `general_settings.disable_spend_logs: true`: no ledger (no store opened, no record kept).
    pub disabled: bool,
}

impl LedgerSettings {
    /// The URL as a plain string, for `ledger::store::open`.
    pub fn url(&self) -> Option<&str> {
        self.database_url.as_ref().map(SecretString::expose)
    }

    /// Where the ledger is, for people: the URL without its password, or the SQLite file.
    pub fn shown(&self, settings: &Settings) -> String {
        match self.url() {
            Some(u) => ::ledger::store::redact_url(u),
            None => ::ledger::store::sqlite_path(&settings.state_dir)
                .display()
                .to_string(),
        }
    }
}

impl Settings {
    /// The usage ledger's settings (see the module docs).
    pub fn ledger(&self) -> Result<LedgerSettings> {
        let file = self.config_path.display().to_string();
        let mut out = LedgerSettings {
            retention_days: self.config.usage_retention_days.filter(|d| *d > 0),
            disabled: self
                .config
                .general_settings
                .as_ref()
                .and_then(|g| g.disable_spend_logs)
                .unwrap_or(false),
            ..LedgerSettings::default()
        };
        if self.config.usage_retention_days == Some(0) {
            out.warnings.push(format!(
                "{file}: usage_retention_days: 0 would delete every record; ignored (remove \
                 the key to keep everything)"
            ));
        }
        if let Some(url) = &self.config.database_url {
            let var = url.env_reference().unwrap_or_default().to_owned();
            let url = self.resolve_secret(url)?.ok_or_else(|| {
                CliError::usage(format!(
                    "{file}: database_url is os.environ/{var}, but {var} is not set in the \
                     environment or in {}",
                    self.secrets_path().display()
                ))
            })?;
            ::ledger::store::check_database_url(url.expose())
                .map_err(|e| CliError::usage(format!("{file}: {e}")))?;
            out.database_url = Some(url);
            return Ok(out);
        }
        let general = self
            .config
            .general_settings
            .as_ref()
            .and_then(|g| g.database_url.as_ref());
        if let Some(url) = general {
            let key = "general_settings.database_url";
            match self.resolve_secret(url)? {
                None => out.warnings.push(format!(
                    "{file}: {key} is os.environ/{}, but that variable is not set; the usage \
                     ledger stays in the state dir",
                    url.env_reference().unwrap_or_default()
                )),
                Some(url) if !::ledger::store::is_postgres(url.expose().trim()) => {
                    out.warnings.push(format!(
                        "{file}: {key} {} is not a PostgreSQL URL; the usage ledger stays in \
                         usage.db in the state dir",
                        ::ledger::store::redact_url(url.expose())
                    ))
                }
                Some(url) => match ::ledger::store::check_database_url(url.expose()) {
                    Ok(()) => out.database_url = Some(url),
                    Err(e) => out.warnings.push(format!(
                        "{file}: {key} is not used: {e}; the usage ledger stays in the state dir"
                    )),
                },
            }
        }
        Ok(out)
    }

    /// `value`, or the variable it names (`os.environ/NAME`, from the environment or
    /// `.secrets`); `None` when that variable is unset.
    fn resolve_secret(&self, value: &SecretString) -> Result<Option<SecretString>> {
        match value.env_reference() {
            None => Ok(Some(value.clone())),
            Some(var) => secrets::lookup(&self.secrets_path(), var),
        }
    }
}
