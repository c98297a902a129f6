//! Bedrock URLs and SigV4 signatures (field-2026-11.md §4.4).
//!
//! The model id is one path segment, percent-encoded once on the wire (`:` → `%3A`, `/` →
//! `%2F`); SigV4 for services other than S3 encodes the path again for the canonical request, so
//! the signature covers `%253A` — `aws-sigv4`'s default ([`PercentEncodingMode::Double`]) does
//! that from the URL as sent. Getting either step wrong is the 403 (or the 404 of an ARN split
//! into segments) several gateways shipped. The service name is `bedrock`, not
//! `bedrock-runtime`. Signed: `host`, `content-type`, `accept`, `x-amz-date`, and
//! `x-amz-security-token` for temporary credentials, over the exact body bytes.

use super::credentials::Signing;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, sign as sigv4_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// The SigV4 service name of the Bedrock runtime.
pub const SERVICE: &str = "bedrock";

/// `s` with every byte but RFC 3986's unreserved characters percent-encoded, as one path segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `{base}/model/{model id, one encoded segment}/{operation}`.
pub fn operation_url(base: &str, model: &str, operation: &str) -> String {
    format!("{base}/model/{}/{operation}", encode_segment(model))
}

/// The `host` header value for `url`, as the HTTP client sends it (the port only when it is not
/// the scheme's default).
fn host(url: &reqwest::Url) -> String {
    let h = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_owned(),
    }
}

/// The headers that sign a POST of `body` to `url` (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials). The request must also carry
/// `content-type: application/json` and `accept: application/json`, which are signed.
///
/// Errors: the signing library's reason (an invalid URL, say).
pub fn sign(
    url: &reqwest::Url,
    body: &[u8],
    s: &Signing,
) -> Result<Vec<(&'static str, String)>, String> {
    sign_at(url, body, s, SystemTime::now())
}

/// [`sign`] at a fixed time (tests compare against known signatures).
pub fn sign_at(
    url: &reqwest::Url,
    body: &[u8],
    s: &Signing,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    let host = host(url);
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let request = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let identity: Identity = s.credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s.region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let (instructions, _) = sigv4_sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (headers, _) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    #[test]
    fn model_ids_are_one_segment_encoded_once() {
        assert_eq!(
            operation_url(
                "https://bedrock-runtime.us-west-2.amazonaws.com",
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "invoke"
            ),
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
        );
        assert_eq!(
            encode_segment(
                "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123"
            ),
            "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123"
        );
    }

    #[test]
    fn signature_covers_the_double_encoded_path_and_the_session_token() {
        let s = Signing {
            credentials: Credentials::new("AKIDEXAMPLE", "secret", Some("tok".into()), None, "t"),
            region: "us-west-2".into(),
        };
        let url =
            reqwest::Url::parse("http://127.0.0.1:9/model/us.anthropic.claude-x-v1%3A0/converse")
                .unwrap();
        // reqwest keeps the encoding as given: the wire path is encoded once.
        assert_eq!(url.path(), "/model/us.anthropic.claude-x-v1%3A0/converse");
        let h = sign_at(&url, b"{}", &s, SystemTime::UNIX_EPOCH).unwrap();
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19700101/us-west-2/bedrock/aws4_request"
        ));
        assert!(
            auth.contains("SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("x-amz-security-token"), Some("tok"));
        assert_eq!(get("x-amz-date"), Some("19700101T000000Z"));
        // The same request with a path encoded differently signs differently.
        let other =
            reqwest::Url::parse("http://127.0.0.1:9/model/us.anthropic.claude-x-v1:0/converse")
                .unwrap();
        let h2 = sign_at(&other, b"{}", &s, SystemTime::UNIX_EPOCH).unwrap();
        assert_ne!(
            h2.iter().find(|(k, _)| *k == "authorization").unwrap().1,
            auth
        );
    }
}
