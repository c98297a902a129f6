//! Anthropic Messages wire format: message object, exact named-event
//! sequence, error events, templates, count_tokens.

mod common;

use common::{Sse, post, start};
use serde_json::{Value, json};

const SCRIPT: &str = r#"{"steps":[{"reply":{
    "text":"Hi there",
    "reasoning":"let me think",
    "tool_calls":[{"name":"Bash","arguments":{"command":"ls"}}],
    "usage":{"input":100,"output":9,"cached":40},
    "stream":{"text_chunks":2,"arg_fragments":3}
}}]}"#;

fn req(stream: bool) -> Value {
    json!({"model":"claude-test","max_tokens":1024,"stream":stream,
           "messages":[{"role":"user","content":"hello"}]})
}

/// Event name, checked against the JSON `type`, plus a delta/block subtype.
fn kind(ev: &Sse) -> String {
    let name = ev.event.clone().expect("anthropic events are named");
    let v = ev.json();
    assert_eq!(v["type"], name.as_str(), "event name must equal JSON type");
    match name.as_str() {
        "content_block_start" => format!(
            "start:{}",
            v["content_block"]["type"].as_str().unwrap_or("?")
        ),
        "content_block_delta" => format!("delta:{}", v["delta"]["type"].as_str().unwrap_or("?")),
        "content_block_stop" => format!("stop:{}", v["index"]),
        _ => name,
    }
}

#[tokio::test]
async fn non_streaming_message() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/v1/messages?beta=true", &[], &req(false)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test");
    assert!(v["id"].as_str().is_some_and(|s| s.starts_with("msg_")));
    assert_eq!(v["stop_reason"], "tool_use");
    assert!(v["stop_sequence"].is_null());
    let content = v["content"].as_array().expect("content");
    assert_eq!(content.len(), 3);
    assert_eq!(
        content[0],
        json!({"type":"thinking","thinking":"let me think","signature":"fake-signature"})
    );
    assert_eq!(content[1], json!({"type":"text","text":"Hi there"}));
    assert_eq!(content[2]["type"], "tool_use");
    assert!(
        content[2]["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("toolu_"))
    );
    assert_eq!(content[2]["name"], "Bash");
    assert_eq!(content[2]["input"], json!({"command":"ls"}));
    assert_eq!(
        v["usage"],
        json!({"input_tokens":60,"cache_creation_input_tokens":0,"cache_read_input_tokens":40,"output_tokens":9})
    );
}

#[tokio::test]
async fn streaming_exact_sequence() {
    let fake = start(SCRIPT).await;
    let r = post(fake.addr(), "/v1/messages?beta=true", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    let evs = r.sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "ping",
            "start:thinking",
            "delta:thinking_delta",
            "delta:thinking_delta",
            "delta:signature_delta",
            "stop:0",
            "start:text",
            "delta:text_delta",
            "delta:text_delta",
            "stop:1",
            "start:tool_use",
            "delta:input_json_delta",
            "delta:input_json_delta",
            "delta:input_json_delta",
            "stop:2",
            "message_delta",
            "message_stop",
        ]
    );
    let start_msg = evs[0].json();
    let m = &start_msg["message"];
    assert_eq!(m["content"], json!([]));
    assert!(m["stop_reason"].is_null());
    assert_eq!(m["model"], "claude-test");
    assert_eq!(m["usage"]["input_tokens"], 60);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 40);
    assert_eq!(
        evs[2].json()["content_block"],
        json!({"type":"thinking","thinking":"","signature":""})
    );
    assert_eq!(evs[5].json()["delta"]["signature"], "fake-signature");
    assert_eq!(
        evs[7].json()["content_block"],
        json!({"type":"text","text":""})
    );
    let block = evs[11].json();
    assert_eq!(block["index"], 2);
    assert_eq!(block["content_block"]["input"], json!({}));
    assert_eq!(block["content_block"]["name"], "Bash");
    let text: String = evs[8..10]
        .iter()
        .map(|e| e.json()["delta"]["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(text, "Hi there");
    let partial: String = evs[12..15]
        .iter()
        .map(|e| {
            e.json()["delta"]["partial_json"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).expect("json"),
        json!({"command":"ls"})
    );
    for (i, e) in evs[2..16].iter().enumerate() {
        let idx = e.json()["index"].as_u64().expect("index");
        assert!(idx <= 2, "event {i} index {idx}");
    }
    let md = evs[16].json();
    assert_eq!(
        md["delta"],
        json!({"stop_reason":"tool_use","stop_sequence":null})
    );
    assert_eq!(md["usage"]["output_tokens"], 9);
    assert_eq!(md["usage"]["input_tokens"], 60);
}

#[tokio::test]
async fn text_only_stream_without_ping_and_finish_mapping() {
    let fake =
        start(r#"{"default":{"text":"done","finish_reason":"length","stream":{"ping":false}}}"#)
            .await;
    let evs = post(fake.addr(), "/v1/messages", &[], &req(true))
        .await
        .sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "start:text",
            "delta:text_delta",
            "stop:0",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(evs[4].json()["delta"]["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn fail_after_emits_error_event() {
    let fake =
        start(r#"{"default":{"text":"a b c d","stream":{"text_chunks":4,"fail_after":4}}}"#).await;
    let r = post(fake.addr(), "/v1/messages", &[], &req(true)).await;
    assert_eq!(r.status, 200);
    let evs = r.sse();
    let kinds: Vec<String> = evs.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "ping",
            "start:text",
            "delta:text_delta",
            "error"
        ]
    );
    assert_eq!(
        evs[4].json(),
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
    );
}

#[tokio::test]
async fn error_reply_in_anthropic_shape() {
    let fake = start(
        r#"{"default":{"status":429,"error":{"type":"rate_limit_error","message":"slow down"},"headers":{"retry-after":"1"}}}"#,
    )
    .await;
    let r = post(fake.addr(), "/v1/messages", &[], &req(true)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(
        v["error"],
        json!({"type":"rate_limit_error","message":"slow down"})
    );
}

#[tokio::test]
async fn last_tool_result_template() {
    let fake = start(
        r#"{"steps":[{"when":{"last_role":"tool"},"reply":{"text":"{{model}} got: {{last_tool_result}}"}}],
            "default":{"tool_calls":[{"name":"Bash","arguments":{"command":"pwd"}}]}}"#,
    )
    .await;
    let first = post(fake.addr(), "/v1/messages", &[], &req(false))
        .await
        .json();
    assert_eq!(first["stop_reason"], "tool_use");
    let id = first["content"][0]["id"].clone();
    let body = json!({"model":"claude-test","max_tokens":10,"messages":[
        {"role":"user","content":"hello"},
        {"role":"assistant","content":[first["content"][0].clone()]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":id,"content":[{"type":"text","text":"/home/me"}]}]}
    ]});
    let second = post(fake.addr(), "/v1/messages", &[], &body).await.json();
    assert_eq!(second["content"][0]["text"], "claude-test got: /home/me");
    assert_eq!(second["stop_reason"], "end_turn");
}

#[tokio::test]
async fn count_tokens_and_bad_json() {
    let fake = start(r#"{"default":{"text":"x"}}"#).await;
    let r = post(
        fake.addr(),
        "/v1/messages/count_tokens?beta=true",
        &[],
        &json!({"model":"m","messages":[]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["input_tokens"].is_u64());
    let r = common::send(fake.addr(), "POST", "/v1/messages", &[], "[1,2]").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
}
