//! Where a Bedrock deployment's AWS identity comes from: static keys from the gateway's secrets,
//! a named profile of a shared credentials file, and SSO profiles whose role credentials the
//! fake AWS SSO portal hands out; refreshed before they expire, and an expired SSO login named
//! with its fix.
//!
//! `aws-config` reads the process environment, so the gateways of these tests run in a child
//! process with the environment each gives it ([`ChildGateway`]); the test keeps the fake
//! upstream, sends the requests and checks everything.

use crate::bedrock::{CLAUDE, NOVA, REGION, accepted, aws_fake, bedrock_json, post, request};
use crate::bedrock_child::ChildGateway;
use crate::common::*;
use crate::faults::clients::{Client, answer_text};
use fake_provider::{AwsCredentials, BedrockOperation as Op, FakeProvider, Reply, SsoConfig};
use gateway::{ModelDefinition, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fresh `HOME` for one test.
fn home(test: &str) -> PathBuf {
    let h = std::env::temp_dir().join(format!("br-cred-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&h);
    std::fs::create_dir_all(h.join(".aws/sso/cache")).unwrap();
    h
}

/// A Claude model `claude` at `fake` with `params`, and no region or keys unless they say so.
fn models(fake: &FakeProvider, params: Value) -> Value {
    let mut p = json!({"aws_region_name": ""});
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!([bedrock_json("claude", CLAUDE, &fake.base_url(), p)])
}

/// Sends `n` requests; each must be answered "ok".
async fn ask(gw: &Running, n: usize) {
    for i in 0..n {
        let resp = post(
            gw,
            Client::Anthropic,
            &request(Client::Anthropic, "claude", false),
            &[],
        )
        .await;
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        assert_eq!(
            status,
            200,
            "request {i}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(answer_text(Client::Anthropic, false, &body), "ok");
    }
}

#[tokio::test]
async fn static_keys_and_session_token_from_secrets_sign_every_request() {
    let fake = FakeProvider::builder()
        .aws_credentials(
            AwsCredentials::new("ASIASTATIC", "static-secret").with_session_token("tok/1+2"),
        )
        .aws_region(REGION)
        .bedrock(NOVA, Op::ConverseStream, Reply::text("ok"))
        .start()
        .await
        .unwrap();
    let def: ModelDefinition = serde_json::from_value(bedrock_json(
        "nova",
        NOVA,
        &fake.base_url(),
        json!({"aws_access_key_id": "os.environ/K", "aws_secret_access_key": "os.environ/S",
               "aws_session_token": "os.environ/T"}),
    ))
    .unwrap();
    let secrets = HashMap::from([
        ("K".to_owned(), "ASIASTATIC".to_owned()),
        ("S".to_owned(), "static-secret".to_owned()),
        ("T".to_owned(), "tok/1+2".to_owned()),
    ]);
    let gw = gateway_with(vec![def], secrets, RouterSettings::default()).await;
    let resp = post(&gw, Client::Chat, &request(Client::Chat, "nova", true), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        answer_text(Client::Chat, true, &resp.bytes().await.unwrap()),
        "ok"
    );
    let reqs = accepted(&fake, "ASIASTATIC");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].headers["x-amz-security-token"], "tok/1+2");
    let signed = &reqs[0]
        .aws
        .as_ref()
        .unwrap()
        .sigv4
        .as_ref()
        .unwrap()
        .signed_headers;
    assert!(
        signed.iter().any(|h| h == "x-amz-security-token"),
        "{signed:?}"
    );
}

#[tokio::test]
async fn named_profile_of_a_shared_credentials_file_gives_keys_and_region() {
    let fake = aws_fake()
        .aws_credentials(AwsCredentials::new("AKIDPROFILE", "profile-secret"))
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .start()
        .await
        .unwrap();
    let h = home("profile");
    std::fs::write(
        h.join("credentials"),
        "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n\n\
         [bedrock-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    std::fs::write(
        h.join("config"),
        format!("[profile bedrock-test]\nregion = {REGION}\n"),
    )
    .unwrap();
    let child = ChildGateway::start(
        models(&fake, json!({"aws_profile_name": "bedrock-test"})),
        &[
            ("HOME", &h),
            ("AWS_SHARED_CREDENTIALS_FILE", &h.join("credentials")),
            ("AWS_CONFIG_FILE", &h.join("config")),
        ],
    )
    .await;
    ask(&child.gw, 2).await;
    child.stop().await;
    assert_eq!(
        accepted(&fake, "AKIDPROFILE").len(),
        2,
        "the profile's region too"
    );
    let _ = std::fs::remove_dir_all(&h);
}

/// The SSO token cache file of a start URL (or session name) is named by its SHA-1; these are
/// the names `aws-config`'s own tests give.
const START_URL: &str = "https://d-92671207e4.awsapps.com/start";
const START_URL_CACHE: &str = "13f9d35043871d073ab260e020f0ffde092cb14b.json";
const SESSION: &str = "admin";
const SESSION_CACHE: &str = "d033e22ae348aeb5660fc2140aec35850c4da997.json";
const SSO_TOKEN: &str = "fake-sso-access-token";
const ACCOUNT: &str = "123456789012";
const ROLE: &str = "BedrockUser";

fn sso_credentials(n: usize, lifetime: u64) -> AwsCredentials {
    AwsCredentials::new(format!("ASIASSO{n}"), format!("sso-secret-{n}"))
        .with_session_token(format!("sso-token-{n}"))
        .expiring_in(lifetime)
}

/// A fake with the portal handing out `creds` in turn.
async fn sso_fake(creds: Vec<AwsCredentials>) -> FakeProvider {
    let mut sso = SsoConfig::new(SSO_TOKEN);
    sso.account_id = Some(ACCOUNT.into());
    sso.role_name = Some(ROLE.into());
    sso.credentials = creds;
    aws_fake()
        .sso(sso)
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .start()
        .await
        .unwrap()
}

/// Writes the profile `sso-dev` (legacy: the start URL in the profile) and its cached token.
fn legacy_sso_profile(h: &Path, token: &str, expires: &str) {
    std::fs::write(
        h.join(".aws/config"),
        format!(
            "[profile sso-dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\
             sso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\nregion = {REGION}\n"
        ),
    )
    .unwrap();
    let cache = json!({"startUrl": START_URL, "region": "us-east-1", "accessToken": token,
                       "expiresAt": expires});
    std::fs::write(
        h.join(".aws/sso/cache").join(START_URL_CACHE),
        cache.to_string(),
    )
    .unwrap();
}

/// Starts a gateway whose `claude` uses profile `sso-dev`, SSO at the fake.
async fn sso_gateway(fake: &FakeProvider, h: &Path) -> ChildGateway {
    let url = PathBuf::from(fake.base_url());
    ChildGateway::start(
        models(fake, json!({"aws_profile_name": "sso-dev"})),
        &[("HOME", h), ("AWS_ENDPOINT_URL_SSO", &url)],
    )
    .await
}

/// The SSO portal requests the fake answered, checking they asked for the profile's role.
fn portal_calls(fake: &FakeProvider) -> usize {
    let calls: Vec<_> = fake
        .aws_requests()
        .into_iter()
        .filter(|r| r.path == "/federation/credentials")
        .collect();
    for c in &calls {
        assert_eq!(c.aws.as_ref().unwrap().rejected, None, "{c:?}");
        let q = c.query.as_deref().unwrap_or_default();
        assert!(
            q.contains(&format!("account_id={ACCOUNT}"))
                && q.contains(&format!("role_name={ROLE}")),
            "{q}"
        );
    }
    assert_eq!(calls.len(), fake.sso_calls());
    calls.len()
}

/// The access key of each Bedrock request, in order, checking none was refused.
fn signing_keys(fake: &FakeProvider) -> Vec<String> {
    fake.aws_requests()
        .iter()
        .filter_map(|r| r.aws.as_ref())
        .filter(|c| c.model_id.is_some())
        .inspect(|c| assert_eq!(c.rejected, None, "{c:?}"))
        .map(|c| c.sigv4.as_ref().unwrap().access_key_id.clone())
        .collect()
}

#[tokio::test]
async fn sso_profile_signs_with_role_credentials_from_the_portal_fetched_once() {
    let fake = sso_fake(vec![sso_credentials(1, 3600)]).await;
    let h = home("sso");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let child = sso_gateway(&fake, &h).await;
    ask(&child.gw, 3).await;
    child.stop().await;
    let reqs = accepted(&fake, "ASIASSO1");
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.headers["x-amz-security-token"] == "sso-token-1")
    );
    assert_eq!(portal_calls(&fake), 1, "cached while they are fresh");
    let _ = std::fs::remove_dir_all(&h);
}

/// An `sso-session` profile whose portal is set by `endpoint_url` in the profile rather than by
/// `AWS_ENDPOINT_URL_SSO`.
#[tokio::test]
async fn sso_session_profile_with_the_portal_in_the_profiles_endpoint_url() {
    let fake = sso_fake(vec![sso_credentials(1, 3600)]).await;
    let h = home("sso-session");
    session_sso_profile(
        &h,
        &format!("endpoint_url = {}", fake.base_url()),
        "2099-01-01T00:00:00Z",
    );
    let child = ChildGateway::start(
        models(&fake, json!({"aws_profile_name": "sso-new"})),
        &[("HOME", &h)],
    )
    .await;
    ask(&child.gw, 1).await;
    child.stop().await;
    assert_eq!(accepted(&fake, "ASIASSO1").len(), 1);
    assert_eq!(portal_calls(&fake), 1);
    let _ = std::fs::remove_dir_all(&h);
}

/// Credentials within five minutes of expiry still sign the request that finds them, and are
/// renewed in the background: no request waits, none fails, the next ones use the new set.
#[tokio::test]
async fn short_lived_sso_credentials_are_renewed_in_the_background_without_a_failed_request() {
    let fake = sso_fake(vec![sso_credentials(1, 120), sso_credentials(2, 3600)]).await;
    let h = home("sso-refresh");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let child = sso_gateway(&fake, &h).await;
    ask(&child.gw, 1).await;
    assert_eq!(portal_calls(&fake), 1);
    ask(&child.gw, 1).await;
    let waited = Instant::now();
    while fake.sso_calls() < 2 {
        assert!(waited.elapsed() < Duration::from_secs(10), "no renewal");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The portal has answered; the gateway stores the new set a moment later.
    while signing_keys(&fake).last().map(String::as_str) != Some("ASIASSO2") {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the new set is not used"
        );
        ask(&child.gw, 1).await;
    }
    child.stop().await;
    let keys = signing_keys(&fake);
    assert_eq!(keys[..2], ["ASIASSO1", "ASIASSO1"]);
    assert!(
        keys[2..].iter().all(|k| k == "ASIASSO1" || k == "ASIASSO2"),
        "{keys:?}"
    );
    assert_eq!(portal_calls(&fake), 2);
    let _ = std::fs::remove_dir_all(&h);
}

/// Credentials about to expire (here: issued for 5 s) are not used: the request waits for new
/// ones, and the fake never sees an expired key.
#[tokio::test]
async fn sso_credentials_about_to_expire_are_fetched_again_before_the_request() {
    let fake = sso_fake(vec![
        sso_credentials(1, 5),
        sso_credentials(2, 5),
        sso_credentials(3, 3600),
    ])
    .await;
    let h = home("sso-expiry");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let child = sso_gateway(&fake, &h).await;
    ask(&child.gw, 4).await;
    child.stop().await;
    assert_eq!(
        signing_keys(&fake),
        ["ASIASSO1", "ASIASSO2", "ASIASSO3", "ASIASSO3"]
    );
    assert_eq!(portal_calls(&fake), 3);
    let _ = std::fs::remove_dir_all(&h);
}

/// Writes the profile `sso-new` (an `sso-session`, whose token `aws-config` checks for expiry)
/// and its cached token.
fn session_sso_profile(h: &Path, extra: &str, expires: &str) {
    std::fs::write(
        h.join(".aws/config"),
        format!(
            "[profile sso-new]\nsso_session = {SESSION}\nsso_account_id = {ACCOUNT}\n\
             sso_role_name = {ROLE}\nregion = {REGION}\n{extra}\n\
             [sso-session {SESSION}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        ),
    )
    .unwrap();
    let cache = json!({"startUrl": START_URL, "region": "us-east-1", "accessToken": SSO_TOKEN,
                       "expiresAt": expires});
    std::fs::write(
        h.join(".aws/sso/cache").join(SESSION_CACHE),
        cache.to_string(),
    )
    .unwrap();
}

/// An SSO login that has expired (the cached token of an `sso-session` is past `expiresAt`, or
/// the portal no longer knows a legacy profile's token) is answered with the command that
/// renews it, before anything reaches Bedrock.
#[tokio::test]
async fn expired_sso_login_is_a_403_saying_to_run_aws_sso_login_with_the_profile() {
    let fake = sso_fake(vec![sso_credentials(1, 3600)]).await;
    for (case, profile) in [("cache-expired", "sso-new"), ("portal-refuses", "sso-dev")] {
        let h = home(case);
        if profile == "sso-new" {
            session_sso_profile(&h, "", "2020-01-01T00:00:00Z");
        } else {
            legacy_sso_profile(&h, "a-token-the-portal-forgot", "2099-01-01T00:00:00Z");
        }
        let url = PathBuf::from(fake.base_url());
        let child = ChildGateway::start(
            models(&fake, json!({"aws_profile_name": profile})),
            &[("HOME", &h), ("AWS_ENDPOINT_URL_SSO", &url)],
        )
        .await;
        let req = request(Client::Anthropic, "claude", false);
        let resp = post(&child.gw, Client::Anthropic, &req, &[]).await;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        child.stop().await;
        let message = v["error"]["message"].as_str().unwrap();
        assert_eq!(status, 403, "{case}: {v}");
        let fix = format!("aws sso login --profile {profile}");
        assert!(message.contains(&fix), "{case}: {message}");
        assert!(
            !message.contains("a-token-the-portal-forgot"),
            "{case}: {message}"
        );
        let _ = std::fs::remove_dir_all(&h);
    }
    assert!(signing_keys(&fake).is_empty(), "nothing reached Bedrock");
}

/// Requests that arrive together on a fresh gateway wait for one resolution of the profile:
/// the portal is asked once, not once per request.
#[tokio::test]
async fn concurrent_first_requests_share_one_sso_resolution() {
    let fake = sso_fake(vec![sso_credentials(1, 3600), sso_credentials(2, 3600)]).await;
    let h = home("sso-concurrent");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let child = sso_gateway(&fake, &h).await;
    futures_util::future::join_all((0..6).map(|_| ask(&child.gw, 1))).await;
    child.stop().await;
    assert_eq!(accepted(&fake, "ASIASSO1").len(), 6);
    assert_eq!(portal_calls(&fake), 1);
    let _ = std::fs::remove_dir_all(&h);
}

/// `aws_role_name`: the static keys assume the role through STS (at the fake, by
/// `AWS_ENDPOINT_URL_STS`), and Bedrock requests are signed with the role's credentials.
#[tokio::test]
async fn role_is_assumed_with_the_static_keys_and_its_credentials_sign() {
    let role = "arn:aws:iam::123456789012:role/BedrockRole";
    let fake = aws_fake()
        .sts(fake_provider::StsConfig {
            role_arn: Some(role.into()),
            credentials: vec![
                AwsCredentials::new("ASIAROLE", "role-secret").with_session_token("role-token"),
            ],
        })
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .start()
        .await
        .unwrap();
    let h = home("role");
    let url = PathBuf::from(fake.base_url());
    let params = json!({"aws_region_name": REGION, "aws_access_key_id": crate::bedrock::KEY_ID,
        "aws_secret_access_key": crate::bedrock::SECRET, "aws_role_name": role,
        "aws_session_name": "shim-test"});
    let child = ChildGateway::start(
        models(&fake, params),
        &[("HOME", &h), ("AWS_ENDPOINT_URL_STS", &url)],
    )
    .await;
    ask(&child.gw, 2).await;
    child.stop().await;
    let sts: Vec<_> = fake
        .aws_requests()
        .into_iter()
        .filter(|r| r.path == "/")
        .collect();
    assert_eq!(sts.len(), 1, "assumed once");
    let call = sts[0].aws.as_ref().unwrap();
    assert_eq!(call.rejected, None);
    let sig = call.sigv4.as_ref().unwrap();
    assert_eq!(
        (sig.access_key_id.as_str(), sig.service.as_str()),
        (crate::bedrock::KEY_ID, "sts")
    );
    assert!(
        sts[0].raw_body.contains("RoleSessionName=shim-test"),
        "{}",
        sts[0].raw_body
    );
    assert_eq!(accepted(&fake, "ASIAROLE").len(), 2);
    let _ = std::fs::remove_dir_all(&h);
}

/// Regression: requests that waited for another one's renewal took the cached credentials
/// even when that renewal had failed and they had expired, and sent Bedrock requests AWS can
/// only refuse. Now each such request reports the renewal's failure itself.
#[tokio::test]
async fn waiters_do_not_sign_with_expired_credentials_when_renewal_fails() {
    let fake = sso_fake(vec![sso_credentials(1, 1), sso_credentials(2, 3600)]).await;
    let h = home("sso-renewal-fails");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let child = sso_gateway(&fake, &h).await;
    ask(&child.gw, 1).await;
    // The login ends: the portal no longer knows the cached token.
    let script = aws_fake()
        .sso(SsoConfig::new("a-newer-token"))
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .build()
        .unwrap();
    fake.set_script(script);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answers = futures_util::future::join_all((0..4).map(|_| async {
        let req = request(Client::Anthropic, "claude", false);
        let resp = post(&child.gw, Client::Anthropic, &req, &[]).await;
        (resp.status(), resp.json::<Value>().await.unwrap())
    }))
    .await;
    child.stop().await;
    for (status, v) in answers {
        assert_eq!(status, 403, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("aws sso login --profile sso-dev"),
            "{message}"
        );
    }
    assert_eq!(
        signing_keys(&fake),
        ["ASIASSO1"],
        "no request signed with the expired key"
    );
    let _ = std::fs::remove_dir_all(&h);
}

/// When AWS calls credentials expired that the gateway still holds for fresh (its clock ahead
/// of AWS's, a revoked session), they are forgotten and the request is tried again with new
/// ones from the portal: the client never sees the failure.
#[tokio::test]
async fn credentials_aws_calls_expired_are_renewed_and_the_request_retried() {
    let mut sso = SsoConfig::new(SSO_TOKEN);
    sso.credentials = vec![sso_credentials(1, 3600), sso_credentials(2, 3600)];
    let expired = Reply::http_error(
        403,
        Some("ExpiredTokenException"),
        Some("The security token included in the request is expired"),
    );
    let fake = aws_fake()
        .sso(sso)
        .bedrock_times(CLAUDE, Op::InvokeModel, 1, expired)
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .start()
        .await
        .unwrap();
    let h = home("sso-expired-at-aws");
    legacy_sso_profile(&h, SSO_TOKEN, "2099-01-01T00:00:00Z");
    let url = PathBuf::from(fake.base_url());
    let child = ChildGateway::start(
        models(&fake, json!({"aws_profile_name": "sso-dev"})),
        &[("HOME", &h), ("AWS_ENDPOINT_URL_SSO", &url)],
    )
    .await;
    ask(&child.gw, 1).await;
    child.stop().await;
    assert_eq!(signing_keys(&fake), ["ASIASSO1", "ASIASSO2"]);
    assert_eq!(fake.sso_calls(), 2);
    let _ = std::fs::remove_dir_all(&h);
}
