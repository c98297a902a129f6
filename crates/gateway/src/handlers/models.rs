//! `GET /v1/models`: Anthropic's list shape when the client sends `anthropic-version`, OpenAI's
//! otherwise.

use crate::ids::unix_now;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn list(State(gw): State<Arc<GatewayState>>, headers: HeaderMap) -> Json<Value> {
    let snap = gw.registry.snapshot();
    let names = snap.registered_names();
    if headers.contains_key("anthropic-version") {
        let data: Vec<Value> = names
            .iter()
            .map(|n| json!({"id": n, "type": "model", "display_name": n, "created_at": "2025-01-01T00:00:00Z"}))
            .collect();
        return Json(json!({
            "data": data, "has_more": false,
            "first_id": names.first(), "last_id": names.last(),
        }));
    }
    let created = unix_now();
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({"id": n, "object": "model", "created": created, "owned_by": "agent-shim"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}
