//! agent-shim's own admin endpoints (master key required), beside LiteLLM's in [`super::admin`]:
//! - `POST /admin/reload`: read the configuration files again now ([`crate::reload`]); 200 with
//!   what changed, or 422 with the located error (the previous configuration stays served);
//! - `POST /admin/keys` `{"models": [...]}`: whether the gateway itself has the upstream keys of
//!   those model groups — its own environment and `.secrets`, not the caller's — so `agent-shim
//!   with` can name a missing key before it launches an agent.
//!
//! Both do their blocking work (files, `key_command`) on tokio's blocking pool, never on a worker.

use crate::error::ClientError;
use crate::providers::deployment::ApiKey;
use crate::reload::ReloadError;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

fn error(kind: ErrorKind, status: StatusCode, message: String) -> Response {
    let e = ApiError {
        kind,
        status: status.as_u16(),
        message,
    };
    ClientError::new(Protocol::OpenAiChat, e).into_response()
}

/// `POST /admin/reload`.
pub async fn reload(State(gw): State<Arc<GatewayState>>) -> Response {
    let state = gw.clone();
    match tokio::task::spawn_blocking(move || state.reload()).await {
        Ok(Ok(report)) => Json(json!({"reloaded": true, "report": report})).into_response(),
        Ok(Err(e @ ReloadError::NoSource)) => error(
            ErrorKind::InvalidRequest,
            StatusCode::CONFLICT,
            e.to_string(),
        ),
        Ok(Err(ReloadError::Invalid(msg))) => error(
            ErrorKind::InvalidRequest,
            StatusCode::UNPROCESSABLE_ENTITY,
            msg,
        ),
        Err(e) => error(
            ErrorKind::Api,
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the reload stopped: {e}"),
        ),
    }
}

/// The body of `POST /admin/keys`: the model group names to check.
#[derive(Deserialize)]
pub struct KeysBody {
    models: Vec<String>,
}

/// The key state of one deployment of a requested group.
struct KeyState {
    group: String,
    id: String,
    provider: &'static str,
    key: ApiKey,
}

/// `POST /admin/keys`: per model group, whether it is defined, whether some deployment of it
/// has what it needs to authenticate (`usable`), and per deployment the key state: `ok`,
/// `none` (the provider needs none), `missing` (with `var`), `command_failed` (with `error`).
/// A key missing at registration is looked up again (`.secrets` may have it now).
pub async fn keys(State(gw): State<Arc<GatewayState>>, body: Bytes) -> Response {
    let b: KeysBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return error(
                ErrorKind::InvalidRequest,
                StatusCode::BAD_REQUEST,
                "expected {\"models\": [\"<model name>\", ...]}".into(),
            );
        }
    };
    let snap = gw.registry.snapshot();
    let states: Vec<KeyState> = b
        .models
        .iter()
        .flat_map(|name| snap.group(name).unwrap_or_default())
        .map(|d| KeyState {
            group: d.model_name().to_owned(),
            id: d.id.clone(),
            provider: d.provider.name,
            key: d.key.clone(),
        })
        .collect();
    let secrets = gw.secrets.clone();
    let states = tokio::task::spawn_blocking(move || {
        states
            .into_iter()
            .map(|mut s| {
                if let ApiKey::Missing { var } = &s.key
                    && let Some(v) = secrets.get(var)
                {
                    s.key = ApiKey::Value(v);
                }
                s
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let data: Vec<Value> = b
        .models
        .iter()
        .map(|name| {
            let mine: Vec<&KeyState> = states.iter().filter(|s| &s.group == name).collect();
            let usable = mine
                .iter()
                .any(|s| matches!(s.key, ApiKey::Value(_) | ApiKey::None));
            let deployments: Vec<Value> = mine.iter().map(|s| key_json(s)).collect();
            json!({
                "model_name": name,
                "defined": !mine.is_empty(),
                "usable": usable,
                "deployments": deployments,
            })
        })
        .collect();
    Json(json!({"data": data, "pid": std::process::id()})).into_response()
}

/// One deployment's key state, never the key.
fn key_json(s: &KeyState) -> Value {
    let mut v = json!({"id": s.id, "provider": s.provider});
    match &s.key {
        ApiKey::Value(_) => v["key"] = json!("ok"),
        ApiKey::None => v["key"] = json!("none"),
        ApiKey::Missing { var } => {
            v["key"] = json!("missing");
            v["var"] = json!(var);
        }
        ApiKey::CommandFailed { error } => {
            v["key"] = json!("command_failed");
            v["error"] = json!(error);
        }
    }
    v
}
