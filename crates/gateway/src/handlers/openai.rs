//! The OpenAI-shaped client endpoints: `POST /v1/chat/completions` and `POST /v1/responses`
//! (HTTP with SSE). A WebSocket upgrade on `/v1/responses` (Codex's built-in provider tries one
//! first, agents.md §2) is refused at once with 426, so the client falls back to HTTP without its
//! retry delay.

use crate::body::ClientBody;
use crate::dispatch;
use crate::error::ClientError;
use crate::state::GatewayState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use std::sync::Arc;

pub async fn chat_completions(
    State(gw): State<Arc<GatewayState>>,
    headers: HeaderMap,
    body: Result<ClientBody, ClientError>,
) -> Response {
    let body = body.map(|ClientBody(b)| b);
    dispatch::generate(&gw, Protocol::OpenAiChat, &headers, body).await
}

pub async fn responses(
    State(gw): State<Arc<GatewayState>>,
    headers: HeaderMap,
    body: Result<ClientBody, ClientError>,
) -> Response {
    let body = body.map(|ClientBody(b)| b);
    dispatch::generate(&gw, Protocol::OpenAiResponses, &headers, body).await
}

/// `GET /v1/responses`: the WebSocket transport is not offered.
pub async fn responses_websocket() -> Response {
    let e = ApiError {
        kind: ErrorKind::InvalidRequest,
        status: StatusCode::UPGRADE_REQUIRED.as_u16(),
        message: "agent-shim serves the Responses API over HTTP only: POST /v1/responses with \
                  \"stream\": true (set supports_websockets = false for this provider)"
            .into(),
    };
    let mut r = ClientError::new(Protocol::OpenAiResponses, e).into_response();
    r.headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static("HTTP/1.1"));
    r
}
