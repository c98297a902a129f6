//! `GET /ui/api/now`: what the gateway is doing now, from its memory (no store needed): the
//! model groups it serves with their deployments (provider, upstream model, redacted endpoint,
//! `order`, limits, requests in flight, tokens this minute, cooldown left), the registered groups
//! (the gateway's side of the leases: `enter`, the admin API or first use registered them; the
//! refcounts and expiry times live in the CLI's state database, `agent-shim status`), the
//! deployments cooling down, and the generation requests in flight.

use crate::providers::deployment::Origin;
use crate::state::GatewayState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

/// The answer (shape: `docs/ui-api.md`).
pub async fn now(State(gw): State<Arc<GatewayState>>) -> Json<Value> {
    let snap = gw.registry.snapshot();
    let now = crate::router::now_ms();
    let mut models = Vec::new();
    let mut cooldowns = Vec::new();
    for name in snap.names() {
        let registered = snap.is_registered(name);
        let mut deployments = Vec::new();
        for d in snap.group(name).unwrap_or_default() {
            let slot = gw.routing.slot(d);
            let c = slot.candidate(now);
            let cooling = slot.cooling(now).map(|left| left.as_secs_f64());
            if let Some(left) = cooling {
                cooldowns
                    .push(json!({"model_name": name, "deployment": d.id, "remaining_s": left}));
            }
            let limits = d.route.limits;
            deployments.push(json!({
                "id": d.id,
                "provider": d.provider.name,
                "model": d.upstream_model,
                "api_base": d.shown_api_base(),
                "origin": match d.origin { Origin::Config => "config", Origin::Admin => "admin" },
                "order": (d.route.order != u32::MAX).then_some(d.route.order),
                "limits": {"rpm": limits.rpm, "tpm": limits.tpm, "max_parallel_requests": limits.max_parallel},
                "in_flight": c.in_flight,
                "tokens_this_minute": c.tokens_this_minute,
                "cooldown_remaining_s": cooling,
            }));
        }
        models.push(
            json!({"model_name": name, "registered": registered, "deployments": deployments}),
        );
    }
    let ledger = match &gw.ledger.store {
        Some(s) => json!({
            "engine": s.engine(),
            "queue_dropped": gw.ledger.sender.as_ref().map(ledger::Sender::dropped),
            "store_dropped": gw.ledger.sender.as_ref().map(ledger::Sender::store_dropped),
        }),
        None => Value::Null,
    };
    Json(json!({
        "time_ms": now,
        "in_flight": gw.in_flight.count(),
        "uptime_seconds": gw.started.elapsed().as_secs(),
        "registered": snap.registered_names(),
        "cooldowns": cooldowns,
        "models": models,
        "ledger": ledger,
    }))
}
