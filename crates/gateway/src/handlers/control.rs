//! agent-shim's own admin endpoints (master key required), beside LiteLLM's in [`super::admin`]:
//! - `POST /admin/reload`: read the configuration files again now ([`crate::reload`]); 200 with
//!   what changed, or 422 with the located error (the previous configuration stays served);
//! - `POST /admin/keys` `{"models": [...]}`: whether the gateway itself has the upstream keys of
//!   those model groups — its own environment and `.secrets`, not the caller's — so `agent-shim
//!   with` can name a missing key before it launches an agent.
//!
//! Both do their blocking work (files, `key_command`) on tokio's blocking pool, never on a worker.

use crate::error::{ClientError, ClientProtocol};
use crate::providers::deployment::ApiKey;
use crate::reload::ReloadError;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
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
    ClientError::new(ClientProtocol::OpenAiChat, e).into_response()
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

#[derive(Deserialize)]
pub struct KeysBody {
    models: Vec<String>,
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
    // (group, deployment id, provider, key state) with the variables to look up again.
    let mut rows: Vec<(String, Option<(String, &'static str, ApiKey)>)> = Vec::new();
    for name in &b.models {
        match snap.group(name) {
            None => rows.push((name.clone(), None)),
            Some(ds) => rows.extend(ds.iter().map(|d| {
                (
                    name.clone(),
                    Some((d.id.clone(), d.provider.name, d.key.clone())),
                )
            })),
        }
    }
    let secrets = gw.secrets.clone();
    let looked_up = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|(name, d)| {
                let d = d.map(|(id, provider, key)| {
                    let key = match key {
                        ApiKey::Missing { var } => match secrets.get(&var) {
                            Some(v) => ApiKey::Value(v),
                            None => ApiKey::Missing { var },
                        },
                        other => other,
                    };
                    (id, provider, key)
                });
                (name, d)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut out: Vec<Value> = Vec::new();
    for name in &b.models {
        let mine: Vec<&(String, &'static str, ApiKey)> = looked_up
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, d)| d.as_ref())
            .collect();
        let deployments: Vec<Value> = mine
            .iter()
            .map(|(id, provider, key)| {
                let mut v = json!({"id": id, "provider": provider});
                match key {
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
            })
            .collect();
        let usable = mine
            .iter()
            .any(|(_, _, k)| matches!(k, ApiKey::Value(_) | ApiKey::None));
        out.push(json!({
            "model_name": name,
            "defined": !mine.is_empty(),
            "usable": usable,
            "deployments": deployments,
        }));
    }
    Json(json!({"data": out, "pid": std::process::id()})).into_response()
}
