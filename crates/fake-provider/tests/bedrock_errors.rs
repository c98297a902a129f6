//! The fake Bedrock runtime's errors: request validation as Bedrock does it, HTTP errors
//! before a stream, exception frames mid-stream, faults on event streams.

mod common;

use common::bedrock::{CRI_PATH, converse_body, error_type, invoke_body, path};
use common::{event_frames, post, start};
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
async fn invoke_validation_errors() {
    let fake = start(SCRIPT).await;
    let p = path(CRI_PATH, BedrockOperation::InvokeModel);
    let mut with_model = invoke_body();
    with_model["model"] = json!("claude");
    let mut wrong_version = invoke_body();
    wrong_version["anthropic_version"] = json!("2023-06-01");
    let mut no_version = invoke_body();
    no_version
        .as_object_mut()
        .map(|o| o.remove("anthropic_version"));
    for (body, needle) in [
        (with_model, "#: extraneous key [model] is not permitted"),
        (
            wrong_version,
            "#/anthropic_version: 2023-06-01 is not a valid enum value",
        ),
        (no_version, "#: required key [anthropic_version] not found"),
    ] {
        let r = post(fake.addr(), &p, &[], &body).await;
        assert_eq!(r.status, 400);
        assert_eq!(
            error_type(&r),
            Some("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/")
        );
        assert!(r.header("x-amzn-requestid").is_some());
        let v = r.json();
        assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
        let m = v["message"].as_str().expect("message");
        assert!(
            m.starts_with("Malformed input request: ") && m.contains(needle),
            "{m}"
        );
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.aws.as_ref().and_then(|a| a.rejected.as_deref())
                == Some("ValidationException"))
    );
}

#[tokio::test]
async fn converse_validation_errors() {
    let fake = start(SCRIPT).await;
    let p = path(CRI_PATH, BedrockOperation::ConverseStream);
    let tool_history = json!([
        {"role": "user", "content": [{"text": "weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "sun"}]}}]}
    ]);
    let cases = [
        (
            json!({"messages": [{"role": "user", "content": null}]}),
            "Value null at 'messages.1.member.content'",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
                             {"role": "assistant", "content": []}]}),
            "The content field in the Message object at messages.1 is empty.",
        ),
        (
            json!({"messages": tool_history}),
            fake_provider::TOOL_CONFIG_REQUIRED,
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
                             {"role": "user", "content": [{"text": "b"}]}]}),
            "A conversation must alternate between user and assistant roles.",
        ),
    ];
    for (body, needle) in cases {
        let r = post(fake.addr(), &p, &[], &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(error_type(&r).is_some_and(|t| t.starts_with("ValidationException:")));
        let m = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(m.contains(needle), "{m}");
    }
    let ok = json!({"messages": tool_history, "toolConfig": {"tools": [
        {"toolSpec": {"name": "w", "inputSchema": {"json": {"type": "object"}}}}]}});
    let r = post(fake.addr(), &p, &[], &ok).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn http_errors_before_the_stream() {
    let fake = FakeProvider::builder()
        .bedrock(
            "m429",
            BedrockOperation::ConverseStream,
            Reply::http_error(429, None, None),
        )
        .bedrock(
            "m403",
            BedrockOperation::InvokeModel,
            Reply::http_error(403, None, None),
        )
        .bedrock(
            "m400",
            BedrockOperation::Converse,
            Reply::http_error(400, None, Some("bad input")),
        )
        .bedrock(
            "m503",
            BedrockOperation::InvokeModelWithResponseStream,
            Reply::http_error(503, None, None),
        )
        .start()
        .await
        .expect("start");
    let cases = [
        (
            "m429",
            BedrockOperation::ConverseStream,
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (
            "m403",
            BedrockOperation::InvokeModel,
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        (
            "m400",
            BedrockOperation::Converse,
            400,
            "ValidationException",
            "bad input",
        ),
        (
            "m503",
            BedrockOperation::InvokeModelWithResponseStream,
            503,
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
    ];
    for (model, op, status, kind, message) in cases {
        let body = if op.is_converse() {
            converse_body()
        } else {
            invoke_body()
        };
        let r = post(fake.addr(), &path(model, op), &[], &body).await;
        assert_eq!(r.status, status);
        assert_eq!(
            error_type(&r).map(str::to_string),
            Some(format!(
                "{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            ))
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), json!({ "message": message }));
    }
}

#[tokio::test]
async fn exceptions_mid_stream() {
    let reply = Reply::text("one two three four five six").with_stream_error(
        2,
        "ThrottlingException",
        "Too many tokens",
    );
    let fake = FakeProvider::builder()
        .bedrock_any_model(BedrockOperation::ConverseStream, reply.clone())
        .bedrock_any_model(BedrockOperation::InvokeModelWithResponseStream, reply)
        .start()
        .await
        .expect("start");
    for op in [
        BedrockOperation::ConverseStream,
        BedrockOperation::InvokeModelWithResponseStream,
    ] {
        let body = if op.is_converse() {
            converse_body()
        } else {
            invoke_body()
        };
        let r = post(fake.addr(), &path(CRI_PATH, op), &[], &body).await;
        assert_eq!(r.status, 200);
        assert!(r.complete);
        let frames = event_frames(&r.body);
        assert_eq!(frames.len(), 3, "{frames:?}");
        let last = &frames[2];
        assert_eq!(last.header(":message-type"), Some("exception"));
        assert_eq!(last.header(":exception-type"), Some("throttlingException"));
        assert_eq!(last.header(":content-type"), Some("application/json"));
        assert_eq!(last.payload, json!({"message": "Too many tokens"}));
    }
    for kind in fake_provider::BEDROCK_STREAM_EXCEPTIONS {
        let fake = FakeProvider::builder()
            .default_reply(Reply::text("a b c").with_stream_error(1, kind, "boom"))
            .start()
            .await
            .expect("start");
        let op = BedrockOperation::ConverseStream;
        let r = post(fake.addr(), &path(CRI_PATH, op), &[], &converse_body()).await;
        let frames = event_frames(&r.body);
        assert_eq!(
            frames.last().map(common::Frame::kind),
            Some(format!("!{kind}"))
        );
    }
}

#[tokio::test]
async fn faults_on_event_streams() {
    let fake = start(
        r#"{"steps":[
            {"when":{"model":"cut"},"reply":{"text":"a b c d e f g h","fault":"cut"}},
            {"when":{"model":"garbage"},"reply":{"text":"a b c","fault":"garbage"}},
            {"when":{"model":"wrong"},"reply":{"text":"a b c","fault":"wrong_kind"}},
            {"when":{"model":"cut429"},"reply":{"status":429,"fault":"cut"}}
        ]}"#,
    )
    .await;
    let op = BedrockOperation::ConverseStream;
    let r = post(fake.addr(), &path("cut", op), &[], &converse_body()).await;
    assert!(!r.complete, "a cut stream has no chunked terminator");
    let r = post(fake.addr(), &path("garbage", op), &[], &converse_body()).await;
    let mut rest: &[u8] = &r.body;
    let first = aws_smithy_eventstream::frame::read_message_from(&mut rest);
    assert!(first.is_ok());
    let second = aws_smithy_eventstream::frame::read_message_from(&mut rest);
    assert!(second.is_err(), "the second frame's CRC is wrong");
    let r = post(fake.addr(), &path("cut429", op), &[], &converse_body()).await;
    assert_eq!(r.status, 429);
    assert!(!r.complete);
    assert!(error_type(&r).is_some_and(|t| t.starts_with("ThrottlingException:")));
    assert!(
        r.text().starts_with(r#"{"message":"Too many"#),
        "{}",
        r.text()
    );
    let r = post(fake.addr(), &path("wrong", op), &[], &converse_body()).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["output"]["message"]["content"][0]["text"], "a b c");
}
