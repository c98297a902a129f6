//! `agent-shim usage [--since WHEN] [--by DIMENSION] [--json|--csv]` and `agent-shim usage
//! prune --before WHEN`: reports from the usage ledger the settings name (`usage.db` in the
//! state dir, or `database_url`), and pruning it. Reading never creates a ledger. A bad value
//! is one line and exit code 2.

use crate::cli::{UsageAction, UsageArgs};
use crate::error::{CliError, Result};
use crate::settings::Settings;
use crate::state::now_ms;
use ledger::store::{Dimension, Filter, SummaryRow};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Default report window.
const DEFAULT_SINCE: &str = "7d";

pub fn run(args: UsageArgs) -> Result<ExitCode> {
    if let Some(UsageAction::Prune { before }) = &args.action {
        return prune(before);
    }
    let now = now_ms();
    let since_text = args.since.as_deref().unwrap_or(DEFAULT_SINCE);
    let since = parse_when(since_text, now)
        .map_err(|e| CliError::usage(format!("--since {since_text:?}: {e}")))?;
    let by_text = args.by.as_deref().unwrap_or("model");
    let by = parse_dimension(by_text).ok_or_else(|| {
        CliError::usage(format!(
            "--by {by_text:?}: expected model, profile, directory, provider, agent, session or day"
        ))
    })?;
    if args.json && args.csv {
        return Err(CliError::usage("--json and --csv: choose one"));
    }
    let settings = Settings::load(&Default::default(), None)?;
    let ls = settings.ledger()?;
    let shown = ls.shown(&settings);
    let filter = Filter {
        since_ms: since,
        ..Filter::default()
    };
    let report = crate::daemon::block_on(async {
        let Some(store) = ledger::store::open_existing(ls.url(), &settings.state_dir)
            .await
            .map_err(|e| CliError::failed(e.to_string()))?
        else {
            return Ok(None);
        };
        // Both read the same records: side by side, not one after the other.
        tokio::try_join!(store.summary(&filter, by), store.totals(&filter))
            .map(Some)
            .map_err(|e| CliError::failed(e.to_string()))
    })?;
    let (rows, totals) = report.unwrap_or_else(|| (Vec::new(), empty_totals()));
    let since_shown = since.map_or_else(|| "the start".to_owned(), time_name);
    if args.json {
        let report = json!({
            "ledger": shown,
            "since_ms": since,
            "by": by_text,
            "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
            "totals": row_json(&totals),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if args.csv {
        print!("{}", csv(&rows));
    } else {
        println!("usage since {since_shown} by {by_text} ({shown})");
        if totals.requests == 0 {
            println!("no requests recorded in that time");
        } else {
            print!("{}", table(by_text, &rows, &totals));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn empty_totals() -> SummaryRow {
    SummaryRow {
        key: "all".into(),
        ..SummaryRow::default()
    }
}

fn prune(before_text: &str) -> Result<ExitCode> {
    let now = now_ms();
    let before = parse_when(before_text, now)
        .map_err(|e| CliError::usage(format!("--before {before_text:?}: {e}")))?
        .ok_or_else(|| CliError::usage("--before all: name a date or an age (e.g. 90d)"))?;
    let settings = Settings::load(&Default::default(), None)?;
    let ls = settings.ledger()?;
    let shown = ls.shown(&settings);
    let deleted = crate::daemon::block_on(async {
        match ledger::store::open_existing(ls.url(), &settings.state_dir).await {
            Ok(Some(store)) => store.prune(before).await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .map_err(|e| CliError::failed(e.to_string()))?;
    match deleted {
        Some(n) => println!(
            "deleted {n} records older than {} from {shown} (daily rollups kept)",
            time_name(before)
        ),
        None => println!("deleted 0 records: no ledger at {shown}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A `--since` / `--before` value as Unix ms: an age back from `now` (`30s`, `15m`, `24h`,
/// `7d`, `4w`), a UTC date (`2026-12-01`, its midnight), an RFC 3339 time, or `all` (`None`).
pub fn parse_when(text: &str, now: i64) -> std::result::Result<Option<i64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    if let Some(unit) = t.chars().last().filter(char::is_ascii_alphabetic)
        && let Ok(n) = t[..t.len() - 1].parse::<u32>()
    {
        let ms: i64 = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err("an age's unit is s, m, h, d or w (e.g. 7d)".into()),
        };
        return Ok(Some(now - i64::from(n) * ms));
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(t, &date) {
        return Ok(Some(d.midnight().assume_utc().unix_timestamp() * 1000));
    }
    if let Ok(dt) = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        return Ok(Some(
            i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        ));
    }
    Err(
        "expected an age (7d, 24h, 30m, 4w), a date (2026-12-01), a time \
         (2026-12-01T08:00:00Z) or all"
            .into(),
    )
}

fn parse_dimension(s: &str) -> Option<Dimension> {
    Some(match s {
        "model" => Dimension::Model,
        "profile" => Dimension::Profile,
        "directory" => Dimension::Directory,
        "provider" => Dimension::Provider,
        "agent" => Dimension::Agent,
        "session" => Dimension::Session,
        "day" => Dimension::Day,
        _ => return None,
    })
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix ms time.
fn time_name(ms: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Picodollars as an exact USD decimal (12 places).
fn usd_exact(pico: i64) -> String {
    ledger::prices::cost::pico_to_usd(pico).to_string()
}

/// Picodollars for people: `$1.2346` (4 places; `<$0.0001` for a positive cost below that).
pub fn usd(pico: Option<i64>) -> String {
    match pico {
        None => "unknown".into(),
        Some(p) if p > 0 && p < 100_000_000 => "<$0.0001".into(),
        Some(p) => format!("${:.4}", p as f64 / 1e12),
    }
}

/// Cache reads per prompt token, `None` with no prompt tokens.
fn cache_hit(r: &SummaryRow) -> Option<f64> {
    (r.input_tokens > 0).then(|| r.cache_read_tokens as f64 / r.input_tokens as f64)
}

/// Microseconds for people: `850ms`, `2.35s`.
fn dur(us: Option<i64>) -> String {
    match us {
        None => "-".into(),
        Some(us) if us < 1_000_000 => format!("{}ms", us / 1000),
        Some(us) => format!("{:.2}s", us as f64 / 1e6),
    }
}

fn row_json(r: &SummaryRow) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("cache_hit_ratio".into(), json!(cache_hit(r)));
        m.insert(
            "cost_usd".into(),
            json!(r.cost_pico_usd.map(|p| p as f64 / 1e12)),
        );
    }
    v
}

const CSV_HEADER: &str = "key,requests,errors,input_tokens,output_tokens,reasoning_tokens,\
    cache_read_tokens,cache_write_tokens,cache_hit_ratio,cost_usd,unpriced,latency_p50_us,\
    latency_p95_us,ttfb_p50_us,ttfb_p95_us";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(rows: &[SummaryRow]) -> String {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = format!("{CSV_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.key),
            r.requests,
            r.errors,
            r.input_tokens,
            r.output_tokens,
            r.reasoning_tokens,
            r.cache_read_tokens,
            r.cache_write_tokens,
            cache_hit(r).map(|h| format!("{h:.4}")).unwrap_or_default(),
            r.cost_pico_usd.map(usd_exact).unwrap_or_default(),
            r.unpriced,
            opt(r.latency_p50_us),
            opt(r.latency_p95_us),
            opt(r.ttfb_p50_us),
            opt(r.ttfb_p95_us),
        ));
    }
    out
}

fn cells(r: &SummaryRow) -> Vec<String> {
    vec![
        r.key.clone(),
        r.requests.to_string(),
        r.errors.to_string(),
        r.input_tokens.to_string(),
        r.output_tokens.to_string(),
        r.reasoning_tokens.to_string(),
        r.cache_read_tokens.to_string(),
        r.cache_write_tokens.to_string(),
        cache_hit(r).map_or_else(|| "-".into(), |h| format!("{:.1}%", h * 100.0)),
        usd(r.cost_pico_usd),
        dur(r.latency_p50_us),
        dur(r.latency_p95_us),
        dur(r.ttfb_p50_us),
        dur(r.ttfb_p95_us),
    ]
}

fn table(by: &str, rows: &[SummaryRow], totals: &SummaryRow) -> String {
    let header = [
        by,
        "requests",
        "errors",
        "input",
        "output",
        "reasoning",
        "cache_read",
        "cache_write",
        "cache_hit",
        "cost",
        "p50",
        "p95",
        "ttfb_p50",
        "ttfb_p95",
    ]
    .map(str::to_uppercase)
    .to_vec();
    let mut total = cells(totals);
    total[0] = "TOTAL".into();
    let lines: Vec<Vec<String>> = std::iter::once(header)
        .chain(rows.iter().map(cells))
        .chain(std::iter::once(total))
        .collect();
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i == 0 {
                text.push_str(&format!("{cell:<w$}", w = widths[i]));
            } else {
                text.push_str(&format!("  {cell:>w$}", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if totals.unpriced > 0 {
        out.push_str(&format!(
            "cost unknown for {} requests (no price for their model); the cost shown is of the \
             others\n",
            totals.unpriced
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_is_an_age_a_date_a_time_or_all() {
        let now = 1_796_601_600_000; // 2026-12-07T00:00:00Z
        assert_eq!(parse_when("7d", now), Ok(Some(now - 7 * 86_400_000)));
        assert_eq!(parse_when("24h", now), Ok(Some(now - 86_400_000)));
        assert_eq!(parse_when("30m", now), Ok(Some(now - 1_800_000)));
        assert_eq!(parse_when("2w", now), Ok(Some(now - 14 * 86_400_000)));
        assert_eq!(
            parse_when("2026-12-01", now),
            Ok(Some(now - 6 * 86_400_000))
        );
        assert_eq!(
            parse_when("2026-12-06T12:00:00Z", now),
            Ok(Some(now - 43_200_000))
        );
        assert_eq!(parse_when("all", now), Ok(None));
        assert!(parse_when("7y", now).is_err());
        assert!(parse_when("yesterday", now).is_err());
    }

    #[test]
    fn costs_and_durations_read_well() {
        assert_eq!(usd(None), "unknown");
        assert_eq!(usd(Some(15_000_300)), "<$0.0001");
        assert_eq!(usd(Some(1_234_567_000_000)), "$1.2346");
        assert_eq!(usd(Some(0)), "$0.0000");
        assert_eq!(usd_exact(15_000_300), "0.000015000300");
        assert_eq!(dur(Some(850_000)), "850ms");
        assert_eq!(dur(Some(2_345_000)), "2.35s");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
