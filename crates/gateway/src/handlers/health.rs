//! `GET /health` (and LiteLLM's `/health/liveliness`, `/health/readiness`): the gateway answers,
//! with what a command needs to know whose gateway it found and whether it may restart it: the
//! version, the installation (`instance`: a hash of the state dir, the state dir when listening on
//! loopback, the user id), the generation requests in flight (`open_requests`, streams included)
//! the models the profiles' scenario rules chose (`scenario_routes`), and the state of the
//! configuration (`config.generation` counts reloads, `config.last_error`
//! says why the last one was refused). No upstream is called; no key is needed.

use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn health(State(gw): State<Arc<GatewayState>>) -> Json<Value> {
    let snap = gw.registry.snapshot();
    Json(json!({
        "status": "healthy",
        "service": "agent-shim",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "instance": gw.instance.id,
        "state_dir": gw.instance.state_dir,
        "uid": gw.instance.uid,
        "uptime_seconds": gw.started.elapsed().as_secs(),
        "models": snap.registered_names().len(),
        "defined_models": snap.names().len(),
        "open_requests": gw.in_flight.count(),
        "scenario_routes": gw.routing.scenario_routes.to_json(),
        "config": {
            "generation": gw.reload.generation(),
            "last_error": gw.reload.last_error(),
        },
    }))
}
