//! The HTTP surface: shared state (script + recorded requests), routing,
//! auth, protocol restriction, and dispatch to the protocol renderers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bedrock::auth::AwsState;
use crate::bedrock::{self, AwsCall, AwsRequest, Routed, converse, eventstream, invoke};
use crate::errors::{ApiError, add_headers, error_body, error_response, json_response};
use crate::inspect::RequestView;
use crate::listener::Conn;
use crate::matching::ActiveScript;
use crate::plan::{Plan, unix_now};
use crate::render_anthropic::{self, AnthropicRender};
use crate::render_chat::{self, ChatRender};
use crate::render_responses::ResponsesRender;
use crate::script::{Fault, Protocol, Reply, Script};
use crate::sse::{self, End, Planned};
use crate::vertex;

/// Largest request body accepted (Claude Code requests with images are big).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One request as received, for test inspection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method, e.g. "POST".
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Headers with lowercased names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON body, `Value::String(raw)` if not JSON, `Null` if empty.
    pub body: Value,
    /// The body exactly as received (lossy UTF-8), for byte-exactness checks.
    #[serde(default)]
    pub raw_body: String,
    /// AWS routes (Bedrock runtime, SSO portal, STS): the operation, the decoded model id,
    /// the SigV4 header's parts and whether the fake refused the request. `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsCall>,
}

/// State shared by the server tasks and the [`crate::FakeProvider`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    script: RwLock<Arc<ActiveScript>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Credentials the fake SSO portal / STS issued, and their call counts.
    pub aws: AwsState,
    /// Tokens the fake Google token endpoint minted.
    pub vertex: crate::vertex::VertexState,
}

impl Shared {
    pub fn new(script: Script) -> Arc<Self> {
        Arc::new(Shared {
            script: RwLock::new(Arc::new(ActiveScript::new(script))),
            requests: Mutex::new(Vec::new()),
            aws: AwsState::default(),
            vertex: Default::default(),
        })
    }

    fn script(&self) -> Arc<ActiveScript> {
        self.script
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the script (step counters restart).
    pub fn set_script(&self, script: Script) {
        let active = Arc::new(ActiveScript::new(script));
        *self.script.write().unwrap_or_else(PoisonError::into_inner) = active;
    }

    /// A copy of everything recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The recorded requests of the AWS routes.
    pub fn aws_requests(&self) -> Vec<RecordedRequest> {
        let all = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter().filter(|r| r.aws.is_some()).cloned().collect()
    }

    /// Forgets recorded requests.
    pub fn reset(&self) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn record(&self, r: RecordedRequest) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
    }
}

/// The axum router: a single fallback handler routes by method and path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn header_map(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in h {
        let v = String::from_utf8_lossy(v.as_bytes());
        out.entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    out
}

fn no_headers() -> &'static BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    &EMPTY
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let extensions = &parts.extensions;
    let path = parts.uri.path().to_string();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::new(413, "request body too large or unreadable");
            return error_response(Protocol::OpenaiChat, &e, no_headers());
        }
    };
    if let Some(ctl) = path.strip_prefix("/_fake/") {
        return control(&shared, &parts.method, ctl, &bytes);
    }
    let script = shared.script();
    let parsed = parse_body(&bytes);
    let call = AwsRequest {
        method: &parts.method,
        path: &path,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &bytes,
        parsed: &parsed,
    };
    let aws = bedrock::route(script.script.aws.as_ref(), &shared.aws, &call);
    if script.script.record {
        shared.record(RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_string),
            headers: header_map(&parts.headers),
            body: parsed.clone(),
            raw_body: String::from_utf8_lossy(&bytes).into_owned(),
            aws: aws.as_ref().map(|(call, _)| call.clone()),
        });
    }
    let target = match aws {
        Some((_, Routed::Done(resp))) => return resp,
        Some((_, Routed::Bedrock(target))) => Some(target),
        None => None,
    };
    // Vertex requests are authenticated by their router, with a token the fake minted.
    let vertex = match vertex::route(script.script.vertex.as_ref(), &shared.vertex, &call) {
        Some(vertex::Routed::Done(resp)) => return resp,
        Some(vertex::Routed::Api(v)) => Some(v),
        None => None,
    };
    let family = match (&target, &vertex) {
        (Some(t), _) => t.family(),
        (_, Some(v)) => v.family,
        _ => match route_family(
            &script,
            &parts.method,
            &path,
            parts.uri.query(),
            &parts.headers,
            bytes.len(),
        ) {
            Route::Api(f) => f,
            Route::Answer(resp) => return resp,
        },
    };
    if vertex.is_none()
        && let Some(resp) = gate(&script, family, &parts.headers)
    {
        return resp;
    }
    if !parsed.is_object() {
        let e = ApiError::new(400, "fake-provider: request body is not a JSON object");
        return error_response(family, &e, no_headers());
    }
    let raw = String::from_utf8_lossy(&bytes);
    let mut view = RequestView::new(family, &path, &raw, &parsed);
    if let Some(t) = &target {
        view.model = &t.model_id;
        view.stream = t.op.is_stream();
        view.operation = Some(t.op);
    }
    if let Some(v) = &vertex {
        view.model = &v.model;
        view.stream = v.stream;
    }
    let Some(reply) = script.select(&view) else {
        let e = ApiError::new(500, "fake-provider: no script step matched and no default");
        return error_response(family, &e, no_headers());
    };
    if let Some(ms) = reply.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let conn = extensions
        .get::<ConnectInfo<Conn>>()
        .map(|ConnectInfo(c)| c);
    respond(family, reply, &view, conn)
}

/// Where a non-AWS path goes.
enum Route {
    /// An API call of this family, answered from the script.
    Api(Protocol),
    /// Not an API call: this answer.
    Answer(Response),
}

/// The API family of a non-AWS path, or the answer of a path that is not an API call.
fn route_family(
    script: &ActiveScript,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body_len: usize,
) -> Route {
    // By the path's end, so the routes of hosts with a prefix (`/openai/v1`, `/inference`,
    // Azure's `/openai/deployments/<d>/chat/completions`) answer too; tests read the full path
    // from the recorded request.
    let post = *method == Method::POST;
    Route::Api(match (method, path) {
        _ if post && path.ends_with("/chat/completions") => Protocol::OpenaiChat,
        _ if post && path.ends_with("/messages/count_tokens") => {
            return Route::Answer(count_tokens(script, headers, body_len));
        }
        _ if post && path.ends_with("/messages") => Protocol::Anthropic,
        _ if post && path.ends_with("/responses") => Protocol::OpenaiResponses,
        (&Method::GET, "/v1/models" | "/models") => {
            return Route::Answer(models(script, query, headers));
        }
        (&Method::GET, "/health") => {
            return Route::Answer(json_response(200, r#"{"status":"ok"}"#, no_headers()));
        }
        _ => {
            let msg = format!("fake-provider: no route for {method} {path}");
            let e = ApiError::new(404, &msg);
            return Route::Answer(error_response(Protocol::OpenaiChat, &e, no_headers()));
        }
    })
}

/// Protocol restriction (404) and auth (401) checks.
fn gate(script: &ActiveScript, family: Protocol, headers: &HeaderMap) -> Option<Response> {
    if !script.enabled(family) {
        let msg = format!(
            "fake-provider: protocol {} is disabled by the script",
            family.as_str()
        );
        return Some(error_response(
            family,
            &ApiError::new(404, &msg),
            no_headers(),
        ));
    }
    if family.is_bedrock() {
        // Bedrock requests were authenticated by the AWS router.
        return None;
    }
    let key = script.script.api_key.as_deref()?;
    if bearer(headers) == Some(key)
        || (family == Protocol::Anthropic && x_api_key(headers) == Some(key))
        || (family != Protocol::Anthropic && azure_api_key(headers) == Some(key))
    {
        return None;
    }
    let e = match family {
        Protocol::Anthropic => ApiError::new(401, "invalid x-api-key"),
        _ => ApiError {
            status: 401,
            kind: Some("invalid_request_error"),
            message: "Incorrect API key provided.",
            code: Some("invalid_api_key"),
        },
    };
    Some(error_response(family, &e, no_headers()))
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn x_api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key")?.to_str().ok()
}

/// Azure's `api-key` header (Azure OpenAI and Azure AI Foundry).
fn azure_api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("api-key")?.to_str().ok()
}

fn respond(
    family: Protocol,
    reply: &Reply,
    view: &RequestView<'_>,
    conn: Option<&Conn>,
) -> Response {
    if reply.fault == Some(Fault::Reset)
        && let Some(conn) = conn
    {
        conn.reset();
        return Response::new(Body::empty());
    }
    if let Some(status) = reply.status {
        let e = ApiError::from_spec(status, reply.error.as_ref());
        if let Some(f @ (Fault::Cut | Fault::Stall)) = reply.fault {
            // The error body's first half, then an abort or a stall.
            let (aws_kind, aws_message) =
                bedrock::errors::scripted_parts(status, reply.error.as_ref());
            let body = if family.is_bedrock() {
                Bytes::from(json!({ "message": aws_message }).to_string())
            } else {
                Bytes::from(error_body(family, &e).to_string())
            };
            let half = body.slice(..body.len() / 2);
            let end = if f == Fault::Cut {
                End::Cut
            } else {
                End::Stall
            };
            let mut resp = faulted(
                reply,
                "application/json",
                Planned {
                    events: vec![half],
                    end,
                },
            );
            *resp.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(v) = bedrock::errors::error_type_header(aws_kind)
                && family.is_bedrock()
            {
                resp.headers_mut().insert("x-amzn-errortype", v);
            }
            return resp;
        }
        if family.is_bedrock() {
            return bedrock::errors::scripted(status, reply.error.as_ref(), &reply.headers);
        }
        return error_response(family, &e, &reply.headers);
    }
    if reply.fault == Some(Fault::Html) {
        return faulted(
            reply,
            "text/html; charset=utf-8",
            Planned::whole(vec![Bytes::from_static(CAPTIVE_PAGE)]),
        );
    }
    let plan = Plan::build(reply, view);
    let now = unix_now();
    let opts = &reply.stream;
    let fail_spec = reply.error.as_ref();
    // A wrong-kind fault answers a stream with JSON and JSON with a stream.
    let stream = view.stream != (reply.fault == Some(Fault::WrongKind));
    let (full, planned) = match family {
        Protocol::OpenaiChat => {
            let r = ChatRender::new(&plan, now);
            if !stream {
                (r.full(), None)
            } else {
                let p = sse::apply_faults(r.events(opts), opts, |_| {
                    render_chat::failure_event(fail_spec)
                });
                (Value::Null, Some(p))
            }
        }
        Protocol::Anthropic => {
            let r = AnthropicRender::new(&plan);
            if !stream {
                (r.full(), None)
            } else {
                let p = sse::apply_faults(r.events(opts), opts, |_| {
                    render_anthropic::failure_event(fail_spec)
                });
                (Value::Null, Some(p))
            }
        }
        Protocol::OpenaiResponses => {
            let encrypted = view
                .body
                .get("include")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v == "reasoning.encrypted_content"));
            let r = ResponsesRender::new(&plan, now, encrypted);
            if !stream {
                (r.full(), None)
            } else {
                let p = sse::apply_faults(r.events(), opts, |seq| r.failure_event(fail_spec, seq));
                (Value::Null, Some(p))
            }
        }
        Protocol::BedrockInvoke | Protocol::BedrockConverse => {
            let converse = family == Protocol::BedrockConverse;
            if !stream && converse {
                (converse::full(&plan), None)
            } else if !stream {
                (AnthropicRender::new(&plan).full(), None)
            } else {
                let frames = if converse {
                    converse::frames(&plan)
                } else {
                    invoke::frames(&plan, opts)
                };
                let p = sse::apply_faults(frames, opts, |_| eventstream::exception(fail_spec));
                (Value::Null, Some(p))
            }
        }
    };
    let Some(mut planned) = planned else {
        let body = full.to_string();
        let body_faults = reply.fault.is_some_and(|f| f != Fault::WrongKind);
        if !body_faults && !reply.gzip {
            let mut resp = json_response(200, body, &reply.headers);
            if family == Protocol::BedrockInvoke {
                invoke::add_invoke_headers(&mut resp, &plan);
            }
            return resp;
        }
        let bytes = Bytes::from(body);
        let half = bytes.slice(..bytes.len() / 2);
        let planned = match reply.fault {
            Some(Fault::Garbage) => Planned::whole(vec![half]),
            Some(Fault::Cut) => Planned {
                events: vec![half],
                end: End::Cut,
            },
            Some(Fault::Stall) => Planned {
                events: vec![half],
                end: End::Stall,
            },
            _ => Planned::whole(vec![bytes]),
        };
        return faulted(reply, "application/json", planned);
    };
    match reply.fault {
        Some(Fault::Garbage) => {
            let at = planned.events.len().min(1);
            let garbage = if family.is_bedrock() {
                eventstream::corrupt()
            } else {
                Bytes::from_static(GARBAGE_EVENT)
            };
            planned.events.insert(at, garbage);
        }
        Some(f @ (Fault::Cut | Fault::Stall)) => {
            planned.events.truncate(planned.events.len() / 2);
            planned.end = if f == Fault::Cut {
                End::Cut
            } else {
                End::Stall
            };
        }
        _ => {}
    }
    if family.is_bedrock() {
        let mut resp = faulted(reply, eventstream::CONTENT_TYPE, planned);
        if family == Protocol::BedrockInvoke {
            resp.headers_mut().insert(
                "x-amzn-bedrock-content-type",
                HeaderValue::from_static("application/json"),
            );
        }
        return resp;
    }
    let mut resp = faulted(reply, "text/event-stream", planned);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A captive portal's answer.
const CAPTIVE_PAGE: &[u8] =
    b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n\
<body><h1>Sign in to the network</h1><p>Accept the terms to continue.</p></body></html>\n";

/// An SSE event whose data is not JSON (a proxy's error page leaking into the stream).
const GARBAGE_EVENT: &[u8] = b"data: <html><body>502 Bad Gateway</body></html>\n\n";

/// A 200 answer of `content_type` whose body is `planned`, gzip-compressed when the reply says so.
fn faulted(reply: &Reply, content_type: &'static str, planned: Planned) -> Response {
    let mut resp = Response::new(sse::body(planned, &reply.stream, reply.gzip));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if reply.gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    add_headers(&mut resp, &reply.headers);
    resp
}

fn count_tokens(script: &ActiveScript, headers: &HeaderMap, len: usize) -> Response {
    if let Some(resp) = gate(script, Protocol::Anthropic, headers) {
        return resp;
    }
    json_response(
        200,
        render_anthropic::count_tokens(len).to_string(),
        no_headers(),
    )
}

/// `GET /v1/models`: OpenAI list shape, or Anthropic's shape when the
/// request carries `anthropic-version`, paged as Anthropic pages it (`limit`,
/// `after_id`, `has_more`, `last_id`).
fn models(script: &ActiveScript, query: Option<&str>, headers: &HeaderMap) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    let family = if anthropic {
        Protocol::Anthropic
    } else {
        Protocol::OpenaiChat
    };
    if let Some(key) = script.script.api_key.as_deref()
        && bearer(headers) != Some(key)
        && x_api_key(headers) != Some(key)
    {
        let e = ApiError::new(401, "fake-provider: missing or wrong API key");
        return error_response(family, &e, no_headers());
    }
    let ids = &script.script.models;
    let with_fields = |mut entry: Value, id: &String| {
        if let (Some(extra), Some(obj)) =
            (script.script.model_fields.get(id), entry.as_object_mut())
        {
            obj.extend(extra.clone());
        }
        entry
    };
    let body = if anthropic {
        let param = |name: &str| {
            query?
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let start = param("after_id")
            .and_then(|a| ids.iter().position(|id| *id == a))
            .map_or(0, |i| i + 1);
        let limit = param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(20)
            .min(script.script.models_page_size.unwrap_or(usize::MAX))
            .max(1);
        let end = (start + limit).min(ids.len());
        let page = &ids[start.min(end)..end];
        let data: Vec<Value> = page
            .iter()
            .map(|id| with_fields(json!({"id": id, "type": "model", "display_name": id, "created_at": "2025-01-01T00:00:00Z"}), id))
            .collect();
        json!({"data": data, "has_more": end < ids.len(), "first_id": page.first(), "last_id": page.last()})
    } else {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| with_fields(json!({"id": id, "object": "model", "created": 1_735_689_600u64, "owned_by": "fake"}), id))
            .collect();
        json!({"object": "list", "data": data})
    };
    json_response(200, body.to_string(), no_headers())
}

/// `/_fake/*` control endpoints (never recorded).
fn control(shared: &Shared, method: &Method, what: &str, body: &Bytes) -> Response {
    match (method, what) {
        (&Method::GET, "requests") => {
            let body = serde_json::to_string(&shared.requests()).unwrap_or_else(|_| "[]".into());
            json_response(200, body, no_headers())
        }
        (&Method::POST, "reset") => {
            shared.reset();
            json_response(200, r#"{"status":"ok"}"#, no_headers())
        }
        (&Method::POST, "script") => {
            let text = String::from_utf8_lossy(body);
            match Script::from_json(&text) {
                Ok(s) => {
                    shared.set_script(s);
                    json_response(200, r#"{"status":"ok"}"#, no_headers())
                }
                Err(msg) => {
                    let e = ApiError::new(400, &msg);
                    error_response(Protocol::OpenaiChat, &e, no_headers())
                }
            }
        }
        _ => {
            let e = ApiError::new(404, "fake-provider: unknown control endpoint");
            error_response(Protocol::OpenaiChat, &e, no_headers())
        }
    }
}
