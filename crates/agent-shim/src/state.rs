//! The state database (DESIGN.md §4.4): which directory tokens are entered, each model's refcount
//! and lease, the janitor's last run. SQLite in WAL mode under the state dir. Every operation is
//! one `BEGIN IMMEDIATE` transaction, so any number of shells and the gateway at once lose no
//! refcount; writers queue on SQLite's busy handler instead of failing with "database is locked".
//!
//! The refcount-and-lease design of the seeds: entering a token adds one to each of its
//! profile's models; leaving takes it off; a model at refcount 0 gets a lease (15 min by default)
//! and the janitor unregisters it when the lease expires. A token counts the shells inside it
//! (`refs`), so two shells in one directory release the models only when both have left.

use crate::error::{CliError, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const SCHEMA: &str = "
CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    directory TEXT NOT NULL,
    models TEXT NOT NULL,          -- JSON array of the model names entered with the token
    refs INTEGER NOT NULL,         -- shells inside the directory
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE models (
    model_name TEXT PRIMARY KEY,
    refcount INTEGER NOT NULL DEFAULT 0,
    lease_expires INTEGER,         -- unix ms; NULL while refcount > 0
    registered INTEGER NOT NULL DEFAULT 0,
    external_ids TEXT              -- JSON array of ids given by an external proxy
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 1;
";

/// An open state database.
pub struct StateDb {
    conn: Connection,
}

/// An entered directory.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenRow {
    pub token: String,
    pub profile: String,
    pub directory: String,
    pub models: Vec<String>,
    pub refs: i64,
    pub last_seen: i64,
}

/// A model's registration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModelRow {
    pub model_name: String,
    pub refcount: i64,
    pub lease_expires: Option<i64>,
    pub registered: bool,
    pub external_ids: Vec<String>,
}

/// What `enter` changed.
#[derive(Debug, Default)]
pub struct Entered {
    /// The token's models that are not registered with the gateway yet.
    pub unregistered: Vec<String>,
}

impl StateDb {
    /// Opens (creating when needed) `state.db` in `dir`. Many processes may open a new database
    /// at once: switching it to WAL can answer "database is locked" without waiting, so opening
    /// is retried for up to 10 s.
    pub fn open(dir: &Path) -> Result<StateDb> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("state.db");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut attempt: u64 = 0;
        loop {
            match Self::try_open(&path) {
                Ok(db) => return Ok(db),
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(
                        5 + (attempt * 7 + u64::from(std::process::id())) % 40,
                    ));
                }
                Err(e) => {
                    return Err(CliError::failed(format!(
                        "state database {}: {e}",
                        path.display()
                    )));
                }
            }
        }
    }

    fn try_open(path: &Path) -> rusqlite::Result<StateDb> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut db = StateDb { conn };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> rusqlite::Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version >= 1 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < 1 {
            tx.execute_batch(SCHEMA)?;
        }
        tx.commit()
    }

    fn fail(e: rusqlite::Error) -> CliError {
        CliError::failed(format!("state database: {e}"))
    }

    /// A shell entered the directory of `token`, whose profile uses `models`.
    pub fn enter(
        &mut self,
        token: &str,
        profile: &str,
        directory: &str,
        models: &[String],
        now: i64,
    ) -> Result<Entered> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Self::fail)?;
        let existing: Option<String> = tx
            .query_row("SELECT models FROM tokens WHERE token = ?1", [token], |r| {
                r.get(0)
            })
            .optional()
            .map_err(Self::fail)?;
        // The models entered first stay the token's until its last shell leaves, so leave always
        // releases exactly what enter took.
        let models: Vec<String> = match &existing {
            Some(json) => serde_json::from_str(json).unwrap_or_default(),
            None => models.to_vec(),
        };
        if existing.is_some() {
            tx.execute(
                "UPDATE tokens SET refs = refs + 1, last_seen = ?2 WHERE token = ?1",
                params![token, now],
            )
            .map_err(Self::fail)?;
        } else {
            tx.execute(
                "INSERT INTO tokens (token, profile, directory, models, refs, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
                params![token, profile, directory, serde_json::to_string(&models).expect("strings serialise"), now],
            )
            .map_err(Self::fail)?;
        }
        let mut unregistered = Vec::new();
        for m in &models {
            tx.execute(
                "INSERT INTO models (model_name, refcount, lease_expires) VALUES (?1, 1, NULL)
                 ON CONFLICT(model_name) DO UPDATE SET refcount = refcount + 1, lease_expires = NULL",
                [m],
            )
            .map_err(Self::fail)?;
            let registered: bool = tx
                .query_row(
                    "SELECT registered FROM models WHERE model_name = ?1",
                    [m],
                    |r| r.get(0),
                )
                .map_err(Self::fail)?;
            if !registered {
                unregistered.push(m.clone());
            }
        }
        tx.commit().map_err(Self::fail)?;
        Ok(Entered { unregistered })
    }

    /// A shell left the directory of `token`. Returns the token's row as it was, `None` when the
    /// token was not entered. Models reaching refcount 0 get a lease of `lease`.
    pub fn leave(&mut self, token: &str, now: i64, lease: Duration) -> Result<Option<TokenRow>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Self::fail)?;
        let row = tx
            .query_row(
                "SELECT token, profile, directory, models, refs, last_seen FROM tokens WHERE token = ?1",
                [token],
                token_row,
            )
            .optional()
            .map_err(Self::fail)?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.refs <= 1 {
            tx.execute("DELETE FROM tokens WHERE token = ?1", [token])
                .map_err(Self::fail)?;
        } else {
            tx.execute(
                "UPDATE tokens SET refs = refs - 1, last_seen = ?2 WHERE token = ?1",
                params![token, now],
            )
            .map_err(Self::fail)?;
        }
        let expires = now + lease.as_millis() as i64;
        for m in &row.models {
            tx.execute(
                "UPDATE models SET refcount = MAX(refcount - 1, 0),
                     lease_expires = CASE WHEN refcount - 1 <= 0 THEN ?2 ELSE NULL END
                 WHERE model_name = ?1",
                params![m, expires],
            )
            .map_err(Self::fail)?;
        }
        tx.commit().map_err(Self::fail)?;
        Ok(Some(row))
    }

    /// A model was used or registered without a token (a request for it, `with`): it stays
    /// registered at least until `now + lease`.
    pub fn lease(&mut self, model: &str, now: i64, lease: Duration) -> Result<()> {
        let expires = now + lease.as_millis() as i64;
        self.conn
            .execute(
                "INSERT INTO models (model_name, refcount, lease_expires, registered) VALUES (?1, 0, ?2, 1)
                 ON CONFLICT(model_name) DO UPDATE SET registered = 1,
                     lease_expires = CASE WHEN refcount > 0 THEN NULL ELSE MAX(COALESCE(lease_expires, 0), ?2) END",
                params![model, expires],
            )
            .map_err(Self::fail)?;
        Ok(())
    }

    /// Records that the gateway (or an external proxy, with the ids it gave) has `models`.
    pub fn mark_registered(&mut self, models: &[(String, Option<String>)]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Self::fail)?;
        for (m, external_id) in models {
            let ids: Option<String> = tx
                .query_row(
                    "SELECT external_ids FROM models WHERE model_name = ?1",
                    [m],
                    |r| r.get(0),
                )
                .optional()
                .map_err(Self::fail)?
                .flatten();
            let mut ids: Vec<String> = ids
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
            if let Some(id) = external_id
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
            let ids =
                (!ids.is_empty()).then(|| serde_json::to_string(&ids).expect("strings serialise"));
            tx.execute(
                "UPDATE models SET registered = 1, external_ids = ?2 WHERE model_name = ?1",
                params![m, ids],
            )
            .map_err(Self::fail)?;
        }
        tx.commit().map_err(Self::fail)
    }

    /// Marks every model unregistered (the gateway they were registered with is gone).
    pub fn forget_registrations(&mut self) -> Result<()> {
        self.conn
            .execute("UPDATE models SET registered = 0", [])
            .map_err(Self::fail)?;
        Ok(())
    }

    /// Removes the models whose lease expired, at most once per `interval` unless `force`.
    /// Returns `None` when rate-limited, else the removed rows.
    pub fn janitor(
        &mut self,
        now: i64,
        interval: Duration,
        force: bool,
    ) -> Result<Option<Vec<ModelRow>>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Self::fail)?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'last_janitor_run'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(Self::fail)?
            .and_then(|v| v.parse().ok());
        if !force && last.is_some_and(|l| now - l < interval.as_millis() as i64) {
            return Ok(None);
        }
        let expired: Vec<ModelRow> = {
            let mut q = tx
                .prepare(
                    "SELECT model_name, refcount, lease_expires, registered, external_ids FROM models
                     WHERE refcount <= 0 AND lease_expires IS NOT NULL AND lease_expires <= ?1",
                )
                .map_err(Self::fail)?;
            q.query_map([now], model_row)
                .map_err(Self::fail)?
                .collect::<rusqlite::Result<_>>()
                .map_err(Self::fail)?
        };
        for m in &expired {
            tx.execute("DELETE FROM models WHERE model_name = ?1", [&m.model_name])
                .map_err(Self::fail)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_janitor_run', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [now.to_string()],
        )
        .map_err(Self::fail)?;
        tx.commit().map_err(Self::fail)?;
        Ok(Some(expired))
    }

    /// Models that should be registered: refcount above 0, or a lease not yet expired.
    pub fn leased_models(&self, now: i64) -> Result<Vec<String>> {
        let mut q = self
            .conn
            .prepare(
                "SELECT model_name FROM models WHERE refcount > 0 OR (lease_expires IS NOT NULL AND lease_expires > ?1)
                 ORDER BY model_name",
            )
            .map_err(Self::fail)?;
        let names = q
            .query_map([now], |r| r.get(0))
            .map_err(Self::fail)?
            .collect::<rusqlite::Result<_>>();
        names.map_err(Self::fail)
    }

    pub fn tokens(&self) -> Result<Vec<TokenRow>> {
        let mut q = self
            .conn
            .prepare("SELECT token, profile, directory, models, refs, last_seen FROM tokens ORDER BY last_seen DESC")
            .map_err(Self::fail)?;
        let rows = q
            .query_map([], token_row)
            .map_err(Self::fail)?
            .collect::<rusqlite::Result<_>>();
        rows.map_err(Self::fail)
    }

    pub fn models(&self) -> Result<Vec<ModelRow>> {
        let mut q = self
            .conn
            .prepare("SELECT model_name, refcount, lease_expires, registered, external_ids FROM models ORDER BY model_name")
            .map_err(Self::fail)?;
        let rows = q
            .query_map([], model_row)
            .map_err(Self::fail)?
            .collect::<rusqlite::Result<_>>();
        rows.map_err(Self::fail)
    }

    /// When the janitor last ran (unix ms).
    pub fn last_janitor_run(&self) -> Result<Option<i64>> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'last_janitor_run'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(Self::fail)?;
        Ok(v.and_then(|v| v.parse().ok()))
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let models: String = r.get(3)?;
    Ok(TokenRow {
        token: r.get(0)?,
        profile: r.get(1)?,
        directory: r.get(2)?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        refs: r.get(4)?,
        last_seen: r.get(5)?,
    })
}

fn model_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelRow> {
    let ids: Option<String> = r.get(4)?;
    Ok(ModelRow {
        model_name: r.get(0)?,
        refcount: r.get(1)?,
        lease_expires: r.get(2)?,
        registered: r.get(3)?,
        external_ids: ids
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(900);

    fn models(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn refcounts(db: &StateDb) -> Vec<(String, i64)> {
        db.models()
            .unwrap()
            .into_iter()
            .map(|m| (m.model_name, m.refcount))
            .collect()
    }

    #[test]
    fn two_shells_in_one_directory_release_models_when_both_leave() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(dir.path()).unwrap();
        let e = db
            .enter("t1", "p", "/a", &models(&["m1", "m2"]), 1000)
            .unwrap();
        assert_eq!(e.unregistered, ["m1", "m2"]);
        db.enter("t1", "p", "/a", &models(&["m1", "m2"]), 1001)
            .unwrap();
        assert_eq!(db.tokens().unwrap()[0].refs, 2);
        db.enter("t2", "q", "/b", &models(&["m2"]), 1002).unwrap();
        assert_eq!(refcounts(&db), [("m1".into(), 2), ("m2".into(), 3)]);
        db.leave("t1", 2000, LEASE).unwrap();
        assert_eq!(
            db.tokens()
                .unwrap()
                .iter()
                .find(|t| t.token == "t1")
                .unwrap()
                .refs,
            1
        );
        db.leave("t1", 2000, LEASE).unwrap();
        assert_eq!(refcounts(&db), [("m1".into(), 0), ("m2".into(), 1)]);
        let m1 = db
            .models()
            .unwrap()
            .into_iter()
            .find(|m| m.model_name == "m1")
            .unwrap();
        assert_eq!(m1.lease_expires, Some(2000 + 900_000));
        assert!(
            db.leave("t1", 2001, LEASE).unwrap().is_none(),
            "leaving an unknown token changes nothing"
        );
        assert_eq!(refcounts(&db), [("m1".into(), 0), ("m2".into(), 1)]);
    }

    #[test]
    fn janitor_removes_expired_leases_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(dir.path()).unwrap();
        db.enter("t", "p", "/a", &models(&["m"]), 0).unwrap();
        db.leave("t", 0, Duration::from_millis(100)).unwrap();
        let minute = Duration::from_secs(60);
        assert_eq!(
            db.janitor(50, minute, false).unwrap().unwrap().len(),
            0,
            "lease not expired"
        );
        assert!(
            db.janitor(150, minute, false).unwrap().is_none(),
            "rate-limited"
        );
        let removed = db.janitor(150, minute, true).unwrap().unwrap();
        assert_eq!(removed[0].model_name, "m");
        assert!(db.models().unwrap().is_empty());
        assert!(db.leased_models(150).unwrap().is_empty());
    }

    #[test]
    fn re_entering_cancels_the_lease_and_leases_never_shorten() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(dir.path()).unwrap();
        db.enter("t", "p", "/a", &models(&["m"]), 0).unwrap();
        db.leave("t", 0, LEASE).unwrap();
        db.enter("t", "p", "/a", &models(&["m"]), 10).unwrap();
        assert_eq!(db.models().unwrap()[0].lease_expires, None);
        db.lease("x", 100, Duration::from_secs(10)).unwrap();
        db.lease("x", 100, Duration::from_secs(1)).unwrap();
        assert_eq!(db.models().unwrap()[1].lease_expires, Some(10_100));
        assert_eq!(db.leased_models(5_000).unwrap(), ["m", "x"]);
    }
}
