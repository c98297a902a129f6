//! The statements that change the ledger, the same on both engines: a batch of records with
//! its daily rollups in one transaction, and pruning.
//!
//! A record already stored (same request id: a batch retried after a commit whose answer was
//! lost) is skipped, and only the rows the insert really added (`RETURNING request_id`) are
//! added to the rollups, so a retry never counts a request twice.

use super::sql::{Dialect, Outcome, Query, Then, Val};
use crate::record::UsageRecord;
use std::collections::{BTreeMap, HashSet};

/// The columns of `usage_records`, in the order [`bind_record`] binds them and
/// [`super::report::record_from`] reads them.
pub(crate) const COLUMNS: &str = "request_id, time_ms, session_id, directory, profile, agent, \
     client_protocol, requested_model, model_group, deployment, provider, served_model, route, \
     status, error_class, input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, \
     cache_write_5m_tokens, cache_write_1h_tokens, cost_pico_usd, price_version, latency_us, \
     ttfb_us, stream, dropped, attempts, attempt_path, response_bytes";

/// The captured bodies' columns (migration V3), written by the inserts after [`COLUMNS`] and
/// read only by the one-record detail ([`super::report::request`]).
pub(crate) const BODY_COLUMNS: &str = "request_body, response_body";

/// Records per INSERT statement (32 parameters each: 200 rows is well under both engines'
/// limits). A batch is cut into chunks of these sizes, largest first ([`ladder`]), so that only
/// these five statement texts are ever prepared, whatever the batch's size. Each engine keeps
/// prepared statements by their text: with one text per batch size, SQLite's writer re-prepared
/// an INSERT whenever the batch size changed and kept up to 16 of them, ~150–190 KB each
/// (8 MiB of the gateway's memory after a load, issue 13).
const ROWS_PER_INSERT: [usize; 5] = [200, 64, 16, 4, 1];

/// One UTC day in milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The `usage_meta` entry holding the time before which raw records may have been pruned.
pub(crate) const PRUNED_BEFORE: &str = "pruned_before_ms";

/// A u64 count as a BIGINT (saturating: no count comes near 2^63).
pub(crate) fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Whether a record counts as an error: the client got a status ≥ 400, or the response broke
/// after it started (`error_class` set on a 200, e.g. the upstream stream failed).
pub(crate) fn is_error(r: &UsageRecord) -> bool {
    r.status >= 400 || r.error_class.is_some()
}

/// The start (Unix ms) of the UTC day holding `ms`.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// The model a record is reported under: its model group, else the model the client asked for
/// (a request that failed before a group was chosen).
pub(crate) fn model_of(r: &UsageRecord) -> String {
    r.model_group
        .clone()
        .unwrap_or_else(|| r.requested_model.clone())
}

fn t(v: &Option<String>) -> Val {
    Val::T(v.clone())
}

fn bind_record(q: &mut Query, r: &UsageRecord) {
    let k = &r.tokens;
    let vals = [
        Val::T(Some(r.request_id.clone())),
        Val::I(Some(r.time_ms)),
        t(&r.session_id),
        t(&r.directory),
        t(&r.profile),
        t(&r.agent),
        Val::T(Some(r.client_protocol.clone())),
        Val::T(Some(r.requested_model.clone())),
        t(&r.model_group),
        t(&r.deployment),
        t(&r.provider),
        t(&r.served_model),
        t(&r.route),
        Val::I(Some(i64::from(r.status))),
        t(&r.error_class),
        Val::I(Some(big(k.input))),
        Val::I(Some(big(k.output))),
        Val::I(Some(big(k.reasoning))),
        Val::I(Some(big(k.cache_read))),
        Val::I(Some(big(k.cache_write_5m))),
        Val::I(Some(big(k.cache_write_1h))),
        Val::I(r.cost_pico_usd),
        t(&r.price_version),
        Val::I(Some(r.latency_us)),
        Val::I(r.ttfb_us),
        Val::I(Some(i64::from(r.stream))),
        t(&r.dropped),
        Val::I(Some(i64::from(r.attempts))),
        t(&r.attempt_path),
        Val::I(Some(big(r.response_bytes))),
        t(&r.request_body),
        t(&r.response_body),
    ];
    q.push("(");
    for (i, v) in vals.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v);
    }
    q.push(")");
}

/// `items` cut into consecutive chunks whose sizes are all in `sizes` (descending, ending with
/// 1), the largest that still fits first: at most `3` chunks of each size below the largest
/// when the sizes step by 4 or less.
fn ladder<'a, T>(items: &'a [T], sizes: &[usize]) -> Vec<&'a [T]> {
    let mut out = Vec::new();
    let mut rest = items;
    for &size in sizes {
        while size > 0 && rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            out.push(chunk);
            rest = tail;
        }
    }
    out
}

/// The INSERT statements of a batch (each returns the request ids it added).
pub(crate) fn inserts(dialect: Dialect, records: &[UsageRecord]) -> Vec<Query> {
    ladder(records, &ROWS_PER_INSERT)
        .into_iter()
        .map(|chunk| {
            let mut q = Query::new(dialect);
            q.push(&format!(
                "INSERT INTO usage_records ({COLUMNS}, {BODY_COLUMNS}) VALUES "
            ));
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                bind_record(&mut q, r);
            }
            q.push(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id");
            q
        })
        .collect()
}

/// The key of a daily rollup row ('' = none).
type RollupKey = (i64, String, String, String, String, String, String);

/// The sums of a daily rollup row, in column order.
#[derive(Default)]
struct RollupSums {
    requests: i64,
    errors: i64,
    input: i64,
    output: i64,
    reasoning: i64,
    cache_read: i64,
    cache_write_5m: i64,
    cache_write_1h: i64,
    cost: i64,
    unpriced: i64,
}

/// Rollup rows per upsert, cut like [`ROWS_PER_INSERT`] for the same reason.
const ROLLUP_ROWS_PER_UPSERT: [usize; 5] = [400, 64, 16, 4, 1];

/// The rollup upserts for the records of `records` whose ids the inserts returned. Keys are
/// sorted so that two instances upserting the same rows lock them in the same order.
fn rollups(dialect: Dialect, records: &[UsageRecord], outcomes: &[Outcome]) -> Vec<Query> {
    let added: HashSet<String> = outcomes
        .iter()
        .flat_map(|o| o.rows.iter())
        .filter_map(|row| row.first().and_then(|c| c.text()))
        .collect();
    let mut groups: BTreeMap<RollupKey, RollupSums> = BTreeMap::new();
    for r in records.iter().filter(|r| added.contains(&r.request_id)) {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let key = (
            day_of(r.time_ms),
            model_of(r),
            s(&r.provider),
            s(&r.profile),
            s(&r.directory),
            s(&r.agent),
            r.client_protocol.clone(),
        );
        let g = groups.entry(key).or_default();
        g.requests += 1;
        g.errors += i64::from(is_error(r));
        g.input += big(r.tokens.input);
        g.output += big(r.tokens.output);
        g.reasoning += big(r.tokens.reasoning);
        g.cache_read += big(r.tokens.cache_read);
        g.cache_write_5m += big(r.tokens.cache_write_5m);
        g.cache_write_1h += big(r.tokens.cache_write_1h);
        match r.cost_pico_usd {
            Some(c) => g.cost += c,
            None => g.unpriced += 1,
        }
    }
    let groups: Vec<_> = groups.into_iter().collect();
    ladder(&groups, &ROLLUP_ROWS_PER_UPSERT)
        .into_iter()
        .map(|chunk| {
            let mut q = Query::statement(dialect);
            q.push(
                "INSERT INTO usage_daily (day_ms, model_group, provider, profile, directory, \
                 agent, client_protocol, requests, errors, input_tokens, output_tokens, \
                 reasoning_tokens, cache_read_tokens, cache_write_5m_tokens, \
                 cache_write_1h_tokens, cost_pico_usd, unpriced) VALUES ",
            );
            for (i, (k, g)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(").bind_i(k.0);
                for text in [&k.1, &k.2, &k.3, &k.4, &k.5, &k.6] {
                    q.push(", ").bind_t(text);
                }
                for v in [
                    g.requests,
                    g.errors,
                    g.input,
                    g.output,
                    g.reasoning,
                    g.cache_read,
                    g.cache_write_5m,
                    g.cache_write_1h,
                    g.cost,
                    g.unpriced,
                ] {
                    q.push(", ").bind_i(v);
                }
                q.push(")");
            }
            q.push(
                " ON CONFLICT (day_ms, model_group, provider, profile, directory, agent, \
                 client_protocol) DO UPDATE SET requests = usage_daily.requests + \
                 excluded.requests, errors = usage_daily.errors + excluded.errors, \
                 input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
                 output_tokens = usage_daily.output_tokens + excluded.output_tokens, \
                 reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens, \
                 cache_read_tokens = usage_daily.cache_read_tokens + excluded.cache_read_tokens, \
                 cache_write_5m_tokens = usage_daily.cache_write_5m_tokens + \
                 excluded.cache_write_5m_tokens, cache_write_1h_tokens = \
                 usage_daily.cache_write_1h_tokens + excluded.cache_write_1h_tokens, \
                 cost_pico_usd = usage_daily.cost_pico_usd + excluded.cost_pico_usd, \
                 unpriced = usage_daily.unpriced + excluded.unpriced",
            );
            q
        })
        .collect()
}

/// The second half of a batch's transaction: the rollups of what the inserts added.
pub(crate) fn rollups_then(dialect: Dialect, records: Vec<UsageRecord>) -> Then {
    Box::new(move |outcomes: &[Outcome]| rollups(dialect, &records, outcomes))
}

/// Deletes the records older than `before_ms`.
pub(crate) fn prune(dialect: Dialect, before_ms: i64) -> Query {
    let mut q = Query::statement(dialect);
    q.push("DELETE FROM usage_records WHERE time_ms < ")
        .bind_i(before_ms);
    q
}

/// Clears the captured bodies of the records older than `before_ms` (the records stay).
pub(crate) fn clear_bodies(dialect: Dialect, before_ms: i64) -> Query {
    let mut q = Query::statement(dialect);
    q.push(
        "UPDATE usage_records SET request_body = NULL, response_body = NULL WHERE \
         (request_body IS NOT NULL OR response_body IS NOT NULL) AND time_ms < ",
    )
    .bind_i(before_ms);
    q
}

/// After a prune that deleted something: remembers that raw records before `before_ms` may be
/// gone (reports then read those days from the rollups).
pub(crate) fn prune_then(dialect: Dialect, before_ms: i64) -> Then {
    Box::new(move |outcomes: &[Outcome]| {
        if outcomes.iter().all(|o| o.changed == 0) {
            return Vec::new();
        }
        let mut q = Query::statement(dialect);
        q.push("INSERT INTO usage_meta (name, value) VALUES (")
            .bind_t(PRUNED_BEFORE)
            .push(", ")
            .bind_i(before_ms)
            .push(
                ") ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > \
                 usage_meta.value THEN excluded.value ELSE usage_meta.value END",
            );
        vec![q]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_chunks_of_the_ladder_sizes_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        for n in 0..=items.len() {
            let chunks = ladder(&items[..n], &ROWS_PER_INSERT);
            assert_eq!(chunks.concat(), &items[..n], "n = {n}");
            for size in &ROWS_PER_INSERT[1..] {
                let k = chunks.iter().filter(|c| c.len() == *size).count();
                assert!(k <= 3, "n = {n}: {k} chunks of {size}");
            }
            assert!(chunks.iter().all(|c| ROWS_PER_INSERT.contains(&c.len())));
        }
    }

    /// Regression: one INSERT text per batch size made SQLite prepare and cache a new
    /// ~190 KB program whenever the batch size changed.
    #[test]
    fn batches_of_any_size_use_the_same_five_insert_statements() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let mut texts = HashSet::new();
            for n in 1..=450 {
                let records: Vec<UsageRecord> = (0..n)
                    .map(|i| UsageRecord {
                        request_id: format!("r{i}"),
                        ..UsageRecord::default()
                    })
                    .collect();
                let qs = inserts(dialect, &records);
                let bound: usize = qs.iter().map(|q| q.params.len()).sum();
                assert_eq!(bound, 32 * n, "n = {n}: every record bound once");
                texts.extend(qs.into_iter().map(|q| q.sql));
            }
            assert_eq!(texts.len(), ROWS_PER_INSERT.len(), "{dialect:?}");
        }
    }
}
