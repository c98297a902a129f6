//! The fake's AWS authentication: requests signed here with `aws-sigv4` (the right secret, a
//! wrong one, a single-encoded canonical path, a changed body, no or wrong session token), a
//! Bedrock API key, and credentials handed out by the fake SSO portal and STS.

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use common::{Resp, send};
use fake_provider::{AwsCredentials, FakeProvider, SsoConfig, StsConfig};
use serde_json::{Value, json};

const AKID: &str = "AKIDFAKEPROVIDER0001";
const SECRET: &str = "fake/provider/secret+key";
const TEMP_AKID: &str = "ASIAFAKEPROVIDER0001";
const TEMP_SECRET: &str = "temporary/secret";
const TOKEN: &str = "session-token-value";
const CRI_CONVERSE: &str = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse";
const ARN_STREAM: &str = "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse-stream";
const CORAL: &str = "http://internal.amazon.com/coral/com.amazon.coral.service/";

/// How a test request is signed.
struct Signer<'a> {
    akid: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    encoding: PercentEncodingMode,
}

impl Signer<'static> {
    fn new(akid: &'static str, secret: &'static str, token: Option<&'static str>) -> Self {
        Signer {
            akid,
            secret,
            token,
            region: "us-west-2",
            service: "bedrock",
            time: SystemTime::now(),
            encoding: PercentEncodingMode::Double,
        }
    }
}

impl Signer<'_> {
    /// The headers `aws-sigv4` adds (`x-amz-date`, `authorization`, maybe
    /// `x-amz-security-token`) to a request with `content-type: application/json` and the host
    /// `addr`, as common::send sends it.
    fn headers(&self, addr: &str, method: &str, path: &str, body: &str) -> Vec<(String, String)> {
        let identity = Credentials::new(
            self.akid,
            self.secret,
            self.token.map(str::to_string),
            None,
            "test",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = self.encoding;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        // common::send sends every body as `content-type: application/json`.
        let req = SignableRequest::new(
            method,
            format!("http://{addr}{path}"),
            [("content-type", "application/json")].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(req, &params).expect("sign").into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

async fn call(fake: &FakeProvider, path: &str, body: &str, headers: &[(String, String)]) -> Resp {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(fake.addr(), "POST", path, &h, body).await
}

async fn signed(fake: &FakeProvider, signer: &Signer<'_>, path: &str, body: &str) -> Resp {
    let headers = signer.headers(&fake.addr().to_string(), "POST", path, body);
    call(fake, path, body, &headers).await
}

fn converse() -> String {
    json!({"messages": [{"role": "user", "content": [{"text": "hello"}]}]}).to_string()
}

/// (status, x-amzn-ErrorType, message) of an AWS front-end error.
fn rejection(r: &Resp) -> (u16, String, String) {
    let kind = r.header("x-amzn-errortype").unwrap_or("").to_string();
    let msg = r.json()["message"].as_str().unwrap_or("").to_string();
    (r.status, kind, msg)
}

async fn fake_with(creds: Vec<AwsCredentials>) -> FakeProvider {
    let mut b = FakeProvider::builder().default_reply(fake_provider::Reply::text("signed ok"));
    for c in creds {
        b = b.aws_credentials(c);
    }
    b.start().await.expect("start")
}

#[tokio::test]
async fn genuine_signatures_pass() {
    let fake = fake_with(vec![
        AwsCredentials::new(AKID, SECRET),
        AwsCredentials::new(TEMP_AKID, TEMP_SECRET).with_session_token(TOKEN),
    ])
    .await;
    let long = Signer::new(AKID, SECRET, None);
    let r = signed(&fake, &long, CRI_CONVERSE, &converse()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The ARN as one encoded segment; temporary credentials; a signature from last year (the
    // fake does not check clock skew).
    let mut temp = Signer::new(TEMP_AKID, TEMP_SECRET, Some(TOKEN));
    temp.time = SystemTime::now() - Duration::from_secs(365 * 86_400);
    let r = signed(&fake, &temp, ARN_STREAM, &converse()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    let rec = fake.aws_requests();
    let sig = rec[1]
        .aws
        .as_ref()
        .and_then(|a| a.sigv4.clone())
        .expect("sigv4");
    assert_eq!(sig.access_key_id, TEMP_AKID);
    assert_eq!(
        (sig.region.as_str(), sig.service.as_str()),
        ("us-west-2", "bedrock")
    );
    assert_eq!(
        sig.signed_headers,
        ["content-type", "host", "x-amz-date", "x-amz-security-token"]
    );
    assert_eq!(sig.signature.len(), 64);
    assert!(
        rec.iter()
            .all(|r| r.aws.as_ref().is_some_and(|a| a.rejected.is_none()))
    );
}

#[tokio::test]
async fn bad_signatures_fail() {
    let fake = fake_with(vec![AwsCredentials::new(AKID, SECRET)]).await;
    let mismatch = (
        403,
        format!("InvalidSignatureException:{CORAL}"),
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details."
            .to_string(),
    );
    let wrong = Signer::new(AKID, "not the secret", None);
    assert_eq!(
        rejection(&signed(&fake, &wrong, CRI_CONVERSE, &converse()).await),
        mismatch
    );
    // The classic bug: the canonical URI encoded once (`%3A`), not twice (`%253A`).
    let mut single = Signer::new(AKID, SECRET, None);
    single.encoding = PercentEncodingMode::Single;
    assert_eq!(
        rejection(&signed(&fake, &single, ARN_STREAM, &converse()).await),
        mismatch
    );
    assert_eq!(
        rejection(&signed(&fake, &single, CRI_CONVERSE, &converse()).await),
        mismatch
    );
    // The body changed after signing.
    let good = Signer::new(AKID, SECRET, None);
    let headers = good.headers(&fake.addr().to_string(), "POST", CRI_CONVERSE, &converse());
    let other = converse().replace("hello", "HELLO");
    assert_eq!(
        rejection(&call(&fake, CRI_CONVERSE, &other, &headers).await),
        mismatch
    );
    // Scoped to the wrong service (the endpoint's name, not the signing name).
    let mut svc = Signer::new(AKID, SECRET, None);
    svc.service = "bedrock-runtime";
    let (status, kind, msg) = rejection(&signed(&fake, &svc, CRI_CONVERSE, &converse()).await);
    assert_eq!(
        (status, kind.as_str()),
        (403, format!("InvalidSignatureException:{CORAL}").as_str())
    );
    assert_eq!(
        msg,
        "Credential should be scoped to correct service: 'bedrock'. "
    );
    let rejected: Vec<Option<String>> = fake
        .aws_requests()
        .iter()
        .map(|r| r.aws.as_ref().and_then(|a| a.rejected.clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![Some("InvalidSignatureException".to_string()); 5]
    );
}

#[tokio::test]
async fn unknown_keys_tokens_and_missing_auth() {
    let fake = fake_with(vec![
        AwsCredentials::new(AKID, SECRET),
        AwsCredentials::new(TEMP_AKID, TEMP_SECRET).with_session_token(TOKEN),
    ])
    .await;
    let invalid = (
        403,
        format!("UnrecognizedClientException:{CORAL}"),
        "The security token included in the request is invalid.".to_string(),
    );
    let unknown = Signer::new("AKIDUNKNOWN000000001", SECRET, None);
    assert_eq!(
        rejection(&signed(&fake, &unknown, CRI_CONVERSE, &converse()).await),
        invalid
    );
    let no_token = Signer::new(TEMP_AKID, TEMP_SECRET, None);
    assert_eq!(
        rejection(&signed(&fake, &no_token, CRI_CONVERSE, &converse()).await),
        invalid
    );
    let wrong_token = Signer::new(TEMP_AKID, TEMP_SECRET, Some("other-token"));
    assert_eq!(
        rejection(&signed(&fake, &wrong_token, CRI_CONVERSE, &converse()).await),
        invalid
    );
    let unexpected = Signer::new(AKID, SECRET, Some(TOKEN));
    assert_eq!(
        rejection(&signed(&fake, &unexpected, CRI_CONVERSE, &converse()).await),
        invalid
    );
    let r = call(&fake, CRI_CONVERSE, &converse(), &[]).await;
    assert_eq!(
        rejection(&r),
        (
            403,
            format!("MissingAuthenticationTokenException:{CORAL}"),
            "Missing Authentication Token".to_string()
        )
    );
}

#[tokio::test]
async fn region_pin_and_bedrock_api_keys() {
    let fake = FakeProvider::builder()
        .aws_credentials(AwsCredentials::new(AKID, SECRET))
        .aws_region("us-west-2")
        .bedrock_api_key("bedrock-api-key-1")
        .default_reply(fake_provider::Reply::text("ok"))
        .start()
        .await
        .expect("start");
    let mut east = Signer::new(AKID, SECRET, None);
    east.region = "us-east-1";
    let (status, kind, _) = rejection(&signed(&fake, &east, CRI_CONVERSE, &converse()).await);
    assert_eq!(
        (status, kind),
        (403, format!("InvalidSignatureException:{CORAL}"))
    );
    let bearer = [(
        "authorization".to_string(),
        "Bearer bedrock-api-key-1".to_string(),
    )];
    assert_eq!(
        call(&fake, CRI_CONVERSE, &converse(), &bearer).await.status,
        200
    );
    let wrong = [("authorization".to_string(), "Bearer nope".to_string())];
    let (status, kind, _) = rejection(&call(&fake, CRI_CONVERSE, &converse(), &wrong).await);
    assert_eq!(
        (status, kind),
        (403, format!("UnrecognizedClientException:{CORAL}"))
    );
}

async fn role_credentials(fake: &FakeProvider, token: &str) -> Resp {
    send(
        fake.addr(),
        "GET",
        "/federation/credentials?role_name=BedrockUser&account_id=123456789012",
        &[("x-amz-sso_bearer_token", token)],
        "",
    )
    .await
}

#[tokio::test]
async fn sso_portal_hands_out_credentials_bedrock_accepts() {
    let mut sso = SsoConfig::new("sso-access-token");
    sso.account_id = Some("123456789012".into());
    sso.credentials = vec![
        AwsCredentials::new("ASIASSOEXPIRED000001", "s0")
            .with_session_token("t0")
            .expiring_in(0),
        AwsCredentials::new("ASIASSOFRESH00000001", "s1")
            .with_session_token("t1")
            .expiring_in(900),
    ];
    let fake = FakeProvider::builder()
        .sso(sso)
        .default_reply(fake_provider::Reply::text("ok"))
        .start()
        .await
        .expect("start");
    let r = role_credentials(&fake, "wrong").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some(
            "UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
        )
    );
    assert_eq!(
        r.json(),
        json!({"message": "Session token not found or invalid"})
    );
    let first = role_credentials(&fake, "sso-access-token").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let c = first.json()["roleCredentials"].clone();
    assert_eq!(c["accessKeyId"], "ASIASSOEXPIRED000001");
    let expired = Signer::new("ASIASSOEXPIRED000001", "s0", Some("t0"));
    let (status, kind, msg) = rejection(&signed(&fake, &expired, CRI_CONVERSE, &converse()).await);
    assert_eq!(
        (status, kind.as_str()),
        (403, format!("ExpiredTokenException:{CORAL}").as_str())
    );
    assert_eq!(msg, "The security token included in the request is expired");
    let second =
        role_credentials(&fake, "sso-access-token").await.json()["roleCredentials"].clone();
    assert_eq!(second["sessionToken"], "t1");
    let expiration = second["expiration"].as_u64().expect("epoch ms");
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    assert!(
        (now_ms + 800_000..now_ms + 1_000_000).contains(&expiration),
        "{expiration}"
    );
    let fresh = Signer::new("ASIASSOFRESH00000001", "s1", Some("t1"));
    assert_eq!(
        signed(&fake, &fresh, CRI_CONVERSE, &converse())
            .await
            .status,
        200
    );
    assert_eq!(fake.sso_calls(), 2);
    let other_account = send(
        fake.addr(),
        "GET",
        "/federation/credentials?role_name=BedrockUser&account_id=999999999999",
        &[("x-amz-sso_bearer_token", "sso-access-token")],
        "",
    )
    .await;
    assert_eq!(other_account.status, 403);
}

fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

#[tokio::test]
async fn sts_assume_role() {
    let fake = FakeProvider::builder()
        .aws_credentials(AwsCredentials::new(AKID, SECRET))
        .sts(StsConfig {
            role_arn: Some("arn:aws:iam::123456789012:role/BedrockRole".into()),
            credentials: Vec::new(),
        })
        .default_reply(fake_provider::Reply::text("ok"))
        .start()
        .await
        .expect("start");
    let form = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FBedrockRole&RoleSessionName=test";
    let mut sts = Signer::new(AKID, SECRET, None);
    sts.service = "sts";
    let r = signed(&fake, &sts, "/", form).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/xml"));
    let xml = r.text();
    let akid = xml_field(&xml, "AccessKeyId")
        .expect("AccessKeyId")
        .to_string();
    let secret = xml_field(&xml, "SecretAccessKey")
        .expect("secret")
        .to_string();
    let token = xml_field(&xml, "SessionToken").expect("token").to_string();
    assert!(xml_field(&xml, "Expiration").is_some_and(|e| e.ends_with('Z')));
    assert_eq!(
        xml_field(&xml, "Arn"),
        Some("arn:aws:sts::123456789012:assumed-role/BedrockRole/test")
    );
    let assumed = Signer {
        akid: &akid,
        secret: &secret,
        token: Some(&token),
        region: "us-west-2",
        service: "bedrock",
        time: SystemTime::now(),
        encoding: PercentEncodingMode::Double,
    };
    assert_eq!(
        signed(&fake, &assumed, CRI_CONVERSE, &converse())
            .await
            .status,
        200
    );
    assert_eq!(fake.sts_calls(), 1);
    let other = form.replace("BedrockRole", "OtherRole");
    let r = signed(&fake, &sts, "/", &other).await;
    assert_eq!(r.status, 403);
    assert_eq!(xml_field(&r.text(), "Code"), Some("AccessDenied"));
    let wrong = Signer {
        secret: "wrong",
        ..Signer::new(AKID, SECRET, None)
    };
    let wrong = Signer {
        service: "sts",
        ..wrong
    };
    let r = signed(&fake, &wrong, "/", form).await;
    assert_eq!(r.status, 403);
    assert_eq!(xml_field(&r.text(), "Code"), Some("SignatureDoesNotMatch"));
    let calls: Vec<Value> = fake
        .aws_requests()
        .iter()
        .map(|r| {
            json!(
                r.aws
                    .as_ref()
                    .map(|a| (a.operation.clone(), a.rejected.clone()))
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            json!(["AssumeRole", null]),
            json!(["Converse", null]),
            json!(["AssumeRole", "AccessDenied"]),
            json!(["AssumeRole", "InvalidSignatureException"])
        ]
    );
}
