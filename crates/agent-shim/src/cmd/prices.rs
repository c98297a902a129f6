//! `agent-shim prices update [--from FILE|URL]` and `agent-shim prices show MODEL`: the price
//! table that prices usage (issue 12 §3; `ledger::prices`).

use crate::cli::{NetArgs, PricesAction};
use crate::error::{CliError, Result};
use crate::settings::Settings;
use crate::settings::catalog;
use ledger::prices::{self, ModelPrice, PriceBook, cost, table};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// LiteLLM's price table on GitHub (main branch), the default of `prices update`.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

pub fn run(action: PricesAction) -> Result<ExitCode> {
    let settings = Settings::load(&NetArgs::default(), None)?;
    match action {
        PricesAction::Update { from } => update(&settings.state_dir, from.as_deref()),
        PricesAction::Show { model } => show(&settings, &model),
    }
}

fn update(state_dir: &Path, from: Option<&str>) -> Result<ExitCode> {
    let given = from.unwrap_or(DEFAULT_URL);
    let is_url = given.starts_with("http://") || given.starts_with("https://");
    // What is shown and stored: a URL's credentials (`user:token@`, `?key=`) never are.
    let from = gateway::redact::url(given);
    let text = if is_url {
        crate::daemon::block_on(fetch(given, &from))?
    } else {
        std::fs::read_to_string(given).map_err(|e| {
            CliError::failed(format!(
                "cannot read the price table {from}: {e}; give LiteLLM's model_prices_and_context_window.json with --from FILE|URL"
            ))
        })?
    };
    let not_a_table = |why: String| {
        CliError::failed(format!(
            "{from} is not LiteLLM's price table ({why}); give model_prices_and_context_window.json with --from FILE|URL"
        ))
    };
    let full: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        not_a_table(format!(
            "not JSON: line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    let models = table::prune(&full).map_err(|e| not_a_table(e.0))?;
    let date = today();
    let version = format!("litellm@{date}");
    let source = format!("{from} (fetched {date})");
    let body = table::write(&version, &source, &models);
    // The written file must read back as the gateway will read it.
    table::Table::parse(&body).map_err(|e| not_a_table(e.0))?;
    let path = state_dir.join(prices::STATE_FILE);
    crate::atomic_file::write(&path, body.as_bytes()).map_err(|e| {
        CliError::failed(format!(
            "cannot write {}: {e}; check that the state dir is writable",
            path.display()
        ))
    })?;
    println!(
        "wrote {} model prices to {} (version {version}, from {from}); a running gateway uses them after `agent-shim proxy restart`",
        models.len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The body at `url` (30 s connect, 120 s in all); errors name it as `shown`.
async fn fetch(url: &str, shown: &str) -> Result<String> {
    let failed = |what: String| {
        CliError::failed(format!(
            "cannot fetch the price table from {shown}: {what}; check the network, or download the file and use --from FILE"
        ))
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(root_cause(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(failed(format!("it answered {status}")));
    }
    resp.text().await.map_err(|e| failed(root_cause(&e)))
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

fn show(settings: &Settings, model: &str) -> Result<ExitCode> {
    let book = match PriceBook::load(&settings.state_dir) {
        Ok(b) => b,
        Err(e) => return Err(CliError::failed(e.0)),
    };
    // A model name from the config: its provider and upstream id, and its model_info prices.
    let defs = catalog::load_models(settings)?;
    let def = defs.iter().find(|d| d.item.model_name == model);
    let (provider, id, configured) = match def {
        Some(d) => {
            let (p, id) = d
                .item
                .litellm_params
                .model
                .split_once('/')
                .map_or((None, d.item.litellm_params.model.as_str()), |(p, m)| {
                    (Some(p), m)
                });
            let configured = d
                .item
                .price()
                .map_err(|e| CliError::usage(format!("{}: model '{model}': {e}", d.source)))?;
            (p, id, configured)
        }
        None => match book.lookup(None, model) {
            Some(_) => (None, model, None),
            None => match model.split_once('/') {
                Some((p, m)) => (Some(p), m, None),
                None => (None, model, None),
            },
        },
    };
    let found = book.lookup(provider, id);
    let (price, source): (ModelPrice, String) = match (configured, &found) {
        (Some(c), Some(f)) => (
            c.over(f.price),
            format!(
                "model_info of '{model}' ({}), rates it leaves unset from the table entry '{}' ({})",
                def.map(|d| d.source.to_string()).unwrap_or_default(),
                f.key,
                book.version()
            ),
        ),
        (Some(c), None) => (
            c,
            format!(
                "model_info of '{model}' ({})",
                def.map(|d| d.source.to_string()).unwrap_or_default()
            ),
        ),
        (None, Some(f)) => (
            (**f.price).clone(),
            format!(
                "table entry '{}' ({}; {})",
                f.key,
                book.version(),
                book.source()
            ),
        ),
        (None, None) => {
            println!(
                "{model}: no price (its cost is recorded as unknown): no exact entry for {} in the price table ({}), and no model_info prices; set input_cost_per_token and output_cost_per_token in its model_info",
                provider.map_or_else(|| id.to_owned(), |p| format!("{p}/{id} or {id}")),
                book.version()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    match def {
        Some(d) => println!(
            "{model} ({}, defined in {}): {source}",
            d.item.litellm_params.model, d.source
        ),
        None => println!("{model}: {source}"),
    }
    let per_m = |d: prices::Decimal| {
        (d * prices::Decimal::from(1_000_000))
            .normalize()
            .to_string()
    };
    let Some(r) = cost::rates(&price, 0, provider) else {
        println!("  no input or output price: its cost is recorded as unknown");
        return Ok(ExitCode::SUCCESS);
    };
    println!("  USD per million tokens:");
    for (what, rate) in [
        ("input", r.input),
        ("output", r.output),
        ("cache read", r.cache_read),
        ("cache write (5 min)", r.cache_write),
        ("cache write (1 h)", r.cache_write_1h),
        ("reasoning", r.reasoning),
    ] {
        println!("    {what:<20} {}", per_m(rate));
    }
    for threshold in price.tiers.keys() {
        if let Some(t) = cost::rates(&price, threshold + 1, provider) {
            println!(
                "  above {threshold} prompt tokens (the whole request): input {}, output {}, cache read {}, cache write {} / {} (5 min / 1 h)",
                per_m(t.input),
                per_m(t.output),
                per_m(t.cache_read),
                per_m(t.cache_write),
                per_m(t.cache_write_1h)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_a_date() {
        let d = super::today();
        assert_eq!(d.len(), 10, "{d}");
        assert!(
            d.starts_with("20") && &d[4..5] == "-" && &d[7..8] == "-",
            "{d}"
        );
    }
}
