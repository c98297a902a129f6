//! Where records are kept (issue 12 §2). PLACEHOLDER API, filled in by the store work: the
//! [`Store`] trait with SQLite (`usage.db` in the state dir, the default) and PostgreSQL
//! (`database_url: postgres://…`) implementations chosen once at start ([`open`]), migrations,
//! the batching writer, retention and the reports. Other crates rely on the names here; the
//! store work may add to them.

use crate::record::UsageRecord;
use serde::Serialize;
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
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub model_group: Option<String>,
    pub provider: Option<String>,
    pub profile: Option<String>,
    pub directory: Option<String>,
    pub agent: Option<String>,
    pub session_id: Option<String>,
    /// Only failures (status ≥ 400) when true.
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
    /// Totals grouped by `by`, largest cost first.
    fn summary<'a>(&'a self, filter: &'a Filter, by: Dimension)
    -> StoreFuture<'a, Vec<SummaryRow>>;
    /// Totals of all matching records (the summary's one row, key `all`).
    fn totals<'a>(&'a self, filter: &'a Filter) -> StoreFuture<'a, SummaryRow>;
    /// Totals per bucket of `bucket_ms`.
    fn series<'a>(
        &'a self,
        filter: &'a Filter,
        bucket_ms: i64,
    ) -> StoreFuture<'a, Vec<SeriesPoint>>;
    /// The newest matching records, at most `limit`, newest first.
    fn requests<'a>(&'a self, filter: &'a Filter, limit: u32) -> StoreFuture<'a, Vec<UsageRecord>>;
    /// One record by its request id.
    fn request<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<UsageRecord>>;
    /// Deletes records older than `before_ms` (their daily rollups stay); returns how many.
    fn prune<'a>(&'a self, before_ms: i64) -> StoreFuture<'a, u64>;
}

/// Opens (creating and migrating) the store: PostgreSQL for a `postgres://` or `postgresql://`
/// `database_url`, else SQLite at `<state_dir>/usage.db`.
pub async fn open(
    database_url: Option<&str>,
    state_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    let _ = (database_url, state_dir);
    Err(StoreError(
        "the usage ledger's store is not built yet".into(),
    ))
}
