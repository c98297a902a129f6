//! The reports, the same on both engines: the records in range are read and added up here (so
//! the figures, percentiles included, cannot differ between SQLite and PostgreSQL), and whole
//! days whose raw records were pruned come from the daily rollups.
//!
//! Percentiles are nearest-rank (the value at rank ⌈p·n/100⌉ of the sorted values, as
//! PostgreSQL's `percentile_disc`), over the raw records only: a group read from the rollups
//! alone has none.

use super::sql::{Backend, Cell, Query, Row, Val};
use super::write::{BODY_COLUMNS, COLUMNS, DAY_MS, PRUNED_BEFORE, day_of};
use super::{Dimension, Filter, SeriesPoint, StoreError, SummaryRow};
use crate::record::{Tokens, UsageRecord};
use std::collections::HashMap;

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A record read back from the columns [`COLUMNS`] lists (then [`BODY_COLUMNS`], when
/// selected).
pub(crate) fn record_from(row: &Row) -> UsageRecord {
    let c = |i: usize| row.get(i).cloned().unwrap_or(Cell::I(None));
    let s = |i: usize| c(i).text();
    let n = |i: usize| c(i).int0();
    UsageRecord {
        request_id: s(0).unwrap_or_default(),
        time_ms: n(1),
        session_id: s(2),
        directory: s(3),
        profile: s(4),
        agent: s(5),
        client_protocol: s(6).unwrap_or_default(),
        requested_model: s(7).unwrap_or_default(),
        model_group: s(8),
        deployment: s(9),
        provider: s(10),
        served_model: s(11),
        route: s(12),
        status: u16::try_from(n(13)).unwrap_or(0),
        error_class: s(14),
        tokens: Tokens {
            input: u(n(15)),
            output: u(n(16)),
            reasoning: u(n(17)),
            cache_read: u(n(18)),
            cache_write_5m: u(n(19)),
            cache_write_1h: u(n(20)),
        },
        cost_pico_usd: c(21).int(),
        price_version: s(22),
        latency_us: n(23),
        ttfb_us: c(24).int(),
        stream: n(25) != 0,
        dropped: s(26),
        attempts: u32::try_from(n(27)).unwrap_or(0),
        attempt_path: s(28),
        response_bytes: u(n(29)),
        request_body: s(30),
        response_body: s(31),
    }
}

/// Appends the WHERE clause of `f` for the raw table.
fn where_raw(q: &mut Query, f: &Filter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = f.since_ms {
        q.push(" AND time_ms >= ").bind_i(v);
    }
    if let Some(v) = f.until_ms {
        q.push(" AND time_ms < ").bind_i(v);
    }
    if let Some(v) = &f.model_group {
        q.push(" AND COALESCE(model_group, requested_model) = ")
            .bind_t(v);
    }
    for (col, v) in [
        ("provider", &f.provider),
        ("profile", &f.profile),
        ("directory", &f.directory),
        ("agent", &f.agent),
        ("session_id", &f.session_id),
    ] {
        if let Some(v) = v {
            q.push(&format!(" AND {col} = ")).bind_t(v);
        }
    }
    if f.errors_only {
        q.push(" AND (status >= 400 OR error_class IS NOT NULL)");
    }
}

/// What a report needs of one record: its group key and its figures.
struct Fact {
    key: Cell,
    time_ms: i64,
    error: bool,
    tokens: [u64; 6],
    cost: Option<i64>,
    latency_us: i64,
    ttfb_us: Option<i64>,
}

/// The SQL of a dimension's key over the raw table (`time_ms` for days and for none).
fn key_sql(by: Option<Dimension>) -> &'static str {
    match by {
        Some(Dimension::Model) => "COALESCE(model_group, requested_model)",
        Some(Dimension::Profile) => "profile",
        Some(Dimension::Directory) => "directory",
        Some(Dimension::Provider) => "provider",
        Some(Dimension::Agent) => "agent",
        Some(Dimension::Session) => "session_id",
        Some(Dimension::Day) | None => "time_ms",
    }
}

/// The matching records' keys and figures (only the columns a report adds up).
async fn facts(
    b: &dyn Backend,
    f: &Filter,
    by: Option<Dimension>,
) -> Result<Vec<Fact>, StoreError> {
    let mut q = Query::new(b.dialect());
    q.push(&format!(
        "SELECT {}, time_ms, CASE WHEN status >= 400 OR error_class IS NOT NULL THEN 1 ELSE 0 \
         END, input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, \
         cache_write_5m_tokens, cache_write_1h_tokens, cost_pico_usd, latency_us, ttfb_us \
         FROM usage_records",
        key_sql(by)
    ));
    where_raw(&mut q, f);
    let rows = b.query(q).await?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            let n = |i: usize| row.get(i).map_or(0, Cell::int0);
            let fact = Fact {
                key: Cell::I(None),
                time_ms: n(1),
                error: n(2) != 0,
                tokens: [n(3), n(4), n(5), n(6), n(7), n(8)].map(u),
                cost: row.get(9).and_then(Cell::int),
                latency_us: n(10),
                ttfb_us: row.get(11).and_then(Cell::int),
            };
            Fact {
                key: if row.is_empty() {
                    Cell::I(None)
                } else {
                    row.swap_remove(0)
                },
                ..fact
            }
        })
        .collect())
}

/// Where a report reads: whole days `[from, to)` from the rollups, the rest from the records.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) rollup_days: Option<(i64, i64)>,
    pub(crate) raw: Option<Filter>,
}

/// Splits `f` at the first whole day after `pruned_before` (records before it may be gone):
/// days before come from the rollups unless the report needs what they do not keep (a session,
/// errors only, per-session groups).
pub(crate) fn plan(f: &Filter, pruned_before: Option<i64>, by: Option<Dimension>) -> Plan {
    let all_raw = Plan {
        rollup_days: None,
        raw: Some(f.clone()),
    };
    let Some(pb) = pruned_before else {
        return all_raw;
    };
    if f.since_ms.is_some_and(|s| s >= pb)
        || f.session_id.is_some()
        || f.errors_only
        || by == Some(Dimension::Session)
    {
        return all_raw;
    }
    let boundary = day_of(pb) + if pb % DAY_MS == 0 { 0 } else { DAY_MS };
    let from = day_of(f.since_ms.unwrap_or(0));
    let to = match f.until_ms {
        Some(until) => boundary.min(day_of(until - 1) + DAY_MS),
        None => boundary,
    };
    let rollup_days = (from < to).then_some((from, to));
    let raw_since = f.since_ms.unwrap_or(i64::MIN).max(boundary);
    let raw = match f.until_ms {
        Some(until) if until <= raw_since => None,
        _ => Some(Filter {
            since_ms: Some(raw_since),
            ..f.clone()
        }),
    };
    Plan { rollup_days, raw }
}

async fn pruned_before(b: &dyn Backend) -> Result<Option<i64>, StoreError> {
    let mut q = Query::new(b.dialect());
    q.push("SELECT value FROM usage_meta WHERE name = ")
        .bind_t(PRUNED_BEFORE);
    Ok(b.query(q).await?.first().and_then(|r| r.first()?.int()))
}

/// The running sums of one group.
#[derive(Default)]
struct Acc {
    row: SummaryRow,
    priced: u64,
    cost: i64,
    latency: Vec<i64>,
    ttfb: Vec<i64>,
}

impl Acc {
    fn add_fact(&mut self, r: &Fact) {
        let row = &mut self.row;
        let [input, output, reasoning, cache_read, write_5m, write_1h] = r.tokens;
        row.requests += 1;
        row.errors += u64::from(r.error);
        row.input_tokens += input;
        row.output_tokens += output;
        row.reasoning_tokens += reasoning;
        row.cache_read_tokens += cache_read;
        row.cache_write_tokens += write_5m + write_1h;
        match r.cost {
            Some(c) => {
                self.cost += c;
                self.priced += 1;
            }
            None => row.unpriced += 1,
        }
        self.latency.push(r.latency_us);
        if let Some(t) = r.ttfb_us {
            self.ttfb.push(t);
        }
    }

    /// Adds a rollup row read as: requests, errors, input, output, reasoning, cache read,
    /// cache write 5m, cache write 1h, cost, unpriced (from column `at`).
    fn add_rollup(&mut self, cells: &[Cell]) {
        let n = |i: usize| u(cells.get(i).map_or(0, Cell::int0));
        let row = &mut self.row;
        row.requests += n(0);
        row.errors += n(1);
        row.input_tokens += n(2);
        row.output_tokens += n(3);
        row.reasoning_tokens += n(4);
        row.cache_read_tokens += n(5);
        row.cache_write_tokens += n(6) + n(7);
        self.cost += cells.get(8).map_or(0, Cell::int0);
        row.unpriced += n(9);
        self.priced += n(0).saturating_sub(n(9));
    }

    fn finish(mut self, key: String) -> SummaryRow {
        self.row.key = key;
        self.row.cost_pico_usd = (self.priced > 0).then_some(self.cost);
        self.latency.sort_unstable();
        self.ttfb.sort_unstable();
        self.row.latency_p50_us = percentile(&self.latency, 50);
        self.row.latency_p95_us = percentile(&self.latency, 95);
        self.row.ttfb_p50_us = percentile(&self.ttfb, 50);
        self.row.ttfb_p95_us = percentile(&self.ttfb, 95);
        self.row
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted `v`: the value at rank ⌈p·n/100⌉.
pub(crate) fn percentile(v: &[i64], p: usize) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = (p * v.len()).div_ceil(100).max(1);
    v.get(rank - 1).copied()
}

/// `YYYY-MM-DD` of the UTC day starting at `day_ms`.
pub(crate) fn day_name(day_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day_ms.div_euclid(1000))
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| day_ms.to_string())
}

/// The group a fact falls in: `-` for none, `YYYY-MM-DD` for days, `all` without a dimension.
fn key_of(r: &Fact, by: Option<Dimension>) -> String {
    match by {
        None => "all".into(),
        Some(Dimension::Day) => day_name(day_of(r.time_ms)),
        Some(_) => r.key.text().unwrap_or_else(|| "-".into()),
    }
}

/// The rollup column a dimension groups by (`None`: per session, which rollups do not keep).
fn rollup_key(by: Option<Dimension>) -> Option<&'static str> {
    Some(match by {
        None => "CAST('all' AS TEXT)",
        Some(Dimension::Model) => "model_group",
        Some(Dimension::Profile) => "profile",
        Some(Dimension::Directory) => "directory",
        Some(Dimension::Provider) => "provider",
        Some(Dimension::Agent) => "agent",
        Some(Dimension::Day) => "day_ms",
        Some(Dimension::Session) => return None,
    })
}

const ROLLUP_SUMS: &str = "CAST(SUM(requests) AS BIGINT), CAST(SUM(errors) AS BIGINT), \
    CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), \
    CAST(SUM(reasoning_tokens) AS BIGINT), CAST(SUM(cache_read_tokens) AS BIGINT), \
    CAST(SUM(cache_write_5m_tokens) AS BIGINT), CAST(SUM(cache_write_1h_tokens) AS BIGINT), \
    CAST(SUM(cost_pico_usd) AS BIGINT), CAST(SUM(unpriced) AS BIGINT)";

/// Rollup rows of days `[from, to)` matching `f`, grouped by `key_col`: the key, then the sums.
async fn rollup_rows(
    b: &dyn Backend,
    f: &Filter,
    (from, to): (i64, i64),
    key_col: &str,
) -> Result<Vec<Row>, StoreError> {
    let mut q = Query::new(b.dialect());
    q.push(&format!(
        "SELECT {key_col}, {ROLLUP_SUMS} FROM usage_daily WHERE day_ms >= "
    ))
    .bind_i(from)
    .push(" AND day_ms < ")
    .bind_i(to);
    for (col, v) in [
        ("model_group", &f.model_group),
        ("provider", &f.provider),
        ("profile", &f.profile),
        ("directory", &f.directory),
        ("agent", &f.agent),
    ] {
        if let Some(v) = v {
            q.push(&format!(" AND {col} = ")).bind_t(v);
        }
    }
    if !key_col.starts_with("CAST(") {
        q.push(" GROUP BY 1");
    }
    b.query(q).await
}

/// The summary rows of `f` grouped by `by` (`None`: one row, key `all`).
pub(crate) async fn summary(
    b: &dyn Backend,
    f: &Filter,
    by: Option<Dimension>,
) -> Result<Vec<SummaryRow>, StoreError> {
    let plan = plan(f, pruned_before(b).await?, by);
    let mut groups: HashMap<String, Acc> = HashMap::new();
    if let (Some(days), Some(col)) = (plan.rollup_days, rollup_key(by)) {
        for row in rollup_rows(b, f, days, col).await? {
            let key = match (by, row.first()) {
                (Some(Dimension::Day), Some(c)) => day_name(c.int0()),
                (_, Some(c)) => c.text().filter(|k| !k.is_empty()).unwrap_or("-".into()),
                (_, None) => "-".into(),
            };
            groups
                .entry(key)
                .or_default()
                .add_rollup(row.get(1..).unwrap_or_default());
        }
    }
    if let Some(raw_filter) = &plan.raw {
        for r in facts(b, raw_filter, by).await? {
            groups.entry(key_of(&r, by)).or_default().add_fact(&r);
        }
    }
    let mut rows: Vec<SummaryRow> = groups.into_iter().map(|(k, a)| a.finish(k)).collect();
    if by == Some(Dimension::Day) {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        rows.sort_by(|a, b| {
            b.cost_pico_usd
                .unwrap_or(0)
                .cmp(&a.cost_pico_usd.unwrap_or(0))
                .then(b.requests.cmp(&a.requests))
                .then(a.key.cmp(&b.key))
        });
    }
    Ok(rows)
}

/// The totals of `f` (a row with key `all`, zeros when nothing matched).
pub(crate) async fn totals(b: &dyn Backend, f: &Filter) -> Result<SummaryRow, StoreError> {
    Ok(summary(b, f, None)
        .await?
        .into_iter()
        .next()
        .unwrap_or_else(|| Acc::default().finish("all".into())))
}

/// Totals per bucket of `bucket_ms` (buckets aligned on the Unix epoch; empty ones left out).
/// Whole days read from the rollups land in the bucket holding the day's start.
pub(crate) async fn series(
    b: &dyn Backend,
    f: &Filter,
    bucket_ms: i64,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let bucket_ms = bucket_ms.max(1);
    let plan = plan(f, pruned_before(b).await?, None);
    let mut buckets: HashMap<i64, Acc> = HashMap::new();
    if let Some(days) = plan.rollup_days {
        for row in rollup_rows(b, f, days, "day_ms").await? {
            let day = row.first().map_or(0, Cell::int0);
            buckets
                .entry(day.div_euclid(bucket_ms) * bucket_ms)
                .or_default()
                .add_rollup(row.get(1..).unwrap_or_default());
        }
    }
    if let Some(raw_filter) = &plan.raw {
        for r in facts(b, raw_filter, None).await? {
            buckets
                .entry(r.time_ms.div_euclid(bucket_ms) * bucket_ms)
                .or_default()
                .add_fact(&r);
        }
    }
    let mut points: Vec<SeriesPoint> = buckets
        .into_iter()
        .map(|(time_ms, a)| {
            let row = a.finish(String::new());
            SeriesPoint {
                time_ms,
                requests: row.requests,
                errors: row.errors,
                input_tokens: row.input_tokens,
                output_tokens: row.output_tokens,
                cache_read_tokens: row.cache_read_tokens,
                cache_write_tokens: row.cache_write_tokens,
                cost_pico_usd: row.cost_pico_usd,
            }
        })
        .collect();
    points.sort_by_key(|p| p.time_ms);
    Ok(points)
}

/// The newest matching records, at most `limit`, newest first.
pub(crate) async fn requests(
    b: &dyn Backend,
    f: &Filter,
    limit: u32,
) -> Result<Vec<UsageRecord>, StoreError> {
    let mut q = Query::new(b.dialect());
    q.push(&format!("SELECT {COLUMNS} FROM usage_records"));
    where_raw(&mut q, f);
    q.push(" ORDER BY time_ms DESC, request_id DESC LIMIT ")
        .bind_i(i64::from(limit));
    Ok(b.query(q).await?.iter().map(record_from).collect())
}

/// One record by its request id, with its captured bodies.
pub(crate) async fn request(b: &dyn Backend, id: &str) -> Result<Option<UsageRecord>, StoreError> {
    let mut q = Query::new(b.dialect());
    q.push(&format!(
        "SELECT {COLUMNS}, {BODY_COLUMNS} FROM usage_records WHERE request_id = "
    ))
    .bind(Val::T(Some(id.to_owned())));
    Ok(b.query(q).await?.first().map(record_from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_report_reaching_before_the_prune_reads_whole_days_from_the_rollups() {
        let pb = 10 * DAY_MS + 5;
        let f = Filter {
            since_ms: Some(3 * DAY_MS + 7),
            ..Filter::default()
        };
        let p = plan(&f, Some(pb), None);
        assert_eq!(p.rollup_days, Some((3 * DAY_MS, 11 * DAY_MS)));
        assert_eq!(p.raw.and_then(|r| r.since_ms), Some(11 * DAY_MS));
        // Nothing pruned, or a report after the prune: records only.
        assert_eq!(plan(&f, None, None).rollup_days, None);
        let late = Filter {
            since_ms: Some(pb),
            ..Filter::default()
        };
        assert_eq!(plan(&late, Some(pb), None).rollup_days, None);
        // Rollups keep no sessions.
        assert_eq!(
            plan(&f, Some(pb), Some(Dimension::Session)).rollup_days,
            None
        );
        // A range that ends before the boundary reads no records.
        let old = Filter {
            since_ms: Some(DAY_MS),
            until_ms: Some(2 * DAY_MS),
            ..Filter::default()
        };
        let p = plan(&old, Some(pb), None);
        assert_eq!(p.rollup_days, Some((DAY_MS, 2 * DAY_MS)));
        assert!(p.raw.is_none());
    }

    #[test]
    fn days_are_named_in_utc() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(1_796_601_600_000), "2026-12-07");
    }
}
