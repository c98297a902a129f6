//! What the deployments of one `claude-code` model group share, and keep across reloads of an
//! unchanged definition: the concurrency slots (`max_concurrency`, default 2) and the sessions.
//! Also the harness's own working directory, under the state dir.

use super::session::{SessionFiles, Sessions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Default `max_concurrency`: CLI runs at once per model group.
pub const DEFAULT_MAX_CONCURRENCY: usize = 2;
/// Default `max_sessions` per model group.
pub const DEFAULT_MAX_SESSIONS: usize = 256;
/// Default `session_ttl`: idle time after which a session is forgotten.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

static HARNESS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Sets the harness's working directory (`<state dir>/claude-code`), where CLI runs happen when
/// a definition names no `cwd`. First call wins; without one, a per-user directory under the
/// system temp directory is used.
pub fn set_harness_dir(dir: PathBuf) {
    let _ = HARNESS_DIR.set(dir);
}

/// The harness's working directory.
pub fn harness_dir() -> PathBuf {
    HARNESS_DIR.get().cloned().unwrap_or_else(|| {
        let uid = rustix::process::getuid().as_raw();
        std::env::temp_dir().join(format!("agent-shim-claude-code-{uid}"))
    })
}

/// The settings that make a group's shared state.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSettings {
    pub max_concurrency: usize,
    pub max_sessions: usize,
    pub session_ttl: Duration,
    pub files: SessionFiles,
    /// The working directory is [`harness_dir`].
    pub owns_cwd: bool,
}

/// A group's shared state.
#[derive(Debug)]
pub struct Group {
    pub settings: GroupSettings,
    /// One permit per CLI run.
    pub slots: Arc<Semaphore>,
    pub sessions: Arc<Sessions>,
}

static GROUPS: Mutex<Vec<(String, Weak<Group>)>> = Mutex::new(Vec::new());

/// The shared state of model group `name` with `settings`: the existing one while a deployment
/// holds it with the same settings, else a new one. Locks only at registration.
pub fn group(name: &str, settings: GroupSettings) -> Arc<Group> {
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    groups.retain(|(_, g)| g.strong_count() > 0);
    if let Some(g) = groups
        .iter()
        .filter(|(n, _)| n == name)
        .find_map(|(_, g)| g.upgrade())
        .filter(|g| g.settings == settings)
    {
        return g;
    }
    let g = Arc::new(Group {
        slots: Arc::new(Semaphore::new(settings.max_concurrency)),
        sessions: Arc::new(Sessions::new(
            settings.max_sessions,
            settings.session_ttl,
            settings.files.clone(),
            settings.owns_cwd,
        )),
        settings,
    });
    groups.retain(|(n, _)| n != name);
    groups.push((name.to_owned(), Arc::downgrade(&g)));
    g
}

/// The CLI's configuration directory as its environment will have it: `CLAUDE_CONFIG_DIR`, else
/// `$HOME/.claude` (`extra_env` first, then the gateway's environment).
pub fn config_dir(extra_env: &std::collections::BTreeMap<String, String>) -> PathBuf {
    let var = |k: &str| {
        extra_env
            .get(k)
            .cloned()
            .or_else(|| std::env::var(k).ok())
            .filter(|v| !v.is_empty())
    };
    if let Some(d) = var("CLAUDE_CONFIG_DIR") {
        return PathBuf::from(d);
    }
    var("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("/").to_owned())
        .join(".claude")
}

/// Map of group names, for tests.
#[cfg(test)]
pub fn names() -> std::collections::HashMap<String, usize> {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = std::collections::HashMap::new();
    for (n, g) in groups.iter() {
        if g.strong_count() > 0 {
            *m.entry(n.clone()).or_default() += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: usize) -> GroupSettings {
        GroupSettings {
            max_concurrency: max,
            max_sessions: 4,
            session_ttl: Duration::from_secs(60),
            files: SessionFiles {
                config_dir: "/nonexistent/config".into(),
                cwd: "/nonexistent/cwd".into(),
            },
            owns_cwd: false,
        }
    }

    #[test]
    fn deployments_of_a_group_share_slots_until_the_settings_change() {
        let a = group("group-test-share", settings(2));
        let b = group("group-test-share", settings(2));
        assert!(Arc::ptr_eq(&a, &b));
        let c = group("group-test-share", settings(3));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.slots.available_permits(), 3);
        assert_eq!(names().get("group-test-share"), Some(&1));
        drop((a, b, c));
        assert_eq!(names().get("group-test-share"), None);
    }
}
