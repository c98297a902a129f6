//! AWS on the fake's one port: the Bedrock runtime (`POST /model/{modelId}/invoke`,
//! `/invoke-with-response-stream`, `/converse`, `/converse-stream`), the AWS SSO portal's
//! GetRoleCredentials and STS AssumeRole.
//!
//! A Bedrock request is routed, authenticated ([`auth`]) and validated ([`invoke`],
//! [`validate`]) here; one that passes goes on to the script like any other request, as
//! protocol `bedrock-invoke` or `bedrock-converse`, and is answered by the common renderer
//! (`server::respond`) with [`invoke`] / [`converse`] / [`eventstream`].
//!
//! The model id is ONE path segment, percent-encoded by the client
//! (`us.anthropic.claude-sonnet-4-5-20250929-v1%3A0`,
//! `arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123`);
//! the fake decodes it for matching and recording. A model path of several segments (an ARN
//! sent unencoded) matches no operation: 404 `UnknownOperationException`, as AWS answers.

pub(crate) mod auth;
pub mod config;
pub(crate) mod converse;
pub(crate) mod errors;
pub(crate) mod eventstream;
pub(crate) mod invoke;
pub(crate) mod sigv4;
pub(crate) mod sso;
pub(crate) mod validate;

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::auth::{AwsState, authenticate};
use self::config::{AwsConfig, BedrockOperation};
use self::sigv4::{SigV4Info, SignedRequest};
use crate::script::Protocol;

/// What the fake made of an AWS request (Bedrock runtime, SSO portal, STS), recorded with it
/// in [`crate::RecordedRequest::aws`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsCall {
    /// The AWS operation: `InvokeModel`, `InvokeModelWithResponseStream`, `Converse`,
    /// `ConverseStream`, `GetRoleCredentials`, `AssumeRole`; `UnknownOperation` for a
    /// `/model/…` path that names none (such as an unencoded ARN).
    pub operation: String,
    /// Bedrock: the model id of the path, percent-decoded (`us.anthropic.…-v1:0`, or
    /// `arn:aws:bedrock:…:application-inference-profile/abc123`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The SigV4 `Authorization` header's parts, when the request had a well-formed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Info>,
    /// The AWS error type the fake answered instead of consulting the script
    /// (`InvalidSignatureException`, `UnrecognizedClientException`, `ValidationException`,
    /// `UnknownOperationException`, ...); `None` when the request got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// A Bedrock runtime request that passed authentication and validation.
#[derive(Debug)]
pub(crate) struct BedrockTarget {
    pub op: BedrockOperation,
    pub model_id: String,
}

impl BedrockTarget {
    /// The script protocol of the operation.
    pub fn family(&self) -> Protocol {
        if self.op.is_converse() {
            Protocol::BedrockConverse
        } else {
            Protocol::BedrockInvoke
        }
    }
}

/// What [`route`] decided.
pub(crate) enum Routed {
    /// Answer from the script.
    Bedrock(BedrockTarget),
    /// Answered already (SSO, STS, or a rejection).
    Done(Response),
}

/// The parts of a request [`route`] looks at.
pub(crate) struct AwsRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub parsed: &'a Value,
}

impl AwsRequest<'_> {
    fn path_and_query(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_string(),
        }
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as they are), lossily as UTF-8.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes an `application/x-www-form-urlencoded` string (`+` is a space).
pub(crate) fn form_decode(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Routes an AWS request; `None` when the path is none of AWS's (or the script does not
/// configure that AWS service).
pub(crate) fn route(
    cfg: Option<&AwsConfig>,
    state: &AwsState,
    req: &AwsRequest<'_>,
) -> Option<(AwsCall, Routed)> {
    if req.path.starts_with("/model/") {
        return Some(bedrock(cfg, state, req));
    }
    let cfg = cfg?;
    if req.path == "/federation/credentials" && req.method == Method::GET {
        let sso = cfg.sso.as_ref()?;
        let mut call = call("GetRoleCredentials", None);
        let resp = match sso::get_role_credentials(sso, state, req.query, req.headers) {
            Ok(r) => r,
            Err(r) => {
                call.rejected = Some(r.kind.to_string());
                sso::portal_error(&r)
            }
        };
        return Some((call, Routed::Done(resp)));
    }
    if req.path == "/" && req.method == Method::POST {
        let sts = cfg.sts.as_ref()?;
        let form: BTreeMap<String, String> = form_decode(&String::from_utf8_lossy(req.body))
            .into_iter()
            .collect();
        let mut call = call("AssumeRole", None);
        let signed = signed(req);
        let (info, verdict) = authenticate(Some(cfg), state, "sts", &signed);
        call.sigv4 = info;
        let result = verdict.and_then(|()| match form.get("Action").map(String::as_str) {
            Some("AssumeRole") => sso::assume_role(sts, state, &form),
            other => Err(auth::Rejection {
                status: 400,
                kind: "InvalidAction",
                message: format!(
                    "Could not find operation {} for version 2011-06-15",
                    other.unwrap_or("")
                ),
            }),
        });
        let resp = result.unwrap_or_else(|r| {
            call.rejected = Some(r.kind.to_string());
            sso::sts_error(&r)
        });
        return Some((call, Routed::Done(resp)));
    }
    None
}

fn call(operation: &str, model_id: Option<String>) -> AwsCall {
    AwsCall {
        operation: operation.to_string(),
        model_id,
        sigv4: None,
        rejected: None,
    }
}

fn signed<'a>(req: &'a AwsRequest<'a>) -> SignedRequest<'a> {
    SignedRequest {
        method: req.method.as_str(),
        path_and_query: req.path_and_query(),
        headers: req.headers,
        body: req.body,
    }
}

fn rejected(mut call: AwsCall, kind: &str, resp: Response) -> (AwsCall, Routed) {
    call.rejected = Some(kind.to_string());
    (call, Routed::Done(resp))
}

fn bedrock(cfg: Option<&AwsConfig>, state: &AwsState, req: &AwsRequest<'_>) -> (AwsCall, Routed) {
    let segs: Vec<&str> = req.path.split('/').collect();
    let op = match segs.as_slice() {
        ["", "model", id, op] if !id.is_empty() && req.method == Method::POST => {
            BedrockOperation::from_path_suffix(op)
        }
        _ => None,
    };
    let Some(op) = op else {
        let resp = errors::front_end(404, "UnknownOperationException", None);
        return rejected(
            call("UnknownOperation", None),
            "UnknownOperationException",
            resp,
        );
    };
    let model_id = percent_decode(segs[2]);
    let mut call = call(op.as_str(), Some(model_id.clone()));
    let signed = signed(req);
    let (info, verdict) = authenticate(cfg, state, "bedrock", &signed);
    call.sigv4 = info;
    if let Err(r) = verdict {
        let resp = errors::front_end(r.status, r.kind, Some(&r.message));
        return rejected(call, r.kind, resp);
    }
    if cfg.is_some_and(|c| !c.models.is_empty() && !c.models.contains(&model_id)) {
        let resp = errors::validation("The provided model identifier is invalid.");
        return rejected(call, "ValidationException", resp);
    }
    let checked = if op.is_converse() {
        validate::converse(req.parsed)
    } else {
        invoke::validate(req.parsed)
    };
    if let Err(message) = checked {
        return rejected(call, "ValidationException", errors::validation(&message));
    }
    (call, Routed::Bedrock(BedrockTarget { op, model_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            percent_decode("us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(
            percent_decode(
                "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123"
            ),
            "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz%41"), "a%zzA");
        assert_eq!(
            form_decode("Action=AssumeRole&RoleSessionName=a+b&RoleArn=arn%3Ax"),
            [
                ("Action".into(), "AssumeRole".into()),
                ("RoleSessionName".into(), "a b".into()),
                ("RoleArn".into(), "arn:x".into())
            ]
        );
    }
}
