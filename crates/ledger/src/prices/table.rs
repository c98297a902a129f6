//! The price table: one [`ModelPrice`] per LiteLLM key, read from a pruned copy of LiteLLM's
//! `model_prices_and_context_window.json` ([`Table::parse`]), and the pruning rule shared by the
//! embedded snapshot's generator (`crates/ledger/prices/prune.py`) and `agent-shim prices
//! update` ([`prune`]).

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

/// The rates of one token-count tier (LiteLLM's `*_above_<N>k_tokens` keys), USD per token;
/// `None` = this tier does not change that rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierRates {
    pub input: Option<Decimal>,
    pub output: Option<Decimal>,
    pub cache_read: Option<Decimal>,
    pub cache_write: Option<Decimal>,
    pub cache_write_1h: Option<Decimal>,
}

/// One model's prices in USD per token, by LiteLLM's `model_info` names. `None` = not given
/// (see [`super::cost`] for what an absent rate falls back to).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPrice {
    /// LiteLLM's `litellm_provider` of the entry (`anthropic`, `bedrock_converse`, …).
    pub provider: Option<String>,
    /// `input_cost_per_token`.
    pub input: Option<Decimal>,
    /// `output_cost_per_token`.
    pub output: Option<Decimal>,
    /// `cache_read_input_token_cost`.
    pub cache_read: Option<Decimal>,
    /// `cache_creation_input_token_cost` (5-minute cache writes).
    pub cache_write: Option<Decimal>,
    /// `cache_creation_input_token_cost_above_1hr` (1-hour cache writes).
    pub cache_write_1h: Option<Decimal>,
    /// `output_cost_per_reasoning_token`.
    pub reasoning: Option<Decimal>,
    /// The `*_above_<N>k_tokens` tiers by threshold N (prompt tokens).
    pub tiers: BTreeMap<u64, TierRates>,
}

/// A price key whose value is not a price: names the key and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: expected a price in USD per token (a number of at least 0), got {got}")]
pub struct PriceError {
    pub key: String,
    pub got: String,
}

/// The base fields of a price, as LiteLLM names them.
const BASE: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
];

/// The fields a tier (`<field>_above_<N>[k]_tokens`) may set.
const TIERED: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
];

/// agent-shim's own per-million names (built-in `models.yaml`), read when the per-token key is
/// absent.
const PER_MILLION: &[(&str, &str)] = &[
    ("input_cost_per_million", "input_cost_per_token"),
    ("output_cost_per_million", "output_cost_per_token"),
];

/// `(field, threshold)` of a tier key such as `input_cost_per_token_above_200k_tokens`, as
/// LiteLLM reads it (`_parse_above_token_threshold`: `200k` = 200,000, `128` = 128).
fn tier_key(key: &str) -> Option<(&'static str, u64)> {
    let (field, rest) = key.rsplit_once("_above_")?;
    let field = TIERED.iter().find(|f| **f == field)?;
    let n = rest.strip_suffix("_tokens")?;
    let (digits, scale) = match n.strip_suffix('k') {
        Some(d) => (d, 1000),
        None => (n, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((field, digits.parse::<u64>().ok()?.checked_mul(scale)?))
}

/// Whether `key` is a price key this module reads (base, tiered or per-million).
pub fn is_price_key(key: &str) -> bool {
    BASE.contains(&key) || PER_MILLION.iter().any(|(k, _)| *k == key) || tier_key(key).is_some()
}

/// A price value as LiteLLM reads it: a number, or a string holding one (`"3e-7"` from YAML),
/// at least 0, as an exact decimal of its shortest representation (`3e-06` is exactly
/// 0.000003, not the nearest binary fraction).
fn price_of(key: &str, v: &Value) -> Result<Decimal, PriceError> {
    let bad = || PriceError {
        key: key.to_owned(),
        got: v.to_string(),
    };
    let f = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if !f.is_finite() || f < 0.0 {
        return Err(bad());
    }
    // Rust's `Display` for f64 is the shortest string that reads back as the same number (as
    // Python's repr, which wrote LiteLLM's file), never in exponent form.
    Decimal::from_str(&f.to_string()).map_err(|_| bad())
}

impl ModelPrice {
    /// Reads the price keys among `fields` (a `model_info` or a table entry; other keys are
    /// ignored): the base keys, the `*_above_<N>[k]_tokens` tiers, agent-shim's
    /// `input/output_cost_per_million` (when the per-token key is absent) and `litellm_provider`.
    /// `Ok(None)` when no price key is present.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Option<ModelPrice>, PriceError> {
        let mut p = ModelPrice::default();
        let mut any = false;
        let mut per_million: [Option<Decimal>; 2] = [None, None];
        for (key, v) in fields {
            if key == "litellm_provider" {
                p.provider = v.as_str().map(str::to_owned);
                continue;
            }
            if v.is_null() {
                continue;
            }
            if let Some(i) = PER_MILLION.iter().position(|(k, _)| *k == key) {
                per_million[i] = Some(price_of(key, v)? / Decimal::from(1_000_000));
                any = true;
                continue;
            }
            let slot = if let Some((field, n)) = tier_key(key) {
                let t = p.tiers.entry(n).or_default();
                match field {
                    "input_cost_per_token" => &mut t.input,
                    "output_cost_per_token" => &mut t.output,
                    "cache_read_input_token_cost" => &mut t.cache_read,
                    "cache_creation_input_token_cost" => &mut t.cache_write,
                    _ => &mut t.cache_write_1h,
                }
            } else {
                match key {
                    "input_cost_per_token" => &mut p.input,
                    "output_cost_per_token" => &mut p.output,
                    "cache_read_input_token_cost" => &mut p.cache_read,
                    "cache_creation_input_token_cost" => &mut p.cache_write,
                    "cache_creation_input_token_cost_above_1hr" => &mut p.cache_write_1h,
                    "output_cost_per_reasoning_token" => &mut p.reasoning,
                    _ => continue,
                }
            };
            *slot = Some(price_of(key, v)?);
            any = true;
        }
        p.input = p.input.or(per_million[0]);
        p.output = p.output.or(per_million[1]);
        Ok(any.then_some(p))
    }

    /// `self` (a configured `model_info` price) over `table` (the table's entry for the same
    /// model): each rate `self` sets wins, the others come from the table, as LiteLLM merges a
    /// deployment's custom pricing over the built-in entry (`register_model`).
    pub fn over(&self, table: &ModelPrice) -> ModelPrice {
        let mut tiers = table.tiers.clone();
        for (n, t) in &self.tiers {
            let m = tiers.entry(*n).or_default();
            m.input = t.input.or(m.input);
            m.output = t.output.or(m.output);
            m.cache_read = t.cache_read.or(m.cache_read);
            m.cache_write = t.cache_write.or(m.cache_write);
            m.cache_write_1h = t.cache_write_1h.or(m.cache_write_1h);
        }
        ModelPrice {
            provider: self.provider.clone().or_else(|| table.provider.clone()),
            input: self.input.or(table.input),
            output: self.output.or(table.output),
            cache_read: self.cache_read.or(table.cache_read),
            cache_write: self.cache_write.or(table.cache_write),
            cache_write_1h: self.cache_write_1h.or(table.cache_write_1h),
            reasoning: self.reasoning.or(table.reasoning),
            tiers,
        }
    }
}

/// A parsed price table.
#[derive(Debug, Default)]
pub struct Table {
    /// What priced records carry as `price_version` (`litellm-1.106.2@2026-10-21`).
    pub version: Arc<str>,
    /// Where the table came from (package and file, or URL/file and fetch date).
    pub source: String,
    /// By LiteLLM key (`model` or `provider/model`).
    pub models: HashMap<String, Arc<ModelPrice>>,
    /// The keys with a `/`, by their part before the first `/` and the rest
    /// (`azure/gpt-4o` → `azure` → `gpt-4o`): a `provider/model` lookup without building the
    /// string.
    pub by_prefix: HashMap<String, HashMap<String, (String, Arc<ModelPrice>)>>,
}

/// A price file that cannot be read: says what is wrong with it (the caller names the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

impl Table {
    /// Reads a pruned table as [`prune`] and `prune.py` write it:
    /// `{"version", "source", "models": {key: {field: price}}}`.
    pub fn parse(text: &str) -> Result<Table, TableError> {
        // One pass, each model's entry converted as it is read: the whole document as a
        // `Value` tree was ~3 MiB of garbage for the 568 KB built-in table, still resident
        // seconds after start (issue 13's idle RSS).
        let doc: Doc = serde_json::from_str(text).map_err(|e| match e.classify() {
            // The only typed part is `models` (the rest is read as any value).
            serde_json::error::Category::Data => TableError("no \"models\" object".into()),
            _ => TableError(format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            )),
        })?;
        let text_of = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let version = text_of(doc.version).ok_or_else(|| {
            TableError("no \"version\" (not a price table written by agent-shim)".into())
        })?;
        let models = doc
            .models
            .ok_or_else(|| TableError("no \"models\" object".into()))?;
        if let Some(e) = models.error {
            return Err(TableError(e));
        }
        let out = models.prices;
        let mut by_prefix: HashMap<String, HashMap<String, (String, Arc<ModelPrice>)>> =
            HashMap::new();
        for (key, price) in &out {
            if let Some((prefix, rest)) = key.split_once('/') {
                by_prefix
                    .entry(prefix.to_owned())
                    .or_default()
                    .insert(rest.to_owned(), (key.clone(), price.clone()));
            }
        }
        Ok(Table {
            version: version.into(),
            source: text_of(doc.source).unwrap_or_default(),
            models: out,
            by_prefix,
        })
    }
}

/// A price table document; its `models` are converted entry by entry ([`Models`]).
#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    source: Option<Value>,
    #[serde(default)]
    models: Option<Models>,
}

/// The priced models of a table (entries without both input and output prices left out), and
/// the first entry that is not a price, which fails the table.
#[derive(Default)]
struct Models {
    prices: HashMap<String, Arc<ModelPrice>>,
    error: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Models {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Models, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Models;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of models")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Models, A::Error> {
                let mut m = Models::default();
                m.prices.reserve(map.size_hint().unwrap_or(0));
                while let Some((key, entry)) = map.next_entry::<String, Value>()? {
                    if m.error.is_some() {
                        continue;
                    }
                    let Value::Object(fields) = entry else {
                        m.error = Some(format!("model {key:?}: expected an object"));
                        continue;
                    };
                    match ModelPrice::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v))) {
                        Ok(Some(p)) if p.input.is_some() && p.output.is_some() => {
                            m.prices.insert(key, Arc::new(p));
                        }
                        Ok(_) => {}
                        Err(e) => m.error = Some(format!("model {key:?}: {e}")),
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

fn is_price_value(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0) && !v.is_boolean()
}

/// Prunes LiteLLM's full `model_prices_and_context_window.json` (parsed) to the entries and
/// fields agent-shim prices with — the rule of `crates/ledger/prices/prune.py`: `mode` `chat` or
/// `responses`; both `input_cost_per_token` and `output_cost_per_token`; no `tiered_pricing` or
/// `off_peak_pricing` (rules not implemented: such a model stays unpriced, never mispriced);
/// only `litellm_provider`, the base price fields and their standard `*_above_<N>[k]_tokens`
/// tiers. Errors when `full` is not an object of model entries or keeps no chat model.
pub fn prune(full: &Value) -> Result<Map<String, Value>, TableError> {
    let all = full.as_object().ok_or_else(|| {
        TableError(
            "expected a JSON object of models (LiteLLM's model_prices_and_context_window.json)"
                .into(),
        )
    })?;
    let mut out = Map::new();
    let mut keys: Vec<&String> = all.keys().collect();
    keys.sort();
    for key in keys {
        let Some(e) = all[key].as_object() else {
            continue;
        };
        let mode = e.get("mode").and_then(Value::as_str);
        if !matches!(mode, Some("chat" | "responses"))
            || e.contains_key("tiered_pricing")
            || e.contains_key("off_peak_pricing")
        {
            continue;
        }
        let priced = |k: &str| e.get(k).is_some_and(is_price_value);
        if !(priced("input_cost_per_token") && priced("output_cost_per_token")) {
            continue;
        }
        let mut kept = Map::new();
        if let Some(p @ Value::String(_)) = e.get("litellm_provider") {
            kept.insert("litellm_provider".into(), p.clone());
        }
        let mut fields: Vec<(&String, &Value)> = e
            .iter()
            .filter(|(k, v)| {
                (BASE.contains(&k.as_str()) || tier_key(k).is_some()) && is_price_value(v)
            })
            .collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in fields {
            kept.insert(k.clone(), v.clone());
        }
        out.insert(key.clone(), Value::Object(kept));
    }
    if out.is_empty() {
        return Err(TableError(
            "no chat model with input_cost_per_token and output_cost_per_token (not LiteLLM's price table)".into(),
        ));
    }
    Ok(out)
}

/// Writes a pruned table in the embedded file's layout: the head fields, then one model per
/// line (sorted), so a diff between two tables is reviewable.
pub fn write(version: &str, source: &str, models: &Map<String, Value>) -> String {
    let mut s = String::with_capacity(models.len() * 160 + 256);
    s.push_str("{\n");
    for (k, v) in [("version", version), ("source", source)] {
        s.push_str(&format!("  {}: {},\n", Value::from(k), Value::from(v)));
    }
    s.push_str("  \"models\": {");
    let mut first = true;
    for (k, v) in models {
        s.push_str(if first { "\n    " } else { ",\n    " });
        first = false;
        s.push_str(&format!("{}: {v}", Value::from(k.as_str())));
    }
    s.push_str("\n  }\n}\n");
    s
}
