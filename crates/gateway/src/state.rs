//! The gateway's shared state, built once at start and handed to every handler; the models in
//! it are replaced by reloads ([`crate::reload`]).

use crate::inflight::InFlight;
use crate::metrics::Metrics;
use crate::model::SecretString;
use crate::registry::{LeaseSink, Registry};
use crate::reload::Reloader;
use crate::router::{RouterSettings, RouterState};
use crate::secrets::SecretSource;
use crate::upstream::Upstream;
use std::sync::Arc;
use std::time::Instant;

/// Everything a handler needs.
pub struct GatewayState {
    pub registry: Registry,
    pub upstream: Upstream,
    pub router: RouterSettings,
    /// The router's shared counters and sessions ([`crate::router`]).
    pub routing: RouterState,
    /// Required from clients as `Authorization: Bearer` or `x-api-key` when set (never empty),
    /// compared in constant time ([`SecretString::matches`]).
    pub master_key: Option<SecretString>,
    pub lease_sink: Option<Arc<dyn LeaseSink>>,
    pub secrets: Arc<dyn SecretSource>,
    pub started: Instant,
    /// Longest request body accepted, in bytes ([`crate::body::ClientBody`]).
    pub max_request_body: usize,
    /// Which installation this gateway serves, reported by `/health`.
    pub instance: Instance,
    /// Generation requests in flight, reported by `/health`.
    pub in_flight: InFlight,
    pub reload: Reloader,
    pub ledger: Ledger,
    /// The state shared with other instances through PostgreSQL (`None`: this instance alone;
    /// [`crate::registry::shared`]).
    pub shared: Option<Arc<ledger::shared::Shared>>,
}

/// The usage ledger as the gateway sees it (issue 12): the queue each finished request's record
/// goes to, the store the reports (`/ui/api/…`) read, and the price table that prices records.
#[derive(Clone, Default)]
pub struct Ledger {
    /// Where finished requests' records go (`None`: the ledger is off).
    pub sender: Option<ledger::Sender>,
    /// The store reports read (`None`: no ledger to report from).
    pub store: Option<Arc<dyn ledger::Store>>,
    /// Prices records when they are finished.
    pub prices: Arc<ledger::prices::PriceBook>,
    /// Counts every finished record for `GET /metrics` ([`crate::metrics`]); one per gateway.
    pub metrics: Arc<Metrics>,
    /// Body capture (`general_settings.store_prompts_in_spend_logs`): the most bytes of each
    /// request body and of each response body kept in the record (`body_capture_max_bytes`);
    /// `None` (the default) captures nothing ([`crate::record::capture`]).
    pub body_capture: Option<usize>,
}

/// Which installation a gateway belongs to, so that a command finding a gateway on its port can
/// tell its own from another state dir's or another user's (`/health` reports it).
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// A stable id of the installation (the binary: a hash of the state dir).
    pub id: String,
    /// The state dir, when it may be shown to whoever can reach `/health` (loopback only).
    pub state_dir: Option<String>,
    /// The user the gateway runs as.
    pub uid: Option<u32>,
}
