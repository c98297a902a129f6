//! The `bedrock` provider: AWS Bedrock's runtime API (field-2026-11.md §4, protocols.md §7).
//!
//! - `bedrock/<model-id>`: InvokeModel / InvokeModelWithResponseStream for Anthropic models
//!   (`anthropic.claude-…`, cross-region ids `us.anthropic.…`, application-inference-profile
//!   ARNs), whose body is the Anthropic Messages body; Converse / ConverseStream for every other
//!   model. `bedrock/invoke/<id>` and `bedrock/converse/<id>` force one (LiteLLM's prefixes).
//! - Requests are signed with SigV4 ([`sign`]) with credentials from [`credentials`]; streams
//!   arrive as AWS event-stream frames and are re-framed as SSE ([`frames`]), so the rest of the
//!   gateway reads them like any other upstream's.
//! - `litellm_params` (LiteLLM's names, each may be `os.environ/NAME`): `aws_region_name`,
//!   `aws_profile_name`, `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`,
//!   `aws_role_name` + `aws_session_name`, `aws_bedrock_runtime_endpoint` (or `api_base`).

pub mod credentials;
pub mod frames;
pub mod images;
pub mod sign;

use crate::answer;
use crate::providers::deployment::{Deployment, Endpoint};
use crate::providers::params::Params;
use crate::secrets::SecretSource;
use crate::transport::http::body_stream;
use crate::transport::{Answer, Outgoing, Transport, TransportKind};
use crate::upstream::{Upstream, UpstreamError};
use aws_credential_types::Credentials;
use credentials::{AwsAuth, AwsSettings};
use frames::{Framing, Reframe};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, header};
use protocol::Protocol;
use protocol::ir::{ApiError, ErrorKind};
use protocol::passthrough::Fields;
use std::sync::Arc;

/// The table row's value for `bedrock`.
pub static BEDROCK: BedrockKind = BedrockKind;

/// `anthropic_version` Bedrock's InvokeModel requires for Claude (AWS docs, "Anthropic Claude
/// Messages API" request body).
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// [`TransportKind`] of Bedrock deployments.
#[derive(Debug)]
pub struct BedrockKind;

/// Cross-region inference profile prefixes (field-2026-11.md §4.5).
const REGION_PREFIXES: &[&str] = &["us.", "eu.", "apac.", "jp.", "au.", "us-gov.", "global."];

/// Whether a Bedrock model id names an Anthropic model, which InvokeModel serves with the
/// Messages body. An application inference profile's ARN does not say which model it wraps:
/// it is taken as Claude (use `bedrock/converse/<arn>` otherwise).
pub fn is_anthropic(id: &str) -> bool {
    let rest = match id.strip_prefix("arn:") {
        Some(arn) if arn.contains(":application-inference-profile/") => return true,
        Some(arn) => arn.rsplit('/').next().unwrap_or_default(),
        None => id,
    };
    let rest = REGION_PREFIXES
        .iter()
        .find_map(|p| rest.strip_prefix(p))
        .unwrap_or(rest);
    rest.starts_with("anthropic.")
}

impl TransportKind for BedrockKind {
    fn route(&self, _: Protocol, model: &str) -> (Protocol, String) {
        if let Some(id) = model.strip_prefix("converse/") {
            (Protocol::BedrockConverse, id.to_owned())
        } else if let Some(id) = model.strip_prefix("invoke/") {
            (Protocol::Anthropic, id.to_owned())
        } else if is_anthropic(model) {
            (Protocol::Anthropic, model.to_owned())
        } else {
            (Protocol::BedrockConverse, model.to_owned())
        }
    }

    fn api_mode_applies(&self) -> bool {
        false
    }

    fn needs_api_base(&self) -> bool {
        false
    }

    fn build(
        &self,
        d: &Deployment,
        secrets: &dyn SecretSource,
    ) -> Result<Box<dyn Transport>, String> {
        let p = Params {
            params: &d.definition.litellm_params,
            secrets,
        };
        let key_id = p.get("aws_access_key_id")?;
        let secret = p.get("aws_secret_access_key")?;
        let static_keys = match (key_id, secret) {
            (Some(id), Some(secret)) => Some(Credentials::new(
                id,
                secret,
                p.get("aws_session_token")?,
                None,
                "litellm_params",
            )),
            (None, None) => None,
            _ => {
                return Err(
                    "litellm_params has only one of aws_access_key_id and aws_secret_access_key; \
                     give both, or neither to use the AWS profile or environment"
                        .into(),
                );
            }
        };
        let role = p.get("aws_role_name")?.map(|r| {
            let session = p
                .get("aws_session_name")
                .ok()
                .flatten()
                .unwrap_or_else(|| "agent-shim".to_owned());
            (r, session)
        });
        let settings = AwsSettings {
            region: p.get("aws_region_name")?,
            profile: p.get("aws_profile_name")?,
            static_keys,
            role,
        };
        let endpoint = match p.get("aws_bedrock_runtime_endpoint")? {
            Some(e) => Some(e),
            // `api_base`, resolved (it may be `os.environ/NAME`).
            None => Some(d.api_base.clone()).filter(|b| !b.is_empty()),
        }
        .map(|e| e.trim_end_matches('/').to_owned());
        if let Some(e) = &endpoint {
            let u = reqwest::Url::parse(e).map_err(|why| {
                format!(
                    "litellm_params.aws_bedrock_runtime_endpoint '{}' is not a URL ({why}); \
                     write it like https://bedrock-runtime.us-west-2.amazonaws.com",
                    crate::redact::url(e)
                )
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(format!(
                    "litellm_params.aws_bedrock_runtime_endpoint '{}' is not an http(s) URL",
                    crate::redact::url(e)
                ));
            }
        }
        Ok(Box::new(BedrockTransport {
            framing: match d.protocol() {
                Protocol::BedrockConverse => Framing::Converse,
                _ => Framing::Invoke,
            },
            auth: AwsAuth::new(settings, d.model_name()),
            endpoint,
            model: d.upstream_model.clone(),
        }))
    }
}

/// Reads `litellm_params` values, resolving `os.environ/NAME`.
/// A Bedrock deployment's way to its model.
pub struct BedrockTransport {
    framing: Framing,
    auth: Arc<AwsAuth>,
    /// `aws_bedrock_runtime_endpoint` / `api_base`; else the region's public endpoint.
    endpoint: Option<String>,
    model: String,
}

impl BedrockTransport {
    fn operation(&self, stream: bool) -> &'static str {
        match (self.framing, stream) {
            (Framing::Invoke, false) => "invoke",
            (Framing::Invoke, true) => "invoke-with-response-stream",
            (Framing::Converse, false) => "converse",
            (Framing::Converse, true) => "converse-stream",
        }
    }

    fn base(&self, region: &str) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://bedrock-runtime.{region}.amazonaws.com"),
        }
    }

    /// The InvokeModel body for Claude: the Messages body without `model` and `stream`, with
    /// `anthropic_version`, and the client's `anthropic-beta` header as `anthropic_beta`.
    fn invoke_body(&self, body: Vec<u8>, client: &HeaderMap) -> Vec<u8> {
        let Ok(mut f) = Fields::parse(&body) else {
            return body;
        };
        f.remove("model");
        f.remove("stream");
        if f.get("anthropic_version").is_none() {
            f.set("anthropic_version", &ANTHROPIC_VERSION.into());
        }
        let mut betas: Vec<String> = f
            .get("anthropic_beta")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default();
        for v in client.get_all("anthropic-beta") {
            for b in v.to_str().unwrap_or_default().split(',') {
                let b = b.trim();
                if !b.is_empty() && !betas.iter().any(|x| x == b) {
                    betas.push(b.to_owned());
                }
            }
        }
        if !betas.is_empty() {
            f.set("anthropic_beta", &serde_json::json!(betas));
        }
        f.to_vec()
    }

    async fn post(
        &self,
        up: &Upstream,
        d: &Deployment,
        out: Outgoing<'_>,
    ) -> Result<Answer, UpstreamError> {
        if out.endpoint == Endpoint::CountTokens {
            return Err(UpstreamError::fatal(ApiError::new(
                ErrorKind::InvalidRequest,
                "token counting is done locally for Bedrock models",
            )));
        }
        let signing = self.auth.current().await.map_err(UpstreamError::fatal)?;
        let op = self.operation(out.stream);
        let url = sign::operation_url(&self.base(&signing.region), &self.model, op);
        let shown = crate::redact::url(&url).into_owned();
        let url = reqwest::Url::parse(&url).map_err(|e| {
            UpstreamError::fatal(ApiError::new(
                ErrorKind::Api,
                format!("the Bedrock URL {shown} is not valid ({e})"),
            ))
        })?;
        let body = match self.framing {
            Framing::Invoke => self.invoke_body(out.body, out.client_headers),
            Framing::Converse => out.body,
        };
        let signed = sign::sign(&url, &body, &signing).map_err(|e| {
            UpstreamError::fatal(ApiError::new(
                ErrorKind::Authentication,
                format!(
                    "cannot sign the request for model '{}' with SigV4: {e}",
                    d.model_name()
                ),
            ))
        })?;
        let mut req = up
            .client()?
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .header(header::ACCEPT_ENCODING, "identity");
        for (k, v) in signed {
            req = req.header(k, v);
        }
        for (k, v) in &d.extra_headers {
            req = req.header(k, v);
        }
        let resp = crate::transport::http::send_timed(d, up, req.body(body), &shown).await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let (headers, bytes) = crate::transport::http::error_body(d, up, resp).await;
            return Err(self.error(d, status, &headers, &bytes));
        }
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let want = if out.stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        if !ct.is_empty() && !ct.starts_with(want) {
            return Err(UpstreamError::unusable(ApiError {
                kind: ErrorKind::Api,
                status: 502,
                message: format!(
                    "{} answered 200 with content-type `{ct}` where `{want}` was asked for; check \
                     aws_bedrock_runtime_endpoint",
                    answer::name(d, &shown)
                ),
            }));
        }
        let mut headers = resp.headers().clone();
        let body = body_stream(resp);
        let body = if out.stream {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            Box::pin(Reframe::new(body, self.framing)) as crate::transport::BodyStream
        } else {
            body
        };
        Ok(Answer::new(headers, body))
    }

    /// A non-2xx answer: Bedrock's `{"message"}` body and `x-amzn-ErrorType` header, mapped to
    /// an error kind with a hint that names the fix.
    fn error(&self, d: &Deployment, status: u16, h: &HeaderMap, body: &[u8]) -> UpstreamError {
        let aws_type = h
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split(':').next().unwrap_or(t).to_owned());
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(alias = "Message")]
            message: Option<String>,
        }
        let said = serde_json::from_slice::<Body>(body)
            .ok()
            .and_then(|b| b.message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into());
        let mut e = crate::upstream::status_error(d, status, body);
        if let Some(t) = &aws_type {
            // Bedrock's own wording of a prompt that does not fit ("Input is too long for
            // requested model.") counts as a context-length error too.
            e.kind = protocol::bedrock_converse::exception_error(t, &said).kind;
            if e.kind == ErrorKind::Authentication {
                // AWS refused the deployment's credentials, not the client's key.
                e.kind = credentials::DEPLOYMENT_IDENTITY;
            }
            e.status = e.kind.status();
        }
        let name = aws_type.as_deref().unwrap_or("error");
        let profile = self.auth.settings().profile.clone().unwrap_or_else(|| {
            std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned())
        });
        let hint = match aws_type.as_deref().unwrap_or_default() {
            "ExpiredTokenException" => format!(
                "; the AWS session has expired: run `aws sso login --profile {profile}` (or renew the credentials)"
            ),
            "UnrecognizedClientException" | "InvalidSignatureException" => {
                "; check the AWS credentials (aws_access_key_id / aws_secret_access_key, or the profile)".into()
            }
            "AccessDeniedException" => format!(
                "; the AWS identity may not call bedrock:InvokeModel on '{}', or the model is not enabled \
                 in this account and region (Bedrock console, Model access)",
                d.upstream_model
            ),
            "ResourceNotFoundException" => format!(
                "; check the model id '{}' and the region (cross-region ids start with us., eu., apac. …)",
                d.upstream_model
            ),
            _ => String::new(),
        };
        e.message = format!(
            "upstream bedrock answered {status} {name} for model '{}': {said}{hint}",
            d.model_name()
        );
        if e.kind == ErrorKind::ContextLengthExceeded {
            // Claude Code compacts the conversation when the message says so.
            e.message = format!("prompt is too long: {}", e.message);
        }
        let mut retry_after = h.get(header::RETRY_AFTER).cloned();
        if e.kind == ErrorKind::RateLimit && retry_after.is_none() {
            // Bedrock sends no retry-after; clients that honour it back off a little.
            retry_after = Some(HeaderValue::from_static("2"));
        }
        let mut failed = UpstreamError::from_status(e, status, retry_after);
        failed.pass_headers(h);
        if aws_type.as_deref() == Some("ExpiredTokenException") {
            // The cached credentials are not what AWS thinks: fetch new ones, and let the
            // request be tried again with them.
            self.auth.forget();
            failed.retryable = true;
        }
        failed
    }
}

impl Transport for BedrockTransport {
    fn prepare<'a>(
        &'a self,
        up: &'a Upstream,
        req: &'a protocol::ir::Request,
    ) -> Option<BoxFuture<'a, Result<protocol::ir::Request, UpstreamError>>> {
        match self.framing {
            Framing::Converse if images::has_url_images(req) => {
                Some(Box::pin(images::inline(up, req)))
            }
            _ => None,
        }
    }

    fn send<'a>(
        &'a self,
        up: &'a Upstream,
        d: &'a Deployment,
        out: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        Box::pin(self.post(up, d, out))
    }

    fn shown_url(&self, _: Endpoint, stream: bool) -> String {
        let region = self.auth.known_region().unwrap_or("<region>");
        crate::redact::url(&sign::operation_url(
            &self.base(region),
            &self.model,
            self.operation(stream),
        ))
        .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_ids_go_to_invoke_and_others_to_converse() {
        let k = BedrockKind;
        let route = |m: &str| k.route(Protocol::Anthropic, m);
        for id in [
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-opus-4-6-v1",
            "apac.anthropic.claude-3-haiku-20240307-v1:0",
            "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        ] {
            assert_eq!(route(id), (Protocol::Anthropic, id.to_owned()), "{id}");
        }
        for id in [
            "qwen.qwen3-coder-480b-a35b-v1:0",
            "us.meta.llama3-3-70b-instruct-v1:0",
            "amazon.nova-pro-v1:0",
        ] {
            assert_eq!(
                route(id),
                (Protocol::BedrockConverse, id.to_owned()),
                "{id}"
            );
        }
        assert_eq!(
            route("converse/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            (
                Protocol::BedrockConverse,
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0".into()
            )
        );
        assert_eq!(
            route("invoke/my-custom-model"),
            (Protocol::Anthropic, "my-custom-model".into())
        );
    }
}
