//! SigV4 verification: the fake recomputes each request's signature with `aws-sigv4` and
//! compares it with the one in the `Authorization` header.
//!
//! The recomputation uses `aws-sigv4`'s default settings, which are those of every AWS service
//! but S3: the canonical URI is the path *as received* (so a model id arrives percent-encoded
//! once, `%3A`) encoded again (`%253A`), and normalised; the payload hash is over the exact body
//! bytes; the canonical headers are the request's headers named in `SignedHeaders` (plus
//! `host`, `x-amz-date` and, for credentials with a session token, `x-amz-security-token`,
//! which `aws-sigv4` always signs). Service and region come from the credential scope
//! (`Credential=AKID/20250101/us-west-2/bedrock/aws4_request`), the time from `x-amz-date`.
//! See the AWS docs "Create a canonical request for Signature Version 4" and "Elements of an
//! AWS API request signature". Clock skew is not checked (tests may sign at a fixed time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::config::AwsCredentials;

/// The parts of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigV4Info {
    /// Access key id of the credential scope.
    pub access_key_id: String,
    /// Date of the credential scope (`YYYYMMDD`).
    pub scope_date: String,
    /// Region of the credential scope (`us-west-2`).
    pub region: String,
    /// Service of the credential scope (`bedrock` for the runtime, `sts`, ...).
    pub service: String,
    /// Lowercase header names of `SignedHeaders`, in their order.
    pub signed_headers: Vec<String>,
    /// The signature given (64 hex digits).
    pub signature: String,
}

/// Parses a SigV4 `Authorization` header value; `None` when it is not one or is incomplete.
pub(crate) fn parse_authorization(value: &str) -> Option<SigV4Info> {
    let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    let signed_headers: Vec<String> = signed?
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    Some(SigV4Info {
        access_key_id: akid.to_string(),
        scope_date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature?.to_string(),
    })
}

/// Parses an `x-amz-date` value (`20250101T120000Z`, ISO 8601 basic format, UTC).
pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What the fake needs of a request to check its signature.
pub(crate) struct SignedRequest<'a> {
    pub method: &'a str,
    /// Path and query exactly as received (percent-encoding untouched).
    pub path_and_query: String,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The signature `aws-sigv4` computes for `req` with `creds`, over the headers named in
/// `info.signed_headers`, for the scope's region and service at time `time`.
pub(crate) fn expected_signature(
    req: &SignedRequest<'_>,
    info: &SigV4Info,
    creds: &AwsCredentials,
    time: SystemTime,
) -> Result<String, String> {
    let host = req
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let uri = format!("http://{host}{}", req.path_and_query);
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &info.signed_headers {
        for v in req.headers.get_all(name.as_str()) {
            headers.push((name.as_str(), v.to_str().map_err(|e| e.to_string())?));
        }
    }
    let credentials = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "fake-provider",
    );
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&info.region)
        .name(&info.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        req.method,
        uri,
        headers.into_iter(),
        SignableBody::Bytes(req.body),
    )
    .map_err(|e| e.to_string())?;
    let out = sign(signable, &params).map_err(|e| e.to_string())?;
    Ok(out.signature().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let v = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-west-2/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=abc123";
        let i = parse_authorization(v).expect("valid");
        assert_eq!(i.access_key_id, "AKIDEXAMPLE");
        assert_eq!(i.scope_date, "20250101");
        assert_eq!(i.region, "us-west-2");
        assert_eq!(i.service, "bedrock");
        assert_eq!(i.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert_eq!(i.signature, "abc123");
        assert!(parse_authorization("Bearer abc").is_none());
        assert!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=A/B/C, SignedHeaders=h, Signature=s")
                .is_none()
        );
        assert!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=A/20250101/r/s/aws4_request, SignedHeaders=host"
            )
            .is_none()
        );
    }

    #[test]
    fn parses_amz_dates() {
        let t = parse_amz_date("20250101T000000Z").expect("valid");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs()),
            Some(1_735_689_600)
        );
        let t = parse_amz_date("20240229T235959Z").expect("leap day");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs()),
            Some(1_709_251_199)
        );
        for bad in [
            "2025-01-01T00:00:00Z",
            "20251301T000000Z",
            "20250101T000000",
            "",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }
}
