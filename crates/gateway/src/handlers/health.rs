//! `GET /health` (and LiteLLM's `/health/liveliness`, `/health/readiness`): the gateway answers,
//! with its version, uptime and model count. No upstream is called.

use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn health(State(gw): State<Arc<GatewayState>>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "service": "agent-shim",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_seconds": gw.started.elapsed().as_secs(),
        "models": gw.registry.snapshot().registered_names().len(),
        "defined_models": gw.registry.snapshot().names().len(),
    }))
}
