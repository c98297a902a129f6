//! Who may call: the SigV4 check of a request against the credentials a script configures and
//! those the fake SSO portal and STS issued (kept with their expiry), or a Bedrock API key
//! (`Authorization: Bearer`). Rejections are AWS's front-end errors (403 unless noted):
//!
//! | case | error type | message |
//! |---|---|---|
//! | no `Authorization` | `MissingAuthenticationTokenException` | Missing Authentication Token |
//! | not a SigV4 header, no `x-amz-date` | `IncompleteSignatureException` (400) | … |
//! | unknown access key, missing / wrong / unexpected `x-amz-security-token`, unknown bearer key | `UnrecognizedClientException` | The security token included in the request is invalid. |
//! | issued credentials past their expiry | `ExpiredTokenException` | The security token included in the request is expired |
//! | scope service or region wrong, scope date ≠ `x-amz-date`, `host` unsigned, signature mismatch | `InvalidSignatureException` | The request signature we calculated does not match … |

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use axum::http::HeaderMap;

use super::config::{AwsConfig, AwsCredentials};
use super::errors::{SIGNATURE_MISMATCH, TOKEN_INVALID};
use super::sigv4::{
    SigV4Info, SignedRequest, expected_signature, parse_amz_date, parse_authorization,
};

/// Credentials the fake SSO portal or STS handed out, valid until `expires`.
#[derive(Debug, Clone)]
struct Issued {
    creds: AwsCredentials,
    expires: SystemTime,
}

/// The AWS state of a running fake: issued credentials and call counters.
#[derive(Debug, Default)]
pub(crate) struct AwsState {
    issued: Mutex<Vec<Issued>>,
    /// GetRoleCredentials calls answered with credentials.
    pub sso_calls: AtomicUsize,
    /// AssumeRole calls answered with credentials.
    pub sts_calls: AtomicUsize,
}

impl AwsState {
    /// Remembers issued credentials until `expires`.
    pub fn issue(&self, creds: AwsCredentials, expires: SystemTime) {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Issued { creds, expires });
    }

    /// The issued credentials of `access_key_id` that expire last.
    fn issued(&self, access_key_id: &str) -> Option<Issued> {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|i| i.creds.access_key_id == access_key_id)
            .max_by_key(|i| i.expires)
            .cloned()
    }

    /// Counter value, for the public accessors.
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Acquire)
    }
}

/// Why a request was refused: an AWS front-end error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
}

fn reject(status: u16, kind: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        kind,
        message: message.into(),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Authenticates `req` for `service`. Returns the parsed SigV4 header when there is one (also
/// when rejected, for the record) and the verdict. Without AWS auth configured every request
/// passes.
pub(crate) fn authenticate(
    cfg: Option<&AwsConfig>,
    state: &AwsState,
    service: &str,
    req: &SignedRequest<'_>,
) -> (Option<SigV4Info>, Result<(), Rejection>) {
    let auth = header(req.headers, "authorization");
    let info = auth.and_then(parse_authorization);
    let Some(cfg) = cfg.filter(|c| c.checks_auth()) else {
        return (info, Ok(()));
    };
    let verdict = match (auth, &info) {
        (None, _) => Err(reject(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )),
        (Some(a), None) => match a.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => {
                if cfg.bearer_tokens.iter().any(|t| t == key.trim()) {
                    Ok(())
                } else {
                    Err(reject(403, "UnrecognizedClientException", TOKEN_INVALID))
                }
            }
            _ => Err(reject(
                400,
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' \
                 parameters.",
            )),
        },
        (Some(_), Some(info)) => check_sigv4(cfg, state, service, req, info),
    };
    (info, verdict)
}

fn check_sigv4(
    cfg: &AwsConfig,
    state: &AwsState,
    service: &str,
    req: &SignedRequest<'_>,
    info: &SigV4Info,
) -> Result<(), Rejection> {
    let creds = match cfg
        .credentials
        .iter()
        .find(|c| c.access_key_id == info.access_key_id)
    {
        Some(c) => c.clone(),
        None => match state.issued(&info.access_key_id) {
            Some(i) if i.expires <= SystemTime::now() => {
                return Err(reject(
                    403,
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                ));
            }
            Some(i) => i.creds,
            None => return Err(reject(403, "UnrecognizedClientException", TOKEN_INVALID)),
        },
    };
    if header(req.headers, "x-amz-security-token") != creds.session_token.as_deref() {
        return Err(reject(403, "UnrecognizedClientException", TOKEN_INVALID));
    }
    if info.service != service {
        return Err(reject(
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'. "),
        ));
    }
    if cfg.region.as_ref().is_some_and(|r| *r != info.region) {
        return Err(reject(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to a valid region. ",
        ));
    }
    let Some((amz_date, time)) =
        header(req.headers, "x-amz-date").and_then(|d| Some((d, parse_amz_date(d)?)))
    else {
        return Err(reject(
            400,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    if !amz_date.starts_with(&info.scope_date) {
        return Err(reject(
            403,
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{amz_date}'.",
                info.scope_date,
                &amz_date[..8]
            ),
        ));
    }
    if !info.signed_headers.iter().any(|h| h == "host") {
        return Err(reject(
            403,
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    match expected_signature(req, info, &creds, time) {
        Ok(sig) if sig == info.signature => Ok(()),
        _ => Err(reject(403, "InvalidSignatureException", SIGNATURE_MISMATCH)),
    }
}
