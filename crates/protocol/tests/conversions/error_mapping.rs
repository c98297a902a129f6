//! Upstream errors to each client protocol's status and type, by what the client must do: wait
//! and retry (rate limit, overloaded, timeout), fix billing (a used-up quota: no retry helps), fix
//! the key, or fix the request. One table, answered and mid-stream, for all three client protocols.

use bytes::BytesMut;
use protocol::check::{parse_sse, rebuild, rebuild_responses};
use protocol::classify::upstream_error;
use protocol::ir::{ApiError, ErrorKind, StreamEvent};
use protocol::sse::SseParser;
use protocol::stream::{ClientEncoder, UpstreamDecoder};
use protocol::target::{ResponseContext, ToolNames};
use protocol::{anthropic, openai_chat, openai_responses};
use serde_json::Value;

/// One upstream answer and what each client must get for it.
struct Row {
    upstream_status: u16,
    upstream_body: &'static str,
    kind: ErrorKind,
    /// Anthropic: (status, `error.type`).
    anthropic: (u16, &'static str),
    /// Chat and Responses (OpenAI's error shape): (status, `error.type`, `error.code`).
    openai: (u16, &'static str, Option<&'static str>),
    /// Responses `response.failed` `error.code`, the codes Codex acts on.
    responses_stream_code: &'static str,
}

const OPENAI_QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;

fn table() -> Vec<Row> {
    vec![
        // OpenAI's used-up quota comes as 429 like a rate limit: Anthropic clients get their
        // API's billing status and type (never retried), OpenAI clients OpenAI's own answer.
        Row {
            upstream_status: 429,
            upstream_body: OPENAI_QUOTA,
            kind: ErrorKind::Billing,
            anthropic: (402, "billing_error"),
            openai: (429, "insufficient_quota", Some("insufficient_quota")),
            responses_stream_code: "insufficient_quota",
        },
        Row {
            upstream_status: 429,
            upstream_body: r#"{"error":{"message":"Rate limit reached for gpt-5 on tokens per min (TPM). Please try again in 1.5s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
            kind: ErrorKind::RateLimit,
            anthropic: (429, "rate_limit_error"),
            openai: (429, "rate_limit_error", Some("rate_limit_exceeded")),
            responses_stream_code: "rate_limit_exceeded",
        },
        // Anthropic's spend limit: a 429 that must not be retried (protocols.md §1.6).
        Row {
            upstream_status: 429,
            upstream_body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits.","details":{"error_code":"enforced_spend_limit_reached"}}}"#,
            kind: ErrorKind::Billing,
            anthropic: (402, "billing_error"),
            openai: (429, "insufficient_quota", Some("insufficient_quota")),
            responses_stream_code: "insufficient_quota",
        },
        Row {
            upstream_status: 402,
            upstream_body: r#"{"type":"error","error":{"type":"billing_error","message":"Your credit balance is too low."}}"#,
            kind: ErrorKind::Billing,
            anthropic: (402, "billing_error"),
            openai: (429, "insufficient_quota", Some("insufficient_quota")),
            responses_stream_code: "insufficient_quota",
        },
        Row {
            upstream_status: 402,
            upstream_body: "Payment Required",
            kind: ErrorKind::Billing,
            anthropic: (402, "billing_error"),
            openai: (429, "insufficient_quota", Some("insufficient_quota")),
            responses_stream_code: "insufficient_quota",
        },
        // Gemini's per-minute limit, worded like OpenAI's used-up quota: still a rate limit.
        Row {
            upstream_status: 429,
            upstream_body: r#"[{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED"}}]"#,
            kind: ErrorKind::RateLimit,
            anthropic: (429, "rate_limit_error"),
            openai: (429, "rate_limit_error", Some("rate_limit_exceeded")),
            responses_stream_code: "rate_limit_exceeded",
        },
        // OpenAI says a wrong key with type invalid_request_error: the status decides.
        Row {
            upstream_status: 401,
            upstream_body: r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            kind: ErrorKind::Authentication,
            anthropic: (401, "authentication_error"),
            openai: (401, "authentication_error", Some("invalid_api_key")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 401,
            upstream_body: r#"{"error":{"message":"Invalid API Key","type":"invalid_request_error"}}"#,
            kind: ErrorKind::Authentication,
            anthropic: (401, "authentication_error"),
            openai: (401, "authentication_error", Some("invalid_api_key")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 403,
            upstream_body: r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
            kind: ErrorKind::Permission,
            anthropic: (403, "permission_error"),
            openai: (403, "permission_error", None),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 400,
            upstream_body: r#"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#,
            kind: ErrorKind::InvalidRequest,
            anthropic: (400, "invalid_request_error"),
            openai: (400, "invalid_request_error", None),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 422,
            upstream_body: r#"{"detail":"unprocessable"}"#,
            kind: ErrorKind::InvalidRequest,
            anthropic: (422, "invalid_request_error"),
            openai: (422, "invalid_request_error", None),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 400,
            upstream_body: r#"{"error":{"message":"Your input exceeds the context window of this model.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}"#,
            kind: ErrorKind::ContextLengthExceeded,
            anthropic: (400, "invalid_request_error"),
            openai: (
                400,
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            responses_stream_code: "context_length_exceeded",
        },
        Row {
            upstream_status: 404,
            upstream_body: r#"{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
            kind: ErrorKind::NotFound,
            anthropic: (404, "not_found_error"),
            openai: (404, "invalid_request_error", Some("model_not_found")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 413,
            upstream_body: r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
            kind: ErrorKind::RequestTooLarge,
            anthropic: (413, "request_too_large"),
            openai: (413, "invalid_request_error", Some("request_too_large")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 529,
            upstream_body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            kind: ErrorKind::Overloaded,
            anthropic: (529, "overloaded_error"),
            openai: (529, "server_error", Some("server_is_overloaded")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 503,
            upstream_body: r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}"#,
            kind: ErrorKind::Overloaded,
            anthropic: (503, "overloaded_error"),
            openai: (503, "server_error", Some("server_is_overloaded")),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 500,
            upstream_body: r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#,
            kind: ErrorKind::Api,
            anthropic: (500, "api_error"),
            openai: (500, "server_error", None),
            responses_stream_code: "server_error",
        },
        Row {
            upstream_status: 504,
            upstream_body: "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            kind: ErrorKind::Timeout,
            anthropic: (504, "timeout_error"),
            openai: (504, "server_error", Some("timeout")),
            responses_stream_code: "server_error",
        },
    ]
}

fn ctx() -> ResponseContext {
    ResponseContext {
        id: "msg_err".into(),
        model: "client-model".into(),
        created: 1,
        tool_names: ToolNames::default(),
    }
}

/// The events of a stream that fails after it started.
fn failed_stream(e: &ApiError) -> Vec<StreamEvent> {
    vec![
        StreamEvent::MessageStart {
            id: "msg_err".into(),
            model: "client-model".into(),
            usage: Default::default(),
        },
        StreamEvent::Error(e.clone()),
    ]
}

fn encode(events: &[StreamEvent], enc: &mut dyn ClientEncoder) -> BytesMut {
    let mut out = BytesMut::new();
    for ev in events {
        enc.encode(ev, &mut out);
    }
    out
}

/// Regression: OpenAI's `insufficient_quota` (HTTP 429) reached Anthropic clients as
/// `permission_error` (mid-stream) or as a 429 `rate_limit_error` that Claude Code retries.
#[test]
fn upstream_errors_map_to_each_client_protocol_by_what_the_client_must_do() {
    for row in table() {
        let what = format!("upstream {} {}", row.upstream_status, row.upstream_body);
        let e = upstream_error(row.upstream_status, row.upstream_body.as_bytes());
        assert_eq!(e.kind, row.kind, "{what}");

        // Answered before anything was streamed.
        let a: Value = serde_json::from_slice(&anthropic::encode_error(&e)).unwrap();
        assert_eq!(
            (
                anthropic::error_status(&e),
                a["error"]["type"].as_str().unwrap()
            ),
            row.anthropic,
            "Anthropic client, {what}"
        );
        assert_eq!(a["type"], "error");
        for (name, status, body) in [
            (
                "Chat",
                openai_chat::error_status(&e),
                openai_chat::encode_error(&e),
            ),
            (
                "Responses",
                openai_responses::error_status(&e),
                openai_responses::encode_error(&e),
            ),
        ] {
            let o: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (
                    status,
                    o["error"]["type"].as_str().unwrap(),
                    o["error"]["code"].as_str()
                ),
                row.openai,
                "{name} client, {what}"
            );
            assert_eq!(o["error"]["message"], e.message.as_str());
        }

        // Mid-stream, in each protocol's own error frame.
        let events = failed_stream(&e);
        let r = rebuild(&encode(&events, &mut anthropic::StreamEncoder::new()));
        assert_eq!(
            r.error.expect("an error event")["type"],
            row.anthropic.1,
            "Anthropic stream, {what}"
        );
        let chat = encode(&events, &mut openai_chat::StreamEncoder::new(ctx(), true));
        let frames = parse_sse(&chat);
        let last: Value = serde_json::from_str(&frames.last().unwrap().data).unwrap();
        assert_eq!(
            (
                last["error"]["type"].as_str().unwrap(),
                last["error"]["code"].as_str()
            ),
            (row.openai.1, row.openai.2),
            "Chat stream, {what}"
        );
        let r = rebuild_responses(&encode(
            &events,
            &mut openai_responses::StreamEncoder::new(ctx()),
        ));
        assert_eq!(r.terminal, "response.failed");
        assert_eq!(
            r.response["error"]["code"], row.responses_stream_code,
            "Responses stream, {what}"
        );
    }
}

/// Feeds a whole upstream stream through a decoder into Anthropic SSE.
fn upstream_stream_to_anthropic(sse: &str, decoder: &mut dyn UpstreamDecoder) -> Value {
    let mut parser = SseParser::new();
    let (mut frames, mut events) = (Vec::new(), Vec::new());
    parser.feed(sse.as_bytes(), &mut frames).unwrap();
    parser.finish(&mut frames);
    for f in &frames {
        decoder.on_event(f, &mut events);
    }
    decoder.on_end(&mut events);
    let out = encode(&events, &mut anthropic::StreamEncoder::new());
    rebuild(&out).error.expect("an error event")
}

/// Regression: a Responses upstream's `response.failed` with `insufficient_quota` reached
/// Anthropic clients as `permission_error`.
#[test]
fn responses_upstream_insufficient_quota_reaches_anthropic_clients_as_billing_error() {
    let sse = concat!(
        "event: response.created\n",
        r#"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_q","object":"response","created_at":1760000000,"status":"in_progress","error":null,"model":"gpt-5.1-codex","output":[],"usage":null}}"#,
        "\n\n",
        "event: response.failed\n",
        r#"data: {"type":"response.failed","sequence_number":1,"response":{"id":"resp_q","object":"response","created_at":1760000000,"status":"failed","error":{"code":"insufficient_quota","message":"You exceeded your current quota, please check your plan and billing details."},"model":"gpt-5.1-codex","output":[],"usage":null}}"#,
        "\n\n",
    );
    let mut d = openai_responses::StreamDecoder::new(ctx(), 0);
    let err = upstream_stream_to_anthropic(sse, &mut d);
    assert_eq!(err["type"], "billing_error");
    assert!(err["message"].as_str().unwrap().contains("current quota"));
}

/// The same for a Chat upstream's in-stream error object.
#[test]
fn chat_upstream_insufficient_quota_in_stream_reaches_anthropic_clients_as_billing_error() {
    let sse = concat!(
        r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        "\n\n",
    );
    let mut d = openai_chat::StreamDecoder::new(ctx(), 0);
    assert_eq!(
        upstream_stream_to_anthropic(sse, &mut d)["type"],
        "billing_error"
    );
}
