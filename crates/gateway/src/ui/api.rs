//! The dashboard's JSON endpoints over the ledger's store (`GatewayState.ledger.store`):
//! `summary`, `series`, `breakdown`, `requests` and `requests/{id}` (`/ui/api/now` is
//! [`super::now`]). Every figure is computed by the store ([`ledger::Store`]); this module picks
//! the records (range and filters), sizes the buckets, and shows the figures ([`super::json`]).
//! Errors are JSON `{"error": {"type", "message"}}`: 400 for a bad parameter (naming it and what
//! is allowed), 404 for an unknown request id, 503 when the ledger is off, 500 when the store
//! fails. Reference: `docs/ui-api.md`.

use super::json;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledger::store::{Dimension, Filter, SeriesPoint, SummaryRow};
use ledger::{Store, UsageRecord};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Records read at most to count 429s, 529s and fallbacks, which the store's totals do not
/// carry; beyond it the counts are of the newest records (`outcomes.complete: false`).
const SCAN_CAP: u32 = 20_000;
/// Rows of the request table: default and most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;
/// Buckets of the `all` range at most (days, else several days per bucket).
const MAX_ALL_BUCKETS: i64 = 366;
const DAY_MS: i64 = 86_400_000;

/// What the ledger being off answers (503).
const LEDGER_OFF: &str = "the usage ledger is off in this gateway (it was started without a \
    store), so there is nothing to report. The gateway `agent-shim serve` runs (also when started \
    on demand) always keeps one: usage.db in the state dir, or PostgreSQL when config.yaml sets \
    `database_url: postgres://…`; run the gateway that way (`agent-shim proxy restart`)";

/// An error answer: `{"error": {"type": kind, "message": message}}`.
pub fn error(status: StatusCode, kind: &'static str, message: String) -> Response {
    Fail(status, kind, message).into_response()
}

/// An endpoint's failure: status, error type, message.
pub struct Fail(StatusCode, &'static str, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let Fail(status, kind, message) = self;
        (
            status,
            Json(json!({"error": {"type": kind, "message": message}})),
        )
            .into_response()
    }
}

fn bad(message: String) -> Fail {
    Fail(StatusCode::BAD_REQUEST, "invalid_request", message)
}

type Answer = Result<Json<Value>, Fail>;

fn store(gw: &GatewayState) -> Result<&Arc<dyn Store>, Fail> {
    gw.ledger.store.as_ref().ok_or_else(|| {
        Fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ledger_off",
            LEDGER_OFF.into(),
        )
    })
}

fn failed(engine: &str, e: ledger::store::StoreError) -> Fail {
    Fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store_error",
        format!("reading the usage ledger ({engine}) failed: {e}"),
    )
}

fn now_ms() -> i64 {
    i64::try_from(crate::router::now_ms()).unwrap_or(i64::MAX)
}

/// The time ranges of the range picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    Hour,
    Day,
    Week,
    Month,
    All,
}

impl Range {
    const NAMES: &str = "1h, 24h, 7d, 30d, all";

    fn parse(s: &str) -> Option<Range> {
        Some(match s {
            "1h" => Range::Hour,
            "24h" => Range::Day,
            "7d" => Range::Week,
            "30d" => Range::Month,
            "all" => Range::All,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
            Range::All => "all",
        }
    }

    /// The range's length (`None`: all time).
    fn span_ms(self) -> Option<i64> {
        match self {
            Range::Hour => Some(3_600_000),
            Range::Day => Some(DAY_MS),
            Range::Week => Some(7 * DAY_MS),
            Range::Month => Some(30 * DAY_MS),
            Range::All => None,
        }
    }

    /// The chart's bucket: 60 to 120 buckets per range (days for `all`).
    fn bucket_ms(self) -> i64 {
        match self {
            Range::Hour => 60_000,
            Range::Day => 15 * 60_000,
            Range::Week => 2 * 3_600_000,
            Range::Month => 6 * 3_600_000,
            Range::All => DAY_MS,
        }
    }
}

/// The query parameters of one call, checked against what the endpoint accepts.
struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    fn new(
        q: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Params, Fail> {
        let Query(pairs) = q.map_err(|_| {
            bad("the query string is not valid URL-encoding (`?range=24h&model=…`)".into())
        })?;
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown parameter '{k}'; this endpoint takes: {}",
                    allowed.join(", ")
                )));
            }
            let v = v.trim().to_owned();
            if !v.is_empty() {
                map.insert(k, v);
            }
        }
        Ok(Params { map })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }

    /// `range` (default `24h`).
    fn range(&self) -> Result<Range, Fail> {
        match self.get("range") {
            None => Ok(Range::Day),
            Some(s) => Range::parse(s)
                .ok_or_else(|| bad(format!("range '{s}' is not one of: {}", Range::NAMES))),
        }
    }

    /// The records' filter: the range, and `model` (model group), `provider`, `profile`,
    /// `directory`, `agent`, `session` and `status=errors` when given.
    fn filter(&self, range: Range, now: i64) -> Result<Filter, Fail> {
        let errors_only = match self.get("status") {
            None => false,
            Some("errors") => true,
            Some(s) => {
                return Err(bad(format!(
                    "status '{s}' is not allowed: give status=errors (only failed requests) or leave it out"
                )));
            }
        };
        let s = |k: &str| self.get(k).map(str::to_owned);
        Ok(Filter {
            since_ms: range.span_ms().map(|span| now - span),
            until_ms: None,
            model_group: s("model"),
            provider: s("provider"),
            profile: s("profile"),
            directory: s("directory"),
            agent: s("agent"),
            session_id: s("session"),
            errors_only,
        })
    }
}

const FILTERS: &[&str] = &[
    "range",
    "model",
    "provider",
    "profile",
    "directory",
    "agent",
    "session",
    "status",
];

/// The 429s, 529s and fallbacks among `records` (the newest of a range holding `total`).
fn outcomes(records: &[UsageRecord], total: u64) -> Value {
    let count = |f: &dyn Fn(&UsageRecord) -> bool| records.iter().filter(|r| f(r)).count();
    let rate_limited = count(&|r| r.status == 429);
    let overloaded = count(&|r| r.status == 529);
    // The record's `route` is `fallback` when a fallback group served it.
    let fallbacks = count(&|r| r.route.as_deref() == Some("fallback"));
    json!({
        "rate_limited": rate_limited,
        "overloaded": overloaded,
        "fallbacks": fallbacks,
        "fallback_rate": json::ratio(fallbacks as u64, records.len() as u64),
        "counted": records.len(),
        "complete": records.len() as u64 >= total,
    })
}

/// `GET /ui/api/summary?range=…&<filters>`: the totals of the range.
pub async fn summary(
    State(gw): State<Arc<GatewayState>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let store = store(&gw)?;
    let p = Params::new(q, FILTERS)?;
    let range = p.range()?;
    let now = now_ms();
    let filter = p.filter(range, now)?;
    let engine = store.engine();
    // The store's totals do not count 429s, 529s and fallbacks: they are counted over the
    // newest records, read at the same time.
    let (totals, newest) = tokio::join!(store.totals(&filter), store.requests(&filter, SCAN_CAP));
    let totals: SummaryRow = totals.map_err(|e| failed(engine, e))?;
    let newest = newest.map_err(|e| failed(engine, e))?;
    let mut v = json::row(&totals);
    if let Value::Object(m) = &mut v {
        m.remove("key");
        m.insert("range".into(), json!(range.name()));
        m.insert("since_ms".into(), json!(filter.since_ms));
        m.insert("until_ms".into(), json!(now));
        m.insert("engine".into(), json!(engine));
        m.insert("outcomes".into(), outcomes(&newest, totals.requests));
    }
    Ok(Json(v))
}

/// `GET /ui/api/series?range=…&<filters>`: spend and tokens per bucket, every bucket of the
/// range present (empty ones zero).
pub async fn series(
    State(gw): State<Arc<GatewayState>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let store = store(&gw)?;
    let p = Params::new(q, FILTERS)?;
    let range = p.range()?;
    let now = now_ms();
    let filter = p.filter(range, now)?;
    let mut bucket = range.bucket_ms();
    let points = store
        .series(&filter, bucket)
        .await
        .map_err(|e| failed(store.engine(), e))?;
    if range == Range::All
        && let (Some(first), Some(last)) = (points.first(), points.last())
    {
        let days = (last.time_ms - first.time_ms) / DAY_MS + 1;
        bucket = DAY_MS * ((days + MAX_ALL_BUCKETS - 1) / MAX_ALL_BUCKETS).max(1);
    }
    let start = filter
        .since_ms
        .or_else(|| points.iter().map(|p| p.time_ms).min())
        .unwrap_or(now);
    let filled = fill(&points, bucket, start, now);
    Ok(Json(json!({
        "range": range.name(),
        "bucket_ms": bucket,
        "since_ms": filter.since_ms,
        "until_ms": now,
        "points": filled.iter().map(json::point).collect::<Vec<_>>(),
    })))
}

/// The store's points summed into `bucket`-wide buckets aligned to multiples of `bucket`, one
/// for every bucket from `start` to `end` (missing ones zero, cost 0).
fn fill(points: &[SeriesPoint], bucket: i64, start: i64, end: i64) -> Vec<SeriesPoint> {
    let align = |t: i64| t.div_euclid(bucket) * bucket;
    let mut out: BTreeMap<i64, SeriesPoint> = BTreeMap::new();
    let mut t = align(start);
    while t <= align(end) && out.len() < 10_000 {
        out.insert(
            t,
            SeriesPoint {
                time_ms: t,
                cost_pico_usd: Some(0),
                ..SeriesPoint::default()
            },
        );
        t += bucket;
    }
    for p in points {
        let t = align(p.time_ms);
        let b = out.entry(t).or_insert_with(|| SeriesPoint {
            time_ms: t,
            cost_pico_usd: Some(0),
            ..SeriesPoint::default()
        });
        b.requests += p.requests;
        b.errors += p.errors;
        b.input_tokens += p.input_tokens;
        b.output_tokens += p.output_tokens;
        b.cache_read_tokens += p.cache_read_tokens;
        b.cache_write_tokens += p.cache_write_tokens;
        b.cost_pico_usd = match (b.cost_pico_usd, p.cost_pico_usd) {
            (Some(a), Some(c)) => Some(a.saturating_add(c)),
            (a, None) => a,
            (None, c) => c,
        };
    }
    out.into_values().collect()
}

/// `GET /ui/api/breakdown?by=model|provider|profile|directory|agent|session|day&range=…`: the
/// totals per value of `by`, largest cost first.
pub async fn breakdown(
    State(gw): State<Arc<GatewayState>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let store = store(&gw)?;
    let mut allowed = FILTERS.to_vec();
    allowed.push("by");
    let p = Params::new(q, &allowed)?;
    let range = p.range()?;
    let by_name = p.get("by").unwrap_or("model");
    let by = match by_name {
        "model" => Dimension::Model,
        "provider" => Dimension::Provider,
        "profile" => Dimension::Profile,
        "directory" => Dimension::Directory,
        "agent" => Dimension::Agent,
        "session" => Dimension::Session,
        "day" => Dimension::Day,
        other => {
            return Err(bad(format!(
                "by '{other}' is not one of: model, provider, profile, directory, agent, session, day"
            )));
        }
    };
    let filter = p.filter(range, now_ms())?;
    let rows = store
        .summary(&filter, by)
        .await
        .map_err(|e| failed(store.engine(), e))?;
    Ok(Json(json!({
        "by": by_name,
        "range": range.name(),
        "rows": rows.iter().map(json::row).collect::<Vec<_>>(),
    })))
}

/// `GET /ui/api/requests?range=…&model=…&provider=…&profile=…&status=errors&limit=…`: the
/// newest matching records, newest first.
pub async fn requests(
    State(gw): State<Arc<GatewayState>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let store = store(&gw)?;
    let mut allowed = FILTERS.to_vec();
    allowed.push("limit");
    let p = Params::new(q, &allowed)?;
    let range = p.range()?;
    let limit = match p.get("limit") {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "limit '{s}' is not a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let filter = p.filter(range, now_ms())?;
    let rows = store
        .requests(&filter, limit)
        .await
        .map_err(|e| failed(store.engine(), e))?;
    Ok(Json(json!({
        "range": range.name(),
        "limit": limit,
        "filters": p.map.iter().filter(|(k, _)| *k != "range" && *k != "limit").collect::<BTreeMap<_, _>>(),
        "rows": rows.iter().map(json::record_row).collect::<Vec<_>>(),
    })))
}

/// `GET /ui/api/requests/{id}`: one whole record, 404 when there is none.
pub async fn request(State(gw): State<Arc<GatewayState>>, Path(id): Path<String>) -> Answer {
    let store = store(&gw)?;
    match store.request(&id).await {
        Ok(Some(r)) => Ok(Json(json::record_detail(&r))),
        Ok(None) => Err(Fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no request '{id}' in the usage ledger (ids are listed by /ui/api/requests)"),
        )),
        Err(e) => Err(failed(store.engine(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(t: i64, req: u64, cost: Option<i64>) -> SeriesPoint {
        SeriesPoint {
            time_ms: t,
            requests: req,
            input_tokens: req * 10,
            cost_pico_usd: cost,
            ..SeriesPoint::default()
        }
    }

    #[test]
    fn fill_gives_every_bucket_and_sums_into_wider_ones() {
        let out = fill(
            &[pt(60_000, 2, Some(5)), pt(180_000, 1, None)],
            60_000,
            30_000,
            250_000,
        );
        let times: Vec<i64> = out.iter().map(|p| p.time_ms).collect();
        assert_eq!(times, [0, 60_000, 120_000, 180_000, 240_000]);
        assert_eq!(out[1].requests, 2);
        assert_eq!(out[1].cost_pico_usd, Some(5));
        assert_eq!(out[2].cost_pico_usd, Some(0));
        // A bucket whose requests were all unpriced stays at 0 known spend.
        assert_eq!(out[3].cost_pico_usd, Some(0));
        let wide = fill(
            &[pt(0, 1, Some(1)), pt(60_000, 2, Some(2))],
            120_000,
            0,
            60_000,
        );
        assert_eq!(wide.len(), 1);
        assert_eq!(
            (
                wide[0].requests,
                wide[0].input_tokens,
                wide[0].cost_pico_usd
            ),
            (3, 30, Some(3))
        );
    }

    #[test]
    fn ranges_parse_and_size_their_buckets() {
        for (s, n) in [("1h", 60), ("24h", 96), ("7d", 84), ("30d", 120)] {
            let r = Range::parse(s).unwrap();
            assert_eq!(r.span_ms().unwrap() / r.bucket_ms(), n, "{s}");
        }
        assert_eq!(Range::parse("all"), Some(Range::All));
        assert_eq!(Range::parse("2h"), None);
    }
}
