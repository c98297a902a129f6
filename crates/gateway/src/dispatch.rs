//! Serving one generation request: resolve the model group, then try its deployments in order
//! (with retries on retryable failures before anything reached the client), choosing per
//! deployment between byte pass-through (same protocol on both sides), translation through the
//! internal model, and the mock answer.

use crate::answer;
use crate::error::{ClientError, unknown_model};
use crate::ids::{new_id, unix_now};
use crate::providers::deployment::{Deployment, Endpoint};
use crate::request_log::RequestLog;
use crate::state::GatewayState;
use crate::stream_loop::{self, StreamSettings};
use crate::upstream::UpstreamError;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use protocol::Protocol;
use protocol::anthropic;
use protocol::ir::{ApiError, Dropped, ErrorKind, Request};
use protocol::passthrough::Fields;
use protocol::shape::ShapeError;
use protocol::target::{ResponseContext, ToolNames};
use std::time::Duration;

/// Header naming what a cross-protocol translation could not carry (DESIGN.md §4.1).
pub const DROPPED_HEADER: &str = "x-agent-shim-dropped";
/// Header choosing the profile whose tiers resolve Claude model ids.
pub const PROFILE_HEADER: &str = "x-agent-shim-profile";

/// Upstream response headers passed on to the client.
const PASSED_HEADERS: &[&str] = &[
    "retry-after",
    "request-id",
    "x-request-id",
    "x-agent-shim-cost-usd",
];
const PASSED_PREFIXES: &[&str] = &["anthropic-ratelimit-", "x-ratelimit-"];

/// What the client sent, read once.
struct Incoming<'a> {
    client: Protocol,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    fields: Fields<'a>,
    model: String,
    stream: bool,
    /// The decoded request, made on first need and reused across attempts.
    decoded: Option<Request>,
}

/// Serves a generation request (`/v1/messages` or `/v1/chat/completions`).
pub async fn generate(
    gw: &GatewayState,
    client: Protocol,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match try_generate(gw, client, headers, &body).await {
        Ok(r) => r,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

async fn try_generate(
    gw: &GatewayState,
    client: Protocol,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ClientError> {
    let err = |e: ApiError| ClientError::new(client, e);
    let fields = Fields::parse(body).map_err(err)?;
    // The fields read here are checked whatever the route; the rest of the body is checked by
    // the request decoder when translating, and by the upstream on pass-through.
    let shape = |e: ShapeError| err(e.into_api_error("invalid request body"));
    let model = fields
        .field::<String>("model")
        .map_err(shape)?
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            err(ApiError::invalid_request(
                "the request has no `model` field",
            ))
        })?;
    let stream = fields
        .field::<bool>("stream")
        .map_err(shape)?
        .unwrap_or(false);
    let profile = headers.get(PROFILE_HEADER).and_then(|v| v.to_str().ok());
    let snap = gw.registry.snapshot();
    let Some(resolved) = snap.resolve(&model, profile) else {
        let mut log = RequestLog::new(client.as_str(), &model, stream);
        log.status = 404;
        return Err(err(unknown_model(&model, snap.names())));
    };
    if !resolved.registered {
        // Defined but not registered: served anyway, and leased (DESIGN.md §4.4).
        if !gw
            .registry
            .register(std::slice::from_ref(&resolved.group))
            .is_empty()
            && let Some(sink) = &gw.lease_sink
        {
            sink.leased(&resolved.group);
        }
    }
    let mut req = Incoming {
        client,
        headers,
        body,
        fields,
        model,
        stream,
        decoded: None,
    };
    let retries = gw.router.num_retries;
    let mut last: Option<UpstreamError> = None;
    for d in &resolved.deployments {
        for attempt in 0..=retries {
            let mut log = RequestLog::new(client.as_str(), &req.model, stream);
            log.group = Some(resolved.group.clone());
            log.provider = Some(d.provider.name);
            log.upstream_model = Some(d.upstream_model.clone());
            match serve_with(gw, d, &mut req, log).await {
                Ok(r) => return Ok(r),
                Err(Failure::Client(e)) => return Err(e),
                Err(Failure::Upstream(e)) => {
                    tracing::warn!(
                        model = %req.model, provider = d.provider.name, attempt,
                        error = %crate::redact::urls_in(&e.error.message),
                        "upstream attempt failed"
                    );
                    let wait = if e.retryable && attempt < retries {
                        backoff(attempt, e.retry_after.as_ref(), gw.router.max_retry_after)
                    } else {
                        None
                    };
                    last = Some(e);
                    match wait {
                        Some(w) => tokio::time::sleep(w).await,
                        None => break,
                    }
                }
            }
        }
        if last
            .as_ref()
            .is_some_and(|e| !e.another_deployment_may_serve())
        {
            break;
        }
    }
    let Some(e) = last else {
        // Only a group with no deployment gets here: a registry invariant, answered, not panicked.
        return Err(err(ApiError::new(
            ErrorKind::NotFound,
            format!(
                "model '{}' (group '{}') has no deployment to send it to; add one to its definition",
                req.model, resolved.group
            ),
        )));
    };
    Err(ClientError {
        protocol: client,
        error: e.error,
        retry_after: e.retry_after,
    })
}

/// How long to wait before attempt `attempt + 1`: the upstream's `retry-after` when it is short
/// enough, else exponential backoff from 250 ms. `None` when `retry-after` is too long to wait.
fn backoff(attempt: u32, retry_after: Option<&HeaderValue>, max: Duration) -> Option<Duration> {
    if let Some(secs) = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
    {
        let d = Duration::from_secs_f64(secs.max(0.0));
        return (d <= max).then_some(d);
    }
    Some(Duration::from_millis(250 << attempt.min(6)))
}

enum Failure {
    /// The request itself is wrong: no other deployment will do better.
    Client(ClientError),
    Upstream(UpstreamError),
}

async fn serve_with(
    gw: &GatewayState,
    d: &Deployment,
    req: &mut Incoming<'_>,
    log: RequestLog,
) -> Result<Response, Failure> {
    // History that holds reasoning from another model family must be cleaned first, which
    // needs the full translation path (protocols.md §9).
    if d.protocol() == req.client && !has_foreign_reasoning(req) {
        pass_through(gw, d, req, log).await
    } else {
        translate(gw, d, req, log).await
    }
}

fn has_foreign_reasoning(req: &Incoming<'_>) -> bool {
    req.client == Protocol::Anthropic && memfind(req.body, anthropic::FOREIGN_SIGNATURE.as_bytes())
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn decoded<'r>(req: &'r mut Incoming<'_>) -> Result<&'r Request, Failure> {
    match &mut req.decoded {
        Some(r) => Ok(r),
        slot @ None => {
            let r = req.client.codec().decode_request(req.body);
            let r = r.map_err(|e| Failure::Client(ClientError::new(req.client, e)))?;
            Ok(slot.insert(r))
        }
    }
}

/// The context an answer is written in: a new id, the client's model name, the request's tools.
fn context(client: Protocol, model: &str, tools: &[protocol::ir::Tool]) -> ResponseContext {
    ResponseContext {
        id: new_id(client.codec().id_prefix()),
        model: model.to_owned(),
        created: unix_now(),
        tool_names: ToolNames::from_tools(tools),
    }
}

/// Whether a Chat client asked for the usage chunk (`stream_options.include_usage`).
fn wants_usage(fields: &Fields<'_>) -> bool {
    #[derive(serde::Deserialize)]
    struct StreamOptions {
        include_usage: Option<bool>,
    }
    fields
        .get("stream_options")
        .and_then(|raw| serde_json::from_str::<StreamOptions>(raw.get()).ok())
        .and_then(|o| o.include_usage)
        .unwrap_or(false)
}

/// Same protocol on both sides: rewrite `model`, drop what the provider rejects, cap the output
/// tokens, and stream the upstream's bytes back untouched.
async fn pass_through(
    gw: &GatewayState,
    d: &Deployment,
    req: &mut Incoming<'_>,
    mut log: RequestLog,
) -> Result<Response, Failure> {
    let (body, dropped) = d.pass_through_body(&req.fields);
    let resp = gw
        .upstream
        .send(d, Endpoint::Generate, body, req.stream, req.headers)
        .await
        .map_err(|e| failed(&mut log, e))?;
    log.dropped = dropped.header_value();
    log.reported_cost = resp.cost.clone();
    let mut out = HeaderMap::new();
    let headers = &mut out;
    copy_passed_headers(&resp.headers, headers);
    add_dropped(headers, &dropped);
    if req.stream {
        sse_headers(headers);
        let ctx = context(req.client, &req.model, &[]);
        let watch = req.client.codec().stream_watch(ctx);
        let body = stream_loop::pass_through(resp.body, watch, stream_settings(gw, d), log);
        return Ok(ok_response(out, body));
    }
    // The whole answer is read before anything is sent, so a body that breaks off is retried
    // like any failed attempt, and a body that is not JSON is never labelled as JSON.
    let content_type = resp.headers.get(header::CONTENT_TYPE).cloned();
    let who = answer::name(d, &d.transport.shown_url(Endpoint::Generate, false));
    let bytes = answer::read_body(&who, resp.body, gw.upstream.timeouts.idle)
        .await
        .map_err(|e| failed(&mut log, e))?;
    log.first_byte();
    answer::check_json(&who, &bytes).map_err(|e| failed(&mut log, e))?;
    headers.insert(
        header::CONTENT_TYPE,
        content_type.unwrap_or(HeaderValue::from_static("application/json")),
    );
    Ok(ok_response(out, Body::from(bytes)))
}

/// The stream limits and the upstream's name for `d`.
fn stream_settings(gw: &GatewayState, d: &Deployment) -> StreamSettings {
    let t = gw.upstream.timeouts;
    StreamSettings {
        ping: t.ping,
        idle: t.idle,
        upstream: answer::name(d, &d.transport.shown_url(Endpoint::Generate, true)),
    }
}

/// Records a failed attempt in its log line and passes the failure on.
fn failed(log: &mut RequestLog, e: UpstreamError) -> Failure {
    log.status = e.error.status;
    log.error = Some(e.error.message.clone());
    Failure::Upstream(e)
}

/// Different protocols: decode into the internal model, encode for the upstream, and translate
/// the answer back, streamed event by event.
async fn translate(
    gw: &GatewayState,
    d: &Deployment,
    req: &mut Incoming<'_>,
    mut log: RequestLog,
) -> Result<Response, Failure> {
    let client = req.client;
    let estimate = req.body.len() as u64 / 4;
    let headers = req.headers;
    let include_usage = wants_usage(&req.fields);
    let model = req.model.clone();
    let ir = decoded(req)?;
    let prepared = match d.transport.prepare(&gw.upstream, ir) {
        Some(rewrite) => Some(rewrite.await.map_err(|e| failed(&mut log, e))?),
        None => None,
    };
    let ir = prepared.as_ref().unwrap_or(ir);
    let mut dropped = ir.dropped.clone();
    let upstream = d.protocol().codec();
    let body = d.apply_overrides(upstream.encode_request(ir, &d.target, &mut dropped));
    let ctx = context(client, &model, &ir.tools);
    let stream = ir.stream;
    let resp = gw
        .upstream
        .send(d, Endpoint::Generate, body, stream, headers)
        .await
        .map_err(|e| failed(&mut log, e))?;
    log.dropped = dropped.header_value();
    log.reported_cost = resp.cost.clone();
    let mut out = HeaderMap::new();
    let h = &mut out;
    copy_passed_headers(&resp.headers, h);
    add_dropped(h, &dropped);
    if stream {
        sse_headers(h);
        let decoder = upstream.stream_decoder(&ctx, estimate);
        let encoder = client.codec().stream_encoder(ctx, include_usage);
        let settings = stream_settings(gw, d);
        let body = stream_loop::translate(resp.body, decoder, encoder, settings, log);
        return Ok(ok_response(out, body));
    }
    let who = answer::name(d, &d.transport.shown_url(Endpoint::Generate, false));
    let bytes = answer::read_body(&who, resp.body, gw.upstream.timeouts.idle)
        .await
        .map_err(|e| failed(&mut log, e))?;
    log.first_byte();
    let r = match upstream.decode_response(&bytes, &ctx) {
        Ok(r) => r,
        Err(e) => {
            // A body that is not JSON is this deployment's fault: the next one is tried.
            let e = answer::check_json(&who, &bytes)
                .err()
                .unwrap_or_else(|| UpstreamError::fatal(e));
            return Err(failed(&mut log, e));
        }
    };
    log.usage = Some(r.usage);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(ok_response(
        out,
        Body::from(client.codec().encode_response(&r, &ctx)),
    ))
}

/// A 200 answer with `headers` and `body` (built directly: no builder, so nothing can fail).
fn ok_response(headers: HeaderMap, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.headers_mut() = headers;
    r
}

fn sse_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}

fn add_dropped(h: &mut HeaderMap, dropped: &Dropped) {
    if !dropped.is_empty()
        && let Ok(v) = HeaderValue::from_str(&dropped.header_value())
    {
        h.insert(HeaderName::from_static(DROPPED_HEADER), v);
    }
}

fn copy_passed_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        let name = k.as_str();
        if PASSED_HEADERS.contains(&name) || PASSED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            to.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_short_retry_after_only() {
        let max = Duration::from_secs(20);
        assert_eq!(
            backoff(0, Some(&HeaderValue::from_static("2")), max),
            Some(Duration::from_secs(2))
        );
        assert_eq!(backoff(0, Some(&HeaderValue::from_static("60")), max), None);
        assert_eq!(backoff(0, None, max), Some(Duration::from_millis(250)));
        assert_eq!(backoff(2, None, max), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn usage_chunk_only_when_the_client_asked_for_it() {
        let asks = |body: &str| wants_usage(&Fields::parse(body.as_bytes()).unwrap());
        assert!(asks(r#"{"stream_options": {"include_usage" : true}}"#));
        assert!(!asks(r#"{"stream_options":{"include_usage":false}}"#));
        assert!(!asks(
            r#"{"messages":[{"content":"\"include_usage\":true"}]}"#
        ));
        assert!(!asks(r#"{"stream_options":null}"#));
    }
}
