//! Prices and cost (issue 12 §3). PLACEHOLDER API, filled in by the prices work: the embedded
//! price table (a pruned snapshot of LiteLLM's `model_prices_and_context_window.json`, MIT), its
//! source and date, `model_info` overrides, and the cost of a record from its token counts.
//!
//! The gateway calls [`PriceBook::price`] when a record is finished; nothing else here is on the
//! request path.

use crate::record::UsageRecord;

/// One model's prices, USD per token (LiteLLM's `model_info` names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPrice {}

/// The price table in force: the embedded snapshot, or the one `agent-shim prices update` wrote.
#[derive(Debug, Default)]
pub struct PriceBook {}

impl PriceBook {
    /// Sets `record.cost_pico_usd` and `record.price_version` from its provider, served model
    /// and token counts; `configured` is the deployment's `model_info` price, which wins. A
    /// model with no price keeps `None` (unknown), never a guess.
    pub fn price(&self, record: &mut UsageRecord, configured: Option<&ModelPrice>) {
        let _ = (record, configured);
    }
}
