//! The router's side of the state several instances share (issue 12 §2; the database side is
//! `ledger::shared`): this instance's per-minute usage and new cooldowns handed to the shared
//! state's writer, and the other instances' usage and cooldowns applied to the [`Slot`]s. Called
//! from the background tasks only, every ~250 ms; each is a pass over the slot map under its
//! read lock (a few atomics per deployment).

use super::RouterState;
use super::slot::Slot;
use ledger::shared::{UsageDelta, UsageTotal};
use std::collections::HashMap;
use std::sync::Arc;

impl RouterState {
    fn each_slot(&self) -> Vec<(String, Arc<Slot>)> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// What this instance counted since the last call, per deployment ([`Slot::take_usage`]).
    pub fn usage_deltas(&self) -> Vec<UsageDelta> {
        self.each_slot()
            .into_iter()
            .filter_map(|(id, s)| {
                let (minute, requests, tokens) = s.take_usage()?;
                Some(UsageDelta {
                    deployment: id,
                    minute,
                    requests,
                    tokens,
                })
            })
            .collect()
    }

    /// Sets the other instances' usage in `minute`: `totals`, and none for deployments not
    /// listed. A deployment this instance has not used yet gets its counters now.
    pub fn others_usage(&self, minute: u64, totals: &[UsageTotal]) {
        let by_id: HashMap<&str, &UsageTotal> =
            totals.iter().map(|t| (t.deployment.as_str(), t)).collect();
        for (id, slot) in self.each_slot() {
            match by_id.get(id.as_str()) {
                Some(t) => slot.set_remote(minute, t.requests, t.tokens),
                None => slot.set_remote(minute, 0, 0),
            }
        }
        for t in totals {
            self.slot_of(&t.deployment)
                .set_remote(minute, t.requests, t.tokens);
        }
    }

    /// Cooldowns this instance started since the last call: `(deployment id, until Unix ms)`.
    pub fn new_cooldowns(&self) -> Vec<(String, u64)> {
        self.each_slot()
            .into_iter()
            .filter_map(|(id, s)| s.take_cooldown().map(|u| (id, u)))
            .collect()
    }

    /// Another instance cooled `deployment` down until `until_ms`.
    pub fn cooled_down(&self, deployment: &str, until_ms: u64) {
        self.slot_of(deployment).cool_until(until_ms);
    }

    /// The counters of the deployment `id`, for `/model/info`.
    pub fn slot_by_id(&self, id: &str) -> Option<Arc<Slot>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{RouterSettings, slot::Limits};

    #[test]
    fn deltas_out_totals_and_cooldowns_in() {
        let r = RouterState::new(&RouterSettings::default());
        let now = crate::router::now_ms();
        let m = now / 60_000;
        let a = r.slot_of("dep-a");
        let _l = a.acquire(&Limits::default(), 0, now).unwrap();
        let d = r.usage_deltas();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].deployment.as_str(), d[0].requests), ("dep-a", 1));
        assert!(r.usage_deltas().is_empty());
        r.others_usage(
            m,
            &[UsageTotal {
                deployment: "dep-b".into(),
                requests: 4,
                tokens: 9,
            }],
        );
        assert_eq!(r.slot_of("dep-b").requests_this_minute(now), 4);
        assert_eq!(a.requests_this_minute(now), 1);
        r.cooled_down("dep-a", now + 10_000);
        assert!(a.cooling(now).is_some());
        assert!(r.new_cooldowns().is_empty(), "not handed back");
        a.cool_for(now, std::time::Duration::from_secs(60));
        assert_eq!(r.new_cooldowns().len(), 1);
    }
}
