//! The `bedrock` provider against the fake Bedrock runtime, which verifies every SigV4
//! signature (a bad one is a 403, so an answer proves the signing) and validates bodies as
//! Bedrock does: each client protocol through InvokeModel (Claude) and Converse, streaming and
//! not; frames split across reads; images; model ids that must be encoded as one path segment;
//! health. Elsewhere: tool round trips and thinking history (`bedrock_history.rs`), every AWS
//! error (`bedrock_errors.rs`), credentials from keys, profiles, SSO and STS
//! (`bedrock_credentials.rs`). The helpers here serve them all.

use crate::common::*;
use crate::faults::clients::{Client, answer_text, json_of, sse};
use fake_provider::{AwsCredentials, BedrockOperation as Op, FakeProvider, RecordedRequest, Reply};
use gateway::{ModelDefinition, RouterSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// A Claude cross-region id: InvokeModel.
pub const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
/// A model that only Converse serves.
pub const NOVA: &str = "amazon.nova-pro-v1:0";
pub const KEY_ID: &str = "AKIDBEDROCKTEST";
pub const SECRET: &str = "bedrock/secret+KEY";
pub const REGION: &str = "us-west-2";

/// The fake's Bedrock with the test keys, pinned to [`REGION`].
pub fn aws_fake() -> fake_provider::FakeProviderBuilder {
    FakeProvider::builder()
        .aws_credentials(AwsCredentials::new(KEY_ID, SECRET))
        .aws_region(REGION)
}

/// A Bedrock model definition at the fake; `params` adds or overrides `litellm_params`.
pub fn bedrock_def(name: &str, model: &str, fake: &FakeProvider, params: Value) -> ModelDefinition {
    serde_json::from_value(bedrock_json(name, model, &fake.base_url(), params)).unwrap()
}

/// [`bedrock_def`] as JSON, for an endpoint `base`.
pub fn bedrock_json(name: &str, model: &str, base: &str, params: Value) -> Value {
    let mut p = json!({
        "model": format!("bedrock/{model}"),
        "aws_region_name": REGION,
        "aws_bedrock_runtime_endpoint": base,
    });
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({"model_name": name, "litellm_params": p})
}

/// [`bedrock_def`] with the test keys, given as `os.environ/` references.
pub fn keyed(name: &str, model: &str, fake: &FakeProvider) -> ModelDefinition {
    bedrock_def(
        name,
        model,
        fake,
        json!({"aws_access_key_id": "os.environ/BR_KEY_ID",
               "aws_secret_access_key": "os.environ/BR_SECRET"}),
    )
}

fn secrets() -> HashMap<String, String> {
    HashMap::from([
        ("BR_KEY_ID".to_owned(), KEY_ID.to_owned()),
        ("BR_SECRET".to_owned(), SECRET.to_owned()),
    ])
}

pub async fn gateway_of(models: Vec<ModelDefinition>, num_retries: u32) -> Running {
    let router = RouterSettings {
        num_retries,
        max_retry_after: Duration::from_secs(2),
        ..RouterSettings::default()
    };
    gateway_with(models, secrets(), router).await
}

/// The fake's Bedrock requests, checking each was signed with `key_id` and got through.
pub fn accepted(fake: &FakeProvider, key_id: &str) -> Vec<RecordedRequest> {
    let reqs: Vec<RecordedRequest> = fake
        .aws_requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/model/"))
        .collect();
    for r in &reqs {
        let call = r.aws.as_ref().unwrap();
        assert_eq!(call.rejected, None, "{} was refused", r.path);
        let sig = call.sigv4.as_ref().expect("signed");
        assert_eq!(sig.access_key_id, key_id);
        assert_eq!(
            (sig.region.as_str(), sig.service.as_str()),
            (REGION, "bedrock")
        );
    }
    reqs
}

/// POSTs `body` as `client` would, with `headers` on top.
pub async fn post(
    gw: &Running,
    client: Client,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = gw.http.post(format!("{}{}", gw.base, client.path()));
    req = match client {
        Client::Anthropic => req
            .header("x-api-key", MASTER_KEY)
            .header("anthropic-version", "2023-06-01"),
        _ => req.bearer_auth(MASTER_KEY),
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.json(body).send().await.unwrap()
}

/// A one-turn request from `client` (Chat streams ask for usage).
pub fn request(client: Client, model: &str, stream: bool) -> Value {
    let mut r = client.request(model, stream);
    if client == Client::Chat && stream {
        r["stream_options"] = json!({"include_usage": true});
    }
    r
}

/// `(uncached input, cache reads, output)` tokens of a complete answer, in `client`'s protocol.
fn usage_of(client: Client, stream: bool, body: &[u8]) -> (u64, u64, u64) {
    let n = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"));
    let u = match (client, stream) {
        (Client::Anthropic, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            return (
                n(&v["usage"]["input_tokens"]),
                n(&v["usage"]["cache_read_input_tokens"]),
                n(&v["usage"]["output_tokens"]),
            );
        }
        (Client::Anthropic, true) => {
            let ev: Vec<Value> = sse(body).iter().map(json_of).collect();
            // As the Anthropic SDK accumulates: `message_delta` counts replace `message_start`'s.
            let start = &ev.iter().find(|e| e["type"] == "message_start").unwrap()["message"];
            let delta = ev.iter().find(|e| e["type"] == "message_delta").unwrap();
            let count = |f: &str| match delta["usage"].get(f) {
                Some(v) if !v.is_null() => n(v),
                _ => n(&start["usage"][f]),
            };
            return (
                count("input_tokens"),
                count("cache_read_input_tokens"),
                count("output_tokens"),
            );
        }
        (Client::Chat, false) => serde_json::from_slice::<Value>(body).unwrap()["usage"].clone(),
        (Client::Chat, true) => {
            let ev = sse(body);
            json_of(&ev[ev.len() - 2])["usage"].clone()
        }
        (Client::Responses, false) => {
            serde_json::from_slice::<Value>(body).unwrap()["usage"].clone()
        }
        (Client::Responses, true) => {
            json_of(sse(body).last().unwrap())["response"]["usage"].clone()
        }
    };
    match client {
        Client::Chat => {
            let cached = n(&u["prompt_tokens_details"]["cached_tokens"]);
            (
                n(&u["prompt_tokens"]) - cached,
                cached,
                n(&u["completion_tokens"]),
            )
        }
        _ => {
            let cached = n(&u["input_tokens_details"]["cached_tokens"]);
            (
                n(&u["input_tokens"]) - cached,
                cached,
                n(&u["output_tokens"]),
            )
        }
    }
}

const ANSWER: &str = "Bedrock says: héllo ✓ \"quoted\"";

#[tokio::test]
async fn every_client_gets_text_and_usage_through_invoke_and_converse() {
    let reply = || Reply::text(ANSWER).with_usage(50, 7, 10);
    let mut b = aws_fake();
    for op in Op::ALL {
        let model = if op.is_converse() { NOVA } else { CLAUDE };
        b = b.bedrock(model, op, reply());
    }
    let fake = b.start().await.unwrap();
    let gw = gateway_of(
        vec![keyed("claude", CLAUDE, &fake), keyed("nova", NOVA, &fake)],
        0,
    )
    .await;
    for client in [Client::Anthropic, Client::Chat, Client::Responses] {
        for (name, id, converse) in [("claude", CLAUDE, false), ("nova", NOVA, true)] {
            for stream in [false, true] {
                let case = format!("{client:?} {name} stream={stream}");
                fake.clear_requests();
                let resp = post(
                    &gw,
                    client,
                    &request(client, name, stream),
                    &[("anthropic-beta", "beta-a, beta-b")],
                )
                .await;
                assert_eq!(resp.status(), 200, "{case}");
                let body = resp.bytes().await.unwrap();
                assert_eq!(answer_text(client, stream, &body), ANSWER, "{case}");
                assert_eq!(usage_of(client, stream, &body), (40, 10, 7), "{case}");

                let reqs = accepted(&fake, KEY_ID);
                assert_eq!(reqs.len(), 1, "{case}");
                let up = &reqs[0];
                let call = up.aws.as_ref().unwrap();
                assert_eq!(call.model_id.as_deref(), Some(id), "{case}");
                let op = match (converse, stream) {
                    (false, false) => Op::InvokeModel,
                    (false, true) => Op::InvokeModelWithResponseStream,
                    (true, false) => Op::Converse,
                    (true, true) => Op::ConverseStream,
                };
                assert_eq!(call.operation, op.as_str(), "{case}");
                assert_eq!(
                    up.path,
                    format!("/model/{}/{}", id.replace(':', "%3A"), op.path_suffix()),
                    "{case}: the id is one segment, encoded once"
                );
                if converse {
                    assert_eq!(
                        up.body["messages"][0],
                        json!({"role": "user", "content": [{"text": "hi"}]}),
                        "{case}"
                    );
                    assert!(up.body.get("anthropic_beta").is_none(), "{case}");
                } else {
                    let b = up.body.as_object().unwrap();
                    assert!(
                        !b.contains_key("model") && !b.contains_key("stream"),
                        "{case}"
                    );
                    assert_eq!(b["anthropic_version"], "bedrock-2023-05-31", "{case}");
                    assert_eq!(b["anthropic_beta"], json!(["beta-a", "beta-b"]), "{case}");
                    assert!(
                        !up.headers.contains_key("anthropic-beta"),
                        "{case}: the header became the body field"
                    );
                }
            }
        }
    }
}

/// A small PNG (1×1), base64.
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

#[tokio::test]
async fn base64_images_reach_converse_from_anthropic_and_chat_clients() {
    let fake = aws_fake()
        .bedrock(NOVA, Op::Converse, Reply::text("A red pixel."))
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("nova", NOVA, &fake)], 0).await;
    let anthropic = json!({"model": "nova", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "text", "text": "What is this?"}]}]});
    let chat = json!({"model": "nova", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}},
        {"type": "text", "text": "What is this?"}]}]});
    for (client, body) in [(Client::Anthropic, anthropic), (Client::Chat, chat)] {
        fake.clear_requests();
        let resp = post(&gw, client, &body, &[]).await;
        assert_eq!(resp.status(), 200, "{client:?}");
        let text = answer_text(client, false, &resp.bytes().await.unwrap());
        assert_eq!(text, "A red pixel.", "{client:?}");
        let reqs = accepted(&fake, KEY_ID);
        assert_eq!(
            reqs[0].body["messages"][0]["content"],
            json!([{"image": {"format": "png", "source": {"bytes": PNG_B64}}}, {"text": "What is this?"}]),
            "{client:?}"
        );
    }
}

/// Ids that must travel as one encoded path segment: an application inference profile's ARN
/// (its `/` too), a cross-region id; and `bedrock/converse/` sends a Claude id to Converse.
#[tokio::test]
async fn arn_and_cross_region_ids_are_one_segment_and_converse_prefix_forces_converse() {
    let arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123";
    let eu = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0";
    let fake = aws_fake()
        .bedrock(arn, Op::InvokeModel, Reply::text("from the profile"))
        .bedrock(eu, Op::InvokeModel, Reply::text("from eu"))
        .bedrock(CLAUDE, Op::Converse, Reply::text("claude via converse"))
        .start()
        .await
        .unwrap();
    let gw = gateway_of(
        vec![
            keyed("profile", arn, &fake),
            keyed("eu", eu, &fake),
            keyed("forced", &format!("converse/{CLAUDE}"), &fake),
        ],
        0,
    )
    .await;
    for (name, id, op, path, text) in [
        (
            "profile",
            arn,
            Op::InvokeModel,
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fabc123/invoke",
            "from the profile",
        ),
        (
            "eu",
            eu,
            Op::InvokeModel,
            "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke",
            "from eu",
        ),
        (
            "forced",
            CLAUDE,
            Op::Converse,
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
            "claude via converse",
        ),
    ] {
        fake.clear_requests();
        let resp = post(
            &gw,
            Client::Anthropic,
            &request(Client::Anthropic, name, false),
            &[],
        )
        .await;
        assert_eq!(resp.status(), 200, "{name}");
        assert_eq!(
            answer_text(Client::Anthropic, false, &resp.bytes().await.unwrap()),
            text
        );
        let reqs = accepted(&fake, KEY_ID);
        assert_eq!(reqs[0].path, path, "{name}");
        let call = reqs[0].aws.as_ref().unwrap();
        assert_eq!(
            (call.model_id.as_deref(), call.operation.as_str()),
            (Some(id), op.as_str())
        );
    }
}

/// `/health` counts a Converse model, and a `models test` request (a short non-streaming
/// `/v1/messages` with a bearer key) gets its answer and token counts.
#[tokio::test]
async fn converse_model_is_healthy_and_answers_models_test() {
    let fake = aws_fake()
        .bedrock(
            NOVA,
            Op::Converse,
            Reply::text("I am Nova.\nMore.").with_usage(30, 4, 0),
        )
        .start()
        .await
        .unwrap();
    let gw = gateway_of(vec![keyed("nova", NOVA, &fake)], 0).await;
    let health: Value = gw
        .http
        .get(format!("{}/health", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["models"], 1, "{health}");
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .bearer_auth(MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "nova", "max_tokens": 200, "messages": [{"role": "user",
            "content": "Reply with one short sentence that names the model you are."}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], "I am Nova.\nMore.");
    assert_eq!(
        (
            v["usage"]["input_tokens"].as_u64(),
            v["usage"]["output_tokens"].as_u64()
        ),
        (Some(30), Some(4))
    );
    let reqs = accepted(&fake, KEY_ID);
    assert_eq!(reqs[0].body["inferenceConfig"]["maxTokens"], 200);
}

/// Event-stream frames split across reads at every few bytes (inside the prelude, the headers,
/// multi-byte characters) are put back together: the whole answer arrives.
#[tokio::test]
async fn frames_split_across_reads_reassemble_into_the_whole_answer() {
    let text = "ünïcödé ✓ split everywhere, ".repeat(8);
    let mut reply = Reply::text(text.clone()).with_reasoning("thought ✓");
    reply.stream.chunk_bytes = Some(5);
    let fake = aws_fake()
        .bedrock(CLAUDE, Op::InvokeModelWithResponseStream, reply.clone())
        .bedrock(NOVA, Op::ConverseStream, reply)
        .start()
        .await
        .unwrap();
    let gw = gateway_of(
        vec![keyed("claude", CLAUDE, &fake), keyed("nova", NOVA, &fake)],
        0,
    )
    .await;
    for model in ["claude", "nova"] {
        for client in [Client::Anthropic, Client::Chat, Client::Responses] {
            let resp = post(&gw, client, &request(client, model, true), &[]).await;
            assert_eq!(resp.status(), 200);
            let body = resp.bytes().await.unwrap();
            assert_eq!(answer_text(client, true, &body), text, "{model} {client:?}");
            if client == Client::Anthropic {
                let r = protocol::check::rebuild(&body);
                assert_eq!(r.message["content"][0]["thinking"], "thought ✓", "{model}");
            }
        }
    }
}

/// Regression: a `litellm_params` key without a value (`aws_region_name:` in YAML) stopped the
/// deployment ("must be a string"); it is unset, as in LiteLLM. And `api_base` names the
/// endpoint when `aws_bedrock_runtime_endpoint` does not.
#[tokio::test]
async fn null_aws_params_are_unset_and_api_base_names_the_endpoint() {
    let fake = aws_fake()
        .bedrock(CLAUDE, Op::InvokeModel, Reply::text("ok"))
        .start()
        .await
        .unwrap();
    let def = bedrock_def(
        "claude",
        CLAUDE,
        &fake,
        json!({"aws_bedrock_runtime_endpoint": null, "api_base": fake.base_url(),
               "aws_profile_name": null, "aws_session_token": null,
               "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}),
    );
    let gw = gateway_of(vec![def], 0).await;
    let resp = post(
        &gw,
        Client::Anthropic,
        &request(Client::Anthropic, "claude", false),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        answer_text(Client::Anthropic, false, &resp.bytes().await.unwrap()),
        "ok"
    );
    assert_eq!(accepted(&fake, KEY_ID).len(), 1);
}
