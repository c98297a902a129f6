//! The fake Bedrock runtime on the wire (no authentication configured): InvokeModel and
//! Converse answers, event-stream frames with real CRCs, model ids as one encoded path segment,
//! plans per model id and operation.

mod common;

use common::bedrock::{ARN, ARN_PATH, CRI, CRI_PATH, converse_body, error_type, invoke_body, path};
use common::{chunk_events, event_frames, post, start};
use fake_provider::{BedrockOperation, FakeProvider, Reply};
use serde_json::json;

const SCRIPT: &str = r#"{"steps":[{"reply":{
    "text":"Hi there",
    "reasoning":"let me think",
    "tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}],
    "usage":{"input":100,"output":9,"cached":40},
    "stream":{"text_chunks":2,"arg_fragments":3}
}}]}"#;

#[tokio::test]
async fn invoke_answers_an_anthropic_message() {
    let fake = start(SCRIPT).await;
    let r = post(
        fake.addr(),
        &path(CRI_PATH, BedrockOperation::InvokeModel),
        &[],
        &invoke_body(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-amzn-bedrock-input-token-count"), Some("60"));
    assert_eq!(r.header("x-amzn-bedrock-output-token-count"), Some("9"));
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], CRI);
    assert_eq!(v["stop_reason"], "tool_use");
    let content = v["content"].as_array().expect("content");
    assert_eq!(
        content[0],
        json!({"type":"thinking","thinking":"let me think","signature":"fake-signature"})
    );
    assert_eq!(content[1], json!({"type":"text","text":"Hi there"}));
    assert_eq!(content[2]["input"], json!({"city": "Paris"}));
    let rec = fake.requests();
    let call = rec[0].aws.as_ref().expect("aws record");
    assert_eq!(call.operation, "InvokeModel");
    assert_eq!(call.model_id.as_deref(), Some(CRI));
    assert_eq!(rec[0].path, format!("/model/{CRI_PATH}/invoke"));
    assert_eq!(
        rec[0].body["anthropic_beta"],
        json!(["interleaved-thinking-2025-05-14"])
    );
}

#[tokio::test]
async fn invoke_stream_is_chunk_frames_of_anthropic_events() {
    let fake = start(SCRIPT).await;
    let op = BedrockOperation::InvokeModelWithResponseStream;
    let r = post(fake.addr(), &path(ARN_PATH, op), &[], &invoke_body()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.complete);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(
        r.header("x-amzn-bedrock-content-type"),
        Some("application/json")
    );
    let frames = event_frames(&r.body);
    for f in &frames {
        assert_eq!(f.header(":message-type"), Some("event"));
        assert_eq!(f.header(":event-type"), Some("chunk"));
        assert_eq!(f.header(":content-type"), Some("application/json"));
        assert!(
            f.payload["p"].is_string(),
            "Bedrock pads payloads: {}",
            f.payload
        );
    }
    let events = chunk_events(&frames);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0]["message"]["model"], ARN);
    assert_eq!(
        events[4]["delta"],
        json!({"type": "signature_delta", "signature": "fake-signature"})
    );
    let stop = events.last().expect("message_stop");
    let m = &stop["amazon-bedrock-invocationMetrics"];
    assert_eq!(m["inputTokenCount"], 60);
    assert_eq!(m["outputTokenCount"], 9);
    assert!(m["invocationLatency"].as_u64() >= m["firstByteLatency"].as_u64());
    assert_eq!(
        fake.requests()[0]
            .aws
            .as_ref()
            .and_then(|a| a.model_id.clone())
            .as_deref(),
        Some(ARN)
    );
}

#[tokio::test]
async fn converse_answer_shape() {
    let fake = start(SCRIPT).await;
    let r = post(
        fake.addr(),
        &path(CRI_PATH, BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let content = &v["output"]["message"]["content"];
    assert_eq!(v["output"]["message"]["role"], "assistant");
    assert_eq!(
        content[0],
        json!({"reasoningContent": {"reasoningText": {"text": "let me think",
                                                      "signature": "fake-signature"}}})
    );
    assert_eq!(content[1], json!({"text": "Hi there"}));
    assert_eq!(content[2]["toolUse"]["name"], "get_weather");
    assert_eq!(content[2]["toolUse"]["input"], json!({"city": "Paris"}));
    assert!(
        content[2]["toolUse"]["toolUseId"]
            .as_str()
            .is_some_and(|s| s.starts_with("tooluse_"))
    );
    assert_eq!(v["stopReason"], "tool_use");
    assert_eq!(
        v["usage"],
        json!({"inputTokens": 60, "outputTokens": 9, "totalTokens": 109,
               "cacheReadInputTokens": 40, "cacheWriteInputTokens": 0})
    );
    assert!(v["metrics"]["latencyMs"].as_u64().is_some());
}

#[tokio::test]
async fn converse_stream_exact_sequence() {
    let fake = start(SCRIPT).await;
    let op = BedrockOperation::ConverseStream;
    let r = post(fake.addr(), &path(CRI_PATH, op), &[], &converse_body()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let frames = event_frames(&r.body);
    let kinds: Vec<String> = frames.iter().map(common::Frame::kind).collect();
    assert_eq!(
        kinds,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    let p = |i: usize| {
        let mut v = frames[i].payload.clone();
        v.as_object_mut().map(|o| o.remove("p"));
        v
    };
    assert_eq!(p(0), json!({"role": "assistant"}));
    assert_eq!(p(1)["delta"]["reasoningContent"]["text"], "let me");
    assert_eq!(
        p(3),
        json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "fake-signature"}}})
    );
    assert_eq!(p(4), json!({"contentBlockIndex": 0}));
    assert_eq!(
        p(5),
        json!({"contentBlockIndex": 1, "delta": {"text": "Hi t"}})
    );
    assert_eq!(p(8)["contentBlockIndex"], 2);
    assert_eq!(p(8)["start"]["toolUse"]["name"], "get_weather");
    let input: String = (9..12)
        .filter_map(|i| {
            p(i)["delta"]["toolUse"]["input"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(input, r#"{"city":"Paris"}"#);
    assert_eq!(p(13), json!({"stopReason": "tool_use"}));
    assert_eq!(p(14)["usage"]["cacheReadInputTokens"], 40);
    assert!(p(14)["metrics"]["latencyMs"].is_u64());
}

#[tokio::test]
async fn model_path_must_be_one_encoded_segment() {
    let fake = start(r#"{"default":{"text":"{{model}}"}}"#).await;
    let r = post(
        fake.addr(),
        &path(ARN_PATH, BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["output"]["message"]["content"][0]["text"], ARN);
    let unencoded = format!("/model/{ARN}/converse");
    let r = post(fake.addr(), &unencoded, &[], &converse_body()).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        error_type(&r),
        Some(
            "UnknownOperationException:http://internal.amazon.com/coral/com.amazon.coral.service/"
        )
    );
    assert_eq!(r.json(), json!({"message": null}));
    let rec = fake.requests();
    assert_eq!(rec[1].path, unencoded);
    let call = rec[1].aws.as_ref().expect("recorded");
    assert_eq!(call.operation, "UnknownOperation");
    assert_eq!(call.rejected.as_deref(), Some("UnknownOperationException"));
    let r = common::send(
        fake.addr(),
        "GET",
        &path(CRI_PATH, BedrockOperation::Converse),
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = post(
        fake.addr(),
        &format!("/model/{CRI_PATH}/chat"),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn builder_plans_per_model_and_operation() {
    let fake = FakeProvider::builder()
        .bedrock_models([CRI, ARN])
        .bedrock(CRI, BedrockOperation::Converse, Reply::text("cri converse"))
        .bedrock(
            ARN,
            BedrockOperation::Converse,
            Reply::tool_call("f", json!({"x": 1})),
        )
        .bedrock_any_model(
            BedrockOperation::InvokeModel,
            Reply::thinking("hm", "invoke"),
        )
        .start()
        .await
        .expect("start");
    let r = post(
        fake.addr(),
        &path(CRI_PATH, BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(
        r.json()["output"]["message"]["content"],
        json!([{"text": "cri converse"}])
    );
    let r = post(
        fake.addr(),
        &path(ARN_PATH, BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(
        r.json()["output"]["message"]["content"][0]["toolUse"]["input"],
        json!({"x": 1})
    );
    let r = post(
        fake.addr(),
        &path(ARN_PATH, BedrockOperation::InvokeModel),
        &[],
        &invoke_body(),
    )
    .await;
    assert_eq!(r.json()["content"][1]["text"], "invoke");
    let r = post(
        fake.addr(),
        &path("other%3A0", BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "The provided model identifier is invalid."
    );
    // No step for ConverseStream and no default: the fake's own 500, in Bedrock's shape.
    let r = post(
        fake.addr(),
        &path(CRI_PATH, BedrockOperation::ConverseStream),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(error_type(&r).is_some_and(|t| t.starts_with("InternalServerException:")));
}

#[tokio::test]
async fn protocol_switch_and_other_apis_unaffected() {
    let fake = start(r#"{"protocols":["anthropic"],"default":{"text":"hi"}}"#).await;
    let r = post(
        fake.addr(),
        &path(CRI_PATH, BedrockOperation::Converse),
        &[],
        &converse_body(),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(error_type(&r).is_some_and(|t| t.starts_with("ResourceNotFoundException:")));
    let body =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let r = post(fake.addr(), "/v1/messages", &[], &body).await;
    assert_eq!(r.status, 200);
    assert!(fake.requests()[1].aws.is_none());
}
