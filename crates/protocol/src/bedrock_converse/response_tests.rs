//! Unit tests of the Converse response, stop-reason and error mapping.

use super::*;
use crate::target::ToolNames;

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_1".into(),
        model: "client-model".into(),
        created: 1,
        tool_names: ToolNames::new(["container.exec", "Read"]),
    }
}

#[test]
fn a_response_decodes_in_order() {
    let strict = ToolNames::strict("container.exec");
    let body = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "EqQB+/x=="}}},
            {"text": "Let me run it."},
            {"text": ""},
            {"toolUse": {"toolUseId": "tooluse_a.b:1", "name": strict, "input": {"cmd": "ls"}}},
            {"toolUse": {"name": "Read", "input": {}}},
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 1530,
                  "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 500},
        "metrics": {"latencyMs": 12},
    });
    let r = decode_response(body.to_string().as_bytes(), &ctx()).unwrap();
    assert_eq!((r.id.as_str(), r.model.as_str()), ("msg_1", "client-model"));
    assert_eq!(r.content.len(), 4);
    assert!(matches!(&r.content[0],
        Part::Reasoning(p) if p.text == "hmm" && p.signature.as_deref() == Some("EqQB+/x==")));
    assert!(matches!(&r.content[1], Part::Text(t) if t == "Let me run it."));
    let Part::ToolCall(c) = &r.content[2] else {
        panic!("a tool call")
    };
    assert_eq!(c.id, "tooluse_a_b_1", "an id Anthropic clients accept");
    assert_eq!(c.name, "container.exec", "the client's own name");
    assert_eq!(c.arguments, r#"{"cmd":"ls"}"#);
    assert!(matches!(&r.content[3], Part::ToolCall(c) if c.id == "toolu_msg1_1"));
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 1510,
            output_tokens: 20,
            cache_read_tokens: 1000,
            cache_creation_tokens: 500,
            reasoning_tokens: 0,
        }
    );
}

#[test]
fn every_stop_reason_maps() {
    let stop = |s: &str, fields: Option<Value>| {
        let body = json!({"output": {"message": {"role": "assistant", "content": []}},
            "stopReason": s, "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "additionalModelResponseFields": fields});
        decode_response(body.to_string().as_bytes(), &ctx()).map(|r| r.stop_reason)
    };
    assert_eq!(stop("end_turn", None), Ok(StopReason::EndTurn));
    assert_eq!(stop("tool_use", None), Ok(StopReason::ToolUse));
    assert_eq!(stop("max_tokens", None), Ok(StopReason::MaxTokens));
    assert_eq!(
        stop("stop_sequence", Some(json!({"stop_sequence": "</done>"}))),
        Ok(StopReason::StopSequence(Some("</done>".into())))
    );
    assert_eq!(
        stop("stop_sequence", None),
        Ok(StopReason::StopSequence(None))
    );
    assert_eq!(
        stop("model_context_window_exceeded", None),
        Ok(StopReason::ContextWindowExceeded)
    );
    assert_eq!(stop("guardrail_intervened", None), Ok(StopReason::Refusal));
    assert_eq!(stop("content_filtered", None), Ok(StopReason::Refusal));
    assert_eq!(stop("something_new", None), Ok(StopReason::EndTurn));
    for malformed in ["malformed_model_output", "malformed_tool_use"] {
        let e = stop(malformed, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Api);
        assert!(e.message.contains(malformed), "{}", e.message);
    }
}

#[test]
fn bad_responses_are_api_errors() {
    let e = decode_response(b"<html>", &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Api);
    assert!(
        e.message
            .starts_with("upstream sent an invalid Converse response")
    );
    let nameless = json!({"output": {"message": {"role": "assistant",
        "content": [{"toolUse": {"toolUseId": "t1", "name": "", "input": {}}}]}},
        "stopReason": "tool_use"});
    let e = decode_response(nameless.to_string().as_bytes(), &ctx()).unwrap_err();
    assert_eq!(e, ApiError::nameless_tool_call("t1"));
}

#[test]
fn responses_round_trip() {
    let r = Response {
        id: "msg_1".into(),
        model: "client-model".into(),
        content: vec![
            Part::Reasoning(ReasoningPart {
                text: "t".into(),
                signature: Some("sig".into()),
                ..ReasoningPart::default()
            }),
            Part::Reasoning(ReasoningPart {
                redacted: Some("cmVk".into()),
                ..ReasoningPart::default()
            }),
            Part::Text("answer".into()),
            Part::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "Read".into(),
                arguments: r#"{"path":"/a"}"#.into(),
                kind: ToolKind::Function,
            }),
        ],
        stop_reason: StopReason::StopSequence(Some("END".into())),
        usage: Usage {
            input_tokens: 100,
            output_tokens: 7,
            cache_read_tokens: 60,
            cache_creation_tokens: 30,
            reasoning_tokens: 0,
        },
    };
    let body = encode_response(&r, &ctx());
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["usage"],
        json!({"inputTokens": 10, "outputTokens": 7, "totalTokens": 107,
            "cacheReadInputTokens": 60, "cacheWriteInputTokens": 30})
    );
    let back = decode_response(&body, &ctx()).unwrap();
    assert_eq!(format!("{:?}", back.content), format!("{:?}", r.content));
    assert_eq!(back.stop_reason, r.stop_reason);
    assert_eq!(back.usage, r.usage);
}

#[test]
fn exceptions_map_to_kinds() {
    for (name, kind) in [
        ("ThrottlingException", ErrorKind::RateLimit),
        ("throttlingException", ErrorKind::RateLimit),
        ("ServiceQuotaExceededException", ErrorKind::RateLimit),
        ("ValidationException", ErrorKind::InvalidRequest),
        (
            "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            ErrorKind::InvalidRequest,
        ),
        ("AccessDeniedException", ErrorKind::Permission),
        ("UnrecognizedClientException", ErrorKind::Authentication),
        ("ExpiredTokenException", ErrorKind::Authentication),
        ("InvalidSignatureException", ErrorKind::Authentication),
        ("ResourceNotFoundException", ErrorKind::NotFound),
        ("ServiceUnavailableException", ErrorKind::Overloaded),
        ("serviceUnavailableException", ErrorKind::Overloaded),
        ("ModelNotReadyException", ErrorKind::Overloaded),
        ("modelStreamErrorException", ErrorKind::Overloaded),
        ("InternalServerException", ErrorKind::Api),
        ("ModelErrorException", ErrorKind::Api),
        ("ModelTimeoutException", ErrorKind::Timeout),
        ("SomethingNewException", ErrorKind::Api),
    ] {
        assert_eq!(exception_kind(name), kind, "{name}");
    }
    for kind in [
        ErrorKind::RateLimit,
        ErrorKind::InvalidRequest,
        ErrorKind::Permission,
        ErrorKind::Authentication,
        ErrorKind::NotFound,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::Api,
    ] {
        assert_eq!(exception_kind(exception_type(kind)), kind);
    }
}

#[test]
fn too_long_inputs_are_context_errors() {
    for m in [
        "Input is too long for requested model.",
        "prompt is too long: 210000 tokens > 200000 maximum",
        "The model returned the following errors: input length and `max_tokens` exceed context limit",
    ] {
        let e = exception_error("ValidationException", m);
        assert_eq!(e.kind, ErrorKind::ContextLengthExceeded, "{m}");
        assert_eq!(e.status, 400);
        assert_eq!(e.message, m);
    }
    let e = exception_error("ValidationException", "messages.1.content is empty");
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(
        exception_error("ThrottlingException", "").message,
        "ThrottlingException"
    );
}

#[test]
fn http_errors() {
    let e = upstream_error(
        429,
        Some("ThrottlingException"),
        br#"{"message":"Too many requests, please wait before trying again."}"#,
    );
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimit, 429));
    assert_eq!(
        e.message,
        "Too many requests, please wait before trying again."
    );
    let e = upstream_error(
        400,
        Some("ValidationException"),
        br#"{"message":"Input is too long for requested model."}"#,
    );
    assert_eq!((e.kind, e.status), (ErrorKind::ContextLengthExceeded, 400));
    let e = upstream_error(503, None, b"Service Unavailable");
    assert_eq!((e.kind, e.status), (ErrorKind::Overloaded, 503));
    assert_eq!(e.message, "Service Unavailable");
    let e = upstream_error(
        429,
        Some("ModelNotReadyException"),
        br#"{"Message":"warming"}"#,
    );
    assert_eq!(
        (e.kind, e.status, e.message.as_str()),
        (ErrorKind::Overloaded, 529, "warming")
    );

    let e = ApiError::new(ErrorKind::Overloaded, "busy");
    assert_eq!(error_status(&e), 503);
    assert_eq!(encode_error(&e), br#"{"message":"busy"}"#);
    assert_eq!(
        decode_error_message(&encode_error(&e)).as_deref(),
        Some("busy")
    );
    assert_eq!(error_status(&ApiError::new(ErrorKind::RateLimit, "x")), 429);
}
