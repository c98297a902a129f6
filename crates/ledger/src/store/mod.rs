//! Where records are kept (issue 12 §2): the [`Store`] trait with SQLite (`usage.db` in the
//! state dir, the default) and PostgreSQL (`database_url: postgres://…`) implementations
//! chosen once at start ([`open`]), the migrations (refinery, one set of SQL files valid on
//! both engines, `crates/ledger/migrations`), the batching writer ([`writer`]), retention
//! ([`Store::prune`], daily rollups) and the reports.
//!
//! - [`sql`]: what the engines share (statements, values, the engine interface).
//! - [`sqlite`], [`postgres`]: the engines.
//! - [`write`], [`report`]: every statement, written once for both engines.
//! - [`writer`]: the task between the queue and the store.

mod postgres;
pub(crate) use postgres::pg_config;
mod report;
mod sql;
mod sqlite;
mod write;
pub mod writer;

pub use writer::{WriterHandle, WriterOptions, spawn_writer};

use crate::record::UsageRecord;
use serde::Serialize;
use sql::Backend;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

/// A store operation's future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store that failed: names the database (never its password) and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Which records a report reads. Times are Unix ms; `None` = no bound / any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub model_group: Option<String>,
    pub provider: Option<String>,
    pub profile: Option<String>,
    pub directory: Option<String>,
    pub agent: Option<String>,
    pub session_id: Option<String>,
    /// Only failures when true: status ≥ 400, or an `error_class` (a response that broke
    /// after it started).
    pub errors_only: bool,
}

/// What a summary groups by (`agent-shim usage --by …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Model,
    Profile,
    Directory,
    Provider,
    Agent,
    Session,
    Day,
}

/// One row of a summary: the totals of the records sharing `key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The group's value (`-` for none; `YYYY-MM-DD` for days).
    pub key: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Picodollars of the priced requests; `None` when none was priced.
    pub cost_pico_usd: Option<i64>,
    /// Requests with no price (their cost is unknown, not zero).
    pub unpriced: u64,
    pub latency_p50_us: Option<i64>,
    pub latency_p95_us: Option<i64>,
    pub ttfb_p50_us: Option<i64>,
    pub ttfb_p95_us: Option<i64>,
}

/// One bucket of a time series (dashboard charts).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// The bucket's start (Unix ms).
    pub time_ms: i64,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_pico_usd: Option<i64>,
}

/// A ledger store. Implementations: SQLite and PostgreSQL.
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;
    /// Writes `records` in one transaction.
    fn insert_batch<'a>(&'a self, records: &'a [UsageRecord]) -> StoreFuture<'a, ()>;
    /// Totals grouped by `by`, largest cost first (then most requests); by day, oldest first.
    /// Whole days whose records were pruned come from the daily rollups (no percentiles).
    fn summary<'a>(&'a self, filter: &'a Filter, by: Dimension)
    -> StoreFuture<'a, Vec<SummaryRow>>;
    /// Totals of all matching records (the summary's one row, key `all`).
    fn totals<'a>(&'a self, filter: &'a Filter) -> StoreFuture<'a, SummaryRow>;
    /// Totals per bucket of `bucket_ms` (aligned on the Unix epoch, oldest first, empty
    /// buckets left out).
    fn series<'a>(
        &'a self,
        filter: &'a Filter,
        bucket_ms: i64,
    ) -> StoreFuture<'a, Vec<SeriesPoint>>;
    /// The newest matching records, at most `limit`, newest first.
    fn requests<'a>(&'a self, filter: &'a Filter, limit: u32) -> StoreFuture<'a, Vec<UsageRecord>>;
    /// One record by its request id, with its captured bodies (the only read that returns
    /// them; [`Store::requests`] leaves them `None`).
    fn request<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<UsageRecord>>;
    /// Deletes records older than `before_ms` (their daily rollups stay); returns how many.
    fn prune<'a>(&'a self, before_ms: i64) -> StoreFuture<'a, u64>;
    /// Clears (sets to NULL) the captured bodies of records older than `before_ms`, keeping
    /// the records (`body_capture_retention_days`); returns how many records had bodies.
    fn clear_bodies<'a>(&'a self, before_ms: i64) -> StoreFuture<'a, u64>;
}

/// The migrations, oldest first: `(refinery name, SQL)`. Each file is valid on both engines.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("V1__usage", include_str!("../../migrations/V1__usage.sql")),
    // The state several instances share (crate::shared); also applied by it on connect.
    ("V2__shared_state", crate::shared::MIGRATION),
    (
        "V3__body_capture",
        include_str!("../../migrations/V3__body_capture.sql"),
    ),
];

fn migrations() -> Result<Vec<refinery_core::Migration>, String> {
    MIGRATIONS
        .iter()
        .map(|(name, sql)| {
            refinery_core::Migration::unapplied(name, sql)
                .map_err(|e| format!("migration {name}: {e}"))
        })
        .collect()
}

/// Runs the migrations not applied yet on a SQLite connection.
fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), String> {
    refinery_core::Runner::new(&migrations()?)
        .run(conn)
        .map(|_| ())
        .map_err(|e| format!("migrations failed: {e}"))
}

/// Runs the migrations not applied yet on a PostgreSQL connection.
async fn migrate_postgres(client: &mut tokio_postgres::Client) -> Result<(), String> {
    refinery_core::Runner::new(&migrations()?)
        .run_async(client)
        .await
        .map(|_| ())
        .map_err(|e| format!("migrations failed: {e}"))
}

/// `url` with its password replaced by `***` (in the user-info part and in a `password=`
/// parameter), to name a database in errors and logs.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    let mut from = 0;
    while let Some(i) = out[from..].find("password=") {
        let start = from + i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
}

/// Whether `database_url` names a PostgreSQL database.
pub fn is_postgres(database_url: &str) -> bool {
    let u = database_url.trim_start().to_ascii_lowercase();
    u.starts_with("postgres://") || u.starts_with("postgresql://")
}

/// The SQLite ledger's file in `state_dir`.
pub fn sqlite_path(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("usage.db")
}

/// Checks `database_url`: `None` or a PostgreSQL URL without TLS. Anything else is an error
/// naming the (redacted) URL and what is accepted.
fn check_url(database_url: Option<&str>) -> Result<Option<&str>, StoreError> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(None),
        Some(u) if is_postgres(u) => Ok(Some(u)),
        Some(u) => Err(StoreError(format!(
            "database_url {}: not a PostgreSQL URL (expected \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE; without database_url the usage \
             ledger is usage.db in the state dir)",
            redact_url(u)
        ))),
    }
}

/// Checks a `database_url` without connecting: a PostgreSQL URL that parses and asks for no
/// TLS. The error names the URL without its password and says what is accepted.
pub fn check_database_url(database_url: &str) -> Result<(), StoreError> {
    match check_url(Some(database_url))? {
        Some(url) => postgres::Postgres::new(url, &redact_url(url)).map(|_| ()),
        None => Ok(()),
    }
}

/// The store every report and write goes through: one engine, the shared SQL.
struct Ledger<B: Backend>(B);

impl<B: Backend> Store for Ledger<B> {
    fn engine(&self) -> &'static str {
        self.0.engine()
    }

    fn insert_batch<'a>(&'a self, records: &'a [UsageRecord]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            let d = self.0.dialect();
            self.0
                .transaction(
                    write::inserts(d, records),
                    write::rollups_then(d, records.to_vec()),
                )
                .await
                .map(|_| ())
        })
    }

    fn summary<'a>(
        &'a self,
        filter: &'a Filter,
        by: Dimension,
    ) -> StoreFuture<'a, Vec<SummaryRow>> {
        Box::pin(report::summary(&self.0, filter, Some(by)))
    }

    fn totals<'a>(&'a self, filter: &'a Filter) -> StoreFuture<'a, SummaryRow> {
        Box::pin(report::totals(&self.0, filter))
    }

    fn series<'a>(
        &'a self,
        filter: &'a Filter,
        bucket_ms: i64,
    ) -> StoreFuture<'a, Vec<SeriesPoint>> {
        Box::pin(report::series(&self.0, filter, bucket_ms))
    }

    fn requests<'a>(&'a self, filter: &'a Filter, limit: u32) -> StoreFuture<'a, Vec<UsageRecord>> {
        Box::pin(report::requests(&self.0, filter, limit))
    }

    fn request<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<UsageRecord>> {
        Box::pin(report::request(&self.0, request_id))
    }

    fn prune<'a>(&'a self, before_ms: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let d = self.0.dialect();
            let out = self
                .0
                .transaction(
                    vec![write::prune(d, before_ms)],
                    write::prune_then(d, before_ms),
                )
                .await?;
            Ok(out.iter().map(|o| o.changed).sum())
        })
    }

    fn clear_bodies<'a>(&'a self, before_ms: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let d = self.0.dialect();
            let out = self
                .0
                .transaction(
                    vec![write::clear_bodies(d, before_ms)],
                    Box::new(|_| vec![]),
                )
                .await?;
            Ok(out.iter().map(|o| o.changed).sum())
        })
    }
}

/// Opens (creating and migrating) the store: PostgreSQL for a `postgres://` or `postgresql://`
/// `database_url`, else SQLite at `<state_dir>/usage.db`. A PostgreSQL database that cannot be
/// reached is an error here (see [`open_deferred`] for a store that connects later).
pub async fn open(
    database_url: Option<&str>,
    state_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match check_url(database_url)? {
        Some(url) => {
            let pg = postgres::Postgres::new(url, &redact_url(url))?;
            pg.check().await?;
            Ok(Arc::new(Ledger(pg)))
        }
        None => {
            let path = sqlite_path(state_dir);
            let db = tokio::task::spawn_blocking(move || sqlite::Sqlite::open(&path, true))
                .await
                .map_err(|e| StoreError(format!("usage ledger: the open task failed: {e}")))??;
            Ok(Arc::new(Ledger(db)))
        }
    }
}

/// A PostgreSQL store that connects (and migrates) on its first call and again after the
/// connection broke: the gateway starts while the database is down, and the writer keeps
/// records until it is back. A SQLite store opens as with [`open`]. Errors only for a URL that
/// cannot be used at all.
pub async fn open_deferred(
    database_url: Option<&str>,
    state_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match check_url(database_url)? {
        Some(url) => Ok(Arc::new(Ledger(postgres::Postgres::new(
            url,
            &redact_url(url),
        )?))),
        None => open(None, state_dir).await,
    }
}

/// The store when a ledger exists, without creating anything: `None` when there is no
/// `database_url` and no `usage.db` in `state_dir` (`agent-shim status` and `usage` read
/// through this). PostgreSQL is connected (and migrated) as with [`open`].
pub async fn open_existing(
    database_url: Option<&str>,
    state_dir: &Path,
) -> Result<Option<Arc<dyn Store>>, StoreError> {
    if check_url(database_url)?.is_some() {
        return open(database_url, state_dir).await.map(Some);
    }
    let path = sqlite_path(state_dir);
    if !path.exists() {
        return Ok(None);
    }
    let db = tokio::task::spawn_blocking(move || sqlite::Sqlite::open(&path, false))
        .await
        .map_err(|e| StoreError(format!("usage ledger: the open task failed: {e}")))??;
    Ok(Some(Arc::new(Ledger(db))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://u:s3cret@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact_url("postgresql://db/x?user=u&password=p4ss&x=1"),
            "postgresql://db/x?user=u&password=***&x=1"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@db/x"),
            "postgres://u:***@db/x"
        );
    }

    #[tokio::test]
    async fn a_url_that_is_not_postgres_or_asks_for_tls_is_refused_by_name() {
        let dir = std::path::Path::new("/nonexistent");
        let e = open(Some("mysql://u:pw@h/d"), dir).await.err().map(|e| e.0);
        assert!(
            e.as_deref().is_some_and(|e| e.contains("mysql://u:***@h/d")
                && e.contains("not a PostgreSQL URL")
                && !e.contains("pw")),
            "{e:?}"
        );
        let e = open(Some("postgres://u:pw@h/d?sslmode=require"), dir)
            .await
            .err()
            .map(|e| e.0);
        assert!(
            e.as_deref().is_some_and(|e| e.contains("sslmode=require")
                && e.contains("TLS to PostgreSQL is not supported yet")
                && !e.contains(":pw@")),
            "{e:?}"
        );
    }
}
