//! The gateway's shared state, built once at start and handed to every handler.

use crate::model::SecretString;
use crate::registry::{LeaseSink, Registry};
use crate::secrets::SecretSource;
use crate::upstream::Upstream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `router_settings` (LiteLLM's name): retries and their limits.
#[derive(Debug, Clone, Copy)]
pub struct RouterSettings {
    /// Extra attempts per deployment on retryable failures (connect errors, 408/429/5xx/529).
    pub num_retries: u32,
    /// A `retry-after` longer than this is not waited for: the error goes to the client.
    pub max_retry_after: Duration,
}

impl Default for RouterSettings {
    fn default() -> RouterSettings {
        RouterSettings {
            num_retries: 2,
            max_retry_after: Duration::from_secs(20),
        }
    }
}

/// Everything a handler needs.
pub struct GatewayState {
    pub registry: Registry,
    pub upstream: Upstream,
    pub router: RouterSettings,
    /// Required from clients as `Authorization: Bearer` or `x-api-key` when set (never empty),
    /// compared in constant time ([`SecretString::matches`]).
    pub master_key: Option<SecretString>,
    pub lease_sink: Option<Arc<dyn LeaseSink>>,
    pub secrets: Arc<dyn SecretSource>,
    pub started: Instant,
}
