//! The router's shared state (issue 11 §1): per-deployment counters ([`slot`]) behind the
//! routing strategies ([`strategy`]), the local limits (`rpm`, `tpm`, `max_parallel_requests`)
//! and cooldowns, and the sessions' deployments ([`affinity`]); its settings are LiteLLM's
//! `router_settings` ([`settings`]). How a request uses them is [`crate::dispatch`]'s.
//!
//! Everything that several gateway instances share sits behind the one [`RouterState`] struct;
//! with a PostgreSQL `database_url`, [`shared`] mirrors its usage counters and cooldowns to the
//! other instances in background tasks (issue 12 §2). Its methods are synchronous and short
//! (atomics, or a std mutex held for one map operation), never held across an `.await`.
//!
//! A deployment's [`Slot`] is found by its id once and then kept in the deployment
//! ([`crate::providers::deployment::Deployment`]), so a request reads counters without a map
//! lookup; a reload that defines the same deployment again finds the same counters.

pub mod affinity;
pub mod params;
pub mod scenario;
pub mod settings;
pub mod shared;
pub mod slot;
pub mod strategy;

use crate::providers::deployment::Deployment;
pub use params::RouteParams;
pub use settings::{FallbackKind, Fallbacks, RouterSettings};
pub use slot::{Busy, Lease, Limits, Slot};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
pub use strategy::RoutingStrategy;

/// The state every request's routing reads and updates (module docs).
#[derive(Debug)]
pub struct RouterState {
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    /// The sessions' deployments (session affinity).
    pub sessions: affinity::Sessions,
    /// How often the profiles' scenario rules chose a model ([`scenario`]).
    pub scenario_routes: scenario::RouteCounts,
}

impl RouterState {
    /// Empty counters, and a session map sized by `settings`.
    pub fn new(settings: &RouterSettings) -> RouterState {
        RouterState {
            slots: RwLock::new(HashMap::new()),
            sessions: affinity::Sessions::new(settings.session_ttl, settings.max_sessions),
            scenario_routes: scenario::RouteCounts::default(),
        }
    }

    /// The counters of `d`.
    pub fn slot<'d>(&self, d: &'d Deployment) -> &'d Arc<Slot> {
        d.slot.get_or_init(|| self.slot_of(&d.id))
    }

    fn slot_of(&self, id: &str) -> Arc<Slot> {
        if let Some(s) = self.slots.read().unwrap_or_else(|p| p.into_inner()).get(id) {
            return s.clone();
        }
        self.slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_default()
            .clone()
    }
}

/// Unix time in milliseconds (the counters' clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
