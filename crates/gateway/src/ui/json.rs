//! How the dashboard's API shows the store's figures: costs as exact USD decimal strings (the
//! store keeps picodollars; `null` = unknown, never 0), durations in milliseconds, tokens by kind,
//! and the ratios derived from the store's totals (cache-hit ratio, error and fallback rates).

use ledger::record::UsageRecord;
use ledger::store::{SeriesPoint, SummaryRow};
use serde_json::{Value, json};

/// Picodollars as an exact USD decimal string without trailing zeros (`1234500000000` →
/// `"1.2345"`, `0` → `"0"`); `None` → `null`.
pub fn usd(pico: Option<i64>) -> Value {
    match pico {
        Some(p) => Value::String(ledger::prices::cost::pico_to_usd(p).normalize().to_string()),
        None => Value::Null,
    }
}

/// Microseconds as milliseconds (a JSON number, 3 decimals at most); `None` → `null`.
pub fn ms(us: Option<i64>) -> Value {
    match us {
        Some(us) => json!(us as f64 / 1000.0),
        None => Value::Null,
    }
}

/// `part / whole`, `null` when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(part as f64 / whole as f64)
    }
}

/// Tokens by kind: `input` is the whole prompt, of which `cache_read` came from and
/// `cache_write` went to the provider's cache, and `uncached_input` is the rest; `output`
/// includes `reasoning`.
fn tokens(input: u64, output: u64, reasoning: u64, cache_read: u64, cache_write: u64) -> Value {
    json!({
        "input": input,
        "uncached_input": input.saturating_sub(cache_read).saturating_sub(cache_write),
        "cache_read": cache_read,
        "cache_write": cache_write,
        "output": output,
        "reasoning": reasoning,
    })
}

/// One summary row (a breakdown's row, or the totals without `key`).
pub fn row(r: &SummaryRow) -> Value {
    json!({
        "key": r.key,
        "requests": r.requests,
        "errors": r.errors,
        "error_rate": ratio(r.errors, r.requests),
        "tokens": tokens(r.input_tokens, r.output_tokens, r.reasoning_tokens,
                         r.cache_read_tokens, r.cache_write_tokens),
        "cache_hit_ratio": ratio(r.cache_read_tokens, r.input_tokens),
        "cost_usd": usd(r.cost_pico_usd),
        "unpriced": r.unpriced,
        "latency_ms": {"p50": ms(r.latency_p50_us), "p95": ms(r.latency_p95_us)},
        "ttfb_ms": {"p50": ms(r.ttfb_p50_us), "p95": ms(r.ttfb_p95_us)},
    })
}

/// One bucket of the series.
pub fn point(p: &SeriesPoint) -> Value {
    json!({
        "time_ms": p.time_ms,
        "requests": p.requests,
        "errors": p.errors,
        "tokens": tokens(p.input_tokens, p.output_tokens, 0, p.cache_read_tokens,
                         p.cache_write_tokens),
        "cost_usd": usd(p.cost_pico_usd),
    })
}

/// A record for the request table (the columns it shows).
pub fn record_row(r: &UsageRecord) -> Value {
    let t = &r.tokens;
    let cache_write = t.cache_write_5m + t.cache_write_1h;
    json!({
        "time_ms": r.time_ms,
        "request_id": r.request_id,
        "requested_model": r.requested_model,
        "model_group": r.model_group,
        "provider": r.provider,
        "profile": r.profile,
        "agent": r.agent,
        "status": r.status,
        "error_class": r.error_class,
        "route": r.route,
        "stream": r.stream,
        "attempts": r.attempts,
        "tokens": tokens(t.input, t.output, t.reasoning, t.cache_read, cache_write),
        "cost_usd": usd(r.cost_pico_usd),
        "latency_ms": ms(Some(r.latency_us)),
        "ttfb_ms": ms(r.ttfb_us),
    })
}

/// A whole record (the detail view): every field of [`UsageRecord`] as stored, plus
/// `cost_usd`, `latency_ms`, `ttfb_ms` and the tokens by kind as the table shows them.
pub fn record_detail(r: &UsageRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        let row = record_row(r);
        for k in ["cost_usd", "latency_ms", "ttfb_ms"] {
            m.insert(k.into(), row[k].clone());
        }
        m.insert("tokens_by_kind".into(), row["tokens"].clone());
        // Always present: null when capture was off (or the body retention cleared them).
        m.insert("request_body".into(), json!(r.request_body));
        m.insert("response_body".into(), json!(r.response_body));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Picodollars per dollar.
    const PICO: i64 = 1_000_000_000_000;

    #[test]
    fn usd_is_exact_and_trimmed() {
        assert_eq!(usd(Some(1_234_500_000_000)), json!("1.2345"));
        assert_eq!(usd(Some(0)), json!("0"));
        assert_eq!(usd(Some(1)), json!("0.000000000001"));
        assert_eq!(usd(Some(3 * PICO)), json!("3"));
        assert_eq!(usd(Some(-15 * PICO / 10)), json!("-1.5"));
        assert_eq!(usd(Some(i64::MIN)), json!("-9223372.036854775808"));
        assert_eq!(usd(None), Value::Null);
    }

    #[test]
    fn ratios_and_durations() {
        assert_eq!(ratio(1, 4), json!(0.25));
        assert_eq!(ratio(0, 0), Value::Null);
        assert_eq!(ms(Some(1_500)), json!(1.5));
        assert_eq!(ms(None), Value::Null);
    }
}
