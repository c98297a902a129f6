//! Claude Code's isolated config dir (`with --isolated`, profile `isolated: true`; the seed's
//! openClaude): Claude Code applies the `env` of `~/.claude/settings.json` over the shell, so a
//! user whose settings select Bedrock (`CLAUDE_CODE_USE_BEDROCK=1`) or a model
//! (`ANTHROPIC_MODEL`) would defeat the gateway. The launch gets `CLAUDE_CONFIG_DIR` =
//! `<state dir>/claude-isolated/<profile>/`, where
//! - every entry of the user's config dir (`$CLAUDE_CONFIG_DIR`, else `~/.claude`) is a link to
//!   the original, so history, projects, plugins and `.credentials.json` are the user's, and
//!   what Claude Code writes there lands in the user's files;
//! - `.claude.json` links to the user's state file: with `CLAUDE_CONFIG_DIR` set Claude Code
//!   reads `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json` (agents.md §1), so onboarding
//!   and trust answers carry over (a link to a missing file is fine: Claude Code creates it
//!   through the link, where it would have anyway);
//! - `settings.json` is derived from the user's (who keep theirs unchanged): without the `env`
//!   keys of [`ROUTING_KEYS`], `awsCredentialExport` replaced by the profile's `aws_auth_refresh`
//!   (or dropped), and with the launch's environment minus the key (which stays in the process
//!   environment and the launch's 0600 `--settings` file).
//!
//! A later launch updates the directory: new user entries are linked, links to removed ones go,
//! the settings are derived again. Entries Claude Code created itself (a `projects` dir when the
//! user had none) are its own and kept. Files are replaced by rename, never rewritten in place,
//! so concurrent launches never see a half-written file nor write through a link.

use crate::error::{CliError, Result};
use crate::settings::env_vars;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `env` keys of a user's settings that route Claude Code away from the launch's endpoint
/// and models: provider switches, endpoints, model choices, and keys or tokens (Claude Code
/// 2.1.197's documented variables and the names in its binary).
pub const ROUTING_KEYS: &[&str] = &[
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CODE_USE_ANTHROPIC_AWS",
    "CLAUDE_CODE_USE_MANTLE",
    "CLAUDE_CODE_USE_GATEWAY",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_API_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_FABLE_MODEL",
    "CLAUDE_CODE_SUBAGENT_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_FOUNDRY_API_KEY",
    "ANTHROPIC_AWS_API_KEY",
    "ANTHROPIC_BEDROCK_MANTLE_API_KEY",
];

/// The subdirectory of the state dir holding the isolated config dirs, one per profile.
pub const ISOLATED: &str = "claude-isolated";
/// In an isolated dir: where its links point (so a launch from inside an isolated Claude Code,
/// which inherits its `CLAUDE_CONFIG_DIR`, still finds the user's).
const SOURCE: &str = ".agent-shim-source.json";
/// Prefix of the temporary names files are written under before the rename.
const TMP: &str = ".agent-shim-tmp.";
const STATE_FILE: &str = ".claude.json";
const SETTINGS: &str = "settings.json";

/// The user's Claude Code configuration: the config dir and the global state file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserConfig {
    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    pub dir: PathBuf,
    /// The global state file Claude Code reads with that dir (`.claude.json`).
    pub state_file: PathBuf,
}

impl UserConfig {
    /// From this process's environment; see [`UserConfig::from_env`].
    pub fn locate(state_dir: &Path) -> UserConfig {
        UserConfig::from_env(state_dir, &|k| std::env::var_os(k))
    }

    /// `$CLAUDE_CONFIG_DIR` and its `.claude.json`, else `~/.claude` and `~/.claude.json`. A
    /// `CLAUDE_CONFIG_DIR` that is one of agent-shim's isolated dirs stands for the user's dir
    /// it was made from.
    pub fn from_env(state_dir: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> UserConfig {
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let Some(dir) = env("CLAUDE_CONFIG_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
        else {
            return UserConfig {
                dir: home.join(".claude"),
                state_file: home.join(STATE_FILE),
            };
        };
        let root = state_dir.join(ISOLATED);
        let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        let inside = dir.starts_with(&root)
            || dir
                .canonicalize()
                .is_ok_and(|c| c.starts_with(&canonical_root));
        if inside {
            let recorded = std::fs::read(dir.join(SOURCE))
                .ok()
                .and_then(|b| serde_json::from_slice::<UserConfig>(&b).ok());
            return recorded.unwrap_or(UserConfig {
                dir: home.join(".claude"),
                state_file: home.join(STATE_FILE),
            });
        }
        UserConfig {
            state_file: dir.join(STATE_FILE),
            dir,
        }
    }

    /// The user's `settings.json`.
    pub fn settings_path(&self) -> PathBuf {
        self.dir.join(SETTINGS)
    }
}

/// The user's settings: `{}` when there are none; a file that is not a JSON object is reported
/// (returned as the second value) and taken as `{}` — the launch proceeds, the file is the
/// user's to fix.
pub fn read_user_settings(path: &Path) -> (Map<String, Value>, Option<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Map::new(), None),
        Err(e) => {
            return (
                Map::new(),
                Some(format!(
                    "cannot read {}: {e}; Claude Code gets settings derived from empty ones",
                    path.display()
                )),
            );
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => (m, None),
        Ok(_) => (
            Map::new(),
            Some(format!(
                "{} is not a JSON object; Claude Code gets settings derived from empty ones (fix the file to keep yours)",
                path.display()
            )),
        ),
        Err(e) => (
            Map::new(),
            Some(format!(
                "{}:{}:{}: not valid JSON ({e}); Claude Code gets settings derived from empty ones (fix the file to keep yours)",
                path.display(),
                e.line(),
                e.column()
            )),
        ),
    }
}

/// The routing keys the user's settings set to a non-empty value in `env`, in file order.
pub fn routing_keys_in(settings: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Object(env)) = settings.get("env") else {
        return Vec::new();
    };
    env.iter()
        .filter(|(k, v)| {
            ROUTING_KEYS.contains(&k.as_str())
                && !matches!(v, Value::Null)
                && v.as_str().is_none_or(|s| !s.is_empty())
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The launch's `--settings` env without secrets: no `ANTHROPIC_AUTH_TOKEN` / `ANTHROPIC_API_KEY`
/// and no value that contains the key.
pub fn public_env(env: &Map<String, Value>, key: &str) -> Map<String, Value> {
    env.iter()
        .filter(|(k, v)| {
            *k != env_vars::ANTHROPIC_AUTH_TOKEN
                && *k != env_vars::ANTHROPIC_API_KEY
                && (key.is_empty() || !v.as_str().is_some_and(|s| s.contains(key)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The settings Claude Code gets: the user's without the routing keys in `env`, the launch's
/// `env` added, `awsCredentialExport` replaced by `aws_auth_refresh` (or dropped).
pub fn derive(
    user: &Map<String, Value>,
    env: &Map<String, Value>,
    aws_auth_refresh: Option<&str>,
) -> Map<String, Value> {
    let merged = |old: Option<&Value>| {
        let mut m = match old {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        m.retain(|k, _| !ROUTING_KEYS.contains(&k.as_str()));
        for (k, v) in env {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    };
    // Rebuilt in the user's key order; `insert` of a key already there keeps its place.
    let mut out = Map::new();
    for (k, v) in user {
        match (k.as_str(), aws_auth_refresh) {
            ("env", _) => {
                out.insert(k.clone(), merged(Some(v)));
            }
            ("awsCredentialExport", None) => {}
            ("awsCredentialExport" | "awsAuthRefresh", Some(cmd)) => {
                out.insert("awsAuthRefresh".into(), Value::String(cmd.to_owned()));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if !out.contains_key("env") {
        out.insert("env".into(), merged(None));
    }
    if let Some(cmd) = aws_auth_refresh {
        out.insert("awsAuthRefresh".into(), Value::String(cmd.to_owned()));
    }
    out
}

/// The `settings.json` a Claude Code started from this process reads at user level:
/// `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json` (unlike
/// [`UserConfig::locate`], an isolated dir in `CLAUDE_CONFIG_DIR` is taken as it is).
pub fn settings_read_by_claude() -> PathBuf {
    match std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join(SETTINGS),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".claude")
            .join(SETTINGS),
    }
}

/// The warning for a launch that is not isolated, when the settings at `path` set routing keys
/// that the launch's `--settings` (`env`) does not override.
pub fn override_warning(path: &Path, env: &Map<String, Value>, profile: &str) -> Option<String> {
    let (settings, _) = read_user_settings(path);
    let keys: Vec<String> = routing_keys_in(&settings)
        .into_iter()
        .filter(|k| !env.contains_key(k))
        .collect();
    if keys.is_empty() {
        return None;
    }
    Some(format!(
        "{} sets {} in `env`, which Claude Code applies over agent-shim's routing; run with \
         `--isolated` (or set `isolated: true` in profile '{profile}') to give Claude Code a \
         settings.json without them",
        path.display(),
        keys.join(", ")
    ))
}

/// Creates or updates the isolated config dir of `profile` for `user`; returns its path.
/// Problems with the user's settings are warned about on stderr, never fatal.
pub fn prepare_dir(
    state_dir: &Path,
    profile: &str,
    user: &UserConfig,
    env: &Map<String, Value>,
    aws_auth_refresh: Option<&str>,
) -> Result<PathBuf> {
    let dir = state_dir.join(ISOLATED).join(profile);
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        CliError::failed(format!("cannot {what} {}: {e}", p.display()))
    };
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| fail("create", &dir, e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("create", &dir, e))?;
    }
    remove_stale_temporaries(&dir);
    let (settings, problem) = read_user_settings(&user.settings_path());
    if let Some(problem) = problem {
        eprintln!("agent-shim: {problem}");
    }
    let derived = derive(&settings, env, aws_auth_refresh);
    let text = serde_json::to_string_pretty(&Value::Object(derived)).expect("JSON serialises");
    write_replacing(&dir, SETTINGS, text.as_bytes())?;
    let source = serde_json::to_vec_pretty(user).expect("JSON serialises");
    write_replacing(&dir, SOURCE, &source)?;
    link_entries(&dir, user)?;
    Ok(dir)
}

/// The links `dir` should hold: each entry of the user's dir but `settings.json`, and the state
/// file.
fn wanted_links(user: &UserConfig) -> BTreeMap<OsString, PathBuf> {
    let mut wanted = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(&user.dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let ours = name
                .to_str()
                .is_some_and(|n| n == SETTINGS || n == SOURCE || n.starts_with(TMP));
            if !ours {
                wanted.insert(name, e.path());
            }
        }
    }
    wanted.insert(STATE_FILE.into(), user.state_file.clone());
    wanted
}

/// Makes the links of `dir` those of [`wanted_links`]: links to entries the user no longer has
/// are removed; missing or outdated ones are (re)placed by rename. Entries that are not links
/// are Claude Code's own and kept.
fn link_entries(dir: &Path, user: &UserConfig) -> Result<()> {
    let wanted = wanted_links(user);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            // Another launch's link about to be renamed into place is not stale.
            let temporary = e.file_name().to_str().is_some_and(|n| n.starts_with(TMP));
            if is_link && !temporary && !wanted.contains_key(&e.file_name()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    for (name, target) in &wanted {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if !m.file_type().is_symlink() => continue,
            Ok(_) if std::fs::read_link(&link).is_ok_and(|t| t == *target) => continue,
            _ => {}
        }
        let tmp = dir.join(temporary_name(name));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp)
            .and_then(|()| std::fs::rename(&tmp, &link))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                CliError::failed(format!(
                    "cannot link {} to {}: {e}",
                    link.display(),
                    target.display()
                ))
            })?;
    }
    Ok(())
}

/// `.agent-shim-tmp.<pid>.<name>`.
fn temporary_name(name: &std::ffi::OsStr) -> OsString {
    let mut n = OsString::from(format!("{TMP}{}.", std::process::id()));
    n.push(name);
    n
}

/// Writes `dir/name` (mode 0600) under a temporary name and renames it into place, replacing a
/// file or link of that name without writing through it.
fn write_replacing(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let tmp = dir.join(temporary_name(name.as_ref()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::failed(format!("cannot write {}: {e}", path.display()))
    })
}

/// Removes temporaries left by launches whose process has ended.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let ended = name
            .to_str()
            .and_then(|n| n.strip_prefix(TMP))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<i32>().ok())
            .is_some_and(super::process_ended);
        if ended {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests;
