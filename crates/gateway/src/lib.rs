//! agent-shim's embedded gateway (DESIGN.md §4): an axum server that speaks the Anthropic Messages
//! API to clients, routes each request to a model group's deployments, and either passes bytes
//! through (same protocol on both sides) or translates through the protocol crate.
//!
//! Entry points: [`GatewayConfig`] describes what to serve; [`Gateway::bind`], then
//! [`Gateway::serve_workers`] (the binary: a worker thread per core) or [`Gateway::serve`] (on
//! the caller's runtime, for tests) run it; [`server::router`] gives the routes for in-process
//! tests.

// Product code answers bad input with an error in the caller's protocol, never a panic. Unit tests
// are exempt through clippy.toml (`allow-*-in-tests`); a true invariant keeps its `expect` under a
// narrowly scoped, commented `#[allow]`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod answer;
mod body;
mod dispatch;
mod error;
mod handlers;
mod ids;
mod inflight;
pub mod metrics;
mod model;
mod providers;
mod record;
pub mod redact;
mod registry;
mod reload;
mod router;
mod secrets;
mod server;
mod state;
mod stream_loop;
mod stream_pass;
mod tokens;
mod transport;
mod ui;
mod upstream;
pub mod upstream_proxy;
mod workers;

// The public API: what the binary (and tests) use. Everything else is internal.
pub use body::DEFAULT_MAX_REQUEST_BODY;
pub use dispatch::{DROPPED_HEADER, PROFILE_HEADER, ROUTE_HEADER};
pub use model::{ApiMode, LitellmParams, ModelDefinition, ModelInfo, SecretString};
pub use protocol::Protocol;
pub use providers::claude_code::group::set_harness_dir as set_claude_code_dir;
pub use providers::deployment::{
    ApiKey, DefinitionError, Deployment, OVERRIDABLE, Origin, key_variables,
};
pub use providers::table::{ProviderInfo, provider, provider_names};
pub use record::client::{AGENT_HEADER, DIRECTORY_HEADER};
pub use registry::{LeaseSink, Registered, Tiers};
pub use reload::{ConfigSource, Loaded, ReloadError, ReloadReport};
pub use router::scenario::{Scenario, ScenarioRules};
pub use router::{Fallbacks, RouterSettings, RoutingStrategy};
pub use secrets::{EnvSecrets, SecretSource, missing_key_message, run_key_command};
pub use state::{Instance, Ledger};
pub use upstream::Timeouts;
pub use upstream_proxy::UpstreamProxy;
pub use workers::default_count as default_workers;

use registry::Registry;
use state::GatewayState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// What the gateway serves and how.
pub struct GatewayConfig {
    pub models: Vec<ModelDefinition>,
    /// Profile name → tier models, to resolve Claude model ids.
    pub profiles: HashMap<String, Tiers>,
    /// Profile whose tiers resolve Claude model ids when a request names none.
    pub default_profile: Option<String>,
    /// LiteLLM's `router_settings.model_group_alias`: a requested name → the group serving it.
    pub model_group_alias: HashMap<String, String>,
    /// Which defined models are registered at start.
    pub registered: Registered,
    /// Told when a request uses a defined model that was not registered.
    pub lease_sink: Option<Arc<dyn LeaseSink>>,
    /// Required from clients (`Authorization: Bearer` or `x-api-key`) when set; never empty
    /// ([`SecretString`]). `None` is refused on a non-loopback address ([`Gateway::bind`]).
    pub master_key: Option<SecretString>,
    pub secrets: Arc<dyn SecretSource>,
    pub router: RouterSettings,
    pub timeouts: Timeouts,
    /// The proxies upstream requests go through: [`UpstreamProxy::from_env`] at start (the
    /// standard `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` variables), or none.
    pub upstream_proxy: UpstreamProxy,
    /// Longest request body accepted, in bytes; a longer one is answered 413 in the caller's
    /// protocol ([`body::DEFAULT_MAX_REQUEST_BODY`], 32 MiB, unless configured).
    pub max_request_body: usize,
    /// Reported by `/health`: which installation this gateway serves.
    pub instance: Instance,
    /// Where a reload reads the configuration again (`None`: nothing to reload).
    pub source: Option<Arc<dyn ConfigSource>>,
    /// The usage ledger: where each request's record goes, the store reports read, the prices.
    pub ledger: Ledger,
    /// Several instances on one PostgreSQL database (issue 12 §2): registrations through the
    /// admin API, cooldowns and rpm/tpm counters shared through it, in background tasks started
    /// with the gateway (on the runtime that calls [`Gateway::bind`]). `None`: this instance
    /// alone.
    pub shared: Option<Arc<ledger::shared::Shared>>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on {addr}: {source}; is another gateway running there? (`agent-shim proxy status`)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on {0} without a master key: clients from other hosts could use your provider keys; \
         set master_key in config.yaml or AGENT_SHIM_MASTER_KEY, or listen on 127.0.0.1"
    )]
    NoKeyOnPublicAddress(SocketAddr),
}

/// A gateway bound to its address, ready to serve.
pub struct Gateway {
    listener: TcpListener,
    state: Arc<GatewayState>,
    /// Definitions that could not be served, with the reason.
    pub definition_errors: Vec<DefinitionError>,
}

impl Gateway {
    /// Binds `addr` and prepares the state. Refuses a non-loopback address without a master key.
    pub async fn bind(addr: SocketAddr, config: GatewayConfig) -> Result<Gateway, StartError> {
        if !addr.ip().is_loopback() && config.master_key.is_none() {
            return Err(StartError::NoKeyOnPublicAddress(addr));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let (gateway, errors) = Self::with_listener(listener, config);
        Ok(Gateway {
            definition_errors: errors,
            ..gateway
        })
    }

    /// Uses an already-bound listener (tests bind port 0).
    pub fn with_listener(
        listener: TcpListener,
        config: GatewayConfig,
    ) -> (Gateway, Vec<DefinitionError>) {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (registry, errors) = Registry::new(
            config.models,
            config.profiles,
            config.default_profile,
            config.registered,
            config.secrets.as_ref(),
        );
        registry.set_aliases(config.model_group_alias);
        let state = Arc::new(GatewayState {
            registry,
            upstream: upstream::Upstream::new(
                config.timeouts,
                config.secrets.clone(),
                config.upstream_proxy,
            ),
            routing: router::RouterState::new(&config.router),
            router: config.router,
            master_key: config.master_key,
            lease_sink: config.lease_sink,
            secrets: config.secrets,
            started: Instant::now(),
            max_request_body: config.max_request_body,
            instance: config.instance,
            in_flight: Default::default(),
            reload: reload::Reloader::new(config.source, &errors),
            ledger: config.ledger,
            shared: config.shared,
        });
        if let Some(shared) = &state.shared {
            registry::shared::Link::start(&state, shared);
        }
        let g = Gateway {
            listener,
            state,
            definition_errors: errors.clone(),
        };
        (g, errors)
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle for the binary's side jobs (reloading the configuration, lease expiry) that
    /// outlives [`Gateway::serve`].
    pub fn handle(&self) -> Handle {
        Handle(self.state.clone())
    }

    /// Serves on `workers` threads with a runtime each ([`workers`]) until `shutdown`
    /// completes, then finishes in-flight requests. The caller's runtime only accepts.
    pub async fn serve_workers(
        self,
        workers: usize,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        workers::serve(self.listener, server::router(self.state), workers, shutdown).await
    }

    /// Serves on the caller's runtime until `shutdown` completes, then finishes in-flight
    /// requests.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        let app = server::router(self.state);
        // Stream events are small writes: without TCP_NODELAY, Nagle's algorithm and the
        // client's delayed ACK hold each one for up to 40 ms.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A running gateway's controls, shared with the binary's side jobs. Its `Debug` output shows
/// the registry, credentials redacted.
#[derive(Clone)]
pub struct Handle(Arc<GatewayState>);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Handle").field(&self.0.registry).finish()
    }
}

impl Handle {
    /// Reads the configuration again from the [`GatewayConfig::source`] and applies it
    /// (blocking: file reads and key commands). Errors: no source, or a configuration that
    /// does not load (the running one is kept).
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        self.0.reload()
    }

    /// The gateway's metrics (`GET /metrics`): [`metrics::Metrics::observe`] counts a finished
    /// request's record.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.ledger.metrics
    }

    /// Takes `model_name` out of service (its lease expired); `true` when it was registered.
    pub fn unregister(&self, model_name: &str) -> bool {
        self.0.registry.deregister(model_name)
    }
}
