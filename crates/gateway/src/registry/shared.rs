//! The gateway's side of the state several instances share through PostgreSQL (issue 12 §2; the
//! database side is `ledger::shared`): [`Link`] is the `ledger::shared::Local` the background
//! tasks call. Registrations another instance made (or deleted) are applied to the [`Registry`]
//! in order on one thread of their own (building a deployment may resolve its key: a
//! `key_command`, the `.secrets` file); usage and cooldowns go to and come from the
//! [`crate::router::RouterState`] at once (atomics).
//!
//! What is stored of a registration: the `/model/new` body as given, minus its secrets
//! ([`split_secrets`]: every `litellm_params` value the gateway would redact, except
//! `os.environ/NAME` references), which `ledger::shared` encrypts under the master key.
//!
//! Not shared: lease expiry. The janitor's unregistering ([`crate::Handle::unregister`]) stays
//! on its instance, as leases belong to one machine's state database; a registration is
//! removed from every instance by `/model/delete` only.

use crate::model::ModelDefinition;
use crate::redact;
use crate::state::GatewayState;
use ledger::shared::{Local, Shared, StoredModel, UsageDelta, UsageTotal};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Takes the literal secrets out of a model definition's `litellm_params` (a `/model/new`
/// body) and returns them: each value [`redact::param`] would not show as it is (`api_key`,
/// `aws_secret_access_key`, `extra_headers`, an `api_base` with credentials, …), except
/// `os.environ/NAME` references, which name a secret without holding it.
pub fn split_secrets(definition: &mut Value) -> Map<String, Value> {
    let Some(params) = definition
        .get_mut("litellm_params")
        .and_then(Value::as_object_mut)
    else {
        return Map::new();
    };
    let secret: Vec<String> = params
        .iter()
        .filter(|(k, v)| {
            let reference = v
                .as_str()
                .is_some_and(|s| s.trim_start().starts_with("os.environ/"));
            !reference && redact::param(k, v) != **v
        })
        .map(|(k, _)| k.clone())
        .collect();
    secret
        .into_iter()
        .filter_map(|k| params.remove_entry(&k))
        .collect()
}

/// A registration change another instance announced, applied in order.
enum Change {
    Stored(StoredModel),
    Deleted(String),
    GroupDeleted(String),
    Loaded(Vec<StoredModel>),
}

/// The gateway as the shared-state tasks see it (module docs).
pub struct Link {
    gw: Weak<GatewayState>,
    changes: Mutex<mpsc::Sender<Change>>,
}

impl Link {
    /// Applies `shared`'s registrations read at start to `gw`'s registry, then starts the
    /// shared-state tasks and the thread that applies later changes.
    pub fn start(gw: &Arc<GatewayState>, shared: &Arc<Shared>) {
        let initial = shared.take_initial();
        let mut from_db = HashSet::new();
        for m in initial {
            if apply_stored(gw, &m) {
                from_db.insert(m.id);
            }
        }
        let (tx, rx) = mpsc::channel();
        let weak = Arc::downgrade(gw);
        let spawned = std::thread::Builder::new()
            .name("shared-registry".into())
            .spawn(move || applier(weak, rx, from_db));
        if let Err(e) = spawned {
            tracing::warn!(
                "shared state: cannot start the registry thread: {e}; other instances' registrations are not applied here"
            );
        }
        shared.start(Arc::new(Link {
            gw: Arc::downgrade(gw),
            changes: Mutex::new(tx),
        }));
    }

    fn send(&self, c: Change) {
        let tx = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tx.send(c);
    }
}

/// Registers one stored model; `false` (with a warning) when it cannot be served here.
fn apply_stored(gw: &GatewayState, m: &StoredModel) -> bool {
    let def: ModelDefinition = match serde_json::from_value(m.definition.clone()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(model = %m.model_name, deployment = %m.id, "shared state: a registered model's definition does not load here: {e}");
            return false;
        }
    };
    match gw.registry.upsert(def, gw.secrets.as_ref()) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(deployment = %m.id, "shared state: not serving a shared registration: {e}");
            false
        }
    }
}

/// The registry thread: applies changes in order until the gateway is gone. `from_db`: the
/// deployments this instance has from the database, so a reload can tell which were deleted
/// while it was away.
fn applier(gw: Weak<GatewayState>, rx: mpsc::Receiver<Change>, mut from_db: HashSet<String>) {
    loop {
        let change = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(c) => c,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if gw.strong_count() == 0 {
                    return;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let Some(gw) = gw.upgrade() else { return };
        match change {
            Change::Stored(m) => {
                if apply_stored(&gw, &m) {
                    from_db.insert(m.id);
                }
            }
            Change::Deleted(id) => {
                from_db.remove(&id);
                if let Some(name) = gw.registry.delete_deployment(&id) {
                    tracing::info!(model = %name, deployment = %id, "model unregistered on another instance");
                }
            }
            Change::GroupDeleted(name) => {
                if gw.registry.deregister(&name) {
                    tracing::info!(model = %name, "model unregistered on another instance");
                }
            }
            Change::Loaded(models) => {
                let listed: HashSet<String> = models.iter().map(|m| m.id.clone()).collect();
                for m in &models {
                    apply_stored(&gw, m);
                }
                for gone in from_db.difference(&listed) {
                    if let Some(name) = gw.registry.delete_deployment(gone) {
                        tracing::info!(model = %name, deployment = %gone, "model unregistered on another instance while the database was away");
                    }
                }
                from_db = listed;
            }
        }
    }
}

impl Local for Link {
    fn alive(&self) -> bool {
        self.gw.strong_count() > 0
    }

    fn usage_deltas(&self) -> Vec<UsageDelta> {
        self.gw
            .upgrade()
            .map(|gw| gw.routing.usage_deltas())
            .unwrap_or_default()
    }

    fn others_usage(&self, minute: u64, totals: &[UsageTotal]) {
        if let Some(gw) = self.gw.upgrade() {
            gw.routing.others_usage(minute, totals);
        }
    }

    fn new_cooldowns(&self) -> Vec<(String, u64)> {
        self.gw
            .upgrade()
            .map(|gw| gw.routing.new_cooldowns())
            .unwrap_or_default()
    }

    fn cooled_down(&self, deployment: &str, until_ms: u64) {
        if let Some(gw) = self.gw.upgrade() {
            gw.routing.cooled_down(deployment, until_ms);
        }
    }

    fn model_stored(&self, model: StoredModel) {
        self.send(Change::Stored(model));
    }

    fn model_deleted(&self, id: &str) {
        self.send(Change::Deleted(id.to_owned()));
    }

    fn group_deleted(&self, model_name: &str) {
        self.send(Change::GroupDeleted(model_name.to_owned()));
    }

    fn models_loaded(&self, models: Vec<StoredModel>) {
        self.send(Change::Loaded(models));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_secrets_are_taken_out_and_references_stay() {
        let mut d = json!({"model_name": "m", "litellm_params": {
            "model": "bedrock/claude", "api_key": "sk-live-1", "rpm": 5,
            "aws_secret_access_key": "wJalr", "aws_region_name": "eu-west-1",
            "aws_access_key_id": "os.environ/AWS_ACCESS_KEY_ID",
            "extra_headers": {"x-tenant": "t-secret"},
            "api_base": "https://user:pw@host/v1"}});
        let s = split_secrets(&mut d);
        let mut keys: Vec<&str> = s.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "api_base",
                "api_key",
                "aws_secret_access_key",
                "extra_headers"
            ]
        );
        assert_eq!(
            d["litellm_params"],
            json!({"model": "bedrock/claude", "rpm": 5, "aws_region_name": "eu-west-1",
                   "aws_access_key_id": "os.environ/AWS_ACCESS_KEY_ID"})
        );
    }
}
