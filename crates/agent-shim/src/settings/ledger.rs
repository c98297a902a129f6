//! Where the usage ledger lives and how long it keeps records (issue 12 §2): config.yaml
//! `database_url` (PostgreSQL; else `usage.db` in the state dir), or LiteLLM's
//! `general_settings.database_url`, and `usage_retention_days` (unset: keep everything).
//! Body capture: LiteLLM's `general_settings.store_prompts_in_spend_logs: true` (off by
//! default), `body_capture_max_bytes` per body (default [`DEFAULT_BODY_CAPTURE_BYTES`]) and
//! `body_capture_retention_days` (default [`DEFAULT_BODY_RETENTION_DAYS`]).
//!
//! agent-shim's own `database_url` must be usable (an error names the file and the fix); a
//! LiteLLM config's `general_settings.database_url` that agent-shim cannot use (not
//! PostgreSQL, TLS, an unset variable) is a warning and the ledger stays in SQLite, so a
//! LiteLLM config that loaded before still does.

use super::{Settings, secrets};
use crate::error::{CliError, Result};
use gateway::SecretString;

/// The most bytes of each body kept when capture is on and `body_capture_max_bytes` is unset.
pub const DEFAULT_BODY_CAPTURE_BYTES: usize = 64 * 1024;
/// Days captured bodies are kept when `body_capture_retention_days` is unset.
pub const DEFAULT_BODY_RETENTION_DAYS: u32 = 7;

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
    /// `general_settings.store_prompts_in_spend_logs: true`: the most bytes of each request
    /// and response body kept in the record; `None`: no body captured.
    pub body_capture: Option<usize>,
    /// Clear captured bodies older than this many days (`body_capture_retention_days`); set
    /// whether or not capture is on now, so bodies captured before are cleared too.
    pub body_retention_days: u32,
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
        self.body_capture(&file, &mut out);
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

    /// Body capture's settings into `out` (module docs); values it cannot use are warnings.
    fn body_capture(&self, file: &str, out: &mut LedgerSettings) {
        let c = &self.config;
        let on = c
            .general_settings
            .as_ref()
            .and_then(|g| g.store_prompts_in_spend_logs)
            .unwrap_or(false);
        let max = match c.body_capture_max_bytes {
            Some(0) => {
                out.warnings.push(format!(
                    "{file}: body_capture_max_bytes: 0 would capture nothing; using \
                     {DEFAULT_BODY_CAPTURE_BYTES} (turn capture off with \
                     general_settings.store_prompts_in_spend_logs: false)"
                ));
                DEFAULT_BODY_CAPTURE_BYTES
            }
            Some(n) => n,
            None => DEFAULT_BODY_CAPTURE_BYTES,
        };
        out.body_capture = on.then_some(max);
        if !on && c.body_capture_max_bytes.is_some() {
            out.warnings.push(format!(
                "{file}: body_capture_max_bytes is set but body capture is off; set \
                 general_settings.store_prompts_in_spend_logs: true to capture bodies"
            ));
        }
        out.body_retention_days = match c.body_capture_retention_days {
            Some(0) => {
                out.warnings.push(format!(
                    "{file}: body_capture_retention_days: 0 would clear every body at once; \
                     using {DEFAULT_BODY_RETENTION_DAYS}"
                ));
                DEFAULT_BODY_RETENTION_DAYS
            }
            Some(d) => d,
            None => DEFAULT_BODY_RETENTION_DAYS,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_of(text: &str) -> (Vec<String>, LedgerSettings) {
        let config = crate::settings::litellm::load_config(text, "config.yaml").unwrap();
        let load_warnings = config.warnings.clone();
        let s = Settings {
            config_dir: "/nonexistent/cfg".into(),
            state_dir: "/nonexistent/state".into(),
            cache_dir: "/nonexistent/cache".into(),
            config_path: "config.yaml".into(),
            config,
            host: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 4444,
        };
        (load_warnings, s.ledger().unwrap())
    }

    #[test]
    fn body_capture_is_off_by_default_with_a_7_day_body_retention() {
        let (w, l) = ledger_of("port: 4444\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.body_capture, None);
        assert_eq!(l.body_retention_days, DEFAULT_BODY_RETENTION_DAYS);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn store_prompts_in_spend_logs_and_the_capture_keys_parse_without_warnings() {
        let (w, l) = ledger_of(
            "general_settings:\n  store_prompts_in_spend_logs: true\n\
             body_capture_max_bytes: 4096\nbody_capture_retention_days: 3\n",
        );
        assert!(w.is_empty(), "unknown-key warnings: {w:?}");
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.body_capture, Some(4096));
        assert_eq!(l.body_retention_days, 3);

        let (w, l) = ledger_of("general_settings:\n  store_prompts_in_spend_logs: true\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.body_capture, Some(DEFAULT_BODY_CAPTURE_BYTES));
    }

    #[test]
    fn capture_values_it_cannot_use_are_named_in_warnings() {
        let (_, l) = ledger_of("body_capture_max_bytes: 100\n");
        assert_eq!(l.body_capture, None);
        assert_eq!(
            l.warnings,
            [
                "config.yaml: body_capture_max_bytes is set but body capture is off; set \
              general_settings.store_prompts_in_spend_logs: true to capture bodies"
            ]
        );
        let (_, l) = ledger_of(
            "general_settings:\n  store_prompts_in_spend_logs: true\n\
             body_capture_max_bytes: 0\nbody_capture_retention_days: 0\n",
        );
        assert_eq!(l.body_capture, Some(DEFAULT_BODY_CAPTURE_BYTES));
        assert_eq!(l.body_retention_days, DEFAULT_BODY_RETENTION_DAYS);
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("body_capture_max_bytes: 0"));
        assert!(l.warnings[1].contains("body_capture_retention_days: 0"));
    }
}
