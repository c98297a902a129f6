//! Which API a non-AWS request is for (by its path's end, so prefixed hosts such as Azure's
//! `/openai/deployments/<d>/…` answer too), the protocol and auth gate every API call passes, and
//! the answers that need no plan: token counting and the model list.

use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::errors::{ApiError, error_response, json_response};
use crate::matching::ActiveScript;
use crate::render_anthropic;
use crate::script::Protocol;
use crate::server::no_headers;

/// Where a non-AWS path goes.
pub(crate) enum Route {
    /// An API call of this family, answered from the script.
    Api(Protocol),
    /// Not an API call: this answer.
    Answer(Response),
}

/// The API family of a non-AWS path, or the answer of a path that is not an API call.
pub(crate) fn route_family(
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
pub(crate) fn gate(
    script: &ActiveScript,
    family: Protocol,
    headers: &HeaderMap,
) -> Option<Response> {
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
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) fn x_api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key")?.to_str().ok()
}

/// Azure's `api-key` header (Azure OpenAI and Azure AI Foundry).
pub(crate) fn azure_api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("api-key")?.to_str().ok()
}

pub(crate) fn count_tokens(script: &ActiveScript, headers: &HeaderMap, len: usize) -> Response {
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
pub(crate) fn models(script: &ActiveScript, query: Option<&str>, headers: &HeaderMap) -> Response {
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
