//! State several gateway instances share through one PostgreSQL database (issue 12 §2,
//! `database_url: postgres://…`), without Redis: models registered through the admin API, the
//! router's cooldowns, and its rpm/tpm counters.
//!
//! The gateway keeps serving from its own memory; this module mirrors that memory to and from the
//! database in background tasks, so the request path never waits on PostgreSQL:
//! - a **writer** task ([`sync`]) owns one connection: it stores and deletes registrations
//!   (queued by [`Shared::store_model`] and friends), and every [`USAGE_INTERVAL`] adds this
//!   instance's new requests and tokens per deployment and minute to `router_usage`, reads the
//!   other instances' totals for the current minute back, and publishes new cooldowns;
//! - a **listener** task owns another: `LISTEN` on [`CHANNEL`], applying what the other
//!   instances announce (`NOTIFY`) within milliseconds; after every (re)connect it reloads the
//!   whole `registered_models` table and the live cooldowns, so nothing said while it was away
//!   is missed.
//!
//! Both reconnect with backoff when the database goes away; the instance serves with its own
//! state meanwhile and says so once (a warning), and once more when the database is back.
//! The gateway side is the [`Local`] trait (crates/gateway's `registry::shared`).
//!
//! Secrets: the literal keys of a registration (`api_key` and the other secret fields, taken
//! out by the gateway) are stored encrypted with AES-256-GCM under a key derived from the
//! `master_key` ([`crypt`]); `os.environ/NAME` references stay in the definition as they are.
//! Without a master key, a registration with literal keys is not shared (refused with
//! [`NoMasterKey`]; the gateway warns).
//!
//! Tables: `migrations/V2__shared_state.sql`, applied on connect (idempotent).
//!
//! Connections are made without TLS (tokio-postgres `NoTls`): a URL with `sslmode=require`
//! cannot connect (a warning says why), `sslmode=prefer` (the default) falls back to plain.

mod crypt;
mod sync;

pub use crypt::Cipher;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The `LISTEN`/`NOTIFY` channel every instance uses.
pub const CHANNEL: &str = "agent_shim_shared";

/// How often an instance adds its usage to `router_usage`, reads the others' and publishes its
/// cooldowns.
pub const USAGE_INTERVAL: Duration = Duration::from_millis(250);

/// The schema of the shared tables (also refinery's migration V2).
pub const MIGRATION: &str = include_str!("../../migrations/V2__shared_state.sql");

/// A registered model as stored: its deployment id, model group, and the definition (a LiteLLM
/// `model_list` entry as JSON) with its secrets restored.
#[derive(Clone, PartialEq)]
pub struct StoredModel {
    pub id: String,
    pub model_name: String,
    pub definition: Value,
}

impl std::fmt::Debug for StoredModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The definition may hold keys: never shown.
        f.debug_struct("StoredModel")
            .field("id", &self.id)
            .field("model_name", &self.model_name)
            .finish_non_exhaustive()
    }
}

/// This instance's new usage of one deployment in one wall-clock minute (Unix seconds / 60).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub deployment: String,
    pub minute: u64,
    pub requests: u64,
    pub tokens: u64,
}

/// The other instances' usage of one deployment in the current minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    pub deployment: String,
    pub requests: u64,
    pub tokens: u64,
}

/// The gateway's side, called from the background tasks (never from a request). Implementations
/// must return quickly: hand anything slow (resolving keys) to a blocking task.
pub trait Local: Send + Sync {
    /// `false` once the gateway is gone: the tasks stop.
    fn alive(&self) -> bool;
    /// The requests and tokens counted since the last call, per deployment and minute.
    fn usage_deltas(&self) -> Vec<UsageDelta>;
    /// The other instances' usage in `minute`; a deployment not listed has none.
    fn others_usage(&self, minute: u64, totals: &[UsageTotal]);
    /// Cooldowns this instance started since the last call: `(deployment id, until Unix ms)`.
    fn new_cooldowns(&self) -> Vec<(String, u64)>;
    /// Another instance cooled `deployment` down until `until_ms` (Unix ms).
    fn cooled_down(&self, deployment: &str, until_ms: u64);
    /// A model was registered (or registered again) on some instance.
    fn model_stored(&self, model: StoredModel);
    /// A deployment was deleted on some instance.
    fn model_deleted(&self, id: &str);
    /// A whole model group was unregistered on some instance.
    fn group_deleted(&self, model_name: &str);
    /// Every shared registration, after a (re)connect: models the instance got from the database
    /// before and that are no longer listed were deleted meanwhile.
    fn models_loaded(&self, models: Vec<StoredModel>);
}

/// Why a registration is not shared.
#[derive(Debug, thiserror::Error)]
#[error(
    "model '{model_name}' has literal keys ({fields}) and no master_key is set: it is served by this \
     instance only. Set master_key in config.yaml (the same on every instance) to share keyed \
     registrations encrypted, or give the key as os.environ/NAME"
)]
pub struct NoMasterKey {
    pub model_name: String,
    pub fields: String,
}

/// Why the shared state cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The URL does not parse (its text is never shown: it may hold the password).
    #[error(
        "database_url is not a valid PostgreSQL URL: {0}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    Url(String),
}

/// One queued change to the shared registrations.
#[derive(Clone)]
pub(crate) enum Op {
    Store {
        id: String,
        model_name: String,
        definition: String,
        secrets: Option<String>,
    },
    Delete {
        id: String,
    },
    DeleteGroup {
        model_name: String,
    },
}

/// A gateway instance's link to the shared database (module docs). Made once at start with
/// [`Shared::connect`], handed to the gateway, which calls [`Shared::start`].
pub struct Shared {
    config: tokio_postgres::Config,
    /// This process's id in `router_usage` and the notifications (a fresh UUID per start).
    instance: String,
    cipher: Option<Cipher>,
    ops: mpsc::UnboundedSender<Op>,
    ops_rx: Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
    initial: Mutex<Vec<StoredModel>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("instance", &self.instance)
            .field("encrypts", &self.cipher.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Parses `url`, creates the shared tables if needed and reads the registered models (see
    /// [`Shared::take_initial`]). A database that cannot be reached now is not an error: a
    /// warning says so, and the tasks keep trying once started. `master_key` keys the secrets'
    /// encryption (module docs).
    pub async fn connect(url: &str, master_key: Option<&str>) -> Result<Shared, SharedError> {
        let config = crate::store::pg_config(url)
            .map_err(|e: tokio_postgres::Error| SharedError::Url(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Shared {
            config,
            instance: uuid_like(),
            cipher: master_key.and_then(Cipher::from_master_key),
            ops: tx,
            ops_rx: Mutex::new(Some(rx)),
            initial: Mutex::new(Vec::new()),
        };
        match sync::open(&shared.config).await {
            Ok(client) => match sync::load_models(&client, shared.cipher.as_ref()).await {
                Ok(models) => {
                    tracing::info!(
                        models = models.len(),
                        "shared state: connected to PostgreSQL; {} registered model(s) loaded",
                        models.len()
                    );
                    *lock(&shared.initial) = models;
                }
                Err(e) => tracing::warn!("shared state: cannot read registered_models: {e}"),
            },
            Err(e) => tracing::warn!(
                "shared state: the database (database_url) cannot be reached: {e}; serving with \
                 this instance's own models and counters until it can"
            ),
        }
        Ok(shared)
    }

    /// This instance's id in the shared tables.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The registrations read by [`Shared::connect`] (once; later calls get none).
    pub fn take_initial(&self) -> Vec<StoredModel> {
        std::mem::take(&mut *lock(&self.initial))
    }

    /// Starts the writer and listener tasks on the current Tokio runtime (once; later calls do
    /// nothing). They run until `local` says it is gone.
    pub fn start(self: &Arc<Self>, local: Arc<dyn Local>) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!(
                "shared state: not started (no async runtime); this instance serves alone"
            );
            return;
        }
        let Some(rx) = lock(&self.ops_rx).take() else {
            return;
        };
        tokio::spawn(sync::writer(self.clone(), local.clone(), rx));
        tokio::spawn(sync::listener(self.clone(), local));
    }

    /// Stores a registration (replacing one with the same `id`) and tells the other instances.
    /// `secrets` are the literal key fields of `litellm_params` taken out of `definition`; they
    /// are stored encrypted. Queued: returns at once. Errors: secrets and no master key.
    pub fn store_model(
        &self,
        id: &str,
        model_name: &str,
        definition: &Value,
        secrets: Map<String, Value>,
    ) -> Result<(), NoMasterKey> {
        let secrets = if secrets.is_empty() {
            None
        } else {
            let fields = secrets.keys().cloned().collect::<Vec<_>>().join(", ");
            let no_key = || NoMasterKey {
                model_name: model_name.to_owned(),
                fields: fields.clone(),
            };
            let cipher = self.cipher.as_ref().ok_or_else(no_key)?;
            let plain = Value::Object(secrets).to_string();
            Some(cipher.seal(id, plain.as_bytes()).ok_or_else(no_key)?)
        };
        let _ = self.ops.send(Op::Store {
            id: id.to_owned(),
            model_name: model_name.to_owned(),
            definition: definition.to_string(),
            secrets,
        });
        Ok(())
    }

    /// Deletes the registration of deployment `id` everywhere. Queued.
    pub fn delete_model(&self, id: &str) {
        let _ = self.ops.send(Op::Delete { id: id.to_owned() });
    }

    /// Deletes every registration of group `model_name` everywhere. Queued.
    pub fn delete_group(&self, model_name: &str) {
        let _ = self.ops.send(Op::DeleteGroup {
            model_name: model_name.to_owned(),
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random 128-bit id in hex (this process's instance id).
fn uuid_like() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `definition` with the decrypted `secrets` put back into its `litellm_params`.
fn restore(mut definition: Value, secrets: Map<String, Value>) -> Value {
    if let Some(params) = definition
        .get_mut("litellm_params")
        .and_then(Value::as_object_mut)
    {
        params.extend(secrets);
    }
    definition
}

#[cfg(test)]
mod tests;
