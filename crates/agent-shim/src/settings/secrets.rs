//! The `.secrets` file (DESIGN.md §3): YAML `NAME: value`, mode 0600, refused when group- or
//! world-readable. `os.environ/NAME` reads the environment first, then this file. Values are
//! never logged or printed by anything but `secrets export-env`.

use super::env_vars;
use crate::error::{CliError, Result};
use gateway::{SecretSource, SecretString};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Reads the file; an absent file is empty. Errors: readable by others (with the `chmod` to run),
/// unreadable, or not a YAML map (with line and column).
pub fn read(path: &Path) -> Result<BTreeMap<String, String>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CliError::usage(format!(
            "refusing to read {} (mode {mode:o}): group or others can read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))?;
    let map: Option<BTreeMap<String, Value>> =
        super::yaml::parse(&text, &path.display().to_string())?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// `name` from the environment, else from the file. An empty or blank value is unset (in
/// either place).
pub fn lookup(path: &Path, name: &str) -> Result<Option<SecretString>> {
    if let Some(v) = std::env::var(name).ok().and_then(SecretString::new) {
        return Ok(Some(v));
    }
    Ok(read(path)?.remove(name).and_then(SecretString::new))
}

/// The master key: `AGENT_SHIM_MASTER_KEY` from the environment or the file, else a new random
/// `sk-shim-…` key saved to the file (created 0600) and returned. An empty or blank value counts
/// as unset, so it is replaced by a generated key. Concurrent first runs agree on one key: the
/// check and the write happen under the file's lock.
pub fn master_key(path: &Path) -> Result<SecretString> {
    if let Some(k) = lookup(path, env_vars::MASTER_KEY)? {
        return Ok(k);
    }
    let _lock = lock(path)?;
    if let Some(k) = lookup(path, env_vars::MASTER_KEY)? {
        return Ok(k);
    }
    let key: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let key = format!("sk-shim-{key}");
    set_locked(path, env_vars::MASTER_KEY, &key)?;
    SecretString::new(key).ok_or_else(|| CliError::failed("the generated master key is empty"))
}

/// An exclusive lock on `<path>.lock`, held until dropped, so read-modify-writes of the file from
/// several processes do not lose each other's changes.
fn lock(path: &Path) -> Result<std::fs::File> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let lock_path = path.with_extension("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| CliError::failed(format!("cannot open {}: {e}", lock_path.display())))?;
    f.lock()
        .map_err(|e| CliError::failed(format!("cannot lock {}: {e}", lock_path.display())))?;
    Ok(f)
}

/// The commented template a new file starts with.
pub fn template() -> String {
    let mut t = String::from(
        "# agent-shim secrets: one `NAME: value` per line (YAML). Keep this file mode 0600;\n\
         # agent-shim refuses to read it otherwise. `os.environ/NAME` in model definitions reads\n\
         # the environment first, then this file.\n",
    );
    for var in gateway::key_variables() {
        t.push_str(&format!("# {var}: \"...\"\n"));
    }
    t
}

/// Creates the file with the template (mode 0600), when it does not exist.
pub fn init(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    write_private(path, &template())
}

/// Sets `name` to `value`, creating the file (0600, with the template) and its directory (0700)
/// when missing. Other lines are kept; the file is replaced atomically, under the file's lock.
pub fn set(path: &Path, name: &str, value: &str) -> Result<()> {
    let _lock = lock(path)?;
    set_locked(path, name, value)
}

fn set_locked(path: &Path, name: &str, value: &str) -> Result<()> {
    if !is_valid_name(name) {
        return Err(CliError::usage(format!(
            "'{name}' is not a valid variable name (letters, digits, _)"
        )));
    }
    read(path)?; // refuses a readable-by-others file before touching it
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => template(),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let line = format!(
        "{name}: {}",
        serde_json::to_string(value).expect("a string serialises")
    );
    let prefix = format!("{name}:");
    let mut replaced = false;
    let mut lines: Vec<String> = Vec::new();
    for l in old.lines() {
        if l.starts_with(&prefix) {
            if !replaced {
                lines.push(line.clone());
                replaced = true;
            }
        } else {
            lines.push(l.to_owned());
        }
    }
    if !replaced {
        lines.push(line);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    write_private(path, &text)
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Writes `text` to `path` with mode 0600 through a temporary file and a rename.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let fail =
        |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The gateway's secret source: the environment, then the file (re-read when it changes).
pub struct FileSecrets {
    path: PathBuf,
    cache: std::sync::Mutex<Option<(std::time::SystemTime, BTreeMap<String, String>)>>,
}

impl FileSecrets {
    pub fn new(path: PathBuf) -> FileSecrets {
        FileSecrets {
            path,
            cache: std::sync::Mutex::new(None),
        }
    }
}

impl SecretSource for FileSecrets {
    fn get(&self, name: &str) -> Option<SecretString> {
        if let Some(v) = std::env::var(name).ok().and_then(SecretString::new) {
            return Some(v);
        }
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.as_ref().is_none_or(|(t, _)| *t != mtime) {
            match read(&self.path) {
                Ok(map) => *cache = Some((mtime, map)),
                Err(e) => {
                    tracing::warn!("{e}");
                    return None;
                }
            }
        }
        cache
            .as_ref()
            .and_then(|(_, m)| m.get(name))
            .and_then(SecretString::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_creates_private_file_and_keeps_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cfg/.secrets");
        set(&p, "GROQ_API_KEY", "gsk-1").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        set(&p, "OTHER", "x: \"y\"").unwrap();
        set(&p, "GROQ_API_KEY", "gsk-2").unwrap();
        let m = read(&p).unwrap();
        assert_eq!(m["GROQ_API_KEY"], "gsk-2");
        assert_eq!(m["OTHER"], "x: \"y\"");
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .starts_with("# agent-shim secrets")
        );
    }

    #[test]
    fn readable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".secrets");
        std::fs::write(&p, "A: b\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("mode 644") && e.contains(&format!("chmod 600 {}", p.display())),
            "{e}"
        );
        assert!(
            set(&p, "A", "c").is_err(),
            "nothing is written to a file others can read"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A: b\n");
    }

    #[test]
    fn master_key_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".secrets");
        let a = master_key(&p).unwrap();
        let b = master_key(&p).unwrap();
        assert!(a.expose().starts_with("sk-shim-") && a.expose().len() == 48);
        assert_eq!(a, b);
    }

    #[test]
    fn empty_master_key_in_secrets_is_replaced_by_a_generated_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".secrets");
        set(&p, env_vars::MASTER_KEY, "  ").unwrap();
        let k = master_key(&p).unwrap();
        assert!(k.expose().starts_with("sk-shim-"), "a key is generated");
        assert_eq!(read(&p).unwrap()[env_vars::MASTER_KEY], k.expose());
        set(&p, "GROQ_API_KEY", "").unwrap();
        assert!(FileSecrets::new(p.clone()).get("GROQ_API_KEY").is_none());
    }
}
