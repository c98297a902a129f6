//! LiteLLM-compatible admin API (master key required): `POST /model/new`, `POST /model/delete`,
//! `GET /model/info` (LiteLLM proxy docs, "Model Management"). Errors use OpenAI's error shape,
//! as LiteLLM's do. Keys are never echoed: `litellm_params.api_key` is shown redacted.
//!
//! With a PostgreSQL `database_url`, `/model/new` and `/model/delete` also store the change in
//! the database, queued for a background task (the answer does not wait for it), which tells the
//! other instances ([`crate::registry::shared`]); `/model/info` then shows every instance's
//! usage this minute.

use crate::body::ClientBody;
use crate::error::ClientError;
use crate::model::ModelDefinition;
use crate::providers::deployment::Deployment;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

fn bad(kind: ErrorKind, msg: String) -> Response {
    ClientError::new(Protocol::OpenAiChat, ApiError::new(kind, msg)).into_response()
}

/// The LiteLLM `model_info` view of a deployment, with our additions: whether it is
/// registered, its provider and protocol, and when the router counts it, `usage_this_minute`
/// (`requests`, `tokens`: every instance's, in the current wall-clock minute) and
/// `cooldown_remaining_ms` (0 when in rotation).
fn info(gw: &GatewayState, d: &Deployment, registered: bool) -> Value {
    let mut model_info =
        serde_json::to_value(&d.definition.model_info).unwrap_or_else(|_| json!({}));
    model_info["id"] = json!(d.id);
    model_info["registered"] = json!(registered);
    model_info["provider"] = json!(d.provider.name);
    model_info["protocol"] = json!(d.protocol().as_str());
    if let Some(slot) = gw.routing.slot_by_id(&d.id) {
        let now = crate::router::now_ms();
        model_info["usage_this_minute"] = json!({
            "requests": slot.requests_this_minute(now),
            "tokens": slot.tokens_this_minute(now),
        });
        model_info["cooldown_remaining_ms"] = json!(slot.cooling(now).map_or(0, |d| d.as_millis()));
    }
    json!({
        "model_name": d.model_name(),
        "litellm_params": d.definition.litellm_params,
        "model_info": model_info,
    })
}

/// `POST /model/new`: adds a deployment (replacing one with the same id) and registers it.
pub async fn model_new(
    State(gw): State<Arc<GatewayState>>,
    ClientBody(body): ClientBody,
) -> Response {
    let def: ModelDefinition = match protocol::shape::from_json(&body) {
        Ok(d) => d,
        Err(e) => {
            return bad(
                ErrorKind::InvalidRequest,
                format!(
                    "invalid /model/new body: {e}; expected {{model_name, litellm_params: {{model, …}}, model_info?}}"
                ),
            );
        }
    };
    // Resolving the key may run `key_command` and read `.secrets`: never on a worker, where it
    // would stall every stream the worker serves.
    let state = gw.clone();
    let added =
        tokio::task::spawn_blocking(move || state.registry.upsert(def, state.secrets.as_ref()))
            .await;
    let added = match added {
        Ok(r) => r,
        Err(e) => {
            return bad(
                ErrorKind::Api,
                format!("registering the model stopped: {e}"),
            );
        }
    };
    match added {
        Ok(d) => {
            tracing::info!(model = d.model_name(), id = %d.id, provider = d.provider.name, "model registered");
            if let Some(shared) = &gw.shared {
                share(shared, &d, &body);
            }
            let mut v = info(&gw, &d, true);
            v["model_id"] = json!(d.id);
            Json(v).into_response()
        }
        Err(e) => bad(ErrorKind::InvalidRequest, e.to_string()),
    }
}

/// Stores a registration for the other instances: the body as given, its secrets apart
/// (encrypted; `ledger::shared`). Without a master key a keyed one stays here, with a warning.
fn share(shared: &ledger::shared::Shared, d: &Deployment, body: &[u8]) {
    let Ok(mut def) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let secrets = crate::registry::shared::split_secrets(&mut def);
    if let Err(e) = shared.store_model(&d.id, d.model_name(), &def, secrets) {
        tracing::warn!("{e}");
    }
}

#[derive(Deserialize)]
pub struct DeleteBody {
    id: Option<String>,
    model_name: Option<String>,
}

/// `POST /model/delete`: `{"id"}` (LiteLLM) removes one deployment; `{"model_name"}` unregisters
/// a whole group. Configured definitions stay defined (they are only unregistered).
pub async fn model_delete(
    State(gw): State<Arc<GatewayState>>,
    ClientBody(body): ClientBody,
) -> Response {
    let b: DeleteBody = match protocol::shape::from_json(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad(
                ErrorKind::InvalidRequest,
                format!(
                    "invalid /model/delete body: {e}; expected {{\"id\"}} or {{\"model_name\"}}"
                ),
            );
        }
    };
    let removed = match (&b.id, &b.model_name) {
        (Some(id), _) => gw
            .registry
            .delete_deployment(id)
            .map(|name| (id.clone(), name)),
        (None, Some(name)) => gw
            .registry
            .deregister(name)
            .then(|| (name.clone(), name.clone())),
        (None, None) => {
            return bad(
                ErrorKind::InvalidRequest,
                "give the deployment's \"id\" or a \"model_name\"".into(),
            );
        }
    };
    match removed {
        Some((what, name)) => {
            tracing::info!(model = %name, "model unregistered");
            if let Some(shared) = &gw.shared {
                match &b.id {
                    Some(id) => shared.delete_model(id),
                    None => shared.delete_group(&name),
                }
            }
            Json(json!({"message": format!("Model: {what} deleted successfully"), "model_name": name})).into_response()
        }
        None => {
            let what = b.id.or(b.model_name).unwrap_or_default();
            bad(
                ErrorKind::NotFound,
                format!("no registered model or deployment '{what}' (see GET /model/info)"),
            )
        }
    }
}

/// `GET /model/info`: every defined deployment, with `model_info.registered`.
pub async fn model_info(State(gw): State<Arc<GatewayState>>) -> Json<Value> {
    let snap = gw.registry.snapshot();
    let data: Vec<Value> = snap
        .deployments()
        .map(|d| info(&gw, d, snap.is_registered(d.model_name())))
        .collect();
    Json(json!({ "data": data }))
}
