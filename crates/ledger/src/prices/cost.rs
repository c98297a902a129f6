//! The cost of one request from its token counts and a [`ModelPrice`], in exact decimals, by
//! LiteLLM 1.106.2's rule (`litellm/litellm_core_utils/llm_cost_calc/utils.py`,
//! `generic_cost_per_token`, `_get_token_base_cost`, `calculate_cache_writing_cost`):
//!
//! - uncached prompt tokens × `input_cost_per_token`; cache reads × `cache_read_input_token_cost`;
//!   5-minute cache writes × `cache_creation_input_token_cost`; 1-hour cache writes ×
//!   `cache_creation_input_token_cost_above_1hr`; output tokens other than reasoning ×
//!   `output_cost_per_token`; reasoning tokens × `output_cost_per_reasoning_token`.
//! - An absent cache-read or cache-write rate is the input rate; an absent 1-hour rate is the
//!   (5-minute) cache-write rate — LiteLLM's rule, not "2 × input". For Fireworks AI an absent
//!   cache-read rate is half the input rate (LiteLLM's provider default).
//! - Tiers: when the prompt (`Tokens::input`, cached parts included: LiteLLM's `prompt_tokens`)
//!   exceeds a tier's threshold (`> 200,000` for `_above_200k_tokens`; `>=` for xAI, LiteLLM's
//!   `_INCLUSIVE_THRESHOLD_PROVIDERS`), every rate that tier sets replaces the base rate for the
//!   whole request (not only the tokens above it); tiers apply in ascending order, so the
//!   highest crossed tier wins for each rate it sets.

use super::table::ModelPrice;
use crate::record::Tokens;
use rust_decimal::{Decimal, RoundingStrategy};

/// Providers whose tier thresholds are inclusive (LiteLLM `_INCLUSIVE_THRESHOLD_PROVIDERS`).
const INCLUSIVE: &[&str] = &["xai"];

/// Providers whose absent cache-read rate is half the input rate (LiteLLM
/// `apply_provider_cache_read_default`, `FIREWORKS_AI_DEFAULT_CACHE_READ_RATE_RATIO` = 0.5).
const HALF_PRICE_CACHE_READS: &[&str] = &["fireworks_ai"];

/// The rates one request is billed at, USD per token, after tiers and fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub input: Decimal,
    pub output: Decimal,
    pub cache_read: Decimal,
    pub cache_write: Decimal,
    pub cache_write_1h: Decimal,
    pub reasoning: Decimal,
}

/// The rates `price` bills a prompt of `prompt_tokens` at (served by `provider`, our or
/// LiteLLM's name). `None` when `price` lacks an input or output rate (unknown, never 0).
pub fn rates(price: &ModelPrice, prompt_tokens: u64, provider: Option<&str>) -> Option<Rates> {
    let is = |list: &[&str]| {
        [provider, price.provider.as_deref()]
            .into_iter()
            .flatten()
            .any(|p| list.contains(&p))
    };
    let inclusive = is(INCLUSIVE);
    let (mut input, mut output) = (price.input?, price.output?);
    let (mut cache_read, mut cache_write, mut cache_write_1h) =
        (price.cache_read, price.cache_write, price.cache_write_1h);
    if cache_read.is_none() && is(HALF_PRICE_CACHE_READS) {
        cache_read = Some(input / Decimal::TWO);
    }
    for (threshold, t) in &price.tiers {
        let crossed = prompt_tokens > *threshold || (inclusive && prompt_tokens == *threshold);
        if !crossed {
            continue;
        }
        input = t.input.unwrap_or(input);
        output = t.output.unwrap_or(output);
        cache_read = t.cache_read.or(cache_read);
        cache_write = t.cache_write.or(cache_write);
        cache_write_1h = t.cache_write_1h.or(cache_write_1h);
    }
    let cache_write = cache_write.unwrap_or(input);
    Some(Rates {
        input,
        output,
        cache_read: cache_read.unwrap_or(input),
        cache_write,
        cache_write_1h: cache_write_1h.unwrap_or(cache_write),
        reasoning: price.reasoning.unwrap_or(output),
    })
}

/// The cost of `tokens` at `price`, USD, exact. `None` when `price` lacks an input or output
/// rate.
pub fn cost_usd(price: &ModelPrice, tokens: &Tokens, provider: Option<&str>) -> Option<Decimal> {
    let r = rates(price, tokens.input, provider)?;
    let reasoning = tokens.reasoning.min(tokens.output);
    // Checked: an absurd token count or configured rate gives no cost rather than a panic.
    [
        (tokens.uncached_input(), r.input),
        (tokens.cache_read, r.cache_read),
        (tokens.cache_write_5m, r.cache_write),
        (tokens.cache_write_1h, r.cache_write_1h),
        (tokens.output - reasoning, r.output),
        (reasoning, r.reasoning),
    ]
    .into_iter()
    .try_fold(Decimal::ZERO, |sum, (n, rate)| {
        sum.checked_add(Decimal::from(n).checked_mul(rate)?)
    })
}

/// USD as whole picodollars (1e-12 USD), rounded half away from zero; `None` beyond i64
/// (9.2 million USD).
pub fn to_pico(usd: Decimal) -> Option<i64> {
    let pico = usd.checked_mul(Decimal::from(1_000_000_000_000_i64))?;
    i64::try_from(pico.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)).ok()
}

/// Picodollars as a USD decimal (for display and `/metrics`).
pub fn pico_to_usd(pico: i64) -> Decimal {
    Decimal::new(pico, 12)
}
