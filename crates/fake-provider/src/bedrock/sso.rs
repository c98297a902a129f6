//! The fake AWS SSO portal (GetRoleCredentials of the "AWS IAM Identity Center Portal API") and
//! the fake STS (AssumeRole). Both hand out temporary credentials from the script, remember
//! them with their expiry (so the Bedrock SigV4 check accepts them, then answers
//! `ExpiredTokenException`), and count their calls.
//!
//! - `GET /federation/credentials?role_name=R&account_id=A`, header `x-amz-sso_bearer_token: T`
//!   → 200 `{"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken",
//!   "expiration": <epoch milliseconds>}}`; a wrong token → 401 `UnauthorizedException`
//!   `{"message": "Session token not found or invalid"}`; a missing parameter → 400
//!   `InvalidRequestException`; another account or role than the script's → 403
//!   `ForbiddenException` `{"message": "No access"}`.
//! - `POST /` form `Action=AssumeRole&RoleArn=…&RoleSessionName=…` signed for service `sts` →
//!   200 `<AssumeRoleResponse>` XML with `Credentials` (`Expiration` in ISO 8601) and
//!   `AssumedRoleUser`; errors are STS's XML `<ErrorResponse>`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::json;

use super::auth::{AwsState, Rejection};
use super::config::{AwsCredentials, SsoConfig, StsConfig};
use super::errors::{aws_error, request_id};
use super::form_decode;
use crate::errors::json_response;

const PORTAL_NS: &str = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/";

fn builtin(prefix: &str) -> AwsCredentials {
    AwsCredentials::new(
        format!("ASIAFAKE{prefix}0000000001"),
        format!(
            "fake{}secret/K7MDENG+bPxRfiCYEXAMPLEKEY",
            prefix.to_lowercase()
        ),
    )
    .with_session_token(format!(
        "Fake{prefix}SessionToken//////////wEaCXVzLXdlc3QtMiJH"
    ))
}

/// The `n`-th credentials of a rotation (the last repeats; `builtin` when empty), issued now.
fn hand_out(
    list: &[AwsCredentials],
    counter: &AtomicUsize,
    prefix: &str,
    state: &AwsState,
) -> (AwsCredentials, SystemTime) {
    let n = counter.fetch_add(1, Ordering::AcqRel);
    let creds = list
        .get(n.min(list.len().saturating_sub(1)))
        .cloned()
        .unwrap_or_else(|| builtin(prefix));
    let expires = SystemTime::now() + Duration::from_secs(creds.lifetime_secs());
    state.issue(creds.clone(), expires);
    (creds, expires)
}

/// GetRoleCredentials.
pub(crate) fn get_role_credentials(
    cfg: &SsoConfig,
    state: &AwsState,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, Rejection> {
    let no_extra = BTreeMap::new();
    let token = headers
        .get("x-amz-sso_bearer_token")
        .and_then(|v| v.to_str().ok());
    if token != Some(cfg.access_token.as_str()) {
        return Err(Rejection {
            status: 401,
            kind: "UnauthorizedException",
            message: "Session token not found or invalid".into(),
        });
    }
    let params: BTreeMap<String, String> = form_decode(query.unwrap_or("")).into_iter().collect();
    let (Some(role), Some(account)) = (params.get("role_name"), params.get("account_id")) else {
        return Err(Rejection {
            status: 400,
            kind: "InvalidRequestException",
            message: "role_name and account_id are required".into(),
        });
    };
    if cfg.role_name.as_ref().is_some_and(|r| r != role)
        || cfg.account_id.as_ref().is_some_and(|a| a != account)
    {
        return Err(Rejection {
            status: 403,
            kind: "ForbiddenException",
            message: "No access".into(),
        });
    }
    let (creds, expires) = hand_out(&cfg.credentials, &state.sso_calls, "SSO", state);
    let ms = expires
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let body = json!({"roleCredentials": {
        "accessKeyId": creds.access_key_id,
        "secretAccessKey": creds.secret_access_key,
        "sessionToken": creds.session_token,
        "expiration": ms,
    }});
    Ok(json_response(200, body.to_string(), &no_extra))
}

/// The portal's error answer.
pub(crate) fn portal_error(r: &Rejection) -> Response {
    aws_error(
        r.status,
        r.kind,
        PORTAL_NS,
        Some(&r.message),
        &BTreeMap::new(),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_response(status: u16, body: String) -> Response {
    let mut resp = json_response(status, body, &BTreeMap::new());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// STS's XML error document (`Sender` fault for 4xx).
pub(crate) fn sts_error(r: &Rejection) -> Response {
    let fault = if r.status < 500 { "Sender" } else { "Receiver" };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
         <Type>{fault}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
         <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        // STS spells the signature error SignatureDoesNotMatch.
        if r.kind == "InvalidSignatureException" {
            "SignatureDoesNotMatch"
        } else {
            r.kind.trim_end_matches("Exception")
        },
        xml_escape(&r.message),
        request_id()
    );
    xml_response(r.status, body)
}

/// AssumeRole, for a request already authenticated for service `sts`.
pub(crate) fn assume_role(
    cfg: &StsConfig,
    state: &AwsState,
    form: &BTreeMap<String, String>,
) -> Result<Response, Rejection> {
    let (Some(role_arn), Some(session)) = (form.get("RoleArn"), form.get("RoleSessionName")) else {
        return Err(Rejection {
            status: 400,
            kind: "ValidationError",
            message: "RoleArn and RoleSessionName are required".into(),
        });
    };
    if cfg.role_arn.as_ref().is_some_and(|r| r != role_arn) {
        return Err(Rejection {
            status: 403,
            kind: "AccessDenied",
            message: format!("Not authorized to perform sts:AssumeRole on resource {role_arn}"),
        });
    }
    let (creds, expires) = hand_out(&cfg.credentials, &state.sts_calls, "STS", state);
    let expiration = DateTime::from(expires)
        .fmt(Format::DateTime)
        .unwrap_or_default();
    let (account, role) = role_parts(role_arn);
    let body = format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
         <AssumeRoleResult>\n    <AssumedRoleUser>\n      \
         <AssumedRoleId>AROAFAKE0000000000001:{s}</AssumedRoleId>\n      \
         <Arn>arn:aws:sts::{account}:assumed-role/{role}/{s}</Arn>\n    </AssumedRoleUser>\n    \
         <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      \
         <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      \
         <Expiration>{expiration}</Expiration>\n    </Credentials>\n  </AssumeRoleResult>\n  \
         <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n\
         </AssumeRoleResponse>\n",
        xml_escape(&creds.access_key_id),
        xml_escape(&creds.secret_access_key),
        xml_escape(creds.session_token.as_deref().unwrap_or("")),
        request_id(),
        s = xml_escape(session),
        account = xml_escape(account),
        role = xml_escape(role),
    );
    Ok(xml_response(200, body))
}

/// Account id and role name of `arn:aws:iam::123456789012:role/name`.
fn role_parts(arn: &str) -> (&str, &str) {
    let account = arn.split(':').nth(4).unwrap_or("000000000000");
    let role = arn.rsplit('/').next().unwrap_or("role");
    (account, role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_repeats_the_last_entry() {
        let state = AwsState::default();
        let list = vec![
            AwsCredentials::new("A1", "s1").expiring_in(1),
            AwsCredentials::new("A2", "s2"),
        ];
        let ids: Vec<String> = (0..3)
            .map(|_| {
                hand_out(&list, &state.sso_calls, "SSO", &state)
                    .0
                    .access_key_id
            })
            .collect();
        assert_eq!(ids, ["A1", "A2", "A2"]);
        assert_eq!(AwsState::count(&state.sso_calls), 3);
        let (c, _) = hand_out(&[], &state.sts_calls, "STS", &state);
        assert_eq!(c.access_key_id, "ASIAFAKESTS0000000001");
        assert!(c.session_token.is_some());
    }

    #[test]
    fn role_arn_parts() {
        assert_eq!(
            role_parts("arn:aws:iam::123456789012:role/demo"),
            ("123456789012", "demo")
        );
    }
}
