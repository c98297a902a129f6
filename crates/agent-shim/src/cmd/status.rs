//! `agent-shim status [--json]`: the gateway (pid, health, uptime, port), the entered directories
//! (token, profile, shells, last seen), each model's refcount and lease, and which profile
//! router rules chose a model (scenario routing) and how often, and the usage ledger's totals of
//! the last hour and day when a ledger exists. Never shows a key.

use crate::cli::StatusArgs;
use crate::daemon::{self, Probe};
use crate::error::Result;
use crate::registration::Target;
use crate::settings::Settings;
use crate::state::{StateDb, now_ms};
use serde_json::{Value, json};
use std::process::ExitCode;

pub fn run(args: StatusArgs) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let db = StateDb::open(&settings.state_dir)?;
    let tokens = db.tokens()?;
    let models = db.models()?;
    let now = now_ms();
    let target = Target::of(&settings)?;
    let gateway = if target.external {
        json!({"external": true, "url": target.shown_url()})
    } else {
        match daemon::block_on(daemon::probe(&settings)) {
            Probe::Ours(h) | Probe::OursOtherVersion(h) => json!({
                "running": true, "healthy": h["status"] == "healthy", "url": settings.base_url(),
                "port": settings.port, "pid": h["pid"], "uptime_seconds": h["uptime_seconds"],
                "registered_models": h["models"], "version": h["version"],
                "open_requests": h["open_requests"],
                "scenario_routes": h["scenario_routes"],
            }),
            Probe::Other(h) => json!({"running": false, "url": settings.base_url(),
                "port": settings.port,
                "problem": daemon::other_instance(&settings, &h).to_string()}),
            Probe::Foreign(what) => json!({"running": false, "url": settings.base_url(),
                "port": settings.port,
                "problem": daemon::foreign(&settings, &what).to_string()}),
            Probe::Nothing => {
                json!({"running": false, "url": settings.base_url(), "port": settings.port,
                "pid": daemon::running_pid(&settings)})
            }
        }
    };
    let usage = usage_totals(&settings, now);
    let report = json!({
        "gateway": gateway,
        "usage": usage,
        "directories": tokens,
        "models": models,
        "janitor_last_run": db.last_janitor_run()?,
        "now": now,
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", human(&report, now));
    Ok(ExitCode::SUCCESS)
}

/// How long `status` waits for the ledger (a PostgreSQL server that does not answer).
const USAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The ledger's totals of the last hour and day: `null` when there is no ledger (none is
/// created), `{"error": …}` when it cannot be read.
fn usage_totals(settings: &Settings, now: i64) -> Value {
    let ls = match settings.ledger() {
        Ok(ls) => ls,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let window = |ms: i64| ledger::store::Filter {
        since_ms: Some(now - ms),
        ..Default::default()
    };
    let read = async {
        let Some(store) = ledger::store::open_existing(ls.url(), &settings.state_dir).await? else {
            return Ok(None);
        };
        let hour = store.totals(&window(3_600_000)).await?;
        let day = store.totals(&window(86_400_000)).await?;
        Ok::<_, ledger::store::StoreError>(Some((hour, day)))
    };
    let totals = |r: &ledger::store::SummaryRow| {
        json!({"requests": r.requests, "errors": r.errors,
            "tokens": r.input_tokens + r.output_tokens, "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens, "cost_pico_usd": r.cost_pico_usd,
            "unpriced": r.unpriced})
    };
    match daemon::block_on(async { tokio::time::timeout(USAGE_TIMEOUT, read).await }) {
        Ok(Ok(None)) => Value::Null,
        Ok(Ok(Some((hour, day)))) => json!({
            "ledger": ls.shown(settings),
            "last_hour": totals(&hour),
            "last_day": totals(&day),
        }),
        Ok(Err(e)) => json!({"error": e.to_string()}),
        Err(_) => json!({"error": format!("{}: no answer within {USAGE_TIMEOUT:?}",
            ls.shown(settings))}),
    }
}

fn usage_line(label: &str, t: &Value) -> String {
    // Nothing requested, nothing spent (not an unknown cost).
    let cost = match t["requests"].as_u64() {
        Some(0) => super::usage::usd(Some(0)),
        _ => super::usage::usd(t["cost_pico_usd"].as_i64()),
    };
    let unpriced = t["unpriced"].as_u64().unwrap_or(0);
    let cost = if unpriced > 0 && t["cost_pico_usd"].is_i64() {
        format!("{cost} + {unpriced} unpriced")
    } else {
        cost
    };
    format!(
        "{label}  {} requests  {} errors  {} tokens  {cost}\n",
        t["requests"], t["errors"], t["tokens"]
    )
}

fn ago(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn human(r: &Value, now: i64) -> String {
    let mut out = String::new();
    let g = &r["gateway"];
    if g["external"] == true {
        out.push_str(&format!(
            "gateway      external proxy {}\n",
            g["url"].as_str().unwrap_or("")
        ));
    } else if g["running"] == true {
        let up = ago(g["uptime_seconds"].as_i64().unwrap_or(0) * 1000);
        let health = if g["healthy"] == true {
            "healthy"
        } else {
            "unhealthy"
        };
        out.push_str(&format!(
            "gateway      running  {}  pid {}  up {up}  {health}  {} registered models\n",
            g["url"].as_str().unwrap_or(""),
            g["pid"],
            g["registered_models"]
        ));
    } else if let Some(problem) = g["problem"].as_str() {
        out.push_str(&format!("gateway      not running: {problem}\n"));
    } else {
        out.push_str(&format!(
            "gateway      not running  ({})\n",
            g["url"].as_str().unwrap_or("")
        ));
    }
    let dirs = r["directories"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("directories  {}\n", dirs.len()));
    // Wide enough for the longest profile name (`claude-subscription`), at least 12.
    let pwidth = dirs
        .iter()
        .filter_map(|d| d["profile"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(0)
        .max(12);
    for d in &dirs {
        out.push_str(&format!(
            "  {}  {:<pwidth$} shells {}  seen {} ago  {}\n",
            d["token"].as_str().unwrap_or(""),
            d["profile"].as_str().unwrap_or(""),
            d["refs"],
            ago(now - d["last_seen"].as_i64().unwrap_or(now)),
            d["directory"].as_str().unwrap_or("")
        ));
    }
    let models = r["models"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("models       {}\n", models.len()));
    let width = models
        .iter()
        .filter_map(|m| m["model_name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(0);
    for m in &models {
        let lease = match m["lease_expires"].as_i64() {
            None => "in use".to_owned(),
            Some(t) if t > now => format!("lease expires in {}", ago(t - now)),
            Some(_) => "lease expired (the janitor will release it)".to_owned(),
        };
        out.push_str(&format!(
            "  {:width$}  refs {}  {lease}\n",
            m["model_name"].as_str().unwrap_or(""),
            m["refcount"]
        ));
    }
    let usage = &r["usage"];
    if let Some(e) = usage["error"].as_str() {
        out.push_str(&format!("usage        unavailable: {e}\n"));
    } else if usage.is_object() {
        out.push_str(&usage_line("usage        last hour", &usage["last_hour"]));
        out.push_str(&usage_line("             last day ", &usage["last_day"]));
    }
    // Which profile rules chose a model (scenario routing), when any did.
    let routes = g["scenario_routes"].as_array().cloned().unwrap_or_default();
    if !routes.is_empty() {
        out.push_str("routes       (profile router rules that chose a model)\n");
    }
    for r in &routes {
        let last = r["last_ms"].as_i64().unwrap_or(now);
        out.push_str(&format!(
            "  {} {} -> {}  {} requests, last {} ago\n",
            r["profile"].as_str().unwrap_or(""),
            r["rule"].as_str().unwrap_or(""),
            r["model"].as_str().unwrap_or(""),
            r["requests"],
            ago(now - last)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_report_shows_the_ledger_totals_or_why_not() {
        let r = json!({"gateway": {"running": false}, "directories": [], "models": [],
            "usage": {"last_hour": {"requests": 0, "errors": 0, "tokens": 0,
                "cost_pico_usd": null, "unpriced": 0},
            "last_day": {"requests": 5, "errors": 1, "tokens": 1200,
                "cost_pico_usd": 25_000_000_000i64, "unpriced": 2}}});
        let out = human(&r, 0);
        assert!(
            out.contains("usage        last hour  0 requests  0 errors  0 tokens  $0.0000\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "             last day   5 requests  1 errors  1200 tokens  $0.0250 + 2 unpriced\n"
            ),
            "{out}"
        );
        let r =
            json!({"gateway": {}, "usage": {"error": "usage ledger postgres://u:***@h/d: down"}});
        assert!(
            human(&r, 0)
                .contains("usage        unavailable: usage ledger postgres://u:***@h/d: down\n")
        );
    }

    #[test]
    fn human_report_names_the_rules_that_chose_a_model() {
        let now = 1_000_000;
        let r = json!({
            "gateway": {"running": true, "healthy": true, "url": "http://127.0.0.1:1",
                "pid": 7, "uptime_seconds": 5, "registered_models": 2,
                "scenario_routes": [{"profile": "coder", "rule": "background", "model": "bg",
                    "requests": 3, "last_ms": now - 2000}]},
            "directories": [], "models": [],
        });
        let out = human(&r, now);
        assert!(
            out.contains("  coder background -> bg  3 requests, last 2s ago\n"),
            "{out}"
        );
        let r = json!({"gateway": {"running": true}, "directories": [], "models": []});
        assert!(!human(&r, now).contains("routes"));
    }
}
