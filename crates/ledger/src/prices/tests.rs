//! Cost tests against hand-computed figures (the arithmetic is in each comment), the lookup
//! rule (exact ids only), overrides, and the embedded table against its generator's rule.

use super::*;
use crate::record::Tokens;
use serde_json::json;

fn record(provider: &str, served: &str, tokens: Tokens) -> UsageRecord {
    UsageRecord {
        provider: Some(provider.into()),
        served_model: Some(served.into()),
        model_group: Some("group-not-in-table".into()),
        tokens,
        ..UsageRecord::default()
    }
}

fn priced(book: &PriceBook, rec: &mut UsageRecord, configured: Option<&ModelPrice>) -> Option<i64> {
    book.price(rec, configured);
    rec.cost_pico_usd
}

fn configured(v: serde_json::Value) -> ModelPrice {
    let m = v.as_object().unwrap().clone();
    ModelPrice::from_fields(m.iter().map(|(k, v)| (k.as_str(), v)))
        .unwrap()
        .unwrap()
}

#[test]
fn the_embedded_table_parses_with_its_version() {
    let book = PriceBook::embedded();
    assert_eq!(book.version(), "litellm-1.106.2@2026-10-21");
    assert!(book.len() > 2500, "{}", book.len());
    assert!(
        book.source().contains("litellm 1.106.2"),
        "{}",
        book.source()
    );
}

#[test]
fn anthropic_with_cache_reads_and_5m_and_1h_writes() {
    // claude-sonnet-4-5 (LiteLLM 1.106.2): input 3e-6, cache read 3e-7, 5m write 3.75e-6,
    // 1h write 6e-6, output 1.5e-5 USD/token. Prompt 26,000 = 1,000 uncached + 20,000 read +
    // 3,000 (5m) + 2,000 (1h); output 500.
    //   1,000 × 0.000003   = 0.003
    //  20,000 × 0.0000003  = 0.006
    //   3,000 × 0.00000375 = 0.01125
    //   2,000 × 0.000006   = 0.012
    //     500 × 0.000015   = 0.0075
    //   total                0.03975 USD = 39,750,000,000 pUSD
    let t = Tokens {
        input: 26_000,
        output: 500,
        cache_read: 20_000,
        cache_write_5m: 3_000,
        cache_write_1h: 2_000,
        ..Tokens::default()
    };
    let mut r = record("anthropic", "claude-sonnet-4-5", t);
    assert_eq!(
        priced(&PriceBook::embedded(), &mut r, None),
        Some(39_750_000_000)
    );
    assert_eq!(
        r.price_version.as_deref(),
        Some("litellm-1.106.2@2026-10-21")
    );
}

#[test]
fn the_200k_tier_prices_the_whole_request_above_200000_prompt_tokens() {
    // Bedrock anthropic.claude-sonnet-4-5-20250929-v1:0 (litellm_provider bedrock_converse),
    // above 200k: input 6e-6, cache read 6e-7, 5m write 7.5e-6, 1h write 1.2e-5 (its
    // `_above_1hr_above_200k_tokens`), output 2.25e-5. Prompt 250,000 = 35,000 uncached +
    // 200,000 read + 10,000 (5m) + 5,000 (1h); output 1,000.
    //   35,000 × 0.000006   = 0.21
    //  200,000 × 0.0000006  = 0.12
    //   10,000 × 0.0000075  = 0.075
    //    5,000 × 0.000012   = 0.06
    //    1,000 × 0.0000225  = 0.0225
    //   total                 0.4875 USD = 487,500,000,000 pUSD
    let book = PriceBook::embedded();
    let model = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    let t = Tokens {
        input: 250_000,
        output: 1_000,
        cache_read: 200_000,
        cache_write_5m: 10_000,
        cache_write_1h: 5_000,
        ..Tokens::default()
    };
    assert_eq!(
        priced(&book, &mut record("bedrock", model, t), None),
        Some(487_500_000_000)
    );
    // The threshold is strict (LiteLLM: prompt_tokens > 200,000): exactly 200,000 uncached
    // prompt tokens at the base 3e-6 = 0.6 USD; 200,001 at the tier's 6e-6 = 1.200006 USD.
    let at = |input| Tokens {
        input,
        ..Tokens::default()
    };
    assert_eq!(
        priced(&book, &mut record("bedrock", model, at(200_000)), None),
        Some(600_000_000_000)
    );
    assert_eq!(
        priced(&book, &mut record("bedrock", model, at(200_001)), None),
        Some(1_200_006_000_000)
    );
}

#[test]
fn openai_with_cached_prompt_tokens() {
    // gpt-4o: input 2.5e-6, cache read 1.25e-6, output 1e-5. Prompt 10,000 of which 6,000
    // cached; output 800.
    //   4,000 × 0.0000025  = 0.01
    //   6,000 × 0.00000125 = 0.0075
    //     800 × 0.00001    = 0.008
    //   total                0.0255 USD = 25,500,000,000 pUSD
    let t = Tokens {
        input: 10_000,
        output: 800,
        cache_read: 6_000,
        ..Tokens::default()
    };
    assert_eq!(
        priced(
            &PriceBook::embedded(),
            &mut record("openai", "gpt-4o", t),
            None
        ),
        Some(25_500_000_000)
    );
    // gpt-4.1: input 2e-6, cache read 5e-7, output 8e-6. Same usage:
    //   4,000 × 0.000002 = 0.008; 6,000 × 0.0000005 = 0.003; 800 × 0.000008 = 0.0064
    //   total 0.0174 USD = 17,400,000,000 pUSD
    assert_eq!(
        priced(
            &PriceBook::embedded(),
            &mut record("openai", "gpt-4.1", t),
            None
        ),
        Some(17_400_000_000)
    );
}

#[test]
fn an_unpriced_model_has_no_cost_not_zero() {
    let t = Tokens {
        input: 1_000,
        output: 10,
        ..Tokens::default()
    };
    let mut r = record("ollama", "my-local-model", t);
    r.cost_pico_usd = Some(5);
    r.price_version = Some("stale".into());
    assert_eq!(priced(&PriceBook::embedded(), &mut r, None), None);
    assert_eq!(r.price_version, None);
}

#[test]
fn lookups_never_match_a_similar_id_or_another_providers_entry() {
    let book = PriceBook::embedded();
    for (provider, model) in [
        (Some("anthropic"), "claude-sonnet-4-5-foo"),
        (Some("anthropic"), "claude-sonnet-4"),
        (None, "claude-sonnet-4-5-foo"),
        (None, "sonnet"),
        (Some("openai"), "gpt-4o-2099-01-01"),
        // `gpt-4o` is OpenAI's entry: a Groq deployment of a model called so is not priced by it.
        (Some("groq"), "gpt-4o"),
    ] {
        assert!(
            book.lookup(provider, model).is_none(),
            "{provider:?} {model}"
        );
    }
    let t = Tokens {
        input: 100,
        output: 100,
        ..Tokens::default()
    };
    assert_eq!(
        priced(
            &book,
            &mut record("anthropic", "claude-sonnet-4-5-foo", t),
            None
        ),
        None
    );
    // Exact keys do match: bare, provider-prefixed, and a provider variant.
    assert_eq!(
        book.lookup(Some("anthropic"), "claude-sonnet-4-5")
            .unwrap()
            .key,
        "claude-sonnet-4-5"
    );
    assert_eq!(
        book.lookup(Some("cerebras"), "gpt-oss-120b").unwrap().key,
        "cerebras/gpt-oss-120b"
    );
    assert_eq!(
        book.lookup(Some("azure"), "gpt-4o").unwrap().key,
        "azure/gpt-4o"
    );
    assert!(
        book.lookup(Some("bedrock"), "anthropic.claude-sonnet-4-5-20250929-v1:0")
            .is_some()
    );
    // The model group is tried after the served model.
    let mut r = record("anthropic", "not-a-model", t);
    r.model_group = Some("claude-sonnet-4-5".into());
    assert!(priced(&book, &mut r, None).is_some());
}

#[test]
fn a_model_info_price_beats_the_table_and_fills_in_from_it() {
    // Configured input 1e-6 and output 2e-6 for claude-sonnet-4-5; the cache rates it does not
    // set come from the table (3e-7 read, 3.75e-6 5m write, 6e-6 1h write). Usage of the
    // Anthropic test:
    //   1,000 × 0.000001   = 0.001
    //  20,000 × 0.0000003  = 0.006
    //   3,000 × 0.00000375 = 0.01125
    //   2,000 × 0.000006   = 0.012
    //     500 × 0.000002   = 0.001
    //   total                0.03125 USD = 31,250,000,000 pUSD (the table alone: 39,750,000,000)
    let c = configured(json!({"input_cost_per_token": 1e-6, "output_cost_per_token": "2e-6"}));
    let t = Tokens {
        input: 26_000,
        output: 500,
        cache_read: 20_000,
        cache_write_5m: 3_000,
        cache_write_1h: 2_000,
        ..Tokens::default()
    };
    let mut r = record("anthropic", "claude-sonnet-4-5", t);
    assert_eq!(
        priced(&PriceBook::embedded(), &mut r, Some(&c)),
        Some(31_250_000_000)
    );
    assert_eq!(r.price_version.as_deref(), Some(CONFIGURED));

    // A model the table lacks, priced per million (agent-shim's built-in names): input 0.5 and
    // output 1.5 USD per million = 5e-7 and 1.5e-6 per token; no cache rates, so cache reads
    // bill at the input rate (LiteLLM's rule). Prompt 1,000 of which 400 read; output 100:
    //   600 × 0.0000005 + 400 × 0.0000005 + 100 × 0.0000015 = 0.0003 + 0.0002 + 0.00015
    //   = 0.00065 USD = 650,000,000 pUSD
    let c = configured(json!({"input_cost_per_million": 0.5, "output_cost_per_million": 1.5}));
    let t = Tokens {
        input: 1_000,
        output: 100,
        cache_read: 400,
        ..Tokens::default()
    };
    assert_eq!(
        priced(
            &PriceBook::embedded(),
            &mut record("ollama", "mine", t),
            Some(&c)
        ),
        Some(650_000_000)
    );
}

#[test]
fn an_absent_1h_rate_is_the_cache_write_rate_and_tiers_come_from_model_info() {
    // Configured: input 1e-6, output 4e-6, 5m write 1.25e-6, no 1h rate; above 200k: input
    // 2e-6, 5m write 2.5e-6, output 6e-6. LiteLLM: a missing 1h rate is the cache-write rate
    // (tiered when the tier sets one).
    let c = configured(json!({
        "input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6,
        "cache_creation_input_token_cost": 1.25e-6,
        "input_cost_per_token_above_200k_tokens": 2e-6,
        "cache_creation_input_token_cost_above_200k_tokens": 2.5e-6,
        "output_cost_per_token_above_200k_tokens": 6e-6
    }));
    // Below the tier: 1,000 uncached × 1e-6 + 1,000 (1h) × 1.25e-6 + 100 × 4e-6
    //   = 0.001 + 0.00125 + 0.0004 = 0.00265 USD = 2,650,000,000 pUSD
    let low = Tokens {
        input: 2_000,
        output: 100,
        cache_write_1h: 1_000,
        ..Tokens::default()
    };
    assert_eq!(
        priced(&PriceBook::embedded(), &mut record("x", "y", low), Some(&c)),
        Some(2_650_000_000)
    );
    // Above: 200,000 uncached × 2e-6 + 1,000 (1h) × 2.5e-6 + 100 × 6e-6
    //   = 0.4 + 0.0025 + 0.0006 = 0.4031 USD = 403,100,000,000 pUSD
    let high = Tokens {
        input: 201_000,
        ..low
    };
    assert_eq!(
        priced(
            &PriceBook::embedded(),
            &mut record("x", "y", high),
            Some(&c)
        ),
        Some(403_100_000_000)
    );
}

#[test]
fn reasoning_tokens_bill_at_the_reasoning_rate_when_one_is_given() {
    // Output 1,000 of which 600 reasoning; output 1e-5, reasoning 2e-5, input 0:
    //   400 × 0.00001 + 600 × 0.00002 = 0.004 + 0.012 = 0.016 USD = 16,000,000,000 pUSD
    let c = configured(
        json!({"input_cost_per_token": 0, "output_cost_per_token": 1e-5,
                               "output_cost_per_reasoning_token": 2e-5}),
    );
    let t = Tokens {
        output: 1_000,
        reasoning: 600,
        ..Tokens::default()
    };
    assert_eq!(
        priced(&PriceBook::embedded(), &mut record("x", "y", t), Some(&c)),
        Some(16_000_000_000)
    );
}

#[test]
fn a_reported_cost_is_kept() {
    let mut r = record(
        "claude-code",
        "claude-sonnet-4-5",
        Tokens {
            input: 10,
            ..Tokens::default()
        },
    );
    r.cost_pico_usd = Some(123);
    r.price_version = Some(REPORTED.into());
    PriceBook::embedded().price(&mut r, None);
    assert_eq!(
        (r.cost_pico_usd, r.price_version.as_deref()),
        (Some(123), Some(REPORTED))
    );
}

#[test]
fn bad_price_values_name_the_key() {
    for bad in [json!("cheap"), json!(-1.0), json!(true), json!([1])] {
        let e = ModelPrice::from_fields([("cache_read_input_token_cost", &bad)]).unwrap_err();
        assert_eq!(e.key, "cache_read_input_token_cost");
        assert!(
            e.to_string().contains("expected a price in USD per token"),
            "{e}"
        );
    }
    assert_eq!(
        ModelPrice::from_fields([("mode", &json!("chat"))]).unwrap(),
        None
    );
}

#[test]
fn a_file_that_is_not_a_price_table_says_what_is_wrong() {
    let err = |text: &str| Table::parse(text).unwrap_err().0;
    assert!(
        err("{ nope").starts_with("not JSON (line 1"),
        "{}",
        err("{ nope")
    );
    assert!(err(r#"{"models": {}}"#).starts_with("no \"version\""));
    assert_eq!(err(r#"{"version": "v"}"#), "no \"models\" object");
    assert_eq!(
        err(r#"{"version": "v", "models": 3}"#),
        "no \"models\" object"
    );
    assert_eq!(
        err(
            r#"{"version": "v", "models": {"a": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}, "b": 1}}"#
        ),
        "model \"b\": expected an object"
    );
    let e = err(r#"{"version": "v", "models": {"c": {"input_cost_per_token": "cheap"}}}"#);
    assert!(
        e.starts_with("model \"c\": ") && e.contains("input_cost_per_token"),
        "{e}"
    );
    // Entries without both an input and an output price are left out; other keys are ignored.
    let t = Table::parse(
        r#"{"version": "v", "source": "s", "extra": [1], "models": {
            "a": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "mode": "chat"},
            "b": {"input_cost_per_token": 1e-6}}}"#,
    )
    .unwrap();
    assert_eq!((&*t.version, t.source.as_str()), ("v", "s"));
    assert_eq!(t.models.keys().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn picodollars_round_half_away_from_zero() {
    use rust_decimal::Decimal;
    use std::str::FromStr;
    assert_eq!(
        cost::to_pico(Decimal::from_str("0.0000000000005").unwrap()),
        Some(1)
    );
    assert_eq!(
        cost::to_pico(Decimal::from_str("0.0000000000004999").unwrap()),
        Some(0)
    );
    assert_eq!(
        cost::to_pico(Decimal::from_str("1.5").unwrap()),
        Some(1_500_000_000_000)
    );
    assert_eq!(
        cost::pico_to_usd(39_750_000_000).to_string(),
        "0.039750000000"
    );
}

#[test]
fn pruning_keeps_chat_prices_and_drops_rules_not_implemented() {
    let full = json!({
        "sample_spec": {"mode": "one of: chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
        "m-chat": {"mode": "chat", "litellm_provider": "p", "input_cost_per_token": 1e-6,
                   "output_cost_per_token": 2e-6, "input_cost_per_token_above_200k_tokens": 3e-6,
                   "input_cost_per_token_priority": 9e-6, "max_tokens": 10, "supports_vision": true},
        "m-embed": {"mode": "embedding", "input_cost_per_token": 1e-6, "output_cost_per_token": 0.0},
        "m-tiered": {"mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
                     "tiered_pricing": []},
        "m-offpeak": {"mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
                      "off_peak_pricing": {}},
        "m-noinput": {"mode": "chat", "output_cost_per_token": 1e-6}
    });
    let pruned = table::prune(&full).unwrap();
    assert_eq!(
        serde_json::Value::Object(pruned.clone()),
        json!({"m-chat": {"litellm_provider": "p", "input_cost_per_token": 1e-6,
                          "input_cost_per_token_above_200k_tokens": 3e-6, "output_cost_per_token": 2e-6}})
    );
    let written = table::write("v1", "test", &pruned);
    let t = Table::parse(&written).unwrap();
    assert_eq!(&*t.version, "v1");
    assert_eq!(
        t.models["m-chat"].tiers[&200_000].input,
        Some("0.000003".parse().unwrap())
    );
    assert!(table::prune(&json!({"x": {"mode": "embedding"}})).is_err());
    assert!(table::prune(&json!([1, 2])).is_err());
}

/// The embedded snapshot is exactly what the Rust pruning rule (that `prices update` uses) makes
/// of LiteLLM 1.106.2's file: the generator script and `prune` agree.
#[test]
fn the_embedded_snapshot_is_the_pruning_rule_applied_to_litellm_1_106_2() {
    let Some(litellm) = std::env::var_os("AGENT_SHIM_TEST_LITELLM") else {
        panic!(
            "AGENT_SHIM_TEST_LITELLM is not set (the litellm 1.106.2 CLI, whose package holds the \
             price table); run `bash .ci/run`, which installs it and sets it"
        );
    };
    let site = std::path::Path::new(&litellm)
        .parent()
        .and_then(|bin| bin.parent())
        .unwrap()
        .join("lib/python3.11/site-packages/litellm/model_prices_and_context_window_backup.json");
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&site).unwrap()).unwrap();
    let embedded: serde_json::Value = serde_json::from_str(EMBEDDED).unwrap();
    assert_eq!(
        serde_json::Value::Object(table::prune(&full).unwrap()),
        embedded["models"]
    );
}

/// LiteLLM's own `generic_cost_per_token` (1.106.2) over every third entry of the embedded table
/// with five usages (plain, cached with 5m and 1h writes, above 200k with cache, above 272k with
/// reasoning, OpenAI-style cached with reasoning): our exact cost equals its float within a
/// picodollar (or 1e-9 relative).
#[test]
fn costs_agree_with_litellms_own_calculator() {
    const SCRIPT: &str = r#"
import json, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
from litellm.litellm_core_utils.llm_cost_calc.utils import generic_cost_per_token
from litellm.types.utils import (CacheCreationTokenDetails, CompletionTokensDetailsWrapper,
                                 PromptTokensDetailsWrapper, Usage)
out = []
for r in json.load(sys.stdin):
    p, c, cached, c5, c1, reasoning = r["usage"]
    details = PromptTokensDetailsWrapper(
        cached_tokens=cached, cache_creation_tokens=c5 + c1,
        cache_creation_token_details=CacheCreationTokenDetails(
            ephemeral_5m_input_tokens=c5, ephemeral_1h_input_tokens=c1) if (c5 or c1) else None)
    usage = Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c,
                  prompt_tokens_details=details,
                  completion_tokens_details=CompletionTokensDetailsWrapper(
                      reasoning_tokens=reasoning) if reasoning else None)
    info = dict(litellm.model_cost[r["model"]])
    out.append(sum(generic_cost_per_token(model=r["model"], usage=usage,
                                          custom_llm_provider=r["provider"], model_info=info)))
json.dump(out, sys.stdout)
"#;
    let Some(litellm) = std::env::var_os("AGENT_SHIM_TEST_LITELLM") else {
        panic!("AGENT_SHIM_TEST_LITELLM is not set (the litellm 1.106.2 CLI); run `bash .ci/run`");
    };
    let python = std::path::Path::new(&litellm).with_file_name("python");
    let usages: [[u64; 6]; 5] = [
        [1_000, 100, 0, 0, 0, 0],
        [26_000, 500, 20_000, 3_000, 2_000, 0],
        [250_000, 1_000, 200_000, 10_000, 5_000, 0],
        [300_000, 2_000, 0, 0, 0, 500],
        [10_000, 800, 6_000, 0, 0, 300],
    ];
    let book = PriceBook::embedded();
    let mut keys: Vec<&String> = book.table().models.keys().collect();
    keys.sort();
    let mut cases = Vec::new();
    for key in keys.into_iter().step_by(3) {
        let price = &book.table().models[key];
        for u in usages {
            cases.push((key.as_str(), price.provider.clone().unwrap_or_default(), u));
        }
    }
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(m, p, u)| json!({"model": m, "provider": p, "usage": u}))
        .collect();
    let mut child = std::process::Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; run `bash .ci/run`", python.display()));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&input).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "litellm's calculator failed");
    let theirs: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), cases.len());
    let mut compared = 0;
    for ((model, provider, u), usd) in cases.iter().zip(theirs) {
        let t = Tokens {
            input: u[0],
            output: u[1],
            cache_read: u[2],
            cache_write_5m: u[3],
            cache_write_1h: u[4],
            reasoning: u[5],
        };
        let price = &book.table().models[*model];
        let ours = cost::to_pico(cost::cost_usd(price, &t, Some(provider)).unwrap()).unwrap();
        let theirs = usd * 1e12;
        assert!(
            (theirs - ours as f64).abs() <= f64::max(1.0, 1e-9 * theirs.abs()),
            "{model} ({provider}) {u:?}: litellm {theirs} pUSD, ours {ours}"
        );
        compared += 1;
    }
    assert!(compared > 4_000, "{compared}");
}
