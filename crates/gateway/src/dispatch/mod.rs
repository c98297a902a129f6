//! Serving one generation request, in stages:
//!
//! 1. read what the client sent ([`incoming`]) and resolve the model group (404 when none);
//! 2. plan the attempts within the group ([`plan`]): session affinity, `order` tiers, the
//!    routing strategy, cooldowns, local `rpm`/`tpm`/`max_parallel_requests`, the pre-call
//!    context-window check;
//! 3. serve one deployment per attempt ([`serve`]): pass-through or translation, the answer
//!    checked (a stream up to its first content, [`peek`]) before anything reaches the client;
//! 4. after a failed attempt, decide ([`plan::decide`]): retry here, another deployment, the
//!    fallback groups (`fallbacks`, `context_window_fallbacks`, `content_policy_fallbacks`,
//!    `default_fallbacks`), or hand the error back;
//! 5. build the response in one place ([`respond::finish`]).
//!
//! One [`Record`] follows the request from [`generate`] on: each attempt's outcome is noted
//! where [`serve_group`] knows it (with the deployment's counters), and the request's final
//! outcome where [`generate`] hands it to [`respond::finish`], which gives the record to the
//! response body to finish when the response ends. Requests answered before any attempt (a
//! body over the limit, a bad body, an unknown model) get their record too. Retries and
//! fallbacks happen only before the first byte reached the client; after that a failure is the
//! protocol's error event (the stream loop's).
//!
//! # What a 429 or 529 leads to
//!
//! "Alternative" is another deployment of the group that may take the request now (untried,
//! not cooling down, under its limits), else a fallback group for the failure's kind.
//!
//! | upstream answered | alternative | retries left | what happens |
//! |---|---|---|---|
//! | 429 rate limit, `retry-after` ≤ `max_retry_after` (20 s) | no | yes | waited for, retried here |
//! | 429 rate limit, any `retry-after` | yes | – | failed over at once (a deployment rate limited for longer than `max_retry_after` is also cooled down for its `retry-after`) |
//! | 429 rate limit, `retry-after` > `max_retry_after` | no | – | handed back: 429 with the upstream's `retry-after` (Claude Code waits ≤ 60 s and gives up above) |
//! | 429 rate limit, no `retry-after` | no | yes / no | retried here after a backoff (250 ms, doubling) / handed back |
//! | 429 quota used up (`insufficient_quota`; 402) | yes / no | – | failed over / handed back at once with `x-should-retry: false` |
//! | 529 overloaded, 503 | yes | – | failed over at once |
//! | 529 overloaded, 503 | no | yes / no | retried here after a backoff / handed back as 529 |
//! | no deployment can take it locally (limits, cooldowns) | fallback / none | – | the fallbacks / 429 with `retry-after` = the soonest a deployment frees up |
//!
//! Other failures: a 5xx, timeout or broken connection tries another deployment, then retries
//! here, then the fallbacks; a wrong key, a missing model or an unusable answer tries another
//! deployment, then the fallbacks; a context-window error only `context_window_fallbacks`, a
//! content-policy refusal only `content_policy_fallbacks`; a request the client must fix
//! (400, 413, 422) is handed back at once. The upstream's `retry-after`, `anthropic-ratelimit-*`
//! and `x-ratelimit-*` headers go to the client with its answer or its error.

mod incoming;
mod peek;
mod plan;
pub(crate) mod respond;
mod serve;

use crate::error::{ClientError, unknown_model};
use crate::record::Record;
use crate::registry::Snapshot;
use crate::router::{FallbackKind, RouterSettings};
use crate::state::GatewayState;
use crate::upstream::UpstreamError;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use incoming::Incoming;
use plan::{Options, Picker, Step, decide, fallback_kind};
use protocol::Protocol;
use protocol::ir::ErrorKind;
use respond::{Answered, Reply};
use std::sync::Arc;
use std::time::Instant;

/// Header naming what a cross-protocol translation could not carry (DESIGN.md §4.1).
pub const DROPPED_HEADER: &str = "x-agent-shim-dropped";
/// Header choosing the profile whose tiers resolve Claude model ids.
pub const PROFILE_HEADER: &str = "x-agent-shim-profile";

/// Header naming the profile's scenario rule that chose the model (`background`,
/// `long_context`, `think`, `image`, `web_search`; [`crate::router::scenario`]); absent when no
/// rule chose.
pub const ROUTE_HEADER: &str = "x-agent-shim-route";

/// Why an attempt failed.
pub(crate) enum Failure {
    /// The request itself is wrong: no other deployment will do better.
    Client(ClientError),
    Upstream(UpstreamError),
}

/// How a model group's turn ended without an answer.
enum End {
    /// The request is wrong: answered at once.
    Client(ClientError),
    /// Every attempt the group allowed failed.
    Failed {
        error: UpstreamError,
        /// The request may go on to the fallback groups.
        fall_back: bool,
    },
}

/// Where a group stands in the request: the one asked for, or a fallback with more after it.
#[derive(Debug, Clone, Copy)]
enum Chain {
    Primary,
    Fallback { more: bool },
}

impl Chain {
    /// Whether a fallback group follows for a failure of `kind` in `group`.
    fn has_fallback(self, s: &RouterSettings, group: &str, kind: FallbackKind) -> bool {
        match self {
            // A group is never its own fallback (a `*` entry or `default_fallbacks` may name it).
            Chain::Primary => s.fallbacks_for(kind, group).iter().any(|g| g != group),
            Chain::Fallback { more } => more,
        }
    }
}

/// Serves a generation request (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`);
/// `body` is the request body, or why it could not be read (too large, cut off).
pub async fn generate(
    gw: &GatewayState,
    client: Protocol,
    headers: &HeaderMap,
    body: Result<Bytes, ClientError>,
) -> Response {
    // Dropped unfinished (the client went away before an answer) it records that.
    let mut rec = Record::start(&gw.ledger, client, headers);
    let outcome = match body {
        Ok(body) => {
            rec.capture_request(&body);
            run(gw, client, headers, &body, &mut rec).await
        }
        Err(e) => Err(e),
    };
    respond::finish(outcome, rec)
}

async fn run(
    gw: &GatewayState,
    client: Protocol,
    headers: &HeaderMap,
    body: &Bytes,
    rec: &mut Record,
) -> Result<Answered, ClientError> {
    let mut req = Incoming::read(client, headers, body)?;
    rec.request(&req.model, req.stream);
    let profile = headers.get(PROFILE_HEADER).and_then(|v| v.to_str().ok());
    let snap = gw.registry.snapshot();
    // Scenario rules: only for a profile that has them (most have none and pay nothing).
    let route = match snap.scenario_rules(profile) {
        Some((name, tiers, rules)) => match req.scenario(rules, tiers.distinct_haiku()).await {
            Ok(c) => c.map(|c| (name.to_owned(), c)),
            Err(Failure::Client(e)) => return Err(e),
            // Decoding and counting never reach an upstream; kept total all the same.
            Err(Failure::Upstream(e)) => {
                return Err(ClientError {
                    protocol: client,
                    error: e.error,
                    retry_after: e.retry_after,
                    headers: e.headers,
                });
            }
        },
        None => None,
    };
    let wanted = route.as_ref().map_or(req.model.as_str(), |(_, c)| &c.model);
    let Some(resolved) = snap.resolve(wanted, profile) else {
        let mut error = unknown_model(wanted, snap.names());
        if let Some((name, c)) = &route {
            error.message = format!(
                "profile '{name}': its router rule `{}` sends this request to model '{}', \
                 which is not defined; define it or change the rule ({})",
                c.scenario.as_str(),
                c.model,
                error.message
            );
        }
        return Err(ClientError::new(client, error));
    };
    if let Some((name, c)) = &route {
        rec.scenario(c.scenario.as_str());
        gw.routing
            .scenario_routes
            .record(name, c.scenario, &c.model, crate::router::now_ms());
    }
    let outcome = serve_resolved(gw, &snap, &mut req, client, &resolved, rec).await;
    let Some((_, c)) = route else {
        return outcome;
    };
    let v = HeaderValue::from_static(c.scenario.as_str());
    match outcome {
        Ok(mut a) => {
            a.headers.insert(HeaderName::from_static(ROUTE_HEADER), v);
            Ok(a)
        }
        Err(mut e) => {
            e.headers
                .get_or_insert_default()
                .insert(HeaderName::from_static(ROUTE_HEADER), v);
            Err(e)
        }
    }
}

/// Serves a request in its resolved group, then the group's fallbacks.
async fn serve_resolved(
    gw: &GatewayState,
    snap: &Snapshot,
    req: &mut Incoming<'_>,
    client: Protocol,
    resolved: &crate::registry::Resolved,
    rec: &mut Record,
) -> Result<Answered, ClientError> {
    if !resolved.registered {
        register(gw, &resolved.group);
    }
    let primary = serve_group(
        gw,
        req,
        &resolved.group,
        &resolved.deployments,
        Chain::Primary,
        rec,
    )
    .await;
    let (first, fall_back) = match primary {
        Ok(a) => return Ok(a),
        Err(End::Client(e)) => return Err(e),
        Err(End::Failed { error, fall_back }) => (error, fall_back),
    };
    let mut also = Vec::new();
    if fall_back {
        let chain: Vec<&String> = gw
            .router
            .fallbacks_for(fallback_kind(&first), &resolved.group)
            .iter()
            .filter(|g| **g != resolved.group)
            .collect();
        for (i, name) in chain.iter().enumerate() {
            let more = i + 1 < chain.len();
            match fall_back_to(gw, snap, req, name, more, rec).await {
                Ok(a) => return Ok(a),
                Err(End::Client(e)) => return Err(e),
                Err(End::Failed { error, .. }) => {
                    also.push(format!("'{name}' ({})", error.error.status));
                }
            }
        }
    }
    let mut error = first.error;
    if !also.is_empty() {
        error.message = format!(
            "{}; the fallback models failed too: {}",
            error.message,
            also.join(", ")
        );
    }
    Err(ClientError {
        protocol: client,
        error,
        retry_after: first.retry_after,
        headers: first.headers,
    })
}

/// Registers a group served without registration (it is then leased, DESIGN.md §4.4).
fn register(gw: &GatewayState, group: &str) {
    if !gw.registry.register(&[group.to_owned()]).is_empty()
        && let Some(sink) = &gw.lease_sink
    {
        sink.leased(group);
    }
}

/// One fallback group's turn.
async fn fall_back_to(
    gw: &GatewayState,
    snap: &Snapshot,
    req: &mut Incoming<'_>,
    name: &str,
    more: bool,
    rec: &mut Record,
) -> Result<Answered, End> {
    let Some(group) = snap.group(name) else {
        tracing::warn!(
            model = %req.model,
            "router_settings names the fallback model '{name}', which is not defined; skipped"
        );
        let e = UpstreamError::fatal(protocol::ApiError::new(
            ErrorKind::NotFound,
            format!("fallback model '{name}' is not defined"),
        ));
        return Err(End::Failed {
            error: e,
            fall_back: more,
        });
    };
    if !snap.is_registered(name) {
        register(gw, name);
    }
    tracing::info!(model = %req.model, fallback = name, "trying a fallback model");
    rec.in_fallback(true);
    serve_group(gw, req, name, group, Chain::Fallback { more }, rec).await
}

/// Serves `req` with the deployments of the group `name`, attempt after attempt as [`decide`]
/// says, until one answers or the group gives up.
async fn serve_group(
    gw: &GatewayState,
    req: &mut Incoming<'_>,
    name: &str,
    group: &[Arc<crate::providers::deployment::Deployment>],
    chain: Chain,
    rec: &mut Record,
) -> Result<Answered, End> {
    let s = &gw.router;
    let mut picker = Picker::new(gw, name, group, req);
    if s.checks_context(name) {
        match picker.check_context(req).await {
            Err(f) => return Err(client_end(f)),
            Ok(Some(error)) => {
                let fall_back = chain.has_fallback(s, name, FallbackKind::ContextWindow);
                return Err(End::Failed { error, fall_back });
            }
            Ok(None) => {}
        }
    }
    let mut retries_left = s.num_retries;
    let mut next = picker.next();
    let mut last: Option<UpstreamError> = None;
    loop {
        let Some((i, lease)) = next.take() else {
            // Nothing (more) may be tried in this group.
            let Some(error) = last else {
                let error = picker.busy_error(&req.model);
                let fall_back = chain.has_fallback(s, name, FallbackKind::Generic);
                return Err(End::Failed { error, fall_back });
            };
            let o = Options {
                retries_left: false,
                other_deployment: false,
                fallback: chain.has_fallback(s, name, fallback_kind(&error)),
                retries_done: 0,
                max_retry_after: s.max_retry_after,
            };
            let fall_back = decide(&error, &o) == Step::Fallback;
            return Err(End::Failed { error, fall_back });
        };
        let d = &group[i];
        rec.begin_attempt(name, d, lease);
        let started = Instant::now();
        let e = match serve::attempt(gw, d, req, rec).await {
            Ok(answer) => {
                rec.attempt_answered();
                if matches!(answer.body, Reply::Whole(_)) {
                    // A whole answer's attempt is over; a stream's holds its deployment on.
                    rec.release_lease();
                }
                picker.succeeded(i, started);
                return Ok(answer);
            }
            Err(Failure::Client(e)) => {
                rec.attempt_failed(e.error.status);
                return Err(End::Client(e));
            }
            Err(Failure::Upstream(e)) => {
                rec.attempt_failed(e.error.status);
                e
            }
        };
        tracing::warn!(
            model = %req.model, group = name, deployment = %d.id, provider = d.provider.name,
            attempt = rec.attempts(),
            error = %crate::redact::urls_in(&e.error.message),
            "upstream attempt failed"
        );
        picker.failed(i, &e);
        let o = Options {
            retries_left: retries_left > 0,
            other_deployment: picker.has_other(),
            fallback: chain.has_fallback(s, name, fallback_kind(&e)),
            retries_done: s.num_retries - retries_left,
            max_retry_after: s.max_retry_after,
        };
        match decide(&e, &o) {
            Step::RetryHere(wait) => {
                retries_left -= 1;
                tokio::time::sleep(wait).await;
                next = picker.again(i).map(|lease| (i, lease));
            }
            Step::OtherDeployment => next = picker.next(),
            Step::Fallback => {
                return Err(End::Failed {
                    error: e,
                    fall_back: true,
                });
            }
            Step::HandBack => {
                return Err(End::Failed {
                    error: e,
                    fall_back: false,
                });
            }
        }
        last = Some(e);
    }
}

fn client_end(f: Failure) -> End {
    match f {
        Failure::Client(e) => End::Client(e),
        Failure::Upstream(error) => End::Failed {
            error,
            fall_back: false,
        },
    }
}
