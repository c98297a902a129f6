//! `POST /v1/messages` and `POST /v1/messages/count_tokens` (Anthropic Messages API).

use crate::answer;
use crate::body::ClientBody;
use crate::dispatch;
use crate::error::ClientError;
use crate::providers::deployment::Endpoint;
use crate::state::GatewayState;
use crate::tokens;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use protocol::passthrough::Fields;
use std::sync::Arc;

pub async fn messages(
    State(gw): State<Arc<GatewayState>>,
    headers: HeaderMap,
    body: Result<ClientBody, ClientError>,
) -> Response {
    let body = body.map(|ClientBody(b)| b);
    dispatch::generate(&gw, Protocol::Anthropic, &headers, body).await
}

/// Counts input tokens: asked of the upstream when it is Anthropic (exact), else with the local
/// tokenizer over system, messages and tools.
pub async fn count_tokens(
    State(gw): State<Arc<GatewayState>>,
    headers: HeaderMap,
    ClientBody(body): ClientBody,
) -> Response {
    let err = |e: ApiError| ClientError::new(Protocol::Anthropic, e).into_response();
    let req = match protocol::anthropic::decode_request(&body) {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let profile = headers
        .get(dispatch::PROFILE_HEADER)
        .and_then(|v| v.to_str().ok());
    let snap = gw.registry.snapshot();
    if let Some(d) = snap.resolve(&req.model, profile).and_then(|r| {
        r.deployments
            .into_iter()
            .find(|d| d.protocol() == Protocol::Anthropic)
    }) && let Ok(mut f) = Fields::parse(&body)
    {
        f.set("model", &d.upstream_model.as_str().into());
        let who = answer::name(&d, &d.shown_url(Endpoint::CountTokens));
        if let Ok(resp) = gw
            .upstream
            .send(&d, Endpoint::CountTokens, f.to_vec(), false, &headers)
            .await
            && let Ok(bytes) = answer::read_body(&who, resp.body, gw.upstream.timeouts.idle).await
            && answer::check_json(&who, &bytes).is_ok()
        {
            return json(bytes.to_vec());
        }
    }
    match tokio::task::spawn_blocking(move || tokens::count_request(&req)).await {
        Ok(Ok(n)) => json(
            serde_json::json!({ "input_tokens": n })
                .to_string()
                .into_bytes(),
        ),
        Ok(Err(why)) => err(ApiError::new(
            ErrorKind::Api,
            format!("token counting failed: {why}"),
        )),
        Err(_) => err(ApiError::new(ErrorKind::Api, "token counting failed")),
    }
}

fn json(body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
