//! Google Vertex AI on the fake's one port: a Google OAuth token endpoint that verifies a service
//! account's signed JWT assertion and mints access tokens, and the Vertex routes that accept
//! only those tokens:
//!
//! | route | answers as |
//! |---|---|
//! | `POST …/token` (form: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion=<JWT>`) | `{"access_token", "expires_in", "token_type": "Bearer"}` |
//! | `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict` | Anthropic Messages JSON |
//! | `POST …/publishers/anthropic/models/{model}:streamRawPredict` | Anthropic Messages SSE |
//! | `POST …/publishers/anthropic/models/count-tokens:rawPredict` | `{"input_tokens"}` |
//! | `POST /v1/projects/{p}/locations/{l}/endpoints/openapi/chat/completions` | Chat Completions |
//!
//! The token endpoint checks the assertion as Google does: an RS256 JWT whose signature
//! verifies with the configured PUBLIC key (the fake never sees the private key, so it cannot
//! simply agree with the client), `iss` the configured `client_email`, `aud` the token
//! endpoint's own URL or Google's (`https://oauth2.googleapis.com/token`, which Google's own
//! google-auth library always sends), `scope` including `cloud-platform`, `iat`/`exp` current
//! and at most an hour apart. A refusal is Google's OAuth error body (`{"error":
//! "invalid_grant", "error_description": …}`, status 400). Checked once by hand against
//! google-auth 2 (Python): it gets a token, and one for an unknown account is refused.
//!
//! The Vertex routes check the path (project and location when the config pins them), the bearer
//! token (one the fake minted and that has not expired: else 401 `UNAUTHENTICATED` in Google's
//! error shape) and the body: rawPredict needs `anthropic_version` (`"vertex-2023-10-16"`, or a
//! dated API version as Anthropic's current Vertex client sends) and no
//! `model` (the model is in the URL), the OpenAI-compatible endpoint a `model` of the form
//! `<publisher>/<id>` (`google/gemini-…`). A request that passes goes on to the script as
//! protocol `anthropic` or `openai-chat`, with the model of the path.

use std::sync::Mutex;
use std::sync::PoisonError;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bedrock::{AwsRequest, form_decode};
use crate::errors::json_response;
use crate::plan::unix_now;
use crate::script::Protocol;

/// `anthropic_version` that Claude on Vertex requires in the body.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// The JWT-bearer grant of a service account's token request (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's token endpoint (a real key's `token_uri`).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The Vertex part of a script: the service account whose assertions the token endpoint
/// accepts, the lifetime of the tokens it mints, and the project and location the routes serve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VertexConfig {
    /// The service account's `client_email` (the assertion's `iss`).
    pub client_email: String,
    /// The service account's public key, PEM (`RSA PUBLIC KEY`, PKCS#1).
    pub public_key_pem: String,
    /// `expires_in` of minted tokens, in seconds (default 3600, as Google's).
    #[serde(default = "default_lifetime")]
    pub token_lifetime_secs: u64,
    /// The only project the routes serve; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The only location the routes serve; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `anthropic-beta` values the Claude routes refuse, as Vertex does those it does not
    /// know: 400 "Unexpected value(s) `…` for the `anthropic-beta` header".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_betas: Vec<String>,
}

fn default_lifetime() -> u64 {
    3600
}

impl VertexConfig {
    /// A config for the service account `client_email` with public key `public_key_pem`.
    pub fn new(client_email: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        VertexConfig {
            client_email: client_email.into(),
            public_key_pem: public_key_pem.into(),
            token_lifetime_secs: default_lifetime(),
            project: None,
            location: None,
            unsupported_betas: Vec::new(),
        }
    }
}

/// Tokens the fake minted, with their expiry (unix seconds).
#[derive(Debug, Default)]
pub(crate) struct VertexState {
    minted: Mutex<Vec<(String, u64)>>,
}

impl VertexState {
    /// How many tokens were minted.
    pub fn minted(&self) -> usize {
        self.minted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn mint(&self, lifetime: u64) -> String {
        let mut all = self.minted.lock().unwrap_or_else(PoisonError::into_inner);
        let token = format!("ya29.fake-vertex-token-{}", all.len() + 1);
        all.push((token.clone(), unix_now() + lifetime));
        token
    }

    /// Revokes every minted token: the routes refuse them from now on (401).
    pub fn revoke(&self) {
        for (_, exp) in self
            .minted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
        {
            *exp = 0;
        }
    }

    fn valid(&self, token: &str) -> bool {
        let now = unix_now();
        self.minted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(t, exp)| t == token && *exp > now)
    }
}

/// A Vertex API request that passed the checks: answered from the script.
pub(crate) struct VertexTarget {
    pub family: Protocol,
    pub model: String,
    pub stream: bool,
}

/// What [`route`] decided.
pub(crate) enum Routed {
    Api(VertexTarget),
    /// Answered already (a minted token, or a refusal).
    Done(Response),
}

/// Routes a request when the script has a `vertex` block and the path is a Vertex one.
pub(crate) fn route(
    config: Option<&VertexConfig>,
    state: &VertexState,
    req: &AwsRequest<'_>,
) -> Option<Routed> {
    let config = config?;
    let (method, path, headers, body, parsed) =
        (req.method, req.path, req.headers, req.body, req.parsed);
    if *method != Method::POST {
        return None;
    }
    if path.ends_with("/token") {
        return Some(Routed::Done(token(config, state, path, headers, body)));
    }
    let rest = path.strip_prefix("/v1/projects/")?;
    let (project, rest) = rest.split_once("/locations/")?;
    let (location, rest) = rest.split_once('/')?;
    let (family, model, stream) = if let Some(m) = rest.strip_prefix("publishers/anthropic/models/")
    {
        let (model, method) = m.rsplit_once(':')?;
        let stream = match method {
            "rawPredict" => false,
            "streamRawPredict" => true,
            _ => {
                return Some(Routed::Done(google_error(
                    404,
                    "NOT_FOUND",
                    "unknown method",
                )));
            }
        };
        (Protocol::Anthropic, model.to_owned(), stream)
    } else if rest == "endpoints/openapi/chat/completions" {
        let model = parsed.get("model").and_then(Value::as_str).unwrap_or("");
        let stream = parsed
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        (Protocol::OpenaiChat, model.to_owned(), stream)
    } else {
        return None;
    };
    let refuse = |status, kind, msg: String| Some(Routed::Done(google_error(status, kind, &msg)));
    if config.project.as_deref().is_some_and(|p| p != project) {
        return refuse(
            403,
            "PERMISSION_DENIED",
            format!("Permission denied on resource project {project}."),
        );
    }
    if config.location.as_deref().is_some_and(|l| l != location) {
        return refuse(
            404,
            "NOT_FOUND",
            format!("Publisher model not found in location {location}."),
        );
    }
    let token = bearer(headers).unwrap_or("");
    if !state.valid(token) {
        return refuse(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
             cookie or other valid authentication credential."
                .into(),
        );
    }
    if !parsed.is_object() {
        return refuse(
            400,
            "INVALID_ARGUMENT",
            "the body is not a JSON object".into(),
        );
    }
    if family == Protocol::Anthropic && model == "count-tokens" {
        // Token counting: the model in the body, the version too.
        if parsed.get("model").and_then(Value::as_str).is_none()
            || !parsed
                .get("anthropic_version")
                .and_then(Value::as_str)
                .is_some_and(accepted_version)
        {
            return refuse(
                400,
                "INVALID_ARGUMENT",
                "count-tokens needs model and anthropic_version".into(),
            );
        }
        let counted = crate::render_anthropic::count_tokens(body.len());
        return Some(Routed::Done(json_response(
            200,
            counted.to_string(),
            &Default::default(),
        )));
    }
    if family == Protocol::Anthropic {
        let unexpected: Vec<String> = headers
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|b| config.unsupported_betas.iter().any(|u| u == b))
            .map(|b| format!("`{b}`"))
            .collect();
        if !unexpected.is_empty() {
            let message = format!(
                "Unexpected value(s) {} for the `anthropic-beta` header. Please consult our \
                 documentation at docs.anthropic.com or try again without the header.",
                unexpected.join(", ")
            );
            let body = json!({"type": "error",
                "error": {"type": "invalid_request_error", "message": message}});
            return Some(Routed::Done(json_response(
                400,
                body.to_string(),
                &Default::default(),
            )));
        }
        if parsed.get("model").is_some() {
            return refuse(
                400,
                "INVALID_ARGUMENT",
                "model: Extra inputs are not permitted".into(),
            );
        }
        let version = parsed.get("anthropic_version").and_then(Value::as_str);
        if !version.is_some_and(accepted_version) {
            return refuse(
                400,
                "INVALID_ARGUMENT",
                format!("anthropic_version: must be {VERTEX_ANTHROPIC_VERSION}, got {version:?}"),
            );
        }
        let body_stream = parsed
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if body_stream != stream {
            return refuse(
                400,
                "INVALID_ARGUMENT",
                format!(
                    "stream is {body_stream} in the body of a {} call",
                    if stream {
                        "streamRawPredict"
                    } else {
                        "rawPredict"
                    }
                ),
            );
        }
    } else if !model.contains('/') {
        return refuse(
            400,
            "INVALID_ARGUMENT",
            format!(
                "model '{model}' is not of the form <publisher>/<model>, e.g. google/gemini-2.5-flash"
            ),
        );
    }
    Some(Routed::Api(VertexTarget {
        family,
        model,
        stream,
    }))
}

/// Whether Vertex takes `version` as `anthropic_version`: the documented
/// `vertex-2023-10-16`, or a dated Messages API version (`2026-10-21`), which Anthropic's own
/// Vertex client (Python SDK 2.x) sends.
fn accepted_version(version: &str) -> bool {
    let b = version.as_bytes();
    version == VERTEX_ANTHROPIC_VERSION
        || (b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            }))
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Google's API error shape.
fn google_error(code: u16, status: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    json_response(code, body.to_string(), &Default::default())
}

/// Google's OAuth error shape (RFC 6749 §5.2).
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    json_response(400, body.to_string(), &Default::default())
}

/// `POST …/token`: verifies the JWT-bearer assertion and mints a token.
fn token(
    config: &VertexConfig,
    state: &VertexState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let form = form_decode(&String::from_utf8_lossy(body));
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if field("grant_type") != Some(JWT_BEARER_GRANT) {
        return oauth_error("unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let audience = format!("http://{host}{path}");
    if let Err(why) = verify(config, assertion, &audience) {
        return oauth_error("invalid_grant", &why);
    }
    let token = state.mint(config.token_lifetime_secs);
    let body = json!({
        "access_token": token,
        "expires_in": config.token_lifetime_secs,
        "token_type": "Bearer",
    });
    json_response(200, body.to_string(), &Default::default())
}

/// Checks an assertion as Google's token endpoint does; the error is its `error_description`.
fn verify(config: &VertexConfig, jwt: &str, audience: &str) -> Result<(), String> {
    let mut parts = jwt.split('.');
    let (Some(head), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid JWT: not three segments.".into());
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
    let json_of = |s: &str| -> Result<Value, String> {
        let bytes = decode(s).map_err(|_| "Invalid JWT: bad base64url.".to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "Invalid JWT: not JSON.".to_string())
    };
    let head = json_of(head)?;
    if head.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("Invalid JWT: alg must be RS256.".into());
    }
    let signature = decode(sig).map_err(|_| "Invalid JWT Signature.".to_string())?;
    let key = public_key_der(&config.public_key_pem)?;
    let signed = &jwt[..jwt.len() - sig.len() - 1];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.".to_string())?;
    let claims = json_of(claims)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    let num = |k: &str| claims.get(k).and_then(Value::as_u64).unwrap_or(0);
    if text("iss") != config.client_email {
        return Err("Invalid grant: account not found".into());
    }
    // Google takes its canonical token URL as the audience whatever URL the assertion is
    // posted to (google-auth always sends it); yup-oauth2 sends the key's `token_uri`.
    if text("aud") != audience && text("aud") != GOOGLE_TOKEN_URL {
        return Err(format!(
            "Invalid JWT: aud must be {audience}, got {}",
            text("aud")
        ));
    }
    if !text("scope").split(' ').any(|s| s == CLOUD_PLATFORM_SCOPE) {
        return Err(format!(
            "Invalid JWT: scope does not include {CLOUD_PLATFORM_SCOPE}"
        ));
    }
    let (iat, exp, now) = (num("iat"), num("exp"), unix_now());
    if exp <= now || iat > now + 60 || exp <= iat || exp - iat > 3600 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
                .into(),
        );
    }
    Ok(())
}

/// The DER bytes of a PEM block.
fn public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| "fake-provider: vertex.public_key_pem is not PEM".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = include_str!("../fixtures/vertex-test-sa.pub.pem");

    #[test]
    fn refuses_assertions_that_are_not_signed_by_the_key() {
        let config = VertexConfig::new("sa@p.iam.gserviceaccount.com", PUBLIC);
        let now = unix_now();
        let claims = json!({"iss": "sa@p.iam.gserviceaccount.com", "aud": "http://h/token",
            "scope": CLOUD_PLATFORM_SCOPE, "iat": now, "exp": now + 3600});
        let b = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!(
            "{}.{}.{}",
            b(&json!({"alg": "RS256"})),
            b(&claims),
            URL_SAFE_NO_PAD.encode([7u8; 256])
        );
        assert_eq!(
            verify(&config, &jwt, "http://h/token"),
            Err("Invalid JWT Signature.".into())
        );
        let jwt = format!("{}.{}.x", b(&json!({"alg": "none"})), b(&claims));
        assert!(
            verify(&config, &jwt, "http://h/token")
                .unwrap_err()
                .contains("RS256")
        );
        assert!(verify(&config, "a.b", "http://h/token").is_err());
    }
}
