//! The axum router: routes, the master-key check, and the JSON answers for unknown paths and
//! wrong methods (body limits: [`crate::body`]).

use crate::error::ClientError;
use crate::handlers::{admin, control, health, messages, models, openai};
use crate::inflight;
use crate::state::GatewayState;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use std::sync::Arc;

/// All routes. `/health*` and `HEAD /` (Claude Code's startup probe) need no key; `/ui` (the
/// dashboard, [`crate::ui`]) asks for it through a login form. An unknown
/// path is a 404 and a known path with another method a 405 (with `allow`), both as JSON errors
/// in the path's protocol.
///
/// Serve it as `router.into_make_service()`: every connection then shares it. Served as is,
/// axum rebuilds the route table for each connection (`Router::with_state` per accepted
/// connection), ~20 KiB held for as long as the connection stays open (bench/README.md,
/// "Memory, round three").
pub fn router(state: Arc<GatewayState>) -> Router {
    let api = Router::new()
        .route("/v1/messages", post(messages::messages))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/chat/completions", post(openai::chat_completions))
        .route(
            "/v1/responses",
            post(openai::responses).get(openai::responses_websocket),
        )
        .route(
            "/responses",
            post(openai::responses).get(openai::responses_websocket),
        )
        // Generation requests (the routes above) are counted while in flight (`/health`).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            inflight::track,
        ))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/models", get(models::list))
        .route("/models", get(models::list))
        .route("/model/new", post(admin::model_new))
        .route("/model/delete", post(admin::model_delete))
        .route("/model/info", get(admin::model_info))
        .route("/v1/model/info", get(admin::model_info))
        .route("/admin/reload", post(control::reload))
        .route("/admin/keys", post(control::keys))
        .route("/metrics", get(crate::metrics::handler))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_master_key,
        ));
    Router::new()
        .route("/", get(root).head(root))
        .route("/health", get(health::health))
        .route("/health/liveliness", get(health::health))
        .route("/health/readiness", get(health::health))
        .method_not_allowed_fallback(method_not_allowed)
        .merge(api)
        // The dashboard checks the master key itself (a login form and a session cookie).
        .merge(crate::ui::routes(state.clone()))
        .fallback(not_found)
        .with_state(state)
}

async fn root() -> impl IntoResponse {
    axum::Json(serde_json::json!({"service": "agent-shim", "version": env!("CARGO_PKG_VERSION")}))
}

async fn not_found(req: Request) -> Response {
    let e = ApiError::new(
        ErrorKind::NotFound,
        format!("no such endpoint: {} {}", req.method(), req.uri().path()),
    );
    ClientError::new(protocol_of(req.uri().path()), e).into_response()
}

/// A known path asked with a method it does not serve; axum adds the `allow` header.
async fn method_not_allowed(req: Request) -> Response {
    let e = ApiError {
        kind: ErrorKind::InvalidRequest,
        status: StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        message: format!(
            "{} does not serve {} (the `allow` header lists the methods it serves)",
            req.uri().path(),
            req.method()
        ),
    };
    ClientError::new(protocol_of(req.uri().path()), e).into_response()
}

/// The protocol whose error shape a path's callers expect.
pub(crate) fn protocol_of(path: &str) -> Protocol {
    if path.starts_with("/v1/messages") {
        Protocol::Anthropic
    } else if path.ends_with("/responses") {
        Protocol::OpenAiResponses
    } else {
        Protocol::OpenAiChat
    }
}

/// The keys a client presented: `x-api-key` and `Authorization: Bearer <key>`. Claude Code sends
/// both when `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN` are both set. An empty value, a
/// header that is not valid text, a scheme other than `Bearer` or a bearer without a key
/// presents nothing.
pub(crate) fn presented_keys(h: &HeaderMap) -> impl Iterator<Item = &str> {
    let api_key = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let bearer = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, k)| k.trim());
    api_key.into_iter().chain(bearer).filter(|k| !k.is_empty())
}

async fn require_master_key(
    State(gw): State<Arc<GatewayState>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(key) = &gw.master_key {
        // The key cannot be empty (`SecretString`), and `matches` compares in constant time.
        let ok = presented_keys(req.headers()).any(|k| key.matches(k));
        if !ok {
            let what = if presented_keys(req.headers()).next().is_some() {
                "is not the gateway's master key"
            } else {
                "is missing"
            };
            let e = ApiError {
                kind: ErrorKind::Authentication,
                status: StatusCode::UNAUTHORIZED.as_u16(),
                message: format!(
                    "the API key {what}: send the master key as `Authorization: Bearer <key>` or `x-api-key`; \
                     `agent-shim env <profile>` prints it as ANTHROPIC_AUTH_TOKEN"
                ),
            };
            return ClientError::new(protocol_of(req.uri().path()), e).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn keys_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_keys(&h).count(), 0);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sk-1"),
        );
        assert_eq!(presented_keys(&h).collect::<Vec<_>>(), ["sk-1"]);
        h.insert("x-api-key", HeaderValue::from_static("sk-2"));
        assert_eq!(presented_keys(&h).collect::<Vec<_>>(), ["sk-2", "sk-1"]);
    }

    #[test]
    fn empty_or_malformed_credential_headers_present_no_key() {
        for (api_key, auth) in [
            ("", "Bearer"),
            (" ", "Bearer "),
            ("", "Bearer   "),
            ("", "Basic sk-1"),
            ("", "sk-1"),
            ("", "Token sk-1"),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-api-key", HeaderValue::from_str(api_key).unwrap());
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
            assert_eq!(presented_keys(&h).count(), 0, "{api_key:?} {auth:?}");
        }
    }
}
