//! One usage record per client request (issue 12 §1), read from the ledger's queue: each test
//! is named after what was wrong before (a record per attempt, `status=200` never corrected,
//! zero tokens on pass-through) and checks that exactly one record comes, with the true status,
//! attempts and token counts.

use crate::common::*;
use crate::router::{fallbacks, settings};
use fake_provider::FakeProvider;
use gateway::{ModelDefinition, RouterSettings};
use ledger::{Tokens, UsageRecord};
use serde_json::{Value, json};
use std::time::Duration;

/// A gateway whose finished records go to the returned queue.
async fn recording(
    models: Vec<ModelDefinition>,
    router: RouterSettings,
) -> (Running, ledger::Receiver) {
    recording_with(models, router, |_| {}).await
}

pub(crate) async fn recording_with(
    models: Vec<ModelDefinition>,
    router: RouterSettings,
    edit: impl FnOnce(&mut gateway::GatewayConfig),
) -> (Running, ledger::Receiver) {
    let (tx, rx) = ledger::channel(64);
    let mut c = config(
        models,
        Default::default(),
        router,
        gateway::Registered::All,
        None,
    );
    c.ledger = gateway::Ledger {
        sender: Some(tx),
        ..Default::default()
    };
    edit(&mut c);
    (gateway_full(c).await, rx)
}

/// The one record of the request just made: waits for it, then checks no other follows.
pub(crate) async fn the_record(rx: &mut ledger::Receiver) -> UsageRecord {
    let r = tokio::time::timeout(Duration::from_secs(10), rx.rx.recv())
        .await
        .expect("a record within 10 s")
        .expect("the queue is open");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(more) = rx.rx.try_recv() {
        panic!("a second record for one request:\nfirst {r:#?}\nsecond {more:#?}");
    }
    r
}

/// A deployment of `group` with the id `id`, sent to the fake as the model `id`.
pub(crate) fn dep_id(group: &str, id: &str, fake: &FakeProvider) -> ModelDefinition {
    let mut d = def(group, &format!("anthropic/{id}"), &fake.base_url());
    d.model_info.id = Some(id.to_owned());
    d
}

/// A Chat deployment of `group` at the fake.
fn chat_dep(group: &str, fake: &FakeProvider) -> ModelDefinition {
    let mut d = def(group, "openai/gpt-x", &format!("{}/v1", fake.base_url()));
    d.model_info.id = Some("chat-1".into());
    d
}

/// POSTs `body` to `path` with the master key and `headers`.
pub(crate) async fn post(
    gw: &Running,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = gw
        .http
        .post(format!("{}{path}", gw.base))
        .header("authorization", format!("Bearer {MASTER_KEY}"))
        .header("anthropic-version", "2023-06-01")
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn error_reply(status: u16, kind: &str) -> Value {
    json!({"status": status, "error": {"type": kind, "message": "scripted failure"}})
}

/// Usage the fake reports: 1000 prompt tokens of which 300 read from and 120 written to the
/// cache (100 for 5 minutes, 20 for an hour), 50 output tokens.
fn cache_usage() -> Value {
    json!({"input": 1000, "output": 50, "cached": 300, "cache_write_5m": 100, "cache_write_1h": 20})
}

const CACHE_TOKENS: Tokens = Tokens {
    input: 1000,
    output: 50,
    reasoning: 0,
    cache_read: 300,
    cache_write_5m: 100,
    cache_write_1h: 20,
};

#[tokio::test]
async fn a_failover_after_three_failed_attempts_is_one_200_record_routed_by_fallback() {
    let fake = crate::router::fake_by_model(&[
        ("a1", error_reply(500, "api_error")),
        ("a2", error_reply(500, "api_error")),
        ("a3", error_reply(500, "api_error")),
        (
            "fb1",
            json!({"text": "from the fallback", "usage": {"input": 40, "output": 7}}),
        ),
    ])
    .await;
    let mut s = settings();
    s.fallbacks = fallbacks(&[("main", &["fb"])]);
    let (gw, mut rx) = recording(
        vec![
            dep_id("main", "a1", &fake),
            dep_id("main", "a2", &fake),
            dep_id("main", "a3", &fake),
            dep_id("fb", "fb1", &fake),
        ],
        s,
    )
    .await;
    let resp = post(&gw, "/v1/messages", &claude_request("main", false), &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.error_class, None);
    assert_eq!(r.attempts, 4);
    assert_eq!(r.route.as_deref(), Some("fallback"));
    assert_eq!(r.model_group.as_deref(), Some("fb"));
    assert_eq!(r.deployment.as_deref(), Some("fb1"));
    assert_eq!(r.served_model.as_deref(), Some("fb1"));
    assert_eq!(r.provider.as_deref(), Some("anthropic"));
    assert_eq!(r.requested_model, "main");
    let path = r.attempt_path.clone().unwrap();
    let mut steps: Vec<&str> = path.split(',').collect();
    assert_eq!(steps.pop(), Some("fb1:200"), "{path}");
    steps.sort_unstable();
    assert_eq!(steps, ["a1:500", "a2:500", "a3:500"], "{path}");
    assert_eq!((r.tokens.input, r.tokens.output), (40, 7));
    assert_eq!(r.response_bytes, body.len() as u64);
    assert!(!r.stream);
    assert!(
        r.latency_us > 0 && r.ttfb_us.is_some_and(|t| t <= r.latency_us),
        "{r:#?}"
    );
}

#[tokio::test]
async fn a_request_that_fails_for_good_is_one_record_with_its_final_status_never_200() {
    let fake = crate::router::fake_by_model(&[
        ("o1", error_reply(529, "overloaded_error")),
        ("o2", error_reply(529, "overloaded_error")),
    ])
    .await;
    let (gw, mut rx) = recording(
        vec![dep_id("busy", "o1", &fake), dep_id("busy", "o2", &fake)],
        settings(),
    )
    .await;
    let resp = post(&gw, "/v1/messages", &claude_request("busy", true), &[]).await;
    assert_eq!(resp.status(), 529);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 529, "{r:#?}");
    assert_eq!(r.error_class.as_deref(), Some("overloaded"));
    assert_eq!(r.attempts, 2);
    let path = r.attempt_path.unwrap();
    assert!(path == "o1:529,o2:529" || path == "o2:529,o1:529", "{path}");
    assert_eq!(r.route, None);
    assert!(r.stream);
    assert_eq!(r.tokens, Tokens::default());
    assert_eq!(r.response_bytes, body.len() as u64);
}

#[tokio::test]
async fn a_client_gone_mid_stream_is_one_client_disconnected_record_with_the_tokens_seen() {
    let fake = fake(json!({"default": {
        "text": "one two three four five six seven eight nine ten",
        "usage": cache_usage(),
        "stream": {"text_chunks": 10, "delay_ms": 300}
    }}))
    .await;
    let (gw, mut rx) = recording(vec![dep_id("m", "s1", &fake)], settings()).await;
    let mut resp = post(&gw, "/v1/messages", &claude_request("m", true), &[]).await;
    assert_eq!(resp.status(), 200);
    // The first bytes (message_start and the first text), then the client goes.
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: message_start"), "{first:?}");
    drop(resp);
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.error_class.as_deref(), Some("client_disconnected"));
    assert_eq!(r.attempts, 1);
    assert_eq!(r.attempt_path.as_deref(), Some("s1:200"));
    // `message_start` carried the prompt's tokens; the output was not reported yet.
    assert_eq!(
        Tokens {
            output: 50,
            ..r.tokens
        },
        CACHE_TOKENS
    );
    assert!(r.tokens.output < 50, "{r:#?}");
    assert!(r.response_bytes >= first.len() as u64);
    assert!(
        r.ttfb_us.is_some_and(|t| t < r.latency_us),
        "the client got bytes before it went: {r:#?}"
    );
}

#[tokio::test]
async fn an_anthropic_pass_through_stream_records_the_upstreams_exact_tokens() {
    let fake = fake(json!({"default": {"text": "hello there", "usage": cache_usage()}})).await;
    let (gw, mut rx) = recording(vec![dep_id("m", "p1", &fake)], settings()).await;
    let headers = [
        ("user-agent", "claude-cli/2.0.31 (external, cli)"),
        ("x-claude-code-session-id", "sess-42"),
        ("x-agent-shim-directory", "0123456789abcdef"),
        ("x-agent-shim-profile", "work"),
    ];
    let resp = post(&gw, "/v1/messages", &claude_request("m", true), &headers).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.ends_with(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.error_class, None);
    assert_eq!(r.tokens, CACHE_TOKENS);
    assert!(r.stream);
    assert_eq!(r.response_bytes, body.len() as u64);
    assert_eq!(r.client_protocol, "anthropic");
    assert_eq!(r.agent.as_deref(), Some("claude-code"));
    assert_eq!(r.session_id.as_deref(), Some("sess-42"));
    assert_eq!(r.directory.as_deref(), Some("0123456789abcdef"));
    assert_eq!(r.profile.as_deref(), Some("work"));
    assert_eq!(r.request_id.len(), 36, "a UUID: {}", r.request_id);
    assert_eq!(&r.request_id[14..15], "7", "UUID v7: {}", r.request_id);
    assert!(r.time_ms > 1_700_000_000_000);
    assert_eq!((r.cost_pico_usd, r.price_version), (None, None));
}

#[tokio::test]
async fn an_anthropic_pass_through_whole_answer_records_the_upstreams_exact_tokens() {
    let fake = fake(json!({"default": {"text": "hello", "usage": cache_usage()}})).await;
    let (gw, mut rx) = recording(vec![dep_id("m", "w1", &fake)], settings()).await;
    let resp = post(&gw, "/v1/messages", &claude_request("m", false), &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(r.tokens, CACHE_TOKENS, "{r:#?}");
    assert_eq!(r.response_bytes, body.len() as u64);
    assert!(!r.stream);
}

fn chat_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "stream": stream, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "What is the weather?"}]
    })
}

#[tokio::test]
async fn a_chat_pass_through_stream_records_the_upstreams_exact_tokens() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {
        "text": "sunny", "reasoning": "look at the sky",
        "usage": {"input": 900, "output": 40, "cached": 512}
    }}))
    .await;
    let (gw, mut rx) = recording(vec![chat_dep("c", &fake)], settings()).await;
    let headers = [("user-agent", "opencode/1.0.3 ai-sdk/provider-utils/3.0.9")];
    let resp = post(
        &gw,
        "/v1/chat/completions",
        &chat_request("c", true),
        &headers,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.ends_with(b"data: [DONE]\n\n"), "{body:?}");
    let r = the_record(&mut rx).await;
    assert_eq!(
        r.tokens,
        Tokens {
            input: 900,
            output: 40,
            reasoning: 4,
            cache_read: 512,
            ..Tokens::default()
        },
        "{r:#?}"
    );
    assert_eq!(r.client_protocol, "openai-chat");
    assert_eq!(r.agent.as_deref(), Some("opencode"));
    assert_eq!(r.provider.as_deref(), Some("openai"));
    assert_eq!(r.served_model.as_deref(), Some("gpt-x"));
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_translated_stream_records_the_true_tokens() {
    let fake = fake(json!({"protocols": ["openai-chat"], "default": {
        "text": "translated", "usage": {"input": 700, "output": 33, "cached": 100}
    }}))
    .await;
    let (gw, mut rx) = recording(vec![chat_dep("t", &fake)], settings()).await;
    let resp = post(&gw, "/v1/messages", &claude_request("t", true), &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.ends_with(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    let r = the_record(&mut rx).await;
    assert_eq!(
        (r.tokens.input, r.tokens.output, r.tokens.cache_read),
        (700, 33, 100),
        "{r:#?}"
    );
    assert_eq!(r.client_protocol, "anthropic");
    assert_eq!(r.provider.as_deref(), Some("openai"));
    assert_eq!(r.attempt_path.as_deref(), Some("chat-1:200"));
    assert_eq!(r.response_bytes, body.len() as u64);
    // What the translation could not carry is recorded as the header says.
    assert!(r.dropped.is_some(), "{r:#?}");
}

#[tokio::test]
async fn an_unknown_model_is_one_404_record_without_attempts() {
    let fake = fake(json!({"default": {"text": "x"}})).await;
    let (gw, mut rx) = recording(vec![dep_id("m", "x1", &fake)], settings()).await;
    let resp = post(&gw, "/v1/messages", &claude_request("nope", false), &[]).await;
    assert_eq!(resp.status(), 404);
    let body = resp.bytes().await.unwrap();
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_class.as_deref(), Some("not_found"));
    assert_eq!(r.attempts, 0);
    assert_eq!(r.attempt_path, None);
    assert_eq!(r.requested_model, "nope");
    assert_eq!((r.model_group, r.deployment), (None, None));
    assert_eq!(r.response_bytes, body.len() as u64);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_and_a_bad_body_get_records_too() {
    let (gw, mut rx) = recording_with(vec![], settings(), |c| c.max_request_body = 1000).await;
    let big = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let resp = post(&gw, "/v1/chat/completions", &big, &[]).await;
    assert_eq!(resp.status(), 413);
    let r = the_record(&mut rx).await;
    assert_eq!(
        (r.status, r.error_class.as_deref(), r.attempts),
        (413, Some("request_too_large"), 0)
    );
    assert_eq!(r.client_protocol, "openai-chat");
    let resp = post(&gw, "/v1/messages", &json!({"messages": []}), &[]).await;
    assert_eq!(resp.status(), 400);
    let r = the_record(&mut rx).await;
    assert_eq!(
        (r.status, r.error_class.as_deref(), r.attempts),
        (400, Some("invalid_request"), 0)
    );
}

#[tokio::test]
async fn an_upstream_error_event_mid_stream_is_recorded_with_its_class_and_the_status_sent() {
    let fake = fake(json!({"default": {
        "text": "one two three four five six", "usage": cache_usage(),
        "stream": {"text_chunks": 6, "fail_after": 5},
        "error": {"type": "overloaded_error", "message": "Overloaded"}
    }}))
    .await;
    let (gw, mut rx) = recording(vec![dep_id("m", "e1", &fake)], settings()).await;
    let resp = post(&gw, "/v1/messages", &claude_request("m", true), &[]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("event: error"),
        "{body:?}"
    );
    let r = the_record(&mut rx).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.error_class.as_deref(), Some("overloaded"));
    assert_eq!(r.attempts, 1);
    assert_eq!(
        r.tokens.input, 1000,
        "the prompt's tokens from message_start"
    );
    assert_eq!(r.response_bytes, body.len() as u64);
}

#[tokio::test]
async fn a_client_gone_before_the_answer_is_one_client_disconnected_record() {
    let fake = fake(json!({"default": {"text": "late", "latency_ms": 1500}})).await;
    let (gw, mut rx) = recording(vec![dep_id("m", "l1", &fake)], settings()).await;
    let body = claude_request("m", false);
    let gone = tokio::time::timeout(
        Duration::from_millis(300),
        post(&gw, "/v1/messages", &body, &[]),
    )
    .await;
    assert!(gone.is_err(), "the client gave up first");
    let r = the_record(&mut rx).await;
    assert_eq!(
        r.error_class.as_deref(),
        Some("client_disconnected"),
        "{r:#?}"
    );
    // Nothing was sent: nginx's 499, and the attempt it left.
    assert_eq!(r.status, 499);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.attempt_path.as_deref(), Some("l1:499"));
    assert_eq!((r.ttfb_us, r.response_bytes), (None, 0));
}

#[tokio::test]
async fn a_chat_client_on_an_anthropic_upstream_keeps_the_cache_writes_split_by_lifetime() {
    let fake = fake(json!({"default": {"text": "cached", "usage": cache_usage()}})).await;
    let (gw, mut rx) = recording(vec![dep_id("m", "t1", &fake)], settings()).await;
    for stream in [true, false] {
        let resp = post(&gw, "/v1/chat/completions", &chat_request("m", stream), &[]).await;
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        let r = the_record(&mut rx).await;
        assert_eq!(r.tokens, CACHE_TOKENS, "stream {stream}: {r:#?}");
        assert_eq!(r.client_protocol, "openai-chat");
        assert_eq!(r.response_bytes, body.len() as u64);
    }
}
