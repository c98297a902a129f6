//! Unit tests of the ConverseStream decoder and encoder.

use super::*;
use crate::target::ToolNames;

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_1".into(),
        model: "client-model".into(),
        created: 1,
        tool_names: ToolNames::new(["container.exec"]),
    }
}

fn ev(event: &str, data: serde_json::Value) -> SseEvent {
    SseEvent {
        event: Some(event.into()),
        data: data.to_string(),
    }
}

fn decode(events: &[SseEvent], end: bool) -> Vec<StreamEvent> {
    let mut d = StreamDecoder::new(ctx(), 42);
    let mut out = Vec::new();
    for e in events {
        d.on_event(e, &mut out);
    }
    if end {
        d.on_end(&mut out);
        assert!(d.is_finished());
    }
    out
}

fn delta(i: usize, d: serde_json::Value) -> SseEvent {
    ev(
        "contentBlockDelta",
        json!({"contentBlockIndex": i, "delta": d, "p": "abc"}),
    )
}

fn start() -> StreamEvent {
    ctx().message_start(42)
}

fn stop_meta(reason: &str) -> [SseEvent; 2] {
    [
        ev("messageStop", json!({"stopReason": reason})),
        ev(
            "metadata",
            json!({"usage": {"inputTokens": 3, "outputTokens": 9, "totalTokens": 112,
                "cacheReadInputTokens": 100, "cacheWriteInputTokens": 0}, "metrics": {"latencyMs": 5}}),
        ),
    ]
}

fn usage() -> Usage {
    Usage {
        input_tokens: 103,
        output_tokens: 9,
        cache_read_tokens: 100,
        ..Usage::default()
    }
}

#[test]
fn reasoning_text_and_a_tool_call() {
    let strict = ToolNames::strict("container.exec");
    let mut events = vec![
        ev("messageStart", json!({"role": "assistant"})),
        delta(0, json!({"reasoningContent": {"text": "Think"}})),
        delta(0, json!({"reasoningContent": {"text": ""}})),
        delta(0, json!({"reasoningContent": {"signature": "EqQB+/=="}})),
        ev("contentBlockStop", json!({"contentBlockIndex": 0})),
        delta(1, json!({"text": "Hi"})),
        delta(1, json!({"text": ""})),
        ev("contentBlockStop", json!({"contentBlockIndex": 1})),
        ev(
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_X1", "name": strict}}}),
        ),
        delta(2, json!({"toolUse": {"input": "{\"cmd\":"}})),
        delta(2, json!({"toolUse": {"input": "\"ls\"}"}})),
        ev("contentBlockStop", json!({"contentBlockIndex": 2})),
    ];
    events.extend(stop_meta("tool_use"));
    let out = decode(&events, true);
    assert_eq!(
        out,
        [
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Reasoning
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Reasoning("Think".into())
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Signature("EqQB+/==".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Text
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::Text("Hi".into())
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolCall {
                    id: "tooluse_X1".into(),
                    name: "container.exec".into(),
                    kind: ToolKind::Function
                }
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{\"cmd\":".into())
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("\"ls\"}".into())
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                stop_reason: StopReason::ToolUse,
                usage: usage()
            },
        ]
    );
}

#[test]
fn message_stop_waits_for_metadata() {
    let [stop, meta] = stop_meta("end_turn");
    let mut d = StreamDecoder::new(ctx(), 42);
    let mut out = Vec::new();
    d.on_event(&delta(0, json!({"text": "a"})), &mut out);
    d.on_event(&stop, &mut out);
    assert!(!d.is_finished());
    assert_eq!(out.last(), Some(&StreamEvent::BlockStop { index: 0 }));
    d.on_event(&meta, &mut out);
    assert!(d.is_finished());
    assert_eq!(
        out.last(),
        Some(&StreamEvent::Finish {
            stop_reason: StopReason::EndTurn,
            usage: usage()
        })
    );
    assert_eq!(
        out[0],
        start(),
        "a stream without messageStart still starts"
    );
}

#[test]
fn the_end_without_metadata_still_finishes() {
    let out = decode(
        &[
            delta(0, json!({"text": "a"})),
            ev("messageStop", json!({"stopReason": "max_tokens"})),
        ],
        true,
    );
    assert_eq!(
        out.last(),
        Some(&StreamEvent::Finish {
            stop_reason: StopReason::MaxTokens,
            usage: Usage {
                input_tokens: 42,
                ..Usage::default()
            }
        })
    );
}

#[test]
fn a_cut_stream_is_an_error() {
    let out = decode(&[delta(0, json!({"text": "a"}))], true);
    let Some(StreamEvent::Error(e)) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(e.kind, ErrorKind::Api);
    assert!(e.message.contains("before messageStop"));
}

#[test]
fn exceptions_end_the_stream_with_their_kind() {
    for (name, kind) in [
        ("throttlingException", ErrorKind::RateLimit),
        ("serviceUnavailableException", ErrorKind::Overloaded),
        ("modelStreamErrorException", ErrorKind::Overloaded),
        ("validationException", ErrorKind::InvalidRequest),
        ("internalServerException", ErrorKind::Api),
    ] {
        let out = decode(
            &[
                delta(0, json!({"text": "a"})),
                ev(name, json!({"message": "boom"})),
                delta(0, json!({"text": "ignored"})),
            ],
            true,
        );
        assert_eq!(out.len(), 4, "{out:?}");
        assert_eq!(out[3], StreamEvent::Error(ApiError::new(kind, "boom")));
    }
    let out = decode(
        &[ev(
            "validationException",
            json!({"message": "Input is too long for requested model."}),
        )],
        true,
    );
    assert!(matches!(&out[0], StreamEvent::Error(e) if e.kind == ErrorKind::ContextLengthExceeded));
}

#[test]
fn malformed_output_and_bad_events_fail() {
    let out = decode(
        &[ev(
            "messageStop",
            json!({"stopReason": "malformed_tool_use"}),
        )],
        true,
    );
    assert!(matches!(out.last(), Some(StreamEvent::Error(e)) if e.kind == ErrorKind::Api));
    let out = decode(&[delta(0, json!({"toolUse": {"input": "{}"}}))], true);
    assert_eq!(
        out.last(),
        Some(&StreamEvent::Error(ApiError::nameless_tool_call("")))
    );
    let out = decode(
        &[ev(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": ""}}}),
        )],
        true,
    );
    assert_eq!(
        out.last(),
        Some(&StreamEvent::Error(ApiError::nameless_tool_call("t")))
    );
    let bad = SseEvent {
        event: Some("contentBlockDelta".into()),
        data: "<html>".into(),
    };
    let out = decode(&[bad], true);
    assert!(matches!(&out[0], StreamEvent::Error(e) if e.message.contains("unreadable")));
}

#[test]
fn redacted_reasoning_is_gathered_into_one_block() {
    let out = decode(
        &[
            delta(0, json!({"reasoningContent": {"redactedContent": "YWJj"}})),
            delta(0, json!({"reasoningContent": {"redactedContent": "ZA=="}})),
            ev("contentBlockStop", json!({"contentBlockIndex": 0})),
            delta(1, json!({"text": "ok"})),
            ev("messageStop", json!({"stopReason": "end_turn"})),
        ],
        true,
    );
    assert_eq!(
        out[1..3],
        [
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::RedactedReasoning {
                    data: "YWJjZA==".into()
                }
            },
            StreamEvent::BlockStop { index: 0 },
        ]
    );
    assert_eq!(join_base64("YQ==", "Yg=="), "YWI=");
    assert_eq!(base64_encode(b"hello!?"), "aGVsbG8hPw==");
    assert_eq!(base64_decode("aGVsbG8hPw==").unwrap(), b"hello!?");
}

#[test]
fn encoded_events_decode_to_themselves() {
    let events = vec![
        start(),
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Reasoning,
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Reasoning("r".into()),
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Signature("s".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::RedactedReasoning {
                data: "cmVk".into(),
            },
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::Text,
        },
        StreamEvent::Delta {
            index: 2,
            delta: Delta::Text("hi".into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::BlockStart {
            index: 3,
            block: BlockStart::ToolCall {
                id: "toolu_1".into(),
                name: "container.exec".into(),
                kind: ToolKind::Function,
            },
        },
        StreamEvent::Delta {
            index: 3,
            delta: Delta::ToolArguments("{}".into()),
        },
        StreamEvent::BlockStop { index: 3 },
        StreamEvent::Finish {
            stop_reason: StopReason::StopSequence(Some("END".into())),
            usage: usage(),
        },
    ];
    let mut enc = StreamEncoder::new(ctx());
    let mut bytes = BytesMut::new();
    for e in &events {
        enc.encode(e, &mut bytes);
    }
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.starts_with("event: messageStart\ndata: {\"role\":\"assistant\"}\n\n"));
    let mut parser = crate::sse::SseParser::new();
    let mut sse = Vec::new();
    parser.feed(&bytes, &mut sse).unwrap();
    parser.finish(&mut sse);
    assert_eq!(decode(&sse, true), events);

    let mut bytes = BytesMut::new();
    enc.encode(
        &StreamEvent::Error(ApiError::new(ErrorKind::RateLimit, "slow down")),
        &mut bytes,
    );
    assert_eq!(
        &bytes[..],
        b"event: throttlingException\ndata: {\"message\":\"slow down\"}\n\n"
    );
}
