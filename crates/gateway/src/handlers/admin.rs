//! LiteLLM-compatible admin API (master key required): `POST /model/new`, `POST /model/delete`,
//! `GET /model/info` (LiteLLM proxy docs, "Model Management"). Errors use OpenAI's error shape,
//! as LiteLLM's do. Keys are never echoed: `litellm_params.api_key` is shown redacted.

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

/// The LiteLLM `model_info` view of a deployment, with our additions.
fn info(d: &Deployment, registered: bool) -> Value {
    let mut model_info =
        serde_json::to_value(&d.definition.model_info).unwrap_or_else(|_| json!({}));
    model_info["id"] = json!(d.id);
    model_info["registered"] = json!(registered);
    model_info["provider"] = json!(d.provider.name);
    model_info["protocol"] = json!(d.protocol().as_str());
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
            let mut v = info(&d, true);
            v["model_id"] = json!(d.id);
            Json(v).into_response()
        }
        Err(e) => bad(ErrorKind::InvalidRequest, e.to_string()),
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
        .map(|d| info(d, snap.is_registered(d.model_name())))
        .collect();
    Json(json!({ "data": data }))
}
