//! Session affinity: a conversation that names itself (Claude Code's `x-claude-code-session-id`,
//! Codex's `thread-id`/`session-id`, …; [`SESSION_HEADERS`]) stays on the deployment of a model group it
//! started on while that deployment is healthy, so the provider's prompt cache keeps hitting.
//!
//! A bounded map from (session, group) to a deployment id: entries idle longer than the TTL are
//! forgotten, and past the bound the least recently used half goes. A std mutex guards it,
//! held for one map operation, never across an `.await`. Keys are hashed with a per-process
//! random key, so a client cannot aim collisions at another session.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Request headers that name a session, first match wins: ours, then the agents' (agents.md:
/// Claude Code sends `X-Claude-Code-Session-Id`; current Codex builds send `thread-id` and
/// `session-id` on their Responses requests, older ones `session_id`; opencode `x-session-id`).
pub const SESSION_HEADERS: &[&str] = &[
    "x-agent-shim-session-id",
    "x-claude-code-session-id",
    "thread-id",
    "session-id",
    "session_id",
    "x-session-id",
    "x-opencode-session",
];

/// The session named by `headers`, if any (a non-empty value of at most 200 bytes).
pub fn session_of(headers: &http::HeaderMap) -> Option<&str> {
    SESSION_HEADERS.iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
    })
}

#[derive(Debug)]
struct Bound {
    deployment: String,
    last_used: Instant,
}

/// The sessions' deployments (see the module docs).
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<u64, Bound>>,
    hasher: RandomState,
    ttl: Duration,
    max: usize,
}

impl Sessions {
    /// Sessions idle longer than `ttl` are forgotten; at most `max` are kept.
    pub fn new(ttl: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            ttl,
            max: max.max(1),
        }
    }

    /// The key of `session` in `group`.
    pub fn key(&self, session: &str, group: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(session.as_bytes());
        h.write_u8(0xff);
        h.write(group.as_bytes());
        h.finish()
    }

    /// Applies `find` to the deployment id the session is bound to (if bound and not idle too
    /// long) and returns what it found; the binding counts as used.
    pub fn find<T>(
        &self,
        key: u64,
        now: Instant,
        find: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.get_mut(&key)?;
        if now.saturating_duration_since(b.last_used) > self.ttl {
            map.remove(&key);
            return None;
        }
        b.last_used = now;
        find(&b.deployment)
    }

    /// Binds the session to `deployment` (replacing an earlier binding).
    pub fn bind(&self, key: u64, deployment: &str, now: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(&key) {
            b.last_used = now;
            if b.deployment != deployment {
                deployment.clone_into(&mut b.deployment);
            }
            return;
        }
        if map.len() >= self.max {
            let ttl = self.ttl;
            map.retain(|_, b| now.saturating_duration_since(b.last_used) <= ttl);
            if map.len() >= self.max {
                // The least recently used half goes.
                let mut ages: Vec<Instant> = map.values().map(|b| b.last_used).collect();
                let mid = ages.len() / 2;
                let (_, cut, _) = ages.select_nth_unstable(mid);
                let cut = *cut;
                map.retain(|_, b| b.last_used > cut);
            }
        }
        map.insert(
            key,
            Bound {
                deployment: deployment.to_owned(),
                last_used: now,
            },
        );
    }

    /// Sessions remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_its_deployment_until_idle_too_long() {
        let s = Sessions::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        let k = s.key("sess-1", "m");
        assert_ne!(k, s.key("sess-1", "other-group"));
        assert_eq!(s.find(k, t0, |d| Some(d.to_owned())), None);
        s.bind(k, "dep-b", t0);
        let got = s.find(k, t0 + Duration::from_secs(9), |d| Some(d.to_owned()));
        assert_eq!(got.as_deref(), Some("dep-b"));
        // Used at 9 s, so still there at 18 s; gone after 10 s more of silence.
        assert!(
            s.find(k, t0 + Duration::from_secs(18), |_| Some(()))
                .is_some()
        );
        assert!(
            s.find(k, t0 + Duration::from_secs(29), |_| Some(()))
                .is_none()
        );
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn the_map_is_bounded_dropping_the_least_recently_used() {
        let s = Sessions::new(Duration::from_secs(3600), 4);
        let t0 = Instant::now();
        for i in 0..4u64 {
            s.bind(i, "d", t0 + Duration::from_secs(i));
        }
        s.bind(99, "d", t0 + Duration::from_secs(10));
        assert!(s.len() <= 4, "{}", s.len());
        let now = t0 + Duration::from_secs(11);
        assert!(s.find(99, now, |_| Some(())).is_some());
        assert!(s.find(3, now, |_| Some(())).is_some());
        assert!(s.find(0, now, |_| Some(())).is_none());
    }

    #[test]
    fn headers_name_the_session() {
        let mut h = http::HeaderMap::new();
        assert_eq!(session_of(&h), None);
        h.insert("session_id", "codex-old".parse().unwrap());
        assert_eq!(session_of(&h), Some("codex-old"));
        h.insert("session-id", "codex-thread".parse().unwrap());
        assert_eq!(session_of(&h), Some("codex-thread"));
        h.insert("x-claude-code-session-id", " cc-1 ".parse().unwrap());
        assert_eq!(session_of(&h), Some("cc-1"));
    }
}
