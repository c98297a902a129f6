//! Conversations kept as CLI sessions, so a multi-turn conversation is continued with
//! `--resume <id>` and only its new turn is sent (issue 10 §1).
//!
//! - A session is found by a digest of the conversation so far (system prompt and every earlier
//!   turn, [`super::input::Conversation::feed`]), or by a session header the client sends
//!   ([`SESSION_HEADERS`]; then it continues when the request holds exactly the turns the session
//!   holds). After a turn succeeds the session is filed under the digest of the conversation
//!   including the new answer, which is what the client's next request starts with.
//! - A session is taken out while a turn runs on it (a second request with the same history
//!   starts its own), and forgotten when its turn fails or the client goes away.
//! - Sessions are forgotten when idle longer than `session_ttl` or beyond `max_sessions` (least
//!   recently used first); forgetting deletes the CLI's files for it
//!   (`<config dir>/projects/<escaped cwd>/<id>.jsonl`, [`SessionFiles`]).

use super::input::{Conversation, feed_turn};
use http::HeaderMap;
use std::collections::HashMap;
use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Request headers that name a conversation, first match wins: our own, then the ones agents
/// and harnesses send (field-2026-11.md §3.1).
pub const SESSION_HEADERS: &[&str] = &[
    "x-agent-shim-session-id",
    "x-session-id",
    "x-claude-code-session-id",
    "x-opencode-session",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Digest(u64),
    Header(String),
}

#[derive(Debug)]
struct Entry {
    id: String,
    /// Messages the session holds (for a header's check).
    holds: usize,
    last_used: Instant,
    /// The exit of the run that answered its last turn: `None` until the CLI exited, then
    /// whether it exited cleanly (its session written).
    exited: watch::Receiver<Option<bool>>,
}

/// How long a request waits for the CLI that answered the previous turn to finish writing the
/// session and exit (it takes some 30 ms; a client may send the next turn sooner).
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Where the CLI keeps a session's files: `<config dir>/projects/<cwd with every character other
/// than ASCII letters and digits replaced by '-'>/<id>.jsonl` (observed with CLI 2.1.197; other
/// project directories are searched when the file is not there).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFiles {
    /// `CLAUDE_CONFIG_DIR`, else `$HOME/.claude`, as the CLI's environment has them.
    pub config_dir: PathBuf,
    /// The runs' working directory.
    pub cwd: PathBuf,
}

impl SessionFiles {
    fn project_dir(&self) -> PathBuf {
        let escaped: String = self
            .cwd
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.config_dir.join("projects").join(escaped)
    }

    /// Deletes a session's files (blocking: call off the request path).
    #[allow(clippy::disallowed_methods)] // run on the blocking pool (`Sessions::delete_later`)
    pub fn delete(&self, id: &str) {
        let file = format!("{id}.jsonl");
        let mut dirs = vec![self.project_dir()];
        if !dirs[0].join(&file).exists()
            && let Ok(rd) = std::fs::read_dir(self.config_dir.join("projects"))
        {
            dirs.extend(rd.flatten().map(|e| e.path()));
        }
        for d in dirs {
            if std::fs::remove_file(d.join(&file)).is_ok() {
                let _ = std::fs::remove_dir_all(d.join(id));
                return;
            }
        }
    }

    /// Deletes session files in the project directory untouched for `ttl`: left by an earlier
    /// gateway, whose sessions nobody can resume. Only for a working directory the harness owns.
    #[allow(clippy::disallowed_methods)] // run on the blocking pool (`start_sweeping`)
    fn delete_stale(&self, ttl: Duration) {
        let Ok(rd) = std::fs::read_dir(self.project_dir()) else {
            return;
        };
        let now = SystemTime::now();
        for e in rd.flatten() {
            let path = e.path();
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > ttl);
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".jsonl"))
            else {
                continue;
            };
            if stale && uuid::Uuid::parse_str(id).is_ok() {
                self.delete(id);
            }
        }
    }
}

/// The sessions of one model group.
#[derive(Debug)]
pub struct Sessions {
    entries: Mutex<HashMap<Key, Entry>>,
    hasher: RandomState,
    max: usize,
    ttl: Duration,
    files: SessionFiles,
    /// The working directory is the harness's own: stale files in it may be deleted.
    owns_cwd: bool,
    sweeping: std::sync::Once,
}

/// How a turn runs: on which session, and with which input.
#[derive(Debug)]
pub struct Turn {
    sessions: Arc<Sessions>,
    /// The CLI's session id (`--resume` it, or create it with `--session-id`).
    pub id: String,
    /// Whether the session holds the earlier turns.
    pub resumed: bool,
    /// The digest after the new user turn, to add the answer to; `None` with a header key.
    after: Option<DefaultHasher>,
    header: Option<String>,
    /// Messages the session will hold after this turn's answer.
    holds: usize,
    done: bool,
}

impl Sessions {
    /// Sessions of at most `max` conversations, each forgotten after `ttl` idle; `owns_cwd` when
    /// the runs' working directory is the harness's own.
    pub fn new(max: usize, ttl: Duration, files: SessionFiles, owns_cwd: bool) -> Sessions {
        Sessions {
            entries: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            max: max.max(1),
            ttl,
            files,
            owns_cwd,
            sweeping: std::sync::Once::new(),
        }
    }

    /// The session header's value in `headers`, if any.
    pub fn header(headers: &HeaderMap) -> Option<String> {
        SESSION_HEADERS.iter().find_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 200)
                .map(str::to_owned)
        })
    }

    /// The session `conv`'s new turn runs on: the one holding its earlier turns, taken out of
    /// the store, or a new one. `None` for a request a session cannot carry (a prefill).
    pub async fn begin(
        self: &Arc<Self>,
        conv: &Conversation,
        header: Option<String>,
    ) -> Option<Turn> {
        if conv.has_prefill() {
            return None;
        }
        self.start_sweeping();
        let key = match &header {
            Some(h) => Key::Header(h.clone()),
            None => {
                let mut h = self.hasher.build_hasher();
                conv.feed(&mut h, conv.earlier());
                Key::Digest(h.finish())
            }
        };
        let mut forget = Vec::new();
        let found = {
            let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            self.expire(&mut map, &mut forget);
            match map.remove(&key) {
                Some(e) if e.holds == conv.earlier() => Some(e),
                Some(e) => {
                    forget.push(e.id);
                    None
                }
                None => None,
            }
        };
        self.delete_later(forget);
        let found = match found {
            Some(mut e) => {
                let exit = e.exited.wait_for(Option::is_some);
                let clean = matches!(
                    tokio::time::timeout(EXIT_WAIT, exit).await,
                    Ok(Ok(v)) if *v == Some(true)
                );
                if clean {
                    Some(e.id)
                } else {
                    self.delete_later(vec![e.id]);
                    None
                }
            }
            None => None,
        };
        let after = header.is_none().then(|| {
            let mut h = self.hasher.build_hasher();
            conv.feed(&mut h, conv.earlier() + 1);
            h
        });
        let resumed = found.is_some();
        Some(Turn {
            sessions: self.clone(),
            id: found.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            resumed,
            after,
            header,
            holds: conv.earlier() + 2,
            done: false,
        })
    }

    /// How many sessions are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |m| m.len())
    }

    /// Moves expired entries (and the least recently used beyond `max`) into `forget`.
    fn expire(&self, map: &mut HashMap<Key, Entry>, forget: &mut Vec<String>) {
        let now = Instant::now();
        map.retain(|_, e| {
            let keep = now.duration_since(e.last_used) <= self.ttl;
            if !keep {
                forget.push(e.id.clone());
            }
            keep
        });
        while map.len() > self.max {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = map.remove(&oldest) {
                forget.push(e.id);
            }
        }
    }

    /// Deletes the files of `ids` on the blocking pool (inline outside a runtime).
    fn delete_later(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let files = self.files.clone();
        let work = move || {
            for id in &ids {
                files.delete(id);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(work)),
            Err(_) => work(),
        }
    }

    /// Starts the idle sweep (once): it ends when the sessions are dropped.
    fn start_sweeping(self: &Arc<Self>) {
        self.sweeping.call_once(|| {
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let weak: Weak<Sessions> = Arc::downgrade(self);
            let every = (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
            if self.owns_cwd {
                let (files, ttl) = (self.files.clone(), self.ttl);
                drop(rt.spawn_blocking(move || files.delete_stale(ttl)));
            }
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(s) = weak.upgrade() else { return };
                    let mut forget = Vec::new();
                    {
                        let mut map = s.entries.lock().unwrap_or_else(|e| e.into_inner());
                        s.expire(&mut map, &mut forget);
                    }
                    s.delete_later(forget);
                }
            });
        });
    }

    /// The session files' location.
    #[cfg(test)]
    pub fn files(&self) -> &SessionFiles {
        &self.files
    }
}

impl Turn {
    /// The turn succeeded with `answer_text`: the session is kept for the next turn, usable
    /// once [`Exit::exited`] says the CLI exited cleanly.
    pub fn commit(mut self, answer_text: &str) -> Exit {
        self.done = true;
        let (tx, rx) = watch::channel(None);
        let exit = Exit {
            sessions: self.sessions.clone(),
            id: self.id.clone(),
            tx,
        };
        let key = match (self.after.take(), self.header.take()) {
            (_, Some(h)) => Key::Header(h),
            (Some(mut h), None) => {
                feed_turn(&mut h, "assistant", &serde_json::Value::from(answer_text));
                Key::Digest(h.finish())
            }
            (None, None) => return exit,
        };
        let s = &self.sessions;
        let mut forget = Vec::new();
        {
            let mut map = s.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = Entry {
                id: self.id.clone(),
                holds: self.holds,
                last_used: Instant::now(),
                exited: rx,
            };
            if let Some(old) = map.insert(key, entry)
                && old.id != self.id
            {
                forget.push(old.id);
            }
            s.expire(&mut map, &mut forget);
        }
        s.delete_later(forget);
        exit
    }
}

/// The end of a committed turn's CLI run.
#[derive(Debug)]
pub struct Exit {
    sessions: Arc<Sessions>,
    id: String,
    tx: watch::Sender<Option<bool>>,
}

impl Exit {
    /// The CLI exited, `clean` when with status 0: a session whose CLI did not exit cleanly may
    /// be incomplete, so it is forgotten.
    pub fn exited(self, clean: bool) {
        self.tx.send_replace(Some(clean));
        if !clean {
            let s = &self.sessions;
            if let Ok(mut map) = s.entries.lock() {
                map.retain(|_, e| e.id != self.id);
            }
            s.delete_later(vec![self.id]);
        }
    }
}

impl Drop for Turn {
    /// A turn that did not succeed leaves its session in an unknown state: it is forgotten.
    fn drop(&mut self) {
        if !self.done {
            self.sessions.delete_later(vec![self.id.clone()]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test set-up
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn conv(v: serde_json::Value) -> Conversation {
        Conversation::parse(v.to_string().as_bytes()).unwrap()
    }

    fn sessions(max: usize, ttl: Duration, dir: &Path) -> Arc<Sessions> {
        let files = SessionFiles {
            config_dir: dir.join("config"),
            cwd: dir.join("work dir"),
        };
        Arc::new(Sessions::new(max, ttl, files, true))
    }

    fn session_file(s: &Sessions, id: &str) -> PathBuf {
        let p = s.files().project_dir().join(format!("{id}.jsonl"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{}\n").unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("as-sessions-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Waits (up to 2 s) for deletions on the blocking pool.
    async fn gone(p: &Path) -> bool {
        for _ in 0..200 {
            if !p.exists() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    fn one(text: &str) -> Conversation {
        conv(json!({"messages": [{"role": "user", "content": text}]}))
    }

    #[tokio::test]
    async fn a_conversation_continues_its_session_and_an_edited_one_does_not() {
        let dir = tmp("continue");
        let s = sessions(8, Duration::from_secs(60), &dir);
        let t1 = s.begin(&one("Hi, I am Ada."), None).await.unwrap();
        assert!(!t1.resumed);
        let id = t1.id.clone();
        t1.commit("Hello Ada.").exited(true);
        let turn2 = json!({"messages": [
            {"role": "user", "content": "Hi, I am Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": "Who am I?"}]});
        let t2 = s.begin(&conv(turn2.clone()), None).await.unwrap();
        assert!(t2.resumed);
        assert_eq!(t2.id, id);
        // While it runs, the same history finds no session: it gets its own.
        let t2b = s.begin(&conv(turn2.clone()), None).await.unwrap();
        assert!(!t2b.resumed);
        t2.commit("You are Ada.").exited(true);
        drop(t2b);
        // Asking the second question again (a regenerate) is not the continued conversation.
        let again = s.begin(&conv(turn2), None).await.unwrap();
        assert!(!again.resumed);
        let edited = conv(json!({"messages": [
            {"role": "user", "content": "Hi, I am Ada."},
            {"role": "assistant", "content": "Hello Bob."},
            {"role": "user", "content": "Who am I?"}]}));
        assert!(!s.begin(&edited, None).await.unwrap().resumed);
    }

    #[tokio::test]
    async fn the_next_turn_waits_for_the_cli_to_exit_and_a_bad_exit_forgets_the_session() {
        let dir = tmp("exit");
        let s = sessions(8, Duration::from_secs(60), &dir);
        let next = |answer: &str| {
            conv(json!({"messages": [
                {"role": "user", "content": "a"}, {"role": "assistant", "content": answer},
                {"role": "user", "content": "b"}]}))
        };
        let t = s.begin(&one("a"), None).await.unwrap();
        let id = t.id.clone();
        let exit = t.commit("ok");
        let s2 = s.clone();
        let waiting = tokio::spawn(async move { s2.begin(&next("ok"), None).await.unwrap() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the next turn waits for the exit");
        exit.exited(true);
        let t2 = waiting.await.unwrap();
        assert!(t2.resumed);
        assert_eq!(t2.id, id);
        drop(t2);
        let t = s.begin(&one("a"), None).await.unwrap();
        let file = session_file(&s, &t.id);
        t.commit("fine").exited(false);
        assert!(!s.begin(&next("fine"), None).await.unwrap().resumed);
        assert!(gone(&file).await);
    }

    #[test]
    fn the_session_header_is_ours_or_one_agents_send() {
        let mut h = HeaderMap::new();
        assert_eq!(Sessions::header(&h), None);
        h.insert("x-session-id", "  abc ".parse().unwrap());
        assert_eq!(Sessions::header(&h).as_deref(), Some("abc"));
        h.insert("x-agent-shim-session-id", "ours".parse().unwrap());
        assert_eq!(Sessions::header(&h).as_deref(), Some("ours"));
    }

    #[tokio::test]
    async fn a_header_keys_the_session_when_the_turn_count_matches() {
        let dir = tmp("header");
        let s = sessions(8, Duration::from_secs(60), &dir);
        let t = s.begin(&one("a"), Some("conv-1".into())).await.unwrap();
        let id = t.id.clone();
        t.commit("b").exited(true);
        // The client rewrote the answer: with a header the session still continues.
        let two = conv(json!({"messages": [
            {"role": "user", "content": "a"}, {"role": "assistant", "content": "B!"},
            {"role": "user", "content": "c"}]}));
        let t = s.begin(&two, Some("conv-1".into())).await.unwrap();
        assert!(t.resumed);
        assert_eq!(t.id, id);
        t.commit("d").exited(true);
        let t = s.begin(&two, Some("conv-1".into())).await.unwrap();
        assert!(
            !t.resumed,
            "two turns held, the request has two earlier: a new session"
        );
    }

    #[tokio::test]
    async fn failed_turns_idle_sessions_and_the_least_recently_used_are_forgotten_with_their_files()
    {
        let dir = tmp("forget");
        let s = sessions(2, Duration::from_millis(300), &dir);
        let mut files = Vec::new();
        for text in ["a", "b", "c"] {
            let t = s.begin(&one(text), None).await.unwrap();
            files.push(session_file(&s, &t.id));
            t.commit("ok").exited(true);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(s.len(), 2);
        assert!(gone(&files[0]).await, "the least recently used is deleted");
        assert!(files[1].exists() && files[2].exists());
        let t = s.begin(&one("d"), None).await.unwrap();
        let failed = session_file(&s, &t.id);
        drop(t);
        assert!(gone(&failed).await, "a turn that did not finish is deleted");
        tokio::time::sleep(Duration::from_millis(350)).await;
        let t = s.begin(&one("e"), None).await.unwrap();
        assert_eq!(s.len(), 0);
        assert!(
            gone(&files[1]).await && gone(&files[2]).await,
            "idle ones are deleted"
        );
        t.commit("ok").exited(true);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn session_files_are_found_in_another_project_directory() {
        let dir = tmp("elsewhere");
        let files = SessionFiles {
            config_dir: dir.clone(),
            cwd: dir.join("x"),
        };
        let other = dir.join("projects").join("-shortened-hash");
        std::fs::create_dir_all(other.join("abc")).unwrap();
        std::fs::write(other.join("abc.jsonl"), "").unwrap();
        files.delete("abc");
        assert!(!other.join("abc.jsonl").exists() && !other.join("abc").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
