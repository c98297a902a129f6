//! Serving one attempt on one deployment: byte pass-through when the client and the deployment
//! speak the same protocol, translation through the internal model otherwise. Either way the
//! answer is checked before anything reaches the client — a whole answer is read in full, a
//! stream is opened up to its first content ([`super::peek`]) — so that every failure up to
//! that point is a failed attempt the dispatcher may retry or fail over. The request's
//! [`Record`] gets what the answer says about usage: read from a passed answer's bytes
//! ([`usage::from_body`]) or stream ([`usage::UsageScan`]), or the translated answer's.

use super::incoming::Incoming;
use super::respond::{Answered, Reply, add_dropped, copy_passed_headers, sse_headers};
use super::{Failure, peek};
use crate::answer;
use crate::ids::{new_id, unix_now};
use crate::providers::deployment::{Deployment, Endpoint};
use crate::record::{Record, usage};
use crate::state::GatewayState;
use crate::stream_loop::{self, StreamSettings};
use crate::transport::BodyStream;
use crate::upstream::UpstreamError;
use http::{HeaderMap, HeaderValue, header};
use protocol::Protocol;
use protocol::anthropic;
use protocol::passthrough::Fields;
use protocol::target::{ResponseContext, ToolNames};

/// Serves `req` on `d`, telling `rec` what the answer says (usage, reported cost, dropped
/// features).
pub(crate) async fn attempt(
    gw: &GatewayState,
    d: &Deployment,
    req: &mut Incoming<'_>,
    rec: &mut Record,
) -> Result<Answered, Failure> {
    // History that holds reasoning from another model family must be cleaned first, which
    // needs the full translation path (protocols.md §9).
    if d.protocol() == req.client && !has_foreign_reasoning(req) {
        pass_through(gw, d, req, rec).await
    } else {
        translate(gw, d, req, rec).await
    }
}

fn has_foreign_reasoning(req: &Incoming<'_>) -> bool {
    req.client == Protocol::Anthropic
        && memchr::memmem::find(req.body, anthropic::FOREIGN_SIGNATURE.as_bytes()).is_some()
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
pub(crate) fn wants_usage(fields: &Fields<'_>) -> bool {
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
    rec: &mut Record,
) -> Result<Answered, Failure> {
    // The provider's quirks (dropped, capped, renamed parameters) and the definition's
    // overrides, applied in one place for pass-through and translation alike.
    let (body, dropped) = d.pass_through_body(&req.fields);
    let resp = gw
        .upstream
        .send(d, Endpoint::Generate, body, req.stream, req.headers)
        .await
        .map_err(Failure::Upstream)?;
    rec.answer_meta(dropped.header_value(), resp.cost.clone());
    let mut headers = HeaderMap::new();
    copy_passed_headers(&resp.headers, &mut headers);
    add_dropped(&mut headers, &dropped);
    if req.stream {
        sse_headers(&mut headers);
        let ctx = context(req.client, &req.model, &[]);
        let (upstream, settings) = open_stream(gw, d, resp.body, &ctx).await?;
        let watch = req.client.codec().stream_watch(ctx);
        let body = stream_loop::pass_through(upstream, watch, req.client, settings);
        return Ok(Answered {
            headers,
            body: Reply::Stream(body),
        });
    }
    // The whole answer is read before anything is sent, so a body that breaks off is retried
    // like any failed attempt, and a body that is not JSON is never labelled as JSON.
    let content_type = resp.headers.get(header::CONTENT_TYPE).cloned();
    let (who, bytes) = read_whole(gw, d, resp.body).await?;
    answer::check_json(&who, &bytes).map_err(Failure::Upstream)?;
    if let Some(t) = usage::from_body(req.client, &bytes) {
        rec.tokens(t);
    }
    headers.insert(
        header::CONTENT_TYPE,
        content_type.unwrap_or(HeaderValue::from_static("application/json")),
    );
    Ok(Answered {
        headers,
        body: Reply::Whole(bytes),
    })
}

/// The stream limits and the upstream's name for `d`.
fn stream_settings(gw: &GatewayState, d: &Deployment) -> StreamSettings {
    let t = &gw.upstream.timeouts;
    StreamSettings {
        ping: t.ping,
        idle: d.idle_timeout(t),
        idle_setting: if d.route.stream_timeout.is_some() {
            "litellm_params.stream_timeout"
        } else {
            "router_settings.stream_timeout"
        },
        upstream: answer::name(d, &d.transport.shown_url(Endpoint::Generate, true)),
    }
}

/// Opens the upstream's stream up to its first content ([`peek`]), so that an error it opens
/// with is a failed attempt; gives the stream and `d`'s stream limits.
async fn open_stream(
    gw: &GatewayState,
    d: &Deployment,
    body: BodyStream,
    ctx: &ResponseContext,
) -> Result<(BodyStream, StreamSettings), Failure> {
    let settings = stream_settings(gw, d);
    let body = peek::open(
        body,
        d.protocol(),
        ctx,
        gw.upstream.timeouts.ping,
        &settings.upstream,
    )
    .await
    .map_err(Failure::Upstream)?;
    Ok((body, settings))
}

/// Reads a whole answer within `d`'s idle timeout (a body that breaks off is a failed attempt);
/// gives the upstream's name for errors and the bytes.
async fn read_whole(
    gw: &GatewayState,
    d: &Deployment,
    body: BodyStream,
) -> Result<(String, bytes::Bytes), Failure> {
    let who = answer::name(d, &d.transport.shown_url(Endpoint::Generate, false));
    let bytes = answer::read_body(&who, body, d.idle_timeout(&gw.upstream.timeouts))
        .await
        .map_err(Failure::Upstream)?;
    Ok((who, bytes))
}

/// Different protocols: decode into the internal model, encode for the upstream, and translate
/// the answer back, streamed event by event.
async fn translate(
    gw: &GatewayState,
    d: &Deployment,
    req: &mut Incoming<'_>,
    rec: &mut Record,
) -> Result<Answered, Failure> {
    let client = req.client;
    let estimate = req.rough_tokens();
    let include_usage = wants_usage(&req.fields);
    let ir = req.decoded()?;
    let prepared = match d.transport.prepare(&gw.upstream, &ir) {
        Some(rewrite) => Some(rewrite.await.map_err(Failure::Upstream)?),
        None => None,
    };
    let ir = prepared.as_ref().unwrap_or(&ir);
    let mut dropped = ir.dropped.clone();
    let upstream = d.protocol().codec();
    let body = d.apply_overrides(upstream.encode_request(ir, &d.target, &mut dropped));
    let ctx = context(client, &req.model, &ir.tools);
    let stream = ir.stream;
    let resp = gw
        .upstream
        .send(d, Endpoint::Generate, body, stream, req.headers)
        .await
        .map_err(Failure::Upstream)?;
    rec.answer_meta(dropped.header_value(), resp.cost.clone());
    let mut headers = HeaderMap::new();
    copy_passed_headers(&resp.headers, &mut headers);
    add_dropped(&mut headers, &dropped);
    if stream {
        sse_headers(&mut headers);
        let (body, settings) = open_stream(gw, d, resp.body, &ctx).await?;
        let decoder = upstream.stream_decoder(&ctx, estimate);
        let encoder = client.codec().stream_encoder(ctx, include_usage);
        let body = stream_loop::translate(body, d.protocol(), decoder, encoder, settings);
        return Ok(Answered {
            headers,
            body: Reply::Stream(body),
        });
    }
    let (who, bytes) = read_whole(gw, d, resp.body).await?;
    let r = match upstream.decode_response(&bytes, &ctx) {
        Ok(r) => r,
        Err(e) => {
            // A body that is not JSON is this deployment's fault: the next one is tried.
            let e = answer::check_json(&who, &bytes)
                .err()
                .unwrap_or_else(|| UpstreamError::fatal(e));
            return Err(Failure::Upstream(e));
        }
    };
    // The internal model has no split of cache writes by lifetime: Anthropic's own says it.
    let split = (d.protocol() == Protocol::Anthropic)
        .then(|| usage::from_body(Protocol::Anthropic, &bytes))
        .flatten();
    rec.tokens(usage::with_split(usage::from_ir(&r.usage), split));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(Answered {
        headers,
        body: Reply::Whole(client.codec().encode_response(&r, &ctx).into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
