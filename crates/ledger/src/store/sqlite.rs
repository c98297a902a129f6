//! The SQLite engine: `usage.db` in the state dir (WAL, `synchronous=NORMAL`, a busy timeout so
//! the gateway and a `agent-shim usage` reading at the same time wait for each other instead of
//! failing). Every call runs on tokio's blocking pool, never on an async worker: one writer
//! connection behind a mutex, and a few reader connections kept for reuse.

use super::sql::{Backend, Cell, Dialect, Outcome, Query, Row, Then, Val, err};
use super::{StoreError, StoreFuture};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections kept open for reuse.
const READERS_KEPT: usize = 4;
/// The page cache of each connection, in KiB (SQLite's default is 2,000 KiB). The writer only
/// appends, touching the right edge of each index; readers scan, which the operating system's
/// file cache serves as well. The gateway's writer kept ~3 MiB after a load with the default
/// (issue 13: memory that comes back).
const CACHE_KIB: i64 = 512;

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Val::I(v) => v.to_sql(),
            Val::T(v) => v.to_sql(),
        }
    }
}

/// The SQLite ledger at one path.
pub(crate) struct Sqlite {
    path: PathBuf,
    shown: String,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn connect(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A negative size is in KiB (https://sqlite.org/pragma.html#pragma_cache_size).
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    Ok(conn)
}

impl Sqlite {
    /// Opens `path` (blocking: call it off the async workers). `create`: create the file and
    /// its directory when missing and run the migrations; otherwise the file must exist.
    pub(crate) fn open(path: &Path, create: bool) -> Result<Sqlite, StoreError> {
        let shown = path.display().to_string();
        if create
            && let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return Err(err(
                &shown,
                format!("cannot create the directory {}: {e}", dir.display()),
            ));
        }
        let mut conn = connect(path, create).map_err(|e| {
            err(
                &shown,
                format!(
                    "cannot open it: {e} (check that the state dir is writable, or set \
                     database_url in config.yaml to keep the ledger in PostgreSQL)"
                ),
            )
        })?;
        if create {
            super::migrate_sqlite(&mut conn).map_err(|e| err(&shown, e))?;
        }
        Ok(Sqlite {
            path: path.to_owned(),
            shown,
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }
}

fn cells(row: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    (0..n)
        .map(|i| {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => Cell::I(None),
                ValueRef::Integer(v) => Cell::I(Some(v)),
                // SQLite sums of integers stay integers; a REAL is never written by the ledger.
                ValueRef::Real(v) => Cell::I(Some(v as i64)),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Cell::T(Some(String::from_utf8_lossy(t).into_owned()))
                }
            })
        })
        .collect()
}

fn run(conn: &Connection, q: &Query) -> rusqlite::Result<Outcome> {
    let mut stmt = conn.prepare_cached(&q.sql)?;
    let params = rusqlite::params_from_iter(q.params.iter());
    if !q.returning {
        let changed = stmt.execute(params)?;
        return Ok(Outcome {
            rows: Vec::new(),
            changed: changed as u64,
        });
    }
    let n = stmt.column_count();
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(cells(row, n)?);
    }
    Ok(Outcome {
        changed: out.len() as u64,
        rows: out,
    })
}

/// Runs `f` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    shown: &str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| err(shown, format!("the database task failed: {e}")))?
}

impl Backend for Sqlite {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<Row>> {
        let (path, shown, readers) = (self.path.clone(), self.shown.clone(), self.readers.clone());
        Box::pin(blocking(&self.shown, move || {
            let pooled = readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match pooled {
                Some(c) => c,
                None => connect(&path, false).map_err(|e| err(&shown, e))?,
            };
            let out = run(&conn, &q).map_err(|e| err(&shown, e));
            let mut pool = readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < READERS_KEPT {
                pool.push(conn);
            }
            Ok(out?.rows)
        }))
    }

    fn transaction(&self, first: Vec<Query>, then: Then) -> StoreFuture<'_, Vec<Outcome>> {
        let (shown, writer) = (self.shown.clone(), self.writer.clone());
        Box::pin(blocking(&self.shown, move || {
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            let e = |e: rusqlite::Error| err(&shown, e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e)?;
            let outcomes = first
                .iter()
                .map(|q| run(&tx, q))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(e)?;
            for q in then(&outcomes) {
                run(&tx, &q).map_err(e)?;
            }
            tx.commit().map_err(e)?;
            Ok(outcomes)
        }))
    }
}
